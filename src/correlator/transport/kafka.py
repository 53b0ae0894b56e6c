"""Kafka transport: the only module that imports aiokafka (besides transport/admin.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError

from correlator.config import KafkaSettings
from correlator.errors import TransportError
from correlator.model.message import RawMessage
from correlator.transport.assignor import MemberReport, Plan, plan_group
from correlator.transport.partition_load import PartitionLoad, RejoinPolicy, RejoinReason

__all__ = ["KafkaSink", "KafkaSource", "raw_consume"]

log = logging.getLogger(__name__)


def _security(settings: KafkaSettings) -> dict[str, Any]:
    opts: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.sasl_mechanism:
        opts["sasl_mechanism"] = settings.sasl_mechanism
        opts["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            opts["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return opts


class KafkaSource:
    """Consumes topics in one consumer group with manual commits after durable work."""

    def __init__(
        self,
        settings: KafkaSettings,
        topics: Sequence[str],
        *,
        group_id: str | None = None,
        auto_offset_reset: str = "earliest",
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._resume: dict[tuple[str, int], int] = {}
        self._next: dict[tuple[str, int], int] = {}
        self.on_assign: list[Callable[[set[tuple[str, int]]], Awaitable[None]]] = []
        self.on_revoke: list[Callable[[set[tuple[str, int]]], Awaitable[None]]] = []
        self._group = group_id or settings.group_id
        self._balance: _Balance | None = None
        strategy: tuple[Any, ...] = (RoundRobinPartitionAssignor,)
        if settings.partition_assignor == "load-aware":
            self._balance = _Balance(settings)
            strategy = (_LoadAwareAssignor(self._balance),)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=self._group,
            client_id=settings.client_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            max_partition_fetch_bytes=max(settings.max_message_bytes, 1024 * 1024),
            fetch_max_bytes=64 * 1024 * 1024,
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            partition_assignment_strategy=strategy,
            **_security(settings),
        )

    async def start(self) -> None:
        try:
            await self._consumer.start()
        except KafkaError as exc:
            raise TransportError(
                f"cannot reach Kafka at {self._settings.bootstrap_servers}: {exc}; "
                "check kafka.bootstrap_servers"
            ) from exc
        self._consumer.subscribe(self._topics, listener=_Listener(self))

    def resume_from(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Consume each partition in ``positions`` from that offset, not the committed one.

        The engine's snapshot names the offsets its state corresponds to; a partition
        assigned now or later starts there.
        """
        self._resume.update(positions)
        owned = self._consumer.assignment()
        for tp in owned:
            self._seek(tp)

    def _seek(self, tp: TopicPartition) -> None:
        offset = self._resume.get((tp.topic, tp.partition))
        if offset is not None:
            self._consumer.seek(tp, offset)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def __aenter__(self) -> KafkaSource:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def get_batch(self, timeout_s: float) -> list[RawMessage]:
        try:
            records = await self._consumer.getmany(
                timeout_ms=int(timeout_s * 1000), max_records=self._settings.max_batch
            )
        except KafkaError as exc:
            raise TransportError(f"fetch failed: {exc}") from exc
        out: list[RawMessage] = []
        balance = self._balance
        for tp, msgs in records.items():
            if msgs:
                self._next[(tp.topic, tp.partition)] = msgs[-1].offset + 1
                if balance is not None:
                    size = sum(len(rec.value or b"") for rec in msgs)
                    balance.load.fetched((tp.topic, tp.partition), len(msgs), size)
            for rec in msgs:
                out.append(
                    RawMessage(
                        topic=tp.topic,
                        value=rec.value,
                        key=rec.key,
                        partition=tp.partition,
                        offset=rec.offset,
                        timestamp_ms=rec.timestamp,
                        headers=tuple(rec.headers or ()),
                    )
                )
        if not out:
            await self._learn_positions()
        if balance is not None:
            self._weigh(balance)
        return out

    def _weigh(self, balance: _Balance) -> None:
        """Note each owned partition's end as of the fetch that reported it; ask to rejoin
        when the policy says."""
        now, wall = balance.clock(), balance.wall()
        for tp in self._consumer.assignment():
            key = (tp.topic, tp.partition)
            polled = self._consumer.last_poll_timestamp(tp)  # wall ms of that fetch response
            if polled is None or balance.polled.get(key) == polled:
                continue  # no fetch response since the last look: its end is no news
            balance.polled[key] = polled
            age = max(0.0, wall - polled / 1000)
            balance.load.observe(key, now - age, self._consumer.highwater(tp))
        reason = balance.policy.check(balance.load.weights(now), now)
        if reason is not RejoinReason.NONE:
            log.info("asking group %s for a new assignment: %s", self._group, reason.value)
            balance.policy.requested(now)
            request_rejoin(self._consumer)

    async def _learn_positions(self) -> None:
        """Note where owned partitions that have returned nothing yet stand (an empty fetch
        is the moment: the positions are known and no batch waits), so ``caught_up`` can
        tell a partition assigned at its end from one with records still to come."""
        for tp in self._consumer.assignment():
            key = (tp.topic, tp.partition)
            if key not in self._next and self._consumer.highwater(tp) is not None:
                try:
                    self._next[key] = await self._consumer.position(tp)
                except KafkaError:
                    return  # a rebalance is under way: the next empty fetch tries again

    async def commit(self, batch: Sequence[RawMessage]) -> None:
        """Commit offset + 1 per partition; partitions no longer owned are left to their owner."""
        owned = self._consumer.assignment()
        offsets: dict[TopicPartition, int] = {}
        for msg in batch:
            tp = TopicPartition(msg.topic, msg.partition)
            if tp in owned:
                offsets[tp] = max(offsets.get(tp, 0), msg.offset + 1)
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as exc:
            raise TransportError(f"offset commit failed: {exc}") from exc

    def caught_up(self, partition: tuple[str, int]) -> bool:
        """True when everything the broker last said ``partition`` holds has been returned.

        A partition with records still to fetch is behind, not idle, however long it has
        been since its last batch. One that has returned nothing since it was assigned is
        caught up once an empty fetch has found it at its end; one not owned (any more) has
        nothing more to return here, so it is caught up too.
        """
        tp = TopicPartition(*partition)
        if tp not in self._consumer.assignment():
            return True
        high = self._consumer.highwater(tp)
        return high is not None and self._next.get(partition, 0) >= high

    def assignment(self) -> set[tuple[str, int]]:
        """The partitions this member owns now."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    async def lag(self) -> int | None:
        """Records in the partitions owned now that ``get_batch`` has not returned yet.

        Counted from each partition's end as the broker last reported it in a fetch (its
        highwater; ``end_offsets`` is not used: Tansu answers it wrongly) to the consumer's
        position. 0 when nothing is owned; None while some owned partition has not been
        fetched yet.
        """
        ends: dict[TopicPartition, int] = {}
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            if end is None:
                return None
            ends[tp] = end
        behind = 0
        try:
            for tp, end in ends.items():
                behind += max(0, end - await self._consumer.position(tp))
        except KafkaError as exc:
            raise TransportError(f"cannot read the consumer lag: {exc}") from exc
        return behind


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Seeks newly assigned partitions to their resume offsets and tells the engine."""

    def __init__(self, source: KafkaSource) -> None:
        self._source = source

    async def on_partitions_revoked(self, revoked: Any) -> None:
        lost = {(tp.topic, tp.partition) for tp in revoked}
        for key in lost:
            self._source._next.pop(key, None)
        for callback in self._source.on_revoke:
            await callback(lost)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        for tp in assigned:
            self._source._seek(tp)
        got = {(tp.topic, tp.partition) for tp in assigned}
        for callback in self._source.on_assign:
            await callback(got)


