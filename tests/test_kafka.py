"""Topic creation and compacted views against the real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from newswatch.kafka import CompactedView, ensure_topics, make_producer, publish, read_compacted
from newswatch.settings import Settings
from newswatch.topics import ALL_TOPICS, FEEDS
from newswatch.v1.feed_pb2 import Feed

pytestmark = pytest.mark.integration


async def test_ensure_topics_is_idempotent_and_applies_config(settings: Settings) -> None:
    await ensure_topics(settings)
    assert await ensure_topics(settings) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        assert {t.name for t in ALL_TOPICS} <= names
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, FEEDS.name)])
        entries = {e[0]: e[1] for resp in described for res in resp.resources for e in res[4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_compacted_view_sees_latest_value_and_tombstones(settings: Settings) -> None:
    await ensure_topics(settings)
    tag = uuid.uuid4().hex
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        for key, title in [("a", "first"), ("b", "keep"), ("a", "second")]:
            await (await publish(producer, FEEDS, f"{tag}-{key}", Feed(feed_id=f"{tag}-{key}", title=title)))
        await (await publish(producer, FEEDS, f"{tag}-b", None))
        # A poison message on the compacted topic is skipped, not fatal.
        await producer.send_and_wait(FEEDS.name, b"garbage", key=f"{tag}-c".encode())
    finally:
        await producer.stop()
    items = await read_compacted(settings, FEEDS, Feed)
    assert items[f"{tag}-a"].title == "second"
    assert f"{tag}-b" not in items
    assert f"{tag}-c" not in items


async def test_compacted_view_follows_changes(settings: Settings) -> None:
    await ensure_topics(settings)
    seen: list[tuple[str, str | None]] = []
    view = CompactedView(
        settings, FEEDS, Feed, role="test", on_change=lambda k, m: seen.append((k, m.title if m else None))
    )
    await view.start()
    view.follow()
    tag = uuid.uuid4().hex
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        await (await publish(producer, FEEDS, tag, Feed(feed_id=tag, title="live")))
        for _ in range(100):
            if (tag, "live") in seen:
                break
            import asyncio

            await asyncio.sleep(0.1)
        assert view.items[tag].title == "live"
    finally:
        await producer.stop()
        await view.stop()
        await view.stop()  # idempotent
