"""The processor's Faust application class (Faust 0.15.3 with three changes for the processor's sake)
and :class:`FaustOutputs`, the processor's outputs over the app's producer.

1. **Buffered records survive a rebalance.** Faust resumes the stream partitions and seeks them to
   their committed offsets while the fetcher already runs (it was started to read the changelogs), then
   clears every stream buffer when it resumes flow control. Records fetched between that seek and that
   resume were dropped: a restarted processor lost the articles published while it was down (seen in
   the end-to-end test). Kept instead, they are processed; a record that is also read again is a
   duplicate, which the seen-table drops and whose alert id is the same — at least once, never lost.
2. **No Monitor sensor.** It keeps per-record and per-event statistics for Faust's web views (disabled
   here) at a cost on every record; the processor's own metrics are counted per batch. A sensor that
   records nothing takes its place (Faust warns at every rebalance when no sensor answers).
3. **A record is handed to the streams inline when that does not block.** Faust's fetcher delivers each
   record with ``wait_first(deliver(record), suspend_flow.wait())``: four tasks and an ``asyncio.wait``
   per record, a sixth of a worker's time with cheap processing. :meth:`_Consumer.wait_first` first runs
   the delivery one step; nearly always that finishes it (the stream's queue has room, flow is not
   suspended) and no task is made. When it blocks, the started delivery is carried on by
   :func:`_carry_on` under Faust's own ``wait_first``, so a flow suspension still abandons it as before.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Coroutine, Iterable, Sequence
from typing import Any

import faust
from faust.transport.consumer import ConsumerThread
from faust.transport.drivers import aiokafka as aiokafka_driver
from mode.services import WaitResults

from newswatch.kafka import key_partition
from newswatch.lifecycle import close_component
from newswatch.processor.agents import Outgoing

__all__ = ["ORIGIN_HEADER", "FaustOutputs", "ProcessorApp"]

#: Header on every record the processor writes: the app id (consumer group) of the worker that wrote it.
ORIGIN_HEADER = "newswatch-processor-app"

_EVENT_WAIT = asyncio.Event.wait.__code__


async def _carry_on(coro: Coroutine[Any, Any, Any], waiting: Any) -> Any:
    """Run ``coro`` to its end after its first step yielded ``waiting`` (a future, or None for a bare
    yield), as a Task would: wait for what it waits for, then resume it; an exception raised here
    (cancellation) is thrown into it."""
    while True:
        try:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                waiting._asyncio_future_blocking = False
                await asyncio.wait((waiting,))
        except BaseException as exc:  # noqa: BLE001 - cancellation is thrown into the coroutine, as a Task would
            try:
                waiting = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            waiting = coro.send(None)
        except StopIteration as stop:
            return stop.value


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, whose aiokafka consumer is closed through
    :func:`~newswatch.lifecycle.close_component`: when the broker went away first, aiokafka's
    ``stop()`` re-raises the cancellation of its own fetch task (aio-libs/aiokafka#647), and in
    Faust's version that ends the thread with an error the worker's shutdown then waits on for ever."""

    async def on_thread_stop(self) -> None:
        # Faust's own, with the close of its base class (the thread's method queue) kept first.
        await ConsumerThread.on_thread_stop(self)
        if self._consumer is not None:
            await close_component("faust consumer", self._consumer.stop())


class _Consumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, delivering records inline when possible (module docstring, 3)."""

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:  # noqa: ASYNC109 - mode's signature
        """Faust's ``wait_first``, except for the fetcher's per-record call (a delivery coroutine and
        ``suspend_flow.wait()``, no timeout, flow not suspended): that one runs the delivery inline."""
        if not self._is_delivery(coros, timeout):
            return await super().wait_first(*coros, timeout=timeout)
        deliver, flow = coros
        try:
            waiting = deliver.send(None)
        except StopIteration as stop:
            flow.close()
            return WaitResults([deliver], [stop.value], False)
        except BaseException:
            flow.close()
            raise
        return await super().wait_first(_carry_on(deliver, waiting), flow)

    def _is_delivery(self, coros: tuple[Any, ...], timeout: Any) -> bool:
        if timeout is not None or len(coros) != 2 or self.suspend_flow.is_set():
            return False
        deliver, flow = coros
        return (
            inspect.iscoroutine(deliver)
            and inspect.getcoroutinestate(deliver) == inspect.CORO_CREATED
            and inspect.iscoroutine(flow)
            and flow.cr_code is _EVENT_WAIT
            and flow.cr_frame is not None
            and flow.cr_frame.f_locals.get("self") is self.suspend_flow
        )


class _NoSensor(faust.Sensor):
    """A sensor that records nothing (Faust's base class): stands in for the Monitor so that Faust's
    rebalance bookkeeping, which expects some sensor state, stays quiet."""


class _Transport(aiokafka_driver.Transport):
    Consumer = _Consumer


class ProcessorApp(faust.App):
    """See the module docstring. Brokers are ``kafka://`` URLs (the aiokafka transport)."""

    def FlowControlQueue(self, maxsize: int | None = None, *, clear_on_resume: bool = False) -> Any:
        return super().FlowControlQueue(maxsize, clear_on_resume=False)

    def on_init_dependencies(self) -> Iterable[Any]:
        services = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        self.sensors.add(_NoSensor())  # Faust warns at every rebalance when no sensor answers
        return services

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


class FaustOutputs:
    """:class:`~newswatch.processor.agents.Outputs` over the app's producer, in record batches.

    A call's records go into one record batch per topic partition (aiokafka's ``create_batch`` /
    ``send_batch``; a full batch is sent and another started), partitioned by key as the producer's
    own partitioner would (``kafka.key_partition``: murmur2, compiled); the call's awaitable gathers
    the batches' delivery futures. Per record that costs an append to a batch instead of a send with a
    future of its own (Faust's ``Topic.send`` and a table's ``send_changelog`` cost more still, and
    the latter's buffer throttles the stream). Every record carries the header
    :data:`ORIGIN_HEADER` = the app id, telling which processor deployment wrote it. Faust flushes the
    same producer before it commits offsets.
    """

    def __init__(self, app: faust.App, origin: str) -> None:
        self._app = app
        self._origin = (ORIGIN_HEADER, origin.encode("utf-8"))
        self._known: set[str] = set()  # topics whose partitions the producer's metadata holds

    async def publish(self, records: Sequence[Outgoing]) -> Awaitable[Any]:
        transport: Any = self._app.producer
        producer: Any = transport._ensure_producer()  # Faust 0.15 has no batch API of its own
        batches: dict[tuple[str, int], Any] = {}
        futures: list[Awaitable[Any]] = []
        origin = self._origin
        partitions: dict[str, list[int]] = {}  # per topic, as the cluster metadata lists them now
        for record in records:
            topic = record.topic.name
            if topic not in self._known:
                await producer.partitions_for(topic)  # waits for the topic's metadata once
                self._known.add(topic)
            partition = record.partition
            if partition is None:
                if record.key is None:
                    partition = transport.key_partition(topic, record.key).partition
                else:
                    listed = partitions.get(topic)
                    if listed is None:
                        listed = partitions[topic] = list(producer._metadata.partitions_for_topic(topic))
                    partition = key_partition(record.key, listed)
            headers = [*record.headers, origin]
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[topic, partition] = producer.create_batch()
            if batch.append(timestamp=None, key=record.key, value=record.value, headers=headers) is None:
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[topic, partition] = producer.create_batch()
                batch.append(timestamp=None, key=record.key, value=record.value, headers=headers)
        for (topic, partition), batch in batches.items():
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return asyncio.gather(*futures)
