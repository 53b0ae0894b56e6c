"""The engine: the one place that wires the stages together.

One step takes a batch from the source and runs it through decode → normalize → detect,
then queues alerts and call edges by event time; each event-time tick the watermark
completes runs correlate → rank → version (``correlator.timeline``), so batch boundaries
never change an incident.

Delivery: every ``checkpoint_every_s`` (and on the first batch, on stop and flush) the
engine's whole state (windows, templates, open incidents, queued ticks, the watermark) and
the offsets it has consumed are written as one snapshot, in one store transaction with the
changed models; then the offsets are committed. A batch with incident changes in between
writes a *cut* (``correlator.store.snapshot``): correlation's state and the offsets it
covers, in one transaction with the changes (queued in an outbox); then the changes are
sent. That costs milliseconds where a full snapshot costs hundreds of them, and it stands
between an alert and the incidents topic. A restart restores the snapshot and the cut,
re-sends the outbox, resumes at the snapshot's offsets and replays the records up to the
cut's offsets with correlation muted (the cut already holds their effect), so replayed
records are processed exactly as the first time and nothing a consumer sees changes.
"""

from __future__ import annotations

import gc
import logging
import pickle
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from correlator.clock import Clock, SystemClock
from correlator.config import Settings
from correlator.correlate.rules import SilenceRepository, load_rules
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph, load_topology
from correlator.detect.base import Detector
from correlator.detect.checkpoint import ModelCheckpoints
from correlator.detect.external import from_alert_event
from correlator.detect.registry import detector_factory_for
from correlator.detect.series import SeriesState
from correlator.detect.stage import DetectStage
from correlator.ingest.decode_stage import Decoded, DecodeStage
from correlator.ingest.decoders.base import Decoder
from correlator.ingest.decoders.registry import decoder_for
from correlator.model.alert import Alert
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.model.observation import Signal
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.logs import LogWindows
from correlator.normalize.spans import CallEdge
from correlator.normalize.stage import Normalized, NormalizeStage
from correlator.publish.stage import PublishStage
from correlator.rank.ranker import RankWeights
from correlator.rank.stage import RankStage
from correlator.store.base import StateStore, WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.store.snapshot import SnapshotError, SnapshotRepository, dumps, loads
from correlator.timeline import TickQueue
from correlator.transport.base import Resumable, Sink, Source

__all__ = ["Engine", "EngineStats", "build_engine"]

log = logging.getLogger(__name__)
_MINER_KEY = "logs:template-miner"
#: Longest poll while alerts wait for their tick: the tick may run on wall time alone.
_TICK_POLL_S = 0.02
_SNAPSHOT_VERSION = 2  # 2: alerts and observations carry ``samples``
_MAX_EVICTED_PENDING = 10_000


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (see ``Engine._ingest``)."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@dataclass
class EngineStats:
    """Running counters of one engine (exported as metrics by serve)."""

    consumed: dict[str, int] = field(default_factory=dict)
    events: int = 0
    observations: int = 0
    anomalies: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    changes_published: int = 0
    batches: int = 0
    #: What came after its event time was closed, by kind: ``span`` and ``log`` records
    #: of a window already closed (dropped), ``alert`` of a tick already run (correlated
    #: in the next one; a count that grows says ``correlate.tick_margin_s`` is shorter
    #: than the disorder of the stream).
    late: dict[str, int] = field(default_factory=dict)
    published: list[IncidentChange] = field(default_factory=list)