def request_rejoin(consumer: AIOKafkaConsumer) -> None:
    """Make ``consumer`` rejoin its group, so the leader assigns partitions again.

    aiokafka 0.14 has no public call for this: it is the group coordinator's
    ``request_rejoin()`` (private, ``consumer._coordinator``), the one its own metadata
    watcher uses. tests/transport/test_load_aware_kafka.py fails if that changes.
    """
    consumer._coordinator.request_rejoin()


class _Balance:
    """A load-aware member's state: its partitions' weights, its plan, its owned set."""

    def __init__(
        self,
        settings: KafkaSettings,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ):
        self.clock = clock
        self.wall = wall  # the clock aiokafka stamps fetch responses with
        self.threshold = settings.load_threshold
        self.load = PartitionLoad(settings.load_window_s)
        self.policy = RejoinPolicy(
            settings.load_window_s, settings.load_threshold, settings.load_recheck_s
        )
        self.owned: frozenset[tuple[str, int]] = frozenset()
        self.polled: dict[tuple[str, int], int] = {}  # the fetch response each end came from
        self.plan: Plan | None = None

    def report(self) -> MemberReport:
        """What this member owns and what it weighs: measured over a window, else (a
        partition it got less than a window ago) the weight its plan gave it, which the
        previous owner measured. Without that, a partition moved again within a window
        would weigh the group's mean, a guess, in the next split."""
        plan = self.plan
        carried = (
            {p: w for p, w in plan.weights.items() if p in self.owned and p not in plan.assumed}
            if plan is not None
            else {}
        )
        return MemberReport(self.owned, carried | self.load.weights(self.clock()))

    def assigned(self, partitions: Iterable[tuple[str, int]], plan: Plan) -> None:
        self.owned, self.plan = frozenset(partitions), plan
        self.load.forget(self.owned)
        self.polled = {p: at for p, at in self.polled.items() if p in self.owned}
        self.policy.assigned(plan, self.clock())


