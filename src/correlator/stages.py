"""``correlator run --stage detect|correlate|all``: the engine split across processes.

* ``detect`` (any number of processes in one consumer group, the telemetry partitions
  split between them): decode → normalize → detect. Each batch's alerts, learned call
  edges and the member's watermark (with the telemetry partitions it owns) go to the
  ``alerts`` topic as one record keyed by correlation domain, so they stay in order.
* ``correlate`` (one process per domain): reads the alerts topic, takes the lowest
  watermark reported over every telemetry partition, and runs the same event-time ticks
  as the single-process engine (``correlator.timeline``): correlate → rank → publish, with
  the engine's snapshot, outbox and offsets in one store transaction.
* ``all``: both in one process, wired in memory (the default).

On a rebalance a detect member checkpoints every series it holds and commits its offsets
before giving partitions up (``on_partitions_revoked``), then forgets them; whoever is
assigned them restores each series from its checkpoint when it next reports.

Open event-time windows go the same way (``correlator.normalize.handover``): a member
keeps its windows per source partition, writes those of the partitions it gives up to the
store in one transaction before committing, and drops any record of them it still
fetches; the next owner merges them into its own windows as it is assigned the partition,
so a window a rebalance cuts in two is emitted once, from all of its records. The entry
holds the offset it covers: if the owner's first record of the partition is elsewhere (the
old member died before committing), it takes the merged windows back out instead. A
member that stops hands its windows over the same way.

Log templates are mined per source partition on a detect member, and each partition's
miner moves with its windows (same transaction on release and stop; loaded before the
windows are merged on assignment), so a moved service keeps its template ids and its
known templates are not reported as new again.

A member has no snapshot; at every checkpoint it writes each owned partition's open
windows (at the partition's consumed offset) and the miners that changed, then commits.
A member that crashes loses nothing: its partitions' next owner resumes at the committed
offsets, merges the windows written with them (the offsets match) and replays the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from correlator.config import Settings, TopicSettings
from correlator.errors import ConfigError, DecodeError
from correlator.ingest.dead_letter import dead_letter_for
from correlator.ingest.decode_stage import Decoded
from correlator.model.alert import Alert
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.normalize.handover import HandedWindows, WindowHandover
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.spans import CallEdge
from correlator.normalize.stage import Closed, Normalized, OpenWindows
from correlator.pipeline import Engine, build_engine

__all__ = [
    "STAGES",
    "CorrelateEngine",
    "DetectEngine",
    "alerts_topic",
    "build_stage_engine",
    "detection_message",
    "ensure_stage_topics",
]

log = logging.getLogger(__name__)
STAGES = ("all", "detect", "correlate")
DOMAIN = "default"


def alerts_topic(topics: TopicSettings) -> str:
    """The topic between detect and correlate: ``topics.alerts`` or ``<prefix>alerts``.

    >>> alerts_topic(TopicSettings(incidents="shop-incidents"))
    'shop-alerts'
    """
    named = getattr(topics, "alerts", None)
    return str(named) if named else topics.incidents.removesuffix("incidents") + "alerts"


def timed_partitions(settings: Settings) -> list[tuple[str, int]]:
    """Every telemetry partition whose event time holds the correlator's clock back."""
    t = settings.topics
    return [(name, p) for name in (t.spans, t.logs, t.metrics) for p in range(t.partitions)]


def detection_message(
    topic: str,
    alerts: Sequence[Alert],
    edges: Sequence[CallEdge],
    watermark: float,
    partitions: Sequence[tuple[str, int]],
    domain: str = DOMAIN,
) -> RawMessage:
    """One detect batch's output as an ``alerts`` topic record."""
    body = {
        "alerts": [a.model_dump(mode="json") for a in alerts],
        "edges": [[e.caller, e.callee, e.count, e.ts] for e in edges],
        "watermark": watermark,
        "partitions": [list(tp) for tp in sorted(partitions)],
    }
    return RawMessage(topic, json.dumps(body).encode(), key=domain.encode(), partition=-1)


