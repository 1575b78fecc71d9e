"""A soak: the whole pipeline under a steady load for ``SOAK_SECONDS`` (default 600) at ``SOAK_RATE``
articles/s (default 200).

The load comes through feeds, not straight onto the raw topic, so that the poller is soaked too (fetch,
parse, poll state, publish): 20 feeds on 127.0.0.1 grow at 10 articles/s each and show their newest 400
items (40 s of margin), polled every second. One article in four matches the default watch list and goes
to two webhook subscribers. The test prints each service's resident memory (VmRSS, and VmHWM, its peak)
at the start, after the first minute, every ``SOAK_SAMPLE_SECONDS`` (default 300) and at the end, so a
level reached shows apart from steady growth, and expected against delivered alerts; it asserts that none
was lost and none was accepted twice.

The variables are not ``NEWSWATCH_*`` ones on purpose: the services refuse unknown ``NEWSWATCH_*``
variables, and one left exported in a shell would stop them.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.system.rig import SystemRig

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
SOAK_RATE = float(os.environ.get("SOAK_RATE", "200"))
SOAK_SAMPLE_SECONDS = float(os.environ.get("SOAK_SAMPLE_SECONDS", "300"))
FEEDS = 20
WINDOW = 400

pytestmark = [pytest.mark.system, pytest.mark.timeout(SOAK_SECONDS + 1200)]


def memory_table(samples: dict[str, dict[str, tuple[float, float]]]) -> str:
    names = sorted({name for sample in samples.values() for name in sample})
    rows = [f"{'':>10} " + " ".join(f"{name:>22}" for name in names)]
    for when, sample in samples.items():
        cells = [f"{sample[n][0]:8.1f} (peak {sample[n][1]:6.1f})" if n in sample else "-" for n in names]
        rows.append(f"{when:>10} " + " ".join(f"{c:>22}" for c in cells))
    return "\n".join(rows)


async def test_soak_steady_load_loses_nothing_and_shows_memory(kafka_bootstrap: str, tmp_path: Path) -> None:
    async with SystemRig(kafka_bootstrap, tmp_path, feeds=FEEDS, window=WINDOW) as rig:
        samples = {"start": rig.memory()}
        started = time.monotonic()
        load = asyncio.create_task(rig.feeds.run_at(SOAK_RATE, SOAK_SECONDS))
        try:
            while not load.done():
                rig.check_running()
                elapsed = time.monotonic() - started
                if "1 min" not in samples and elapsed >= min(60.0, SOAK_SECONDS / 2):
                    samples["1 min"] = rig.memory()
                due = int(elapsed // SOAK_SAMPLE_SECONDS) * SOAK_SAMPLE_SECONDS
                if due > 0 and f"{due:.0f} s" not in samples:
                    samples[f"{due:.0f} s"] = rig.memory()
                await asyncio.wait({load}, timeout=1.0)
            offered = await load
        finally:
            load.cancel()
        samples["load end"] = rig.memory()
        await rig.wait_delivered(600)
        samples["drained"] = rig.memory()
        await asyncio.sleep(5.0)  # a late duplicate shows up here
        result = rig.tally()
        result.seconds = time.monotonic() - started
        growth = {n: samples["drained"][n][0] - samples["start"][n][0] for n in samples["start"]}
        print(  # noqa: T201 - the soak's figures are its report
            f"\nsoak {SOAK_SECONDS:.0f} s at {SOAK_RATE:.0f} articles/s offered ({offered} articles, "
            f"{len(rig.maker.matching)} matching, {FEEDS} feeds): {result.line('soak')}"
            f" emitted {len(rig.emitted)}\nresident memory MiB (VmRSS, VmHWM):\n{memory_table(samples)}\n"
            "growth start -> drained: " + ", ".join(f"{n} {g:+.1f} MiB" for n, g in sorted(growth.items()))
        )
        assert result.lost == 0, f"lost {result.lost}: {result.missing}\n{rig.logs()}"
        assert result.duplicates == 0, f"duplicate successes: {result.duplicated}"
        assert result.unexpected == 0
        assert set(rig.emitted.values()) == rig.maker.matching