class _LoadAwareAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """aiokafka's side of ``correlator.transport.assignor``: reports in, plans out."""

    name = "correlator-load-aware"

    def __init__(self, balance: _Balance) -> None:
        self._balance = balance

    def metadata(self, topics: Iterable[str]) -> Any:
        report = self._balance.report()
        return ConsumerProtocolMemberMetadata(0, sorted(topics), report.encode())

    def assign(self, cluster: Any, members: Mapping[str, Any]) -> dict[str, Any]:
        subscriptions = {m: list(meta.subscription) for m, meta in members.items()}
        topics = sorted({t for subscribed in subscriptions.values() for t in subscribed})
        partitions = [(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
        reports = {m: MemberReport.decode(meta.user_data) for m, meta in members.items()}
        plans = plan_group(partitions, subscriptions, reports, self._balance.threshold)
        out: dict[str, Any] = {}
        for member, (parts, plan) in plans.items():
            by_topic: dict[str, list[int]] = {}
            for topic, partition in parts:
                by_topic.setdefault(topic, []).append(partition)
            log.info(
                "load-aware split: %s gets %d partitions, load %.0f of %.0f",
                member,
                len(parts),
                plan.load,
                plan.total,
            )
            out[member] = ConsumerProtocolMemberAssignment(
                0, sorted(by_topic.items()), plan.encode()
            )
        return out

    def on_assignment(self, assignment: Any) -> None:
        parts = [(tp.topic, tp.partition) for tp in assignment.partitions()]
        self._balance.assigned(parts, Plan.decode(assignment.user_data))


class KafkaSink:
    """Produces records with acks=all and waits for every acknowledgement."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=settings.client_id,
            acks="all",
            linger_ms=5,
            max_batch_size=1024 * 1024,
            max_request_size=max(settings.max_message_bytes, 1024 * 1024) + 65536,
            **_security(settings),
        )

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            raise TransportError(
                f"cannot reach Kafka at {self._settings.bootstrap_servers}: {exc}"
            ) from exc

    async def stop(self) -> None:
        await self._producer.stop()

    async def __aenter__(self) -> KafkaSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(self, messages: Sequence[RawMessage]) -> None:
        if not messages:
            return
        try:
            futures = [
                await self._producer.send(
                    m.topic,
                    m.value,
                    key=m.key,
                    headers=list(m.headers) or None,
                    partition=m.partition if m.partition >= 0 else None,
                )
                for m in messages
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise TransportError(f"produce failed: {exc}") from exc


async def raw_consume(
    settings: KafkaSettings, topics: Sequence[str], expected: int, group_id: str, limit_s: float
) -> tuple[int, float]:
    """Read ``topics`` from the start with a bare ``getmany`` loop, doing nothing with records.

    The ceiling the engine's rate is compared with. Returns how many records were read and
    the seconds from the first non-empty fetch until ``expected`` were seen (or ``limit_s``);
    the records of that first fetch are read before the clock starts, so they are not counted.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=max(settings.max_message_bytes, 1024 * 1024),
        fetch_max_bytes=64 * 1024 * 1024,
        **_security(settings),
    )
    await consumer.start()
    loop = asyncio.get_running_loop()
    seen, counted, first = 0, 0, 0.0
    deadline = loop.time() + limit_s
    try:
        while seen < expected and loop.time() < deadline:
            records = await consumer.getmany(timeout_ms=200, max_records=settings.max_batch)
            got = sum(len(msgs) for msgs in records.values())
            if got and not seen:
                first = loop.time()
            elif seen:
                counted += got
            seen += got
        return counted, loop.time() - first
    finally:
        await consumer.stop()
