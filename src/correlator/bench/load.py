"""A parameterised telemetry load: a fleet of N services with thousands of series.

The demo's ``Scenario`` is a nine-service shop tuned to tell a story; the benchmarks need
volume. ``Load`` simulates ``services`` services wired as a call tree (service ``i`` calls
``2i+1`` and ``2i+2`` with probability ``fanout_p`` each), ``requests_per_s`` requests a
second entering at the top services, ``metrics_per_service`` gauges on each of
``hosts_per_service`` hosts every ``metric_interval_s``, and logs (a few templates per
service, errors when a call fails). ``faults`` make a service slow, failing and hot for a
while; the slowness propagates to its callers through the span durations, as in a real
call chain.

``messages()`` yields the load as OTLP protobuf records, one list per simulated second,
at most ``events_per_message`` events a record, keyed by service (as a collector with a
batch processor in front of the Kafka exporter would send them).

>>> load = Load(services=6, requests_per_s=20, metrics_per_service=3, seconds=2)
>>> per_second = list(load.messages(TopicSettings()))
>>> len(per_second), sum(r.events for s in per_second for r in s) > 40
(2, True)
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from correlator.config import TopicSettings
from correlator.ingest.decoders.base import construct_trusted
from correlator.ingest.otlp_encode import encode_logs, encode_metrics, encode_spans
from correlator.model.message import RawMessage
from correlator.model.telemetry import LogRecord, MetricPoint, SpanKind, SpanRecord

__all__ = ["Fault", "Load", "LoadRecord"]


@dataclass(frozen=True)
class Fault:
    """``service`` is slow (``extra_ms``), failing (``error_ratio``) and hot from ``at_s``."""

    service: str
    at_s: float
    duration_s: float
    extra_ms: float = 400.0
    error_ratio: float = 0.2

    def active(self, t: float) -> bool:
        return self.at_s <= t < self.at_s + self.duration_s


@dataclass(frozen=True)
class LoadRecord:
    """One topic record with the number of telemetry events it carries."""

    message: RawMessage
    events: int
    second: int


@dataclass
class Load:
    """Parameters of a fleet's telemetry; iterate ``messages(topics)``."""

    services: int = 40
    requests_per_s: int = 300
    fanout_p: float = 0.6
    entry_services: int = 3
    metrics_per_service: int = 40
    hosts_per_service: int = 2
    metric_interval_s: int = 1
    log_p: float = 0.1
    seconds: int = 120
    events_per_message: int = 64
    start: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    faults: list[Fault] = field(default_factory=list)
    seed: int = 11
    _rng: random.Random = field(init=False, repr=False)
    _ids: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def name(self, index: int) -> str:
        return f"svc-{index:03d}"

    def callees(self, index: int) -> list[int]:
        return [c for c in (2 * index + 1, 2 * index + 2) if c < self.services]

    @property
    def series_estimate(self) -> int:
        """Roughly how many detector series the load feeds."""
        metric = self.services * self.metrics_per_service * self.hosts_per_service
        spans = 4 * (self.services + max(0, self.services - 1))
        logs = self.services * 4
        return metric + spans + logs

    def leaf(self) -> str:
        """A service that calls nobody (the deepest in the tree)."""
        return self.name(self.services - 1)

    def messages(self, topics: TopicSettings, start_s: int = 0) -> Iterator[list[LoadRecord]]:
        """The load as topic records, one list per simulated second from ``start_s``."""
        for t in range(start_s, self.seconds):
            spans, metrics, logs = self.second(t)
            yield [
                *self._pack(topics.spans, spans, encode_spans, t),
                *self._pack(topics.metrics, metrics, encode_metrics, t),
                *self._pack(topics.logs, logs, encode_logs, t),
            ]

    def second(self, t: int) -> tuple[list[SpanRecord], list[MetricPoint], list[LogRecord]]:
        """Spans, metric points and logs the fleet emits during simulated second ``t``."""
        self._rng = random.Random(f"{self.seed}-{t}")  # each second stands alone
        now = self.start + timedelta(seconds=t)
        spans: list[SpanRecord] = []
        logs: list[LogRecord] = []
        rng = self._rng
        for _ in range(self.requests_per_s):
            entry = rng.randrange(min(self.entry_services, self.services))
            at = now + timedelta(seconds=rng.random() * 0.9)
            self._request(entry, at, "", self._new_id(32), t, spans, logs)
        metrics = self._metrics(now, t) if t % self.metric_interval_s == 0 else []
        return spans, metrics, logs

    def _fault(self, service: str, t: float) -> Fault | None:
        for fault in self.faults:
            if fault.service == service and fault.active(t):
                return fault
        return None

    def _new_id(self, width: int) -> str:
        self._ids += 1
        return f"{self._rng.getrandbits(48):012x}{self._ids:0{width - 12}x}"[-width:]

    def _request(
        self,
        index: int,
        start: datetime,
        parent: str,
        trace: str,
        t: int,
        spans: list[SpanRecord],
        logs: list[LogRecord],
    ) -> tuple[float, bool]:
        rng = self._rng
        service = self.name(index)
        span_id = self._new_id(16)
        own = (2.0 + index % 7) * rng.lognormvariate(0.0, 0.25)
        failed = rng.random() < 0.001
        fault = self._fault(service, t)
        if fault is not None:
            own += fault.extra_ms * rng.lognormvariate(0.0, 0.2)
            failed = failed or rng.random() < fault.error_ratio
        elapsed = own / 2
        for callee in self.callees(index):
            if rng.random() >= self.fanout_p:
                continue
            call_at = start + timedelta(milliseconds=elapsed)
            took, callee_failed = self._request(callee, call_at, span_id, trace, t, spans, logs)
            spans.append(
                _span(
                    trace, self._new_id(16), span_id, service, SpanKind.CLIENT, call_at, took,
                    callee_failed, self.name(callee),
                )
            )  # fmt: skip
            elapsed += took
            if callee_failed:
                failed = True
                logs.append(
                    _log(service, call_at, "ERROR", f"call to {self.name(callee)} failed: 503")
                )
        elapsed += own / 2
        spans.append(
            _span(trace, span_id, parent, service, SpanKind.SERVER, start, elapsed, failed, "")
        )
        if fault is not None and rng.random() < 0.3:
            logs.append(_log(service, start, "WARN", f"slow query took {elapsed:.0f} ms"))
        if rng.random() < self.log_p:
            logs.append(_log(service, start, "INFO", f"handled request in {elapsed:.1f} ms"))
        return elapsed, failed

    def _metrics(self, now: datetime, t: int) -> list[MetricPoint]:
        rng = self._rng
        out: list[MetricPoint] = []
        for index in range(self.services):
            service = self.name(index)
            hot = self._fault(service, t) is not None
            for host in range(self.hosts_per_service):
                labels = {"host": f"{service}-{host}"}
                for m in range(self.metrics_per_service):
                    base = 10.0 + (index * 7 + m * 3) % 50
                    value = base * (1.0 + 0.05 * rng.random())
                    if hot and m == 0:
                        value *= 4.0
                    out.append(
                        construct_trusted(
                            MetricPoint,
                            {
                                "kind": "metric",
                                "name": f"app.metric.{m:02d}",
                                "service": service,
                                "value": round(value, 4),
                                "observed_at": now,
                                "labels": labels,
                            },
                        )
                    )
        return out

    def _pack(
        self,
        topic: str,
        events: list[SpanRecord] | list[MetricPoint] | list[LogRecord],
        encode: object,
        t: int,
    ) -> list[LoadRecord]:
        groups: dict[str, list[SpanRecord | MetricPoint | LogRecord]] = {}
        for event in events:
            groups.setdefault(event.service, []).append(event)
        out: list[LoadRecord] = []
        size = self.events_per_message
        for service, group in groups.items():
            for i in range(0, len(group), size):
                chunk = group[i : i + size]
                value = encode(chunk)  # type: ignore[operator]
                message = RawMessage(topic, value, key=service.encode(), partition=-1)
                out.append(LoadRecord(message, len(chunk), t))
        return out


def _span(
    trace: str,
    span_id: str,
    parent: str,
    service: str,
    kind: SpanKind,
    start: datetime,
    ms: float,
    error: bool,
    peer: str,
) -> SpanRecord:
    return construct_trusted(
        SpanRecord,
        {
            "kind": "span",
            "trace_id": trace,
            "span_id": span_id,
            "parent_span_id": parent,
            "service": service,
            "name": f"{service} {'call' if peer else 'handle'}",
            "span_kind": kind,
            "start_at": start,
            "duration_ms": round(ms, 3),
            "is_error": error,
            "peer_service": peer,
            "attributes": {},
        },
    )


def _log(service: str, at: datetime, severity: str, body: str) -> LogRecord:
    return construct_trusted(
        LogRecord,
        {
            "kind": "log",
            "service": service,
            "observed_at": at,
            "severity": severity,
            "body": body,
            "attributes": {},
            "trace_id": "",
        },
    )