class DetectEngine(Engine):
    """decode → normalize → detect; its output goes to the alerts topic."""

    keeps_snapshot = False  # members share partitions over time: series checkpoints only
    alerts_topic = ""
    owned: frozenset[tuple[str, int]] = frozenset()
    _lock: asyncio.Lock
    _reported = 0.0
    handover: WindowHandover
    #: Partitions given up and not assigned back: their records still fetched are dropped.
    _revoked: set[tuple[str, int]]
    #: Handed-over windows merged, by partition, with the offset they cover, until the
    #: partition's first record shows whether they fit (``HandedWindows.covers``).
    _handed: dict[tuple[str, int], HandedWindows]

    async def start(self) -> None:
        """Register the rebalance hooks (on a Kafka source), then start as any engine."""
        self.alerts_topic = alerts_topic(self.settings.topics)
        self._lock = asyncio.Lock()
        self.handover = WindowHandover(self.store)
        self._revoked, self._handed = set(), {}
        self.normalize.logs.miner_per_origin = True
        for hook, callback in (("on_revoke", self.release), ("on_assign", self._assigned)):
            hooks = getattr(self.source, hook, None)
            if isinstance(hooks, list):
                hooks.append(callback)
        await super().start()

    async def stop(self) -> None:
        """Hand the windows of every owned partition over, then stop as any engine."""
        if self.owned:
            await self.release(set(self.owned))
        await super().stop()

    async def process(self, batch: Sequence[RawMessage], flush: bool = False) -> None:
        async with self._lock:
            if self._revoked:
                batch = [m for m in batch if (m.topic, m.partition) not in self._revoked]
            if self._handed:
                self._check_handed(batch)
            await super().process(batch, flush)

    def _decode_and_add(self, batch: Sequence[RawMessage]) -> tuple[Decoded, Normalized, int]:
        """``Engine._decode_and_add``, with each partition's records as their own origin."""
        decoded, normalized, events = Decoded(), Normalized(), 0
        for origin, records in _runs(batch):
            part = self.decode.process(records)
            added = self.normalize.add(part.events, origin)
            normalized.observations += added.observations
            normalized.external_alerts += added.external_alerts
            events += len(part.events)
            decoded.dead_letters += part.dead_letters
            decoded.consumed.update(part.consumed)
            for key, ts in part.high_ts.items():
                decoded.high_ts[key] = max(ts, decoded.high_ts.get(key, ts))
            part.events.clear()
        return decoded, normalized, events

    def _check_handed(self, batch: Sequence[RawMessage]) -> None:
        """At a partition's first record, keep its merged windows only if they fit."""
        for msg in batch:
            key = (msg.topic, msg.partition)
            handed = self._handed.pop(key, None)
            if handed is not None and not handed.covers(msg.offset):
                self.normalize.take(key)
                log.warning(
                    "dropped the windows handed over for %s[%d]: they cover offsets below "
                    "%d, but consumption resumes at %d (the last owner did not commit)",
                    *key,
                    handed.position,
                    msg.offset,
                )
            if not self._handed:
                return

    def _advance_watermark(self, high_ts: dict[tuple[str, int], float]) -> None:
        """``Engine._advance_watermark``; then a lagging partition gone idle stops lagging.

        Idle as the watermark counts it (silent for ``detect.idle_partition_s`` of wall
        time, nothing left to fetch): it no longer holds event time back, so its windows
        close by the watermark too; before, they stayed open until its next record.
        """
        super()._advance_watermark(high_ts)
        wall = self.clock.monotonic()
        for key in self.normalize.lagging():
            if key in self._seen and key is not None and not self._holds_time(key, wall):
                self.normalize.stop_lagging(key)

    async def _correlate(
        self, alerts: Sequence[Alert], edges: Sequence[CallEdge], flush: bool
    ) -> list[IncidentChange]:
        """Send alerts, edges and the watermark to the correlate stage (acknowledged)."""
        timed = set(timed_partitions(self.settings))
        owned = (self.owned & timed) or {k for k in self._high if k in timed}
        watermark = self.watermark
        if flush and self._high:
            watermark = max(self._high.values())
        if alerts or edges or watermark > self._reported or flush:
            message = detection_message(self.alerts_topic, alerts, edges, watermark, list(owned))
            await self.sink.send([message])
            self._reported = watermark
        return []

    async def _assigned(self, partitions: set[tuple[str, int]]) -> None:
        """Own ``partitions``; merge the windows handed over for them and delete those."""
        async with self._lock:
            self.owned = frozenset(partitions)
            self._revoked -= partitions
            logs = self.normalize.logs
            miners = await self.handover.load_miners(partitions - set(logs.miners()))
            for key, miner in miners.items():
                logs.put_miner(key, miner)
            found = await self.handover.load(partitions)
            for key, handed in found.items():
                self.normalize.merge(key, handed.windows)
                self.normalize.lag(key, handed.closed)
                self._handed[key] = handed
            if found:
                await self.handover.delete(found)
                log.info("merged the open windows handed over for %d partitions", len(found))

    async def release(self, partitions: set[tuple[str, int]]) -> None:
        """Before partitions go: hand their open windows over, checkpoint every series and
        commit; then forget them."""
        async with self._lock:
            await self._hand_over(partitions)
            self.owned = self.owned - partitions  # the checkpoint writes the others' windows
            await self.checkpoint()
            self.detect.series.clear()
            self.detect.dirty.clear()
            self._revoked |= partitions
            for key in partitions:
                self.positions.pop(key, None)
                self._high.pop(key, None)
                self._seen.pop(key, None)

    async def _hand_over(self, partitions: set[tuple[str, int]]) -> None:
        """Write the open windows and log template miners of ``partitions`` to the store
        (one transaction)."""
        handed: dict[tuple[str, int], HandedWindows] = {}
        miners: dict[tuple[str, int], LogTemplateMiner] = {}
        for key in partitions:
            closed = self.normalize.closed_upto(key)  # before take: it ends the lagging
            entry = self._entry(key, self.normalize.take(key), closed)
            self._handed.pop(key, None)
            if entry is not None:
                handed[key] = entry
            miner = self.normalize.logs.take_miner(key)
            if miner is not None:
                miners[key] = miner
        await self.handover.save(handed, partitions, miners)

    def _open_windows(self) -> dict[tuple[str, int], HandedWindows]:
        """Every owned partition's entry, its open windows left in place."""
        entries = {
            key: self._entry(key, self.normalize.peek(key), self.normalize.closed_upto(key))
            for key in self.owned
        }
        return {key: entry for key, entry in entries.items() if entry is not None}

    def _entry(
        self, key: tuple[str, int], windows: OpenWindows | None, closed: Closed
    ) -> HandedWindows | None:
        """``key``'s handover entry: ``windows`` at the partition's consumed offset (that
        of the entry merged for it, when nothing was consumed since), with the windows
        closed for it, which tell even when none is open; None before any offset."""
        earlier = self._handed.get(key)
        position = self.positions.get(key, earlier.position if earlier else None)
        if position is None:
            return None
        return HandedWindows(position, windows or OpenWindows(), closed)

    async def _snapshot(self, changes: Sequence[IncidentChange]) -> list[IncidentChange]:
        """Write every owned partition's open windows and the template miners that changed
        (one transaction), then snapshot as any engine, which commits: a member that
        resumes at the committed offsets after this one crashed merges the windows of the
        records below them and knows their templates."""
        changed = {k: m for k, m in self.normalize.logs.changed_miners().items() if k is not None}
        await self.handover.save(self._open_windows(), self.owned, changed)
        return await super()._snapshot(changes)


