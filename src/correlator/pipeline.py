"""The engine: the one place that wires the stages together.

One step takes a batch from the source and runs it through
decode → normalize → detect → correlate → rank → publish. Dead letters and incident
changes are acknowledged by the broker, the store is written in one transaction, and only
then are offsets committed. Records that fed a still-open event-time window are committed
once the window has closed, so a crash never loses what a window had not yet emitted.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from correlator.clock import Clock, SystemClock
from correlator.config import Settings
from correlator.correlate.rules import SilenceRepository, load_rules
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph, load_topology
from correlator.detect.base import Detector
from correlator.detect.checkpoint import ModelCheckpoints
from correlator.detect.external import from_alert_event
from correlator.detect.registry import detector_factory_for
from correlator.detect.stage import DetectStage
from correlator.ingest.decode_stage import Decoded, DecodeStage
from correlator.ingest.decoders.base import Decoder
from correlator.ingest.decoders.registry import decoder_for
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.model.observation import Signal
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.logs import LogWindows
from correlator.normalize.stage import Normalized, NormalizeStage
from correlator.publish.stage import PublishStage
from correlator.rank.stage import RankStage
from correlator.store.base import StateStore, WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.transport.base import Sink, Source

__all__ = ["Engine", "EngineStats", "build_engine"]

log = logging.getLogger(__name__)
_MINER_KEY = "logs:template-miner"


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
    published: list[IncidentChange] = field(default_factory=list)


class Engine:
    """Runs batches from a source through the stages to the sink and the store."""

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
        self.rank = RankStage(topology)
        self.publish = PublishStage(sink, self.incidents, settings.topics.incidents)
        self.stats = EngineStats()
        self._keep_published = keep_published
        self._uncommitted: list[tuple[float, list[RawMessage]]] = []
        self._high: dict[tuple[str, int], tuple[float, float]] = {}
        self.watermark = 0.0
        self._last_checkpoint = 0.0
        self._templates_known = 0

    async def start(self) -> None:
        """Start the ports and restore state (open incidents, log templates)."""
        for port in (self.store, self.sink, self.source):
            await port.start()
        self.correlate.restore(await self.incidents.open_incidents())
        self.correlate.add_silences(await self.silences.current(self.clock.now()))
        blob = await self.store.get(_MINER_KEY)
        if blob is not None:
            self.miner = LogTemplateMiner.from_bytes(blob)
            self.normalize.logs.miner = self.miner
        self._templates_known = self.miner.template_count
        self._last_checkpoint = self.clock.monotonic()

    async def stop(self) -> None:
        """Checkpoint models and stop the ports (source first, so nothing new arrives)."""
        await self.source.stop()
        try:
            await self.checkpoint()
        finally:
            await self.sink.stop()
            await self.store.stop()

    async def step(self, timeout_s: float | None = None) -> int:
        """Process one batch; return how many records it had."""
        wait = self.settings.kafka.poll_timeout_ms / 1000 if timeout_s is None else timeout_s
        batch = await self.source.get_batch(wait)
        await self.process(batch)
        return len(batch)

    async def process(self, batch: Sequence[RawMessage], flush: bool = False) -> None:
        """Run one batch through every stage; commit what is durable."""
        decoded, normalized, events = self._ingest(batch, flush)
        for edge in normalized.edges:
            self.topology.learn(edge.caller, edge.callee, edge.count, edge.ts)
        unknown = self.detect.unknown(normalized.observations)
        if unknown:
            self.detect.restore(await self.checkpoints.load(unknown))
        detected = self.detect.process(normalized.observations)
        alerts = detected.alerts + [from_alert_event(e) for e in normalized.external_alerts]
        pending = self.correlate.process(alerts, self._now())
        ranked = self.rank.process(pending)
        await self.publish.rebase(ranked)
        changes = PublishStage.version(ranked)

        writes = WriteBatch()
        await self.sink.send(decoded.dead_letters)
        published = await self.publish.process(changes, writes)
        self.checkpoints.add_to(writes, detected.evicted)
        self._queue_models_and_templates(writes, flush)
        await self.store.write(writes)
        await self._commit(batch, flush)
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
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            decoded = self.decode.process(batch)
            self._advance_watermark(decoded.high_ts)
            if flush and self._high:
                self.watermark = max(self.watermark, max(ts for ts, _ in self._high.values()))
            normalized = self.normalize.process(decoded.events, self.watermark, flush=flush)
            events = len(decoded.events)
            decoded.events.clear()
        finally:
            if paused:
                gc.enable()
        return decoded, normalized, events

    async def flush(self) -> None:
        """Close every open window and commit everything (end of a replay, or shutdown)."""
        await self.process([], flush=True)

    def _advance_watermark(self, high_ts: dict[tuple[str, int], float]) -> None:
        """Event time: the lowest latest-time over the busy partitions of windowed topics.

        Only span and log topics feed event-time windows, so only they hold time back; a
        partition silent for ``idle_partition_s`` of wall time stops holding it back.
        """
        wall = self.clock.monotonic()
        for key, ts in high_ts.items():
            previous = self._high.get(key, (ts, wall))[0]
            self._high[key] = (max(ts, previous), wall)
        idle = self.settings.detect.idle_partition_s
        windowed = (self.settings.topics.spans, self.settings.topics.logs)
        active = [
            ts
            for (topic, _), (ts, seen) in self._high.items()
            if topic in windowed and wall - seen <= idle
        ]
        if active:
            self.watermark = max(self.watermark, min(active))
        elif self._high:
            self.watermark = max(self.watermark, max(ts for ts, _ in self._high.values()))

    def _now(self) -> datetime:
        if self.watermark:
            return datetime.fromtimestamp(self.watermark, UTC)
        return self.clock.now()

    def _queue_models_and_templates(self, writes: WriteBatch, force: bool) -> None:
        due = (
            self.clock.monotonic() - self._last_checkpoint
            >= self.settings.detect.checkpoint_every_s
        )
        if self.miner.template_count != self._templates_known or force or due:
            writes.put(_MINER_KEY, self.miner.to_bytes())
            self._templates_known = self.miner.template_count
        if force or due:
            self.checkpoints.add_to(writes, {k: self.detect.series[k] for k in self.detect.dirty})
            self.detect.dirty.clear()
            self._last_checkpoint = self.clock.monotonic()

    async def checkpoint(self) -> None:
        """Write every dirty model and the template miner now."""
        writes = WriteBatch()
        self._queue_models_and_templates(writes, force=True)
        await self.store.write(writes)

    async def _commit(self, batch: Sequence[RawMessage], flush: bool) -> None:
        if batch:
            self._uncommitted.append((self.normalize.watermark, list(batch)))
        horizon = self.watermark - 2 * self.settings.detect.window_s
        ready = [b for ts, b in self._uncommitted if flush or ts <= horizon]
        self._uncommitted = [(ts, b) for ts, b in self._uncommitted if not (flush or ts <= horizon)]
        if ready:
            await self.source.commit([m for b in ready for m in b])

    def _count(
        self, consumed: dict[str, int], events: int, observations: Sequence[object], anomalies: int
    ) -> None:
        for topic, n in consumed.items():
            self.stats.consumed[topic] = self.stats.consumed.get(topic, 0) + n
        self.stats.events += events
        self.stats.observations += len(observations)
        self.stats.anomalies += anomalies
        self.stats.batches += 1


def build_engine(
    settings: Settings,
    *,
    source: Source,
    sink: Sink,
    store: StateStore,
    clock: Clock | None = None,
    detector_factory: Callable[[Signal], Detector] | None = None,
    keep_published: bool = False,
) -> Engine:
    """Wire an engine from settings with the registered decoders and detector."""
    max_bytes = settings.kafka.max_message_bytes
    decoders = {
        topic: decoder_for(name, max_message_bytes=max_bytes)
        for topic, name in settings.topics.decoders().items()
    }
    factory = detector_factory or detector_factory_for(settings.detect)
    return Engine(
        settings,
        source=source,
        sink=sink,
        store=store,
        decoders=decoders,
        detector_factory=factory,
        topology=load_topology(settings.correlate.topology_dir),
        clock=clock,
        keep_published=keep_published,
    )
