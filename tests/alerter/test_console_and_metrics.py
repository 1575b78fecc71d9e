"""Console channel and the metric catalogue."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from newswatch.alerter.channels import ConsoleChannel, build_channels
from newswatch.alerter.metrics import CHANNELS, DLQ_REASONS, OUTCOMES, AlerterMetrics
from newswatch.alerter.subscriptions import new_subscription
from newswatch.settings import Settings
from newswatch.v1.alert_pb2 import Alert


async def test_console_logs_one_structured_line_and_keeps_a_bounded_history(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = ConsoleChannel(capacity=2)
    sub = new_subscription("log", console=True, allow_private=False)
    caplog.set_level(logging.INFO, logger="newswatch.alerts")
    for i in range(3):
        await channel.deliver(Alert(alert_id=f"a{i}", title=f"T{i}", score=0.5), sub, f"msg_{i}", 1)
    records = [r for r in caplog.records if r.name == "newswatch.alerts"]
    assert len(records) == 3
    assert records[0].alert_id == "a0"  # type: ignore[attr-defined]
    assert records[0].subscription_id == sub.subscription_id  # type: ignore[attr-defined]
    recent = channel.recent()
    assert [d["alert_id"] for d in recent] == ["a1", "a2"]
    assert recent[-1]["delivery_id"] == "msg_2"


def test_console_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ConsoleChannel(capacity=0)


def test_every_labelled_series_starts_at_zero() -> None:
    registry = CollectorRegistry()
    AlerterMetrics(registry)
    for channel in CHANNELS:
        for outcome in OUTCOMES:
            labels = {"channel": channel, "outcome": outcome}
            assert registry.get_sample_value("newswatch_alerter_deliveries_total", labels) == 0
        assert registry.get_sample_value("newswatch_alerter_retries_total", {"channel": channel}) == 0
        assert (
            registry.get_sample_value(
                "newswatch_alerter_delivery_duration_seconds_count", {"channel": channel}
            )
            == 0
        )
    for reason in DLQ_REASONS:
        assert registry.get_sample_value("newswatch_alerter_dlq_messages_total", {"reason": reason}) == 0
    assert registry.get_sample_value("newswatch_alerter_alerts_consumed_total") == 0
    assert registry.get_sample_value("newswatch_alerter_fanout_lag_seconds_count") == 0
    assert registry.get_sample_value("newswatch_alerter_subscriptions") == 0


def test_metric_names_follow_the_convention() -> None:
    registry = CollectorRegistry()
    AlerterMetrics(registry)
    for family in registry.collect():
        assert family.name.startswith("newswatch_alerter_")
        if family.type == "histogram":
            assert family.name.endswith("_seconds")


def test_public_names_exist() -> None:
    import newswatch.alerter
    import newswatch.alerter.channels

    for module in (newswatch.alerter, newswatch.alerter.channels):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


async def test_build_channels_makes_one_of_every_kind_the_metrics_know() -> None:
    channels = build_channels(Settings())
    try:
        assert set(channels) == set(CHANNELS)
        assert all(name == channel.name for name, channel in channels.items())
        sub = new_subscription("live", stream=True, allow_private=False)
        result = await channels["stream"].deliver(Alert(alert_id="a"), sub, "msg_s", 1)
        assert result.http_status == 0  # nothing pushed: the event stream serves it
    finally:
        for channel in channels.values():
            await channel.close()


def test_stream_metrics_start_at_zero() -> None:
    registry = CollectorRegistry()
    AlerterMetrics(registry)
    assert registry.get_sample_value("newswatch_alerter_stream_clients") == 0
    for reason in ("slow_client", "shutdown"):
        labels = {"reason": reason}
        assert registry.get_sample_value("newswatch_alerter_stream_clients_dropped_total", labels) == 0
