"""Logging set-up: which loggers speak at which level, and the JSON line's stable keys."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from newswatch.observability import LIFECYCLE_LOGGERS, JsonFormatter, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = ["aiokafka", "faust", "mode", "kafka", "trafilatura", *LIFECYCLE_LOGGERS]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old_level in levels.items():
        logging.getLogger(name).setLevel(old_level)


@pytest.mark.parametrize(
    ("level", "logger", "speaks_at"),
    [
        # library chatter is quiet unless debugging
        ("INFO", "aiokafka.conn", logging.WARNING),
        ("INFO", "faust.transport.drivers.aiokafka", logging.WARNING),
        ("INFO", "trafilatura.core", logging.ERROR),
        ("DEBUG", "aiokafka.conn", logging.DEBUG),
        # group joins, assignments and table recovery follow the process's level
        ("INFO", "aiokafka.consumer.group_coordinator", logging.INFO),
        ("INFO", "faust.tables.recovery", logging.INFO),
        ("WARNING", "faust.tables.recovery", logging.WARNING),
        ("DEBUG", "aiokafka.consumer.group_coordinator", logging.DEBUG),
        # our own loggers follow the root
        ("INFO", "newswatch.processor.app", logging.INFO),
        ("WARNING", "newswatch.processor.app", logging.WARNING),
    ],
)
def test_logger_levels(restore_logging: None, level: str, logger: str, speaks_at: int) -> None:
    setup_logging("json", level)
    log = logging.getLogger(logger)
    assert log.getEffectiveLevel() == speaks_at
    assert not log.isEnabledFor(speaks_at - 1)


def test_json_lines_keep_their_keys_and_extras() -> None:
    record = logging.makeLogRecord(
        {"name": "newswatch.x", "levelname": "INFO", "msg": "hello %s", "args": ("you",), "feed_id": "f1"}
    )
    doc = json.loads(JsonFormatter().format(record))
    assert list(doc)[:4] == ["ts", "level", "logger", "msg"]
    assert (doc["level"], doc["logger"], doc["msg"]) == ("info", "newswatch.x", "hello you")
    assert doc["feed_id"] == "f1"
