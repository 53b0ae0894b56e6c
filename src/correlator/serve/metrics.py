"""Engine metrics in Prometheus format, on a private registry.

The engine updates an :class:`EngineMetrics` after each batch, either with a delta
(:meth:`EngineMetrics.observe_batch`) or with its running counters
(:meth:`EngineMetrics.sync`, which works out the delta itself); serve renders it on
``/metrics``.

>>> m = EngineMetrics()
>>> m.observe_batch(StatsSnapshot(consumed={"otlp_spans": 3}, alerts=2), {"detect": 0.01})
>>> b'correlator_messages_consumed_total{topic="otlp_spans"} 3.0' in m.render()
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "EngineMetrics", "StatsLike", "StatsSnapshot"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class StatsLike(Protocol):
    """The running counters of an engine (``correlator.pipeline.EngineStats`` fits)."""

    consumed: dict[str, int]
    events: int
    observations: int
    anomalies: int
    alerts: int
    dead_lettered: int
    changes_published: int
    batches: int
    late: dict[str, int]


@dataclass(frozen=True)
class StatsSnapshot:
    """Counters at one moment, or the difference between two moments."""

    consumed: dict[str, int] = field(default_factory=dict)
    events: int = 0
    observations: int = 0
    anomalies: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    changes_published: int = 0
    batches: int = 0
    decode_errors: int = 0
    late: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, stats: StatsLike) -> StatsSnapshot:
        return cls(
            consumed=dict(stats.consumed),
            events=stats.events,
            observations=stats.observations,
            anomalies=stats.anomalies,
            alerts=stats.alerts,
            dead_lettered=stats.dead_lettered,
            changes_published=stats.changes_published,
            batches=stats.batches,
            decode_errors=int(getattr(stats, "decode_errors", 0)),
            late=dict(stats.late),
        )

    def minus(self, before: StatsSnapshot) -> StatsSnapshot:
        """What happened between ``before`` and this snapshot.

        >>> StatsSnapshot(consumed={"a": 5}, alerts=3).minus(StatsSnapshot(consumed={"a": 2}))
        StatsSnapshot(consumed={'a': 3}, events=0, observations=0, anomalies=0, alerts=3, \
dead_lettered=0, changes_published=0, batches=0, decode_errors=0, late={})
        """
        return StatsSnapshot(
            consumed={t: n - before.consumed.get(t, 0) for t, n in self.consumed.items()},
            events=self.events - before.events,
            observations=self.observations - before.observations,
            anomalies=self.anomalies - before.anomalies,
            alerts=self.alerts - before.alerts,
            dead_lettered=self.dead_lettered - before.dead_lettered,
            changes_published=self.changes_published - before.changes_published,
            batches=self.batches - before.batches,
            decode_errors=self.decode_errors - before.decode_errors,
            late={k: n - before.late.get(k, 0) for k, n in self.late.items()},
        )


class EngineMetrics:
    """Every metric serve exports; each instance has its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter(
            "correlator_messages_consumed", "Records consumed, by topic", ["topic"], registry=r
        )
        self.lag = Gauge(
            "correlator_consumer_lag",
            "Records behind the log end, by topic and partition",
            ["topic", "partition"],
            registry=r,
        )
        self.decode_errors = Counter(
            "correlator_decode_errors", "Records that could not be decoded", registry=r
        )
        self.dead_lettered = Counter(
            "correlator_dead_lettered", "Records sent to the dead-letter topic", registry=r
        )
        self.events = Counter("correlator_events", "Telemetry events decoded", registry=r)
        self.observations = Counter(
            "correlator_observations", "Observations scored by detectors", registry=r
        )
        self.anomalies = Counter("correlator_anomalies", "Anomalous observations", registry=r)
        self.alerts = Counter("correlator_alerts", "Alerts raised or received", registry=r)
        self.changes = Counter(
            "correlator_incident_changes_published",
            "Incident change events published, by origin",
            ["origin"],
            registry=r,
        )
        self.batches = Counter("correlator_batches", "Batches processed", registry=r)
        self.open_incidents = Gauge("correlator_open_incidents", "Incidents open now", registry=r)
        self.executions = Counter(
            "correlator_runbook_executions",
            "Runbook executions, by outcome",
            ["outcome"],
            registry=r,
        )
        self.late = Counter(
            "correlator_late",
            "Records and alerts that came after their event time was closed, by kind: span "
            "and log records of a closed window (dropped), alerts of a tick already run "
            "(correlated in the next one, so a replay may group them otherwise: raise "
            "correlate.tick_margin_s if this grows)",
            ["kind"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "correlator_stage_seconds",
            "Time one batch spent in each stage",
            ["stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self._last = StatsSnapshot()

    def observe_batch(
        self, delta: StatsLike | StatsSnapshot, stage_seconds: Mapping[str, float]
    ) -> None:
        """Add one batch's counts (``delta``) and its time per stage."""
        d = delta if isinstance(delta, StatsSnapshot) else StatsSnapshot.of(delta)
        for topic, n in d.consumed.items():
            if n > 0:
                self.consumed.labels(topic=topic).inc(n)
        for counter, n in (
            (self.events, d.events),
            (self.observations, d.observations),
            (self.anomalies, d.anomalies),
            (self.alerts, d.alerts),
            (self.dead_lettered, d.dead_lettered),
            (self.decode_errors, d.decode_errors),
            (self.batches, d.batches),
        ):
            if n > 0:
                counter.inc(n)
        if d.changes_published > 0:
            self.changes.labels(origin="engine").inc(d.changes_published)
        for kind, n in d.late.items():
            if n > 0:
                self.late.labels(kind=kind).inc(n)
        for stage, seconds in stage_seconds.items():
            self.stage_seconds.labels(stage=stage).observe(max(0.0, seconds))

    def sync(self, stats: StatsLike, stage_seconds: Mapping[str, float] | None = None) -> None:
        """Catch up with an engine's running counters (adds what changed since the last call)."""
        now = StatsSnapshot.of(stats)
        self.observe_batch(now.minus(self._last), stage_seconds or {})
        self._last = now

    def set_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Replace the consumer lag per (topic, partition)."""
        self.lag.clear()
        for (topic, partition), behind in lag.items():
            self.lag.labels(topic=topic, partition=str(partition)).set(behind)

    def set_open_incidents(self, count: int) -> None:
        self.open_incidents.set(count)

    def record_execution(self, outcome: str) -> None:
        """Count one runbook execution that ended with ``outcome`` (succeeded, failed...)."""
        self.executions.labels(outcome=outcome).inc()

    def record_api_change(self, count: int = 1) -> None:
        """Count incident changes published by the API (ack, resolve, merge...)."""
        self.changes.labels(origin="api").inc(count)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
