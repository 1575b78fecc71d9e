"""``newswatch deliveries replay`` on the real broker: a refused alert re-sent with its webhook-id."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from newswatch.alerter.fanout import DLQ_REASON_HEADER, delivery_id_for
from newswatch.alerter.replay import replay_dead_letters
from newswatch.cli import main
from newswatch.settings import Settings
from newswatch.topics import ALERTS_DLQ
from tests.alerter.kafkatools import alerter, eventually, make_alert, produce, scenario, tails
from tests.alerter.receiver import Receiver, Step

pytestmark = pytest.mark.integration


async def test_a_dead_letter_is_replayed_with_the_same_webhook_id(settings: Settings) -> None:
    async with Receiver([Step(400)], default=Step(204)) as rx, scenario(settings, rx) as (cfg, group, sub):
        alert = make_alert(sub.watchlists[0])
        since = datetime.now(UTC) - timedelta(minutes=1)
        service = alerter(cfg, group, sub)
        async with tails(cfg, ALERTS_DLQ) as [dlq]:
            try:
                await service.start()
                await produce(cfg, alert)
                [dead] = await dlq.wait_for(
                    lambda r: r.key == alert.alert_id.encode(), lambda rs: len(rs) >= 1
                )
                assert dict(dead.headers)[DLQ_REASON_HEADER] == b"delivery_rejected"
                dry = await replay_dead_letters(cfg, since, subscription_id=sub.subscription_id, dry_run=True)
                assert dry.replayed == 1 and len(rx.received) == 1
                other = await replay_dead_letters(cfg, since, subscription_id=f"nobody-{uuid.uuid4().hex}")
                assert other.replayed == 0 and other.skipped["filtered"] >= 1
                report = await replay_dead_letters(cfg, since, subscription_id=sub.subscription_id)
                assert report.replayed == 1
                await eventually(lambda: len(rx.received) == 2)
                again = await replay_dead_letters(cfg, since, subscription_id=sub.subscription_id)
                assert again.replayed == 1  # queued again, but the alerter knows it is delivered
                await eventually(
                    lambda: (
                        service.metrics.scheduled_dropped.labels(reason="already_delivered")._value.get() >= 1
                    )
                )
            finally:
                await service.stop()
    assert len(rx.received) == 2
    expected = delivery_id_for(alert.alert_id, sub.subscription_id)
    assert [r.headers["webhook-id"] for r in rx.received] == [expected, expected]


def test_the_cli_verb_reports_counts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSWATCH_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    code = main(
        ["deliveries", "replay", "--subscription", f"nobody-{uuid.uuid4().hex}", "--since", "1h", "--dry-run"]
    )
    assert code == 0
    assert "would re-send 0 of" in capsys.readouterr().out


def test_a_bad_since_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deliveries", "replay", "--since", "yesterday"]) == 2
    assert "--since" in capsys.readouterr().err
