"""What other consumers of the topics see, checked with tools that are not newswatch: kcat lists every
topic of DESIGN.md, and a raw article read by kcat decodes with protoc and the files in proto/."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from newswatch import contracts
from newswatch.kafka import ensure_topics, make_producer, publish
from newswatch.settings import Settings
from newswatch.topics import ALL_TOPICS, ARTICLES_RAW
from newswatch.v1.article_pb2 import Article

pytestmark = pytest.mark.integration

PROTO = Path(__file__).resolve().parent.parent / "proto"


def _run(args: list[str], data: bytes | None = None) -> bytes:
    proc = subprocess.run(args, input=data, capture_output=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


async def test_kcat_and_protoc_read_what_newswatch_writes(settings: Settings) -> None:
    await ensure_topics(settings)
    listing = _run(["kcat", "-b", settings.kafka_bootstrap, "-L"]).decode()
    for spec in ALL_TOPICS:
        assert f'topic "{spec.name}"' in listing

    title = f"Palmyre wire check {uuid.uuid4().hex}"
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        meta = await (await publish(producer, ARTICLES_RAW, "wire-check", Article(
            article_id="wire-check", title=title, published_at=contracts.timestamp()
        )))  # fmt: skip
    finally:
        await producer.stop()

    args = ["kcat", "-b", settings.kafka_bootstrap, "-C", "-t", ARTICLES_RAW.name, "-e", "-q", "-c", "1"]
    at = ["-p", str(meta.partition), "-o", str(meta.offset)]
    headers = _run([*args, *at, "-f", "%h"]).decode()
    assert "content-type=application/x-protobuf; messageType=newswatch.v1.Article" in headers
    value = _run([*args, *at, "-f", "%s"])
    decoded = _run(
        ["protoc", f"-I{PROTO}", "-I/usr/include", "--decode", "newswatch.v1.Article",
         "newswatch/v1/article.proto"],
        data=value,
    ).decode()  # fmt: skip
    assert 'article_id: "wire-check"' in decoded
    assert title in decoded
