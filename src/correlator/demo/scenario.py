"""A deterministic telemetry scenario of a small shop, in simulated time.

Call graph (caller → callee)::

    frontend ─► catalog ─► catalog-cache
        └────► checkout ─► payments ─► payments-db
                   ├─────► inventory ─► inventory-db
                   └─────► shipping

Traffic is steady for ``normal_s`` seconds. Then ``payments-db`` slows down (lock
contention: query latency ramps from ~6 ms to ~600 ms over a minute and some queries fail).
The fault cascades upstream: payments gets slow and starts timing out, checkout's calls
to payments fail, and frontend's checkout requests get slow and return errors. Every
service also exports CPU and connection-pool metrics and logs. After ``fault_s`` the database
recovers. The ground truth is ``Scenario.root_cause``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from correlator.model.telemetry import LogRecord, MetricPoint, SpanKind, SpanRecord

__all__ = ["CALLS", "Scenario", "SecondOfTelemetry"]

#: caller → callees with the fraction of the caller's requests that make the call.
CALLS: dict[str, list[tuple[str, float]]] = {
    "frontend": [("catalog", 0.9), ("checkout", 0.3)],
    "catalog": [("catalog-cache", 1.0)],
    "checkout": [("payments", 1.0), ("inventory", 1.0), ("shipping", 0.8)],
    "payments": [("payments-db", 1.0)],
    "inventory": [("inventory-db", 1.0)],
    "shipping": [],
    "catalog-cache": [],
    "payments-db": [],
    "inventory-db": [],
}
_OWN_MS = {
    "frontend": 8.0,
    "catalog": 6.0,
    "catalog-cache": 0.8,
    "checkout": 12.0,
    "payments": 9.0,
    "payments-db": 5.0,
    "inventory": 7.0,
    "inventory-db": 4.0,
    "shipping": 15.0,
}
_TIMEOUT_MS = {"payments": 300.0, "checkout": 900.0}  # timeouts of calls INTO these services


@dataclass
class SecondOfTelemetry:
    """Everything the shop emitted during one simulated second."""

    at: datetime
    spans: list[SpanRecord] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)


@dataclass
class Scenario:
    """Parameters of the simulated run; iterate ``seconds()`` for the telemetry."""

    start: datetime = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    normal_s: int = 600
    fault_s: int = 240
    recovery_s: int = 540
    requests_per_s: int = 12
    seed: int = 7
    root_cause: str = "payments-db"
    #: An unrelated second fault at the same time (a service that gets slow on its own), to
    #: measure that two faults stay two incidents; None (the default) for one fault.
    second_fault: str | None = None
    #: Seconds after the fault starts at which Alertmanager posts an SLO alert on frontend,
    #: the caller both faults reach (None, the default: no such alert).
    slo_alert_s: int | None = None
    _rng: random.Random = field(init=False, repr=False)
    _ids: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def fault_at(self) -> datetime:
        return self.start + timedelta(seconds=self.normal_s)

    @property
    def duration_s(self) -> int:
        return self.normal_s + self.fault_s + self.recovery_s

    def db_slowdown(self, t: float) -> float:
        """Extra payments-db latency (ms) ``t`` seconds into the run."""
        into = t - self.normal_s
        if into < 0 or into >= self.fault_s:
            return 0.0
        return 600.0 * min(1.0, into / 60.0)

    def seconds(self) -> Iterator[SecondOfTelemetry]:
        """The telemetry of each simulated second, in order."""
        for t in range(self.duration_s):
            now = self.start + timedelta(seconds=t)
            second = SecondOfTelemetry(now)
            for _ in range(self._rng.randint(self.requests_per_s - 2, self.requests_per_s + 2)):
                offset = self._rng.random() * 0.9
                self._request(second, "frontend", now + timedelta(seconds=offset), "", t, "")
            if t % 10 == 0:
                self._metrics(second, now, t)
            yield second

    def _new_id(self, width: int) -> str:
        self._ids += 1
        return f"{self._rng.getrandbits(48):012x}{self._ids:0{width - 12}x}"[-width:]

    def _request(
        self, out: SecondOfTelemetry, service: str, start: datetime, parent: str, t: int, trace: str
    ) -> tuple[float, bool]:
        """Simulate one request into ``service``; return its duration (ms) and failure."""
        trace = trace or self._new_id(32)
        span_id = self._new_id(16)
        own = _OWN_MS[service] * self._rng.lognormvariate(0.0, 0.25)
        failed = self._rng.random() < 0.001
        if service == "payments-db":
            extra = self.db_slowdown(t)
            own += extra * self._rng.lognormvariate(0.0, 0.3)
            failed = failed or (extra > 0 and self._rng.random() < 0.03 + extra / 3000.0)
        if service == self.second_fault:
            own += 0.5 * self.db_slowdown(t) * self._rng.lognormvariate(0.0, 0.3)
        elapsed = own * 0.5
        for callee, share in CALLS[service]:
            if self._rng.random() >= share:
                continue
            call_start = start + timedelta(milliseconds=elapsed)
            took, callee_failed = self._request(out, callee, call_start, span_id, t, trace)
            limit = _TIMEOUT_MS.get(callee)
            if limit is not None and took > limit:
                took, callee_failed = limit, True
                self._log(
                    out,
                    service,
                    call_start,
                    "ERROR",
                    f"timeout after {limit:.0f}ms calling {callee}",
                )
            out.spans.append(
                self._span(
                    trace,
                    parent_id=span_id,
                    service=service,
                    name=f"call {callee}",
                    kind=SpanKind.CLIENT,
                    start=call_start,
                    ms=took,
                    error=callee_failed,
                    peer=callee,
                )
            )
            elapsed += took
            if callee_failed:
                failed = failed or service != "frontend" or callee == "checkout"
                self._log(
                    out, service, call_start, "ERROR", f"request to {callee} failed: upstream error"
                )
        elapsed += own * 0.5
        out.spans.append(
            self._span(
                trace,
                parent_id=parent,
                service=service,
                name=f"{service} handle",
                kind=SpanKind.SERVER,
                start=start,
                ms=elapsed,
                error=failed,
                peer="",
                span_id=span_id,
            )
        )
        if self._rng.random() < 0.05:
            self._log(out, service, start, "INFO", f"handled request in {elapsed:.1f} ms")
        if service == "payments-db" and elapsed > 200:
            self._log(
                out,
                service,
                start,
                "WARN",
                f"slow query: UPDATE accounts took {elapsed:.0f} ms, lock wait",
            )
        return elapsed, failed

    def _span(
        self,
        trace: str,
        *,
        parent_id: str,
        service: str,
        name: str,
        kind: SpanKind,
        start: datetime,
        ms: float,
        error: bool,
        peer: str,
        span_id: str = "",
    ) -> SpanRecord:
        return SpanRecord.model_construct(
            kind="span",
            trace_id=trace,
            span_id=span_id or self._new_id(16),
            parent_span_id=parent_id,
            service=service,
            name=name,
            span_kind=kind,
            start_at=start,
            duration_ms=round(ms, 3),
            is_error=error,
            peer_service=peer,
            attributes={},
        )

    def _log(
        self, out: SecondOfTelemetry, service: str, at: datetime, severity: str, body: str
    ) -> None:
        out.logs.append(
            LogRecord.model_construct(
                kind="log",
                service=service,
                observed_at=at,
                severity=severity,
                body=body,
                attributes={},
                trace_id="",
            )
        )

    def _metrics(self, out: SecondOfTelemetry, now: datetime, t: int) -> None:
        slow = self.db_slowdown(t)
        for service in CALLS:
            cpu = 0.25 + 0.05 * self._rng.random()
            pool = 4.0 + self._rng.random() * 2
            if service == "payments-db" and slow:
                cpu += 0.5 * slow / 600.0
            if service == "payments" and slow:
                pool = min(50.0, pool + slow / 12.0)
            for name, value in (
                ("process.cpu.utilization", cpu),
                ("db.client.connections.usage", pool),
            ):
                out.metrics.append(
                    MetricPoint.model_construct(
                        kind="metric",
                        name=name,
                        service=service,
                        value=round(value, 4),
                        observed_at=now,
                        labels={"host": f"{service}-0"},
                    )
                )