class Engine:
    """Runs batches from a source through the stages to the sink and the store."""

    #: Whether the engine's whole state is snapshotted and restored (one engine per scope).
    keeps_snapshot = True
    #: Whether incident changes between full snapshots are written as cuts (see module doc).
    writes_cuts = True

    def __init__(
        self,
        settings: Settings,
        *,
        source: Source,
        sink: Sink,
        store: StateStore,
        decoders: dict[str, Decoder],
        detector_factory: Callable[[Signal], Detector],
        topology: TopologyGraph,
        clock: Clock | None = None,
        keep_published: bool = False,
        scope: str = "all",
    ) -> None:
        self.settings = settings
        self.source, self.sink, self.store = source, sink, store
        self.clock = clock or SystemClock()
        self.topology = topology
        self.incidents = IncidentRepository(store)
        self.checkpoints = ModelCheckpoints(store)
        self.decode = DecodeStage(decoders, settings.topics.dead_letter)
        self.miner = LogTemplateMiner()
        self.normalize = NormalizeStage(
            settings.detect.window_s, LogWindows(settings.detect.window_s, self.miner)
        )
        self.detect = DetectStage(
            settings.detect, detector_factory, settings.correlate.fingerprint_labels
        )
        self.correlate = CorrelateStage(
            settings.correlate, topology, load_rules(settings.correlate.rules_file)
        )
        self.silences = SilenceRepository(store)
        self.rank = RankStage(topology, RankWeights(sample_prior=settings.correlate.sample_prior))
        self.publish = PublishStage(sink, self.incidents, settings.topics.incidents)
        self.stats = EngineStats()
        self._late_seen: dict[str, int] = {}
        self._keep_published = keep_published
        self.snapshots = SnapshotRepository(store, scope)
        self.ticks = TickQueue(
            settings.correlate.tick_s,
            settings.correlate.tick_margin_s,
            edge_delay_s=settings.detect.window_s,
        )
        #: Offsets below which records already fed the restored cut's correlation state.
        self._muted: dict[tuple[str, int], int] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self._high: dict[tuple[str, int], float] = {}
        self._seen: dict[tuple[str, int], float] = {}
        self._evicted: dict[str, SeriesState] = {}
        self.watermark = 0.0
        self._last_snapshot = float("-inf")  # the first batch writes a base snapshot
        self._latest_event = 0.0
        self._last_data_wall = self.clock.monotonic()

    async def start(self) -> None:
        """Start the ports; restore the last snapshot (or the open incidents) and its outbox."""
        for port in (self.store, self.sink, self.source):
            await port.start()
        self.correlate.add_silences(await self.silences.current(self.clock.now()))
        blob = await self.store.get(_MINER_KEY)
        if blob is not None:
            self.miner = LogTemplateMiner.from_bytes(blob)
            self.normalize.logs.miner = self.miner
        snapshot = await self.snapshots.load() if self.keeps_snapshot else None
        if snapshot is not None:
            self._restore(snapshot)
            self._last_snapshot = self.clock.monotonic()
        else:
            self.correlate.restore(await self.incidents.open_incidents())
        cut = await self.snapshots.load_cut() if self.keeps_snapshot else None
        if cut is not None:
            self._restore_cut(cut)
        await self._send_outbox(await self.snapshots.outbox())

    async def stop(self) -> None:
        """Snapshot (committing the offsets) and stop the ports."""
        try:
            await self.checkpoint()
        finally:
            try:
                await self.source.stop()
            finally:
                await self.sink.stop()
                await self.store.stop()

    async def step(self, timeout_s: float | None = None) -> int:
        """Process one batch; return how many records it had."""
        wait = self.settings.kafka.poll_timeout_ms / 1000 if timeout_s is None else timeout_s
        if self.ticks.alerts:
            wait = min(wait, _TICK_POLL_S)
        batch = await self.source.get_batch(wait)
        await self.process(batch)
        return len(batch)

    async def process(self, batch: Sequence[RawMessage], flush: bool = False) -> None:
        """Run one batch through every stage; snapshot or cut when it changed incidents.

        After a restart, the records the restored cut covers go first, with correlation
        muted (a batch cut in two changes nothing: event-time ticks decide).
        """
        if self._muted:
            covered: list[RawMessage] = []
            rest: list[RawMessage] = []
            for msg in batch:
                below = msg.offset < self._muted.get((msg.topic, msg.partition), 0)
                (covered if below else rest).append(msg)
            if covered:
                await self._process(covered, muted=True)
            batch = rest
        await self._process(batch, flush)

    async def _process(
        self, batch: Sequence[RawMessage], flush: bool = False, *, muted: bool = False
    ) -> None:
        decoded, normalized, events = self._ingest(batch, flush)
        unknown = self.detect.unknown(normalized.observations)
        if unknown:
            self.detect.restore(await self._load_series(unknown))
        detected = self.detect.process(normalized.observations)
        self._evicted.update(detected.evicted)
        alerts = detected.alerts + [from_alert_event(e) for e in normalized.external_alerts]
        changes = [] if muted else await self._correlate(alerts, normalized.edges, flush)
        await self.sink.send(decoded.dead_letters)
        published = await self._settle(batch, changes, flush)
        self._count(decoded.consumed, events, normalized.observations, detected.anomalies)
        self.stats.alerts += len(alerts)
        self.stats.dead_lettered += len(decoded.dead_letters)
        self.stats.changes_published += len(published)
        if self._keep_published:
            self.stats.published.extend(published)

    def _ingest(self, batch: Sequence[RawMessage], flush: bool) -> tuple[Decoded, Normalized, int]:
        """Decode and normalize with the cyclic GC paused; return the decoded event count.

        A batch's events are a few hundred thousand tracked objects that all die together
        by reference counting once normalized. Collecting while they are alive promotes
        them and sets off full collections that scan them all (measured: ~40% of the
        engine's CPU at 5,000-record batches), so no collection runs until they are freed.
        """
        with _gc_paused():
            decoded, normalized, events = self._decode_and_add(batch)
            self._advance_watermark(decoded.high_ts)
            if flush and self._high:
                self.watermark = max(self.watermark, max(self._high.values()))
            normalized = self.normalize.drain(self.watermark, flush, normalized)
        return decoded, normalized, events

    def _decode_and_add(self, batch: Sequence[RawMessage]) -> tuple[Decoded, Normalized, int]:
        """Decode ``batch`` and account its events in the open windows; return the decoded
        batch (its events freed), what needs no window (metric observations, external
        alerts) and the event count."""
        decoded = self.decode.process(batch)
        normalized = self.normalize.add(decoded.events)
        events = len(decoded.events)
        decoded.events.clear()
        return decoded, normalized, events

    async def flush(self) -> None:
        """Close every open window, run every queued tick, snapshot and commit."""
        await self.process([], flush=True)

    def _advance_watermark(self, high_ts: dict[tuple[str, int], float]) -> None:
        """Event time: the lowest latest-time over the busy partitions of telemetry topics.

        Span, log and metric partitions hold time back (a tick runs only once each of them
        is past it); a partition silent for ``idle_partition_s`` of wall time stops holding
        it back, which only matters when a partition stops receiving data: one the source
        says still has records to fetch (``caught_up`` false) is never idle, so a slow or
        busy engine does not mistake a backlog for silence. An assigned
        partition that has not reported yet holds time still (for up to ``idle_partition_s``,
        and for as long as it has records to fetch), so the first partition to answer cannot
        run ahead of the others.
        """
        wall = self.clock.monotonic()
        if high_ts:
            self._last_data_wall = wall
            self._latest_event = max(self._latest_event, *high_ts.values())
        timed = (
            self.settings.topics.spans,
            self.settings.topics.logs,
            self.settings.topics.metrics,
        )
        for key, ts in high_ts.items():
            if key[0] in timed:
                self._high[key] = max(ts, self._high.get(key, ts))
                self._seen[key] = wall
        assignment = getattr(self.source, "assignment", None)
        owned: set[tuple[str, int]] = assignment() if callable(assignment) else set()
        for key in owned if self._high else ():  # the wait starts with the first data
            if key[0] in timed and key not in self._high:
                self._seen.setdefault(key, wall)
        if any(k not in self._high and self._holds_time(k, wall) for k in owned & set(self._seen)):
            return
        active = [ts for key, ts in self._high.items() if self._holds_time(key, wall)]
        if active:
            self.watermark = max(self.watermark, min(active))
        elif self._high:
            self.watermark = max(self.watermark, max(self._high.values()))

    async def _correlate(
        self, alerts: Sequence[Alert], edges: Sequence[CallEdge], flush: bool
    ) -> list[IncidentChange]:
        """Queue alerts and edges by event time; run the ticks the watermark completed."""
        self.ticks.add(alerts, edges)
        return await self._run_ticks(flush)

    async def _run_ticks(self, flush: bool) -> list[IncidentChange]:
        """Correlate, rank and version every tick the watermark completed."""
        changes: list[IncidentChange] = []
        for end, alerts, edges in self.ticks.ready(self.tick_clock(), self._busy, flush=flush):
            for edge in edges:
                self.topology.learn(edge.caller, edge.callee, edge.count, edge.ts)
            pending = self.correlate.process(alerts, datetime.fromtimestamp(end, UTC))
            ranked = self.rank.process(pending)
            if ranked:
                await self.publish.rebase(ranked)
                changes.extend(PublishStage.version(ranked))
        return changes

    def tick_clock(self) -> float:
        """Where correlation may run to: the watermark, or, once no topic at all has sent
        anything for ``idle_partition_s`` of wall time and no owned partition has records
        left to fetch, the latest event time seen plus the wall time silent beyond that.

        Event time alone would stop when the stream stops: an engine fed only alerts
        (Alertmanager webhooks, ``POST /api/v2/alerts``) would queue them forever, and an
        open incident could never reach its quiet period. While data flows this is exactly
        the watermark, so batch boundaries and restarts still cannot change incidents.
        """
        silent = (
            self.clock.monotonic() - self._last_data_wall - self.settings.detect.idle_partition_s
        )
        if self._latest_event <= 0.0 or silent <= 0.0 or self._behind():
            return self.watermark
        return max(self.watermark, self._latest_event + silent)

    def _holds_time(self, partition: tuple[str, int], wall: float) -> bool:
        """Whether ``partition`` (heard from, or waited for, at ``_seen``) still holds event
        time back at ``wall``: silent for less than ``idle_partition_s``, or records left
        to fetch."""
        silent = wall - self._seen[partition]
        return silent < self.settings.detect.idle_partition_s or self._has_backlog(partition)

    def _behind(self) -> bool:
        """Whether some owned partition still has records to fetch (a backlog, not silence)."""
        assignment = getattr(self.source, "assignment", None)
        return callable(assignment) and any(map(self._has_backlog, assignment()))

    def _has_backlog(self, partition: tuple[str, int]) -> bool:
        """Whether the source says ``partition`` still has records to fetch (a source that
        cannot tell has none)."""
        caught_up = getattr(self.source, "caught_up", None)
        return callable(caught_up) and not caught_up(partition)

    def _busy(self) -> bool:
        return bool(self.correlate.open_incidents())

    async def _load_series(self, keys: Sequence[str]) -> dict[str, SeriesState]:
        """States of ``keys`` evicted since the last snapshot, else from their checkpoints."""
        found = {k: self._evicted.pop(k) for k in keys if k in self._evicted}
        rest = [k for k in keys if k not in found]
        if rest:
            found.update(await self.checkpoints.load(rest))
        return found

    async def _settle(
        self, batch: Sequence[RawMessage], changes: Sequence[IncidentChange], flush: bool
    ) -> list[IncidentChange]:
        """Count ``batch`` as consumed; cut (sending ``changes``), then snapshot if due.

        Returns the changes sent. Dead letters of the batch must be sent before this, so
        the offsets the snapshot commits never pass a message that is not yet durable.
        """
        for msg in batch:
            key = (msg.topic, msg.partition)
            if msg.offset >= self.positions.get(key, 0):
                self.positions[key] = msg.offset + 1
        if self._muted and all(self.positions.get(k, 0) >= o for k, o in self._muted.items()):
            self._muted = {}
        cut = bool(changes) and self.keeps_snapshot and self.writes_cuts and not flush
        sent = await self._cut(changes) if cut else []
        if flush or self._snapshot_due() or (changes and not cut):
            sent += await self._snapshot([] if cut else changes)
        return sent

    def _snapshot_due(self) -> bool:
        """Every ``checkpoint_every_s``, at a moment with nothing left to fetch when one
        comes (a full snapshot blocks the loop for a few hundred ms: between bursts it
        delays no fresh record); at twice that, whatever the backlog."""
        every = self.settings.detect.checkpoint_every_s
        elapsed = self.clock.monotonic() - self._last_snapshot
        if elapsed >= 2 * every or len(self._evicted) > _MAX_EVICTED_PENDING:
            return True
        return elapsed >= every and not self._behind()

    async def checkpoint(self) -> None:
        """Snapshot now and commit the offsets it covers."""
        await self._snapshot([])

    async def _send_outbox(self, changes: Sequence[IncidentChange]) -> None:
        """Send changes whose outbox is durable, then empty the outbox."""
        if changes:
            await self.publish.send(changes)
            await self.snapshots.clear_outbox()

    async def _cut(self, changes: Sequence[IncidentChange]) -> list[IncidentChange]:
        """Write correlation's state, its offsets and ``changes`` in one transaction; send.

        Returns the changes sent (those not published before). Nothing is committed: the
        consumer group's offsets stay those of the last full snapshot.
        """
        started = time.perf_counter()
        writes = WriteBatch()
        fresh = await self.publish.prepare(changes, writes)
        cut = dumps(self._cut_state())
        self.snapshots.add_cut_to(writes, cut, fresh)
        await self.store.write(writes)
        written = time.perf_counter()
        await self._send_outbox(fresh)
        log.debug(
            "cut: %d bytes written in %.1f ms, %d changes sent in %.1f ms",
            len(cut),
            (written - started) * 1000,
            len(fresh),
            (time.perf_counter() - written) * 1000,
        )
        return fresh

    async def _snapshot(self, changes: Sequence[IncidentChange]) -> list[IncidentChange]:
        """Write state, models, offsets and changes in one transaction; then send and commit.

        Returns the changes sent (those not published before).
        """
        started = time.perf_counter()
        writes = WriteBatch()
        fresh = await self.publish.prepare(changes, writes)
        self.checkpoints.add_to(writes, self._evicted)
        self._evicted.clear()
        self.checkpoints.add_to(writes, {k: self.detect.series[k] for k in self.detect.dirty})
        self.detect.dirty.clear()
        if not self.normalize.logs.miner_per_origin:  # else each origin's miner is saved
            writes.put(_MINER_KEY, self.miner.to_bytes())
        if self.keeps_snapshot:
            self.snapshots.add_to(writes, dumps(self._state(), {"miner": self.miner}), fresh)
        await self.store.write(writes)
        written = time.perf_counter()
        await self._send_outbox(fresh)
        if self.positions:
            await self.source.commit(_offset_records(self._committable()))
        self._last_snapshot = self.clock.monotonic()
        log.debug(
            "snapshot: %d keys written in %.1f ms, %d changes sent in %.1f ms",
            len(writes.puts),
            (written - started) * 1000,
            len(fresh),
            (time.perf_counter() - written) * 1000,
        )
        return fresh

    def _committable(self) -> Mapping[tuple[str, int], int]:
        """The offsets a snapshot covers (all consumed ones: the snapshot holds the rest)."""
        return self.positions

    def _state(self) -> dict[str, object]:
        return {
            "version": _SNAPSHOT_VERSION,
            "normalize": self.normalize,
            "topology": self.topology,
            "correlate": self.correlate.state(),
            "ticks": self.ticks,
            "watermark": self.watermark,
            "high": self._high,
            "detect_latest_ts": self.detect.latest_ts,
            "positions": self.positions,
            "muted": self._muted,
        }

    def _cut_state(self) -> dict[str, object]:
        """What correlation holds (``_state`` less the windows, series and watermark)."""
        return {
            "version": _SNAPSHOT_VERSION,
            "topology": self.topology,
            "correlate": self.correlate.state(),
            "ticks": self.ticks,
            "positions": self.positions,
        }

    def _restore(self, blob: bytes) -> None:
        """Adopt a snapshot and resume the source at its offsets."""
        state = self._read(blob, self.snapshots.state_key)
        self.normalize = state["normalize"]
        self._restore_correlation(state)
        self._muted = state.get("muted", {})
        self.watermark = state["watermark"]
        self._high = state["high"]
        self.detect.latest_ts = state["detect_latest_ts"]
        self.positions = state["positions"]
        wall = self.clock.monotonic()
        self._seen = dict.fromkeys(self._high, wall)
        if isinstance(self.source, Resumable):
            self.source.resume_from(self.positions)

    def _restore_cut(self, blob: bytes) -> None:
        """Adopt a cut's correlation state; mute correlation for the records it covers."""
        state = self._read(blob, self.snapshots.cut_key)
        self._restore_correlation(state)
        covered: dict[tuple[str, int], int] = state["positions"]
        self._muted = {k: o for k, o in covered.items() if o > self.positions.get(k, 0)}
        log.info(
            "restored a cut: %d records after the snapshot are replayed with correlation muted",
            sum(o - self.positions.get(k, 0) for k, o in self._muted.items()),
        )

    def _restore_correlation(self, state: dict[str, Any]) -> None:
        self.topology = self.correlate.topology = self.rank.topology = state["topology"]
        self.correlate.load_state(state["correlate"])
        self.ticks = state["ticks"]
        self.ticks.tick_s = self.settings.correlate.tick_s
        self.ticks.margin_s = self.settings.correlate.tick_margin_s
        self._restart_late()

    def _read(self, blob: bytes, key: str) -> dict[str, Any]:
        """A snapshot or cut blob as its state dict, or :class:`SnapshotError`."""
        try:
            state = loads(blob, {"miner": self.miner})
        except (pickle.UnpicklingError, AttributeError, EOFError, ImportError) as exc:
            raise SnapshotError(
                f"engine snapshot {key!r} cannot be restored ({exc}); delete that key to "
                "start from the committed offsets without it"
            ) from exc
        version = state.get("version") if isinstance(state, dict) else None
        if not isinstance(state, dict) or version != _SNAPSHOT_VERSION:
            raise SnapshotError(
                f"engine snapshot {key!r} has format {version!r}, this engine reads "
                f"{_SNAPSHOT_VERSION}; delete that key to start from the committed offsets"
            )
        return state

    def _count(
        self, consumed: dict[str, int], events: int, observations: Sequence[object], anomalies: int
    ) -> None:
        for topic, n in consumed.items():
            self.stats.consumed[topic] = self.stats.consumed.get(topic, 0) + n
        self.stats.events += events
        self.stats.observations += len(observations)
        self.stats.anomalies += anomalies
        self.stats.batches += 1
        self._count_late()

    def _late_now(self) -> dict[str, int]:
        """The stages' own running counts of late records and alerts."""
        return {
            "span": self.normalize.spans.late,
            "log": self.normalize.logs.late,
            "alert": self.ticks.late,
        }

    def _count_late(self) -> None:
        """Add to ``stats.late`` what the stages counted late since the last call (a
        restored stage brings its own count back: :meth:`_restart_late` sets that aside)."""
        for kind, count in self._late_now().items():
            new = count - self._late_seen.get(kind, 0)
            if new > 0:
                self.stats.late[kind] = self.stats.late.get(kind, 0) + new
            self._late_seen[kind] = count

    def _restart_late(self) -> None:
        """Count late items from the restored stages' own counts on (``_restore`` adopts
        its normalize stage before it restores correlation, which calls this)."""
        self._late_seen = self._late_now()


def _offset_records(positions: Mapping[tuple[str, int], int]) -> list[RawMessage]:
    """Placeholder records whose commit sets each partition's offset to ``positions``."""
    return [RawMessage(t, None, partition=p, offset=o - 1) for (t, p), o in positions.items()]


def build_engine(
    settings: Settings,
    *,
    source: Source,
    sink: Sink,
    store: StateStore,
    clock: Clock | None = None,
    detector_factory: Callable[[Signal], Detector] | None = None,
    keep_published: bool = False,
    scope: str = "all",
    engine_class: type[Engine] | None = None,
) -> Engine:
    """Wire an engine from settings with the registered decoders and detector."""
    max_bytes = settings.kafka.max_message_bytes
    decoders = {
        topic: decoder_for(name, max_message_bytes=max_bytes)
        for topic, name in settings.topics.decoders().items()
    }
    factory = detector_factory or detector_factory_for(settings.detect)
    return (engine_class or Engine)(
        settings,
        source=source,
        sink=sink,
        store=store,
        decoders=decoders,
        detector_factory=factory,
        topology=load_topology(settings.correlate.topology_dir),
        clock=clock,
        keep_published=keep_published,
        scope=scope,
    )
