"""Whole-system tests: the pipeline as processes on the real broker, with faults and a soak.

They run only when the marker expression names them (``pytest -m system``, ``make system-test``): a plain
``pytest`` deselects them, and ``make test`` leaves this folder out.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.conftest import KAFKA_SH, REPO, _free_port_pair
from tests.system.rig import kafka_sh


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "system: whole-system fault and soak tests (make system-test)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the system tests unless ``-m`` names them: they take many minutes."""
    if "system" in (config.option.markexpr or ""):
        return
    system = [item for item in items if item.get_closest_marker("system") is not None]
    if system:
        config.hook.pytest_deselected(items=system)
        items[:] = [item for item in items if item.get_closest_marker("system") is None]


class OwnBroker:
    """A broker of the test's own on ``port`` (``deploy/kafka/kafka.sh``), which the test may stop and
    start again on the same port and data directory."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bootstrap = f"127.0.0.1:{port}"

    def up(self) -> None:
        kafka_sh("up", self.port, KAFKA_SH)

    def down(self) -> None:
        kafka_sh("down", self.port, KAFKA_SH)


@pytest.fixture
def own_broker() -> Iterator[OwnBroker]:
    broker = OwnBroker(_free_port_pair())
    kafka_sh("up", broker.port, KAFKA_SH, KAFKA_FRESH=1)
    try:
        yield broker
    finally:
        broker.down()
        home = os.environ.get("KAFKA_HOME", str(REPO / ".cache" / "kafka"))
        shutil.rmtree(f"{home}/broker-{broker.port}", ignore_errors=True)  # its data
