"""The processor's readiness: what it waits for, and the warning a worker that stays unready logs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest

from newswatch.processor.runtime import ProcessorRuntime, Sidecar

ALL = ["watch lists and near-duplicate index", "partition assignment and table recovery", "the article agent"]


def _runtime(loaded: bool, assigned: bool, consuming: bool) -> ProcessorRuntime:
    runtime = ProcessorRuntime.__new__(ProcessorRuntime)  # the state flags only: no gazetteer, no broker
    runtime._loaded, runtime.assigned, runtime.consuming = loaded, assigned, consuming
    return runtime


@pytest.mark.parametrize(
    ("loaded", "assigned", "consuming", "waiting"),
    [
        (False, False, False, ALL),
        (True, False, False, ALL[1:]),
        (True, True, False, ALL[2:]),
        (True, False, True, [ALL[1]]),
        (False, True, True, [ALL[0]]),
        (True, True, True, []),
    ],
)
def test_waiting_for_names_what_is_missing(
    loaded: bool, assigned: bool, consuming: bool, waiting: list[str]
) -> None:
    runtime = _runtime(loaded, assigned, consuming)
    assert runtime.waiting_for() == waiting
    assert runtime.is_ready() is (not waiting)


class _FakeRuntime:
    def __init__(self) -> None:
        self.waiting = [ALL[1]]
        self.started = self.stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    def waiting_for(self) -> list[str]:
        return list(self.waiting)


async def test_an_unready_worker_says_what_it_waits_for_until_ready(caplog: pytest.LogCaptureFixture) -> None:
    fake = _FakeRuntime()
    sidecar = Sidecar(cast(Any, fake), warn_seconds=0.05)
    with caplog.at_level(logging.WARNING, logger="newswatch.processor.runtime"):
        await sidecar.start()
        try:
            await asyncio.sleep(0.3)
            warned = [r for r in caplog.records if r.getMessage() == "processor not ready"]
            assert warned, "no warning while waiting"
            assert all(r.waiting_for == [ALL[1]] for r in warned)
            fake.waiting = []
            await asyncio.sleep(0.1)  # a warning already on its way may still land
            before = len([r for r in caplog.records if r.getMessage() == "processor not ready"])
            await asyncio.sleep(0.3)
            after = len([r for r in caplog.records if r.getMessage() == "processor not ready"])
            assert after == before, "warned although ready"
        finally:
            await sidecar.stop()
    assert fake.started and fake.stopped