class CorrelateEngine(Engine):
    """Reads the alerts topic; correlate → rank → publish on event-time ticks."""

    writes_cuts = False  # its whole state is correlation's: every change gets a snapshot

    async def process(self, batch: Sequence[RawMessage], flush: bool = False) -> None:
        alerts: list[Alert] = []
        edges: list[CallEdge] = []
        dead: list[RawMessage] = []
        for msg in batch:
            try:
                record = _read_detection(msg)
            except DecodeError as exc:
                log.warning(
                    "dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, exc
                )
                dead.append(dead_letter_for(msg, exc, self.settings.topics.dead_letter))
                continue
            alerts.extend(record.alerts)
            edges.extend(record.edges)
            for key in record.partitions:
                self._high[key] = max(record.watermark, self._high.get(key, 0.0))
        reported = [self._high.get(k, 0.0) for k in timed_partitions(self.settings)]
        self.watermark = max(self.watermark, min(reported, default=0.0))
        if flush and self._high:
            self.watermark = max(self.watermark, max(self._high.values()))
        self.ticks.add(alerts, edges)
        changes = await self._run_ticks(flush)
        await self.sink.send(dead)
        published = await self._settle(batch, changes, flush)
        self.stats.alerts += len(alerts)
        self.stats.dead_lettered += len(dead)
        self.stats.batches += 1
        self.stats.changes_published += len(published)
        self._count_late()


