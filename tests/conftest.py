"""Shared fixtures. Integration tests get a real Apache Kafka broker.

When ``NEWSWATCH_KAFKA_BOOTSTRAP`` is set and a broker answers there, the tests use it; otherwise the
session starts a fresh single-node KRaft broker on a free loopback port with ``deploy/kafka/kafka.sh``
and stops it at the end. Nothing in the integration tests fakes Kafka.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from newswatch.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
SHARED = REPO.parent / "shared"
SEED_ARTICLE = SHARED / "seeds" / "000_d49beb34632bf2ff.txt"


def _free_port_pair() -> int:
    """A port p such that p and p+1 are free on loopback (broker and controller)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair on loopback")


def _answers(hostport: str) -> bool:
    host, _, port = hostport.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    configured = os.environ.get("NEWSWATCH_KAFKA_BOOTSTRAP")
    if configured and _answers(configured):
        yield configured
        return
    port = _free_port_pair()
    env = {**os.environ, "KAFKA_PORT": str(port), "KAFKA_FRESH": "1", "KAFKA_HEAP": "768m"}
    subprocess.run(["bash", str(KAFKA_SH), "up"], check=True, env=env, timeout=300)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(KAFKA_SH), "down"], check=False, env=env, timeout=120)


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings for a test talking to the real broker; loopback feeds and webhooks allowed.

    Each test's pollers form their own consumer group, so they never share feed partitions with pollers
    of other tests running on the same broker.
    """
    return load_settings(
        environ={
            "NEWSWATCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "NEWSWATCH_POLLER_GROUP_ID": f"newswatch-poller-test-{uuid.uuid4().hex[:12]}",
            "NEWSWATCH_ALLOW_PRIVATE_NETWORKS": "true",
            "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
            "NEWSWATCH_TOPIC_PARTITIONS": "3",
            # Test feeds share one loopback server; pacing is tested on its own (tests/poller).
            "NEWSWATCH_FETCH_HOST_MIN_INTERVAL_SECONDS": "0",
        }
    )


@pytest.fixture(scope="session")
def seed_text() -> str:
    if not SEED_ARTICLE.exists():
        pytest.fail(f"seed article missing at {SEED_ARTICLE} (../shared must sit beside the checkout)")
    return SEED_ARTICLE.read_text(encoding="utf-8")
