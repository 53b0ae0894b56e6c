"""Spans → per-service and per-edge request rate, error ratio and latency, plus call edges.

A service's signals come from its server (and consumer) spans; an edge ``caller->callee``
is seen from a client span that names its callee (``peer.service``), or from a span whose
parent belongs to another service (in either arrival order, through two bounded maps).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import floor
from typing import Generic, TypeVar

import numpy as np

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import SpanKind, SpanRecord
from correlator.normalize.windows import closed_buckets

__all__ = ["CallEdge", "SpanWindows"]

_SERVER_KINDS = frozenset({SpanKind.SERVER, SpanKind.CONSUMER})
_MAX_REMEMBERED_SPANS = 200_000
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class CallEdge:
    """``caller`` called ``callee`` ``count`` times in the window ending at ``ts``."""

    caller: str
    callee: str
    count: int
    ts: float


@dataclass(slots=True)
class _Cell:
    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)


class _Recent(Generic[_V]):
    """A map that keeps at least the last ``size`` keys set (at most twice that)."""

    __slots__ = ("_current", "_previous", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._current: dict[str, _V] = {}
        self._previous: dict[str, _V] = {}

    def __setitem__(self, key: str, value: _V) -> None:
        current = self._current
        current[key] = value
        if len(current) >= self._size:
            self._previous, self._current = current, {}

    def get(self, key: str) -> _V | None:
        value = self._current.get(key)
        return self._previous.get(key) if value is None else value

    def pop(self, key: str) -> _V | None:
        value = self._current.pop(key, None)
        previous = self._previous.pop(key, None)
        return previous if value is None else value


class SpanWindows:
    """Aggregates spans into tumbling windows and emits observations when windows close."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.watermark = 0.0
        self.late = 0
        self._closed_upto: int | None = None
        self._cells: dict[int, dict[str, _Cell]] = defaultdict(dict)
        self._edges: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
        self._span_service: _Recent[str] = _Recent(_MAX_REMEMBERED_SPANS)
        self._orphans: _Recent[list[str]] = _Recent(_MAX_REMEMBERED_SPANS)

    def add(self, span: SpanRecord) -> None:
        """Account one finished span."""
        self.add_all((span,))

    def add_all(self, spans: Iterable[SpanRecord]) -> None:
        """Account finished spans, in order (one loop, no call per span)."""
        window_s, closed_upto, watermark = self.window_s, self._closed_upto, self.watermark
        all_cells, all_edges = self._cells, self._edges
        span_service, orphans = self._span_service, self._orphans
        cells: dict[str, _Cell] = {}
        edges: dict[tuple[str, str], int] = {}
        current = None
        client, server_kinds = SpanKind.CLIENT, _SERVER_KINDS
        for span in spans:
            end = span.start_at.timestamp() + span.duration_ms / 1000.0
            bucket = floor(end / window_s)
            if closed_upto is not None and bucket <= closed_upto:
                self.late += 1  # its window was already emitted
                continue
            if end > watermark:
                watermark = end
            if bucket != current:
                current, cells, edges = bucket, all_cells[bucket], all_edges[bucket]
            service, kind, parent = span.service, span.span_kind, span.parent_span_id
            entities: list[str] = []
            if kind in server_kinds or (not parent and kind != client):
                entities.append(service)
            peer = span.peer_service
            if kind == client and peer:
                entities.append(f"{service}->{peer}")
                if service != peer:
                    edges[(service, peer)] = edges.get((service, peer), 0) + 1
            for entity in entities:
                cell = cells.get(entity)
                if cell is None:
                    cell = cells[entity] = _Cell()
                cell.count += 1
                cell.errors += span.is_error
                cell.durations.append(span.duration_ms)
            # parent/child links across services, whichever of the two arrives first
            span_id = span.span_id
            span_service[span_id] = service
            for child in orphans.pop(span_id) or ():
                if child != service:
                    edges[(service, child)] = edges.get((service, child), 0) + 1
            if not parent:
                continue
            parent_service = span_service.get(parent)
            if parent_service is None:
                waiting = orphans.get(parent)
                if waiting is None:
                    orphans[parent] = [service]
                else:
                    waiting.append(service)
            elif parent_service != service:
                edges[(parent_service, service)] = edges.get((parent_service, service), 0) + 1
        self.watermark = watermark
        self._drop_empty(all_cells, all_edges)

    @staticmethod
    def _drop_empty(
        cells: dict[int, dict[str, _Cell]], edges: dict[int, dict[tuple[str, str], int]]
    ) -> None:
        """Forget buckets that got no cell and no edge (a span need not give either)."""
        for table in (cells, edges):
            for bucket in [b for b, entries in table.items() if not entries]:
                del table[bucket]

    def drain(
        self, watermark: float | None = None, flush: bool = False
    ) -> tuple[list[Observation], list[CallEdge]]:
        """Observations and edges of every window closed by ``watermark`` (all if ``flush``).

        ``watermark`` defaults to the latest span end seen; with several partitions the
        engine passes the lowest of their latest times, so no partition's data comes late.
        """
        buckets = sorted(self._cells.keys() | self._edges.keys())
        if not flush:
            mark = self.watermark if watermark is None else watermark
            buckets = closed_buckets(buckets, mark, self.window_s)
        if buckets:
            self._closed_upto = max(buckets[-1], self._closed_upto or buckets[-1])
        observations: list[Observation] = []
        edges: list[CallEdge] = []
        for bucket in buckets:
            end = (bucket + 1) * self.window_s
            for entity, cell in self._cells.pop(bucket, {}).items():
                observations.extend(self._observe(entity, cell, end))
            for (caller, callee), count in self._edges.pop(bucket, {}).items():
                edges.append(CallEdge(caller, callee, count, end))
        return observations, edges

    def _observe(self, entity: str, cell: _Cell, ts: float) -> list[Observation]:
        p50, p99 = np.percentile(np.asarray(cell.durations), [50, 99])
        w = self.window_s
        return [
            Observation(
                f"{entity}|request_rate", entity, Signal.REQUEST_RATE, cell.count / w, ts, w
            ),
            Observation(
                f"{entity}|error_ratio", entity, Signal.ERROR_RATIO, cell.errors / cell.count, ts, w
            ),
            Observation(f"{entity}|latency_p50", entity, Signal.LATENCY_P50, float(p50), ts, w),
            Observation(f"{entity}|latency_p99", entity, Signal.LATENCY_P99, float(p99), ts, w),
        ]