def _runs(batch: Sequence[RawMessage]) -> list[tuple[tuple[str, int], list[RawMessage]]]:
    """``batch`` cut where the partition changes (a Kafka batch comes grouped by partition).

    >>> [(tp, len(r)) for tp, r in _runs([RawMessage("s", b"", partition=p) for p in (0, 0, 1)])]
    [(('s', 0), 2), (('s', 1), 1)]
    """
    runs: list[tuple[tuple[str, int], list[RawMessage]]] = []
    current: tuple[str, int] | None = None
    records: list[RawMessage] = []
    for msg in batch:
        key = (msg.topic, msg.partition)
        if key != current:
            current, records = key, []
            runs.append((key, records))
        records.append(msg)
    return runs


@dataclass(frozen=True)
class _Detection:
    alerts: list[Alert]
    edges: list[CallEdge]
    watermark: float
    partitions: list[tuple[str, int]]


def _read_detection(msg: RawMessage) -> _Detection:
    """One ``alerts`` topic record (see :func:`detection_message`), or :class:`DecodeError`."""
    try:
        body = json.loads(msg.value or b"")
        return _Detection(
            alerts=[Alert.model_validate(a) for a in body.get("alerts", ())],
            edges=[
                CallEdge(str(c), str(d), int(n), float(ts)) for c, d, n, ts in body.get("edges", ())
            ],
            watermark=float(body["watermark"]),
            partitions=[(str(t), int(p)) for t, p in body.get("partitions", ())],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DecodeError(f"not a detect stage record ({type(exc).__name__}: {exc})") from exc


async def ensure_stage_topics(settings: Settings) -> None:
    """Create the alerts topic (one partition: one correlation domain) if it is missing."""
    from correlator.transport.admin import ensure_topics

    await ensure_topics(settings.kafka, [alerts_topic(settings.topics)], 1)


def build_stage_engine(settings: Settings, stage: str = "all") -> Engine:
    """The engine of one ``--stage`` on Kafka and Redis (``correlator run --stage``)."""
    from correlator.store.redis import RedisStateStore
    from correlator.transport.kafka import KafkaSink, KafkaSource

    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; use one of {', '.join(STAGES)}")
    kafka = settings.kafka
    topics = list(settings.topics.decoders())
    group = kafka.group_id
    engine_class: type[Engine] = Engine
    if stage == "detect":
        engine_class, group = DetectEngine, f"{kafka.group_id}-detect"
    elif stage == "correlate":
        engine_class, group = CorrelateEngine, f"{kafka.group_id}-correlate"
        topics = [alerts_topic(settings.topics)]
    return build_engine(
        settings,
        source=KafkaSource(kafka, topics, group_id=group),
        sink=KafkaSink(kafka),
        store=RedisStateStore(settings.redis.url.get_secret_value(), settings.redis.key_prefix),
        scope=stage,
        engine_class=engine_class,
    )
