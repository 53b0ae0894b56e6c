"""Spans → per-service and per-edge request rate, error ratio and latency, plus call edges.

A service's signals come from its server (and consumer) spans; an edge ``caller->callee``
is seen from a client span that names its callee (``peer.service``), or from a span whose
parent belongs to another service (in either arrival order, through two bounded maps).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import SpanKind, SpanRecord
from correlator.normalize.windows import bucket_of, closed_buckets

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


@dataclass
class _Cell:
    count: int = 0
    errors: int = 0
    durations: list[float] = field(default_factory=list)


class SpanWindows:
    """Aggregates spans into tumbling windows and emits observations when windows close."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.watermark = 0.0
        self.late = 0
        self._closed_upto: int | None = None
        self._cells: dict[int, dict[str, _Cell]] = defaultdict(dict)
        self._edges: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
        self._span_service: OrderedDict[str, str] = OrderedDict()
        self._orphans: OrderedDict[str, list[str]] = OrderedDict()

    def add(self, span: SpanRecord) -> None:
        """Account one finished span."""
        start = span.start_at.timestamp()
        end = start + span.duration_ms / 1000.0
        bucket = bucket_of(end, self.window_s)
        if self._closed_upto is not None and bucket <= self._closed_upto:
            self.late += 1  # its window was already emitted
            return
        if end > self.watermark:
            self.watermark = end
        if span.span_kind in _SERVER_KINDS or (
            not span.parent_span_id and span.span_kind != SpanKind.CLIENT
        ):
            self._account(bucket, span.service, span)
        if span.span_kind == SpanKind.CLIENT and span.peer_service:
            self._account(bucket, f"{span.service}->{span.peer_service}", span)
            self._edge(bucket, span.service, span.peer_service)
        self._link_parent(bucket, span)

    def _account(self, bucket: int, entity: str, span: SpanRecord) -> None:
        cell = self._cells[bucket].get(entity)
        if cell is None:
            cell = self._cells[bucket][entity] = _Cell()
        cell.count += 1
        cell.errors += span.is_error
        cell.durations.append(span.duration_ms)

    def _edge(self, bucket: int, caller: str, callee: str) -> None:
        if caller != callee:
            edges = self._edges[bucket]
            edges[(caller, callee)] = edges.get((caller, callee), 0) + 1

    def _link_parent(self, bucket: int, span: SpanRecord) -> None:
        self._remember(self._span_service, span.span_id, span.service)
        for child_service in self._orphans.pop(span.span_id, ()):
            self._edge(bucket, span.service, child_service)
        if not span.parent_span_id:
            return
        parent_service = self._span_service.get(span.parent_span_id)
        if parent_service is not None:
            self._edge(bucket, parent_service, span.service)
        else:
            waiting = self._orphans.get(span.parent_span_id)
            if waiting is None:
                self._remember(self._orphans, span.parent_span_id, [span.service])
            else:
                waiting.append(span.service)

    @staticmethod
    def _remember(table: OrderedDict[str, _V], key: str, value: _V) -> None:
        table[key] = value
        if len(table) > _MAX_REMEMBERED_SPANS:
            table.popitem(last=False)

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
