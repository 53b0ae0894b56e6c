"""Builders for tests and examples: alerts and spans with sensible defaults."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.model.alert import Alert, AlertStatus, fingerprint_of
from correlator.model.observation import Signal
from correlator.model.telemetry import SpanKind, SpanRecord

__all__ = ["SHOP_CALLS", "T0", "alert", "graph_of", "span"]

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

#: A small shop: web calls checkout and search; checkout → payments → db; search → index.
SHOP_CALLS: dict[str, list[str]] = {
    "web": ["checkout", "search"],
    "checkout": ["payments"],
    "payments": ["db"],
    "search": ["index"],
}


def graph_of(calls: dict[str, list[str]]) -> TopologyGraph:
    """A declared topology where each key calls the services listed for it.

    >>> sorted(graph_of(SHOP_CALLS).graph.successors("web"))
    ['checkout', 'search']
    """
    graph = TopologyGraph()
    for name, callees in calls.items():
        graph.declare(ServiceSpec(name=name, depends_on=callees))
    return graph


def alert(
    service: str,
    at_s: float = 0.0,
    signal: Signal = Signal.LATENCY_P99,
    *,
    score: float = 0.95,
    status: AlertStatus = AlertStatus.FIRING,
    last_s: float | None = None,
) -> Alert:
    """An alert on ``service`` starting ``at_s`` seconds after ``T0``.

    >>> alert("db", 30).starts_at.isoformat()
    '2026-01-01T12:00:30+00:00'
    """
    starts = T0 + timedelta(seconds=at_s)
    last = T0 + timedelta(seconds=at_s if last_s is None else last_s)
    labels = {"service": service, "entity": service, "signal": signal.value}
    return Alert(
        fingerprint=fingerprint_of(labels),
        service=service,
        entity=service,
        signal=signal,
        status=status,
        score=score,
        summary=f"{service} {signal.value}",
        starts_at=starts,
        last_seen_at=last,
        ends_at=last if status is AlertStatus.RESOLVED else None,
        labels=labels,
    )


def span(
    service: str,
    at_s: float,
    ms: float,
    *,
    kind: SpanKind = SpanKind.SERVER,
    error: bool = False,
    peer: str = "",
    span_id: str = "",
    parent: str = "",
) -> SpanRecord:
    """A finished span of ``service`` starting ``at_s`` seconds after ``T0`` (hex ids)."""
    seed = f"{service}-{at_s}-{ms}".encode()
    return SpanRecord(
        trace_id="ab" * 16,
        span_id=span_id or hashlib.blake2b(seed, digest_size=8).hexdigest(),
        parent_span_id=parent,
        service=service,
        span_kind=kind,
        start_at=T0 + timedelta(seconds=at_s),
        duration_ms=ms,
        is_error=error,
        peer_service=peer,
    )
