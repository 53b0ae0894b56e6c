"""Spans → per-service and per-edge request rate, error ratio and latency, plus call edges.

A service's signals come from its server (and consumer) spans; an edge ``caller->callee``
is seen from a client span that names its callee (``peer.service``), or from a span whose
parent belongs to another service (in either arrival order, through two bounded maps).

Open windows are kept per origin partition (``correlator.normalize.windows``): ``take``
removes one origin's open windows as plain data and ``merge`` adds such data as if its
spans had been seen here. That is exact: counts add and the latency percentiles are
computed from every duration when the window closes. The parent/child maps are not
handed over, so a cross-service call whose two spans straddle a handover gives no edge.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from math import floor
from typing import Generic, TypeVar

import numpy as np

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import SpanKind, SpanRecord, SpanRow
from correlator.normalize.windows import Lagging, Origin

__all__ = ["CallEdge", "EdgeCounts", "SpanCells", "SpanWindows"]

_SERVER_KINDS = frozenset({SpanKind.SERVER, SpanKind.CONSUMER})
_MAX_REMEMBERED_SPANS = 200_000  # per map, at most (two generations of half that)
_V = TypeVar("_V")

SpanCells = dict[int, dict[str, tuple[int, int, list[float]]]]
"""Open windows as plain data: bucket → entity → (spans, errors, durations in ms)."""
EdgeCounts = dict[int, dict[tuple[str, str], int]]
"""Open windows' calls as plain data: bucket → (caller, callee) → calls."""


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

    def absorb(self, count: int, errors: int, durations: list[float]) -> None:
        self.count += count
        self.errors += errors
        self.durations.extend(durations)


class _Recent(Generic[_V]):
    """A map that keeps at least the last ``size`` keys set (at most twice that).

    Two generations of plain dicts: when ``current`` fills up it becomes ``previous``
    and the old ``previous`` is dropped. ``SpanWindows.add_all`` works on the two dicts
    directly (a method call per span costs more than the lookups).
    """

    __slots__ = ("current", "previous", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.current: dict[str, _V] = {}
        self.previous: dict[str, _V] = {}

    def rotate(self) -> None:
        self.previous, self.current = self.current, {}

    def __setitem__(self, key: str, value: _V) -> None:
        self.current[key] = value
        if len(self.current) >= self.size:
            self.rotate()

    def get(self, key: str) -> _V | None:
        value = self.current.get(key)
        return self.previous.get(key) if value is None else value

    def pop(self, key: str) -> _V | None:
        value = self.current.pop(key, None)
        return self.previous.pop(key, None) if value is None else value


class SpanWindows:
    """Aggregates spans into tumbling windows and emits observations when windows close."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.watermark = 0.0
        self.late = 0
        self._closed_upto: int | None = None
        self.lagging = Lagging()
        # per origin, then per window: entity → cell, and (caller, callee) → calls
        self._cells_by_origin: dict[Origin, dict[int, dict[str, _Cell]]] = {}
        self._edges_by_origin: dict[Origin, dict[int, dict[tuple[str, str], int]]] = {}
        self._span_service: _Recent[str] = _Recent(_MAX_REMEMBERED_SPANS // 2)
        self._orphans: _Recent[list[str]] = _Recent(_MAX_REMEMBERED_SPANS // 2)

    def add(self, span: SpanRecord) -> None:
        """Account one finished span."""
        self.add_all((span,))

    def add_all(self, spans: Iterable[SpanRecord | SpanRow], origin: Origin = None) -> None:
        """Account finished spans, in order (one loop, no call per span).

        A span may be a full record or its row (what the decode stage makes); a record is
        read through :meth:`SpanRow.of`, so both give the same windows. ``origin`` is the
        partition they all came from, if the caller tracks it.
        """
        window_s, watermark = self.window_s, self.watermark
        closed_upto = self.closed_upto(origin)
        lowest = -(2**62) if closed_upto is None else closed_upto  # buckets at or below: late
        if origin in self.lagging.closed:
            spans = list(spans)
            self.lagging.saw(origin, max((_end_of(s) for s in spans), default=0.0))
        all_cells, all_edges = self._tables(origin)
        seen, waiting = self._span_service, self._orphans
        seen_size, waiting_size = seen.size, waiting.size
        seen_now, seen_before = seen.current, seen.previous
        waiting_now, waiting_before = waiting.current, waiting.previous
        cells: dict[str, _Cell] = {}
        edges: dict[tuple[str, str], int] = {}
        current = None
        client, server_kinds = SpanKind.CLIENT, _SERVER_KINDS
        row_type, row_of, new_cell, to_bucket = SpanRow, SpanRow.of, _Cell, floor
        late = 0
        for span in spans:
            end, ms, service, kind, parent, span_id, peer, is_error = (
                span if type(span) is row_type else row_of(span)  # type: ignore[arg-type]
            )
            bucket = to_bucket(end / window_s)
            if bucket <= lowest:
                late += 1  # its window was already emitted
                continue
            if end > watermark:
                watermark = end
            if bucket != current:
                current, cells, edges = bucket, all_cells[bucket], all_edges[bucket]
            if kind in server_kinds or (not parent and kind != client):
                cell = cells.get(service)
                if cell is None:
                    cell = cells[service] = new_cell()
                cell.count += 1
                cell.errors += is_error
                cell.durations.append(ms)
            if peer and kind == client:
                pair = (service, peer)
                cell = cells.get(f"{service}->{peer}")
                if cell is None:
                    cell = cells[f"{service}->{peer}"] = new_cell()
                cell.count += 1
                cell.errors += is_error
                cell.durations.append(ms)
                if service != peer:
                    edges[pair] = edges.get(pair, 0) + 1
            # parent/child links across services, whichever of the two arrives first
            seen_now[span_id] = service
            if len(seen_now) >= seen_size:
                seen.rotate()
                seen_now, seen_before = seen.current, seen.previous
            if waiting_now or waiting_before:
                children = waiting_now.pop(span_id, None)
                if children is None and waiting_before:
                    children = waiting_before.pop(span_id, None)
                if children is not None:
                    for child in children:
                        if child != service:
                            edges[(service, child)] = edges.get((service, child), 0) + 1
            if not parent:
                continue
            parent_service = seen_now.get(parent) or seen_before.get(parent)
            if parent_service is None:
                siblings = waiting_now.get(parent) or waiting_before.get(parent)
                if siblings is not None:
                    siblings.append(service)
                    continue
                waiting_now[parent] = [service]
                if len(waiting_now) >= waiting_size:
                    waiting.rotate()
                    waiting_now, waiting_before = waiting.current, waiting.previous
            elif parent_service != service:
                edges[(parent_service, service)] = edges.get((parent_service, service), 0) + 1
        self.late += late
        self.watermark = watermark
        self._drop_empty(all_cells, all_edges)

    def _tables(
        self, origin: Origin
    ) -> tuple[dict[int, dict[str, _Cell]], dict[int, dict[tuple[str, str], int]]]:
        """The open windows of ``origin`` (created empty)."""
        cells = self._cells_by_origin.get(origin)
        if cells is None:
            cells = self._cells_by_origin[origin] = defaultdict(dict)
            self._edges_by_origin[origin] = defaultdict(dict)
        return cells, self._edges_by_origin[origin]

    def origins(self) -> set[Origin]:
        """Origins with open windows."""
        return {o for o, cells in self._cells_by_origin.items() if cells} | {
            o for o, edges in self._edges_by_origin.items() if edges
        }

    def take(self, origin: Origin) -> tuple[SpanCells, EdgeCounts] | None:
        """Remove the open windows of ``origin`` and return them as plain data (None: none)."""
        windows = self.peek(origin)
        self._cells_by_origin.pop(origin, None)
        self._edges_by_origin.pop(origin, None)
        self.lagging.stop(origin)
        return windows

    def peek(self, origin: Origin) -> tuple[SpanCells, EdgeCounts] | None:
        """The open windows of ``origin`` as :meth:`take` returns them, left in place (the
        data shares lists with them: serialize it before the next :meth:`add_all`)."""
        cells = self._cells_by_origin.get(origin) or {}
        edges = self._edges_by_origin.get(origin) or {}
        if not cells and not edges:
            return None
        plain = {
            bucket: {e: (c.count, c.errors, c.durations) for e, c in entries.items()}
            for bucket, entries in cells.items()
        }
        return plain, {bucket: dict(entries) for bucket, entries in edges.items()}

    def merge(self, origin: Origin, state: tuple[SpanCells, EdgeCounts]) -> None:
        """Add windows from :meth:`take` (of this or another instance) to ``origin``'s.

        The result is what adding their spans here would have given. A window this
        instance has already emitted is emitted again at the next drain, holding only the
        merged data (its spans arriving from now on are late here).
        """
        plain, calls = state
        all_cells, all_edges = self._tables(origin)
        for bucket, entries in plain.items():
            cells = all_cells[bucket]
            for entity, (count, errors, durations) in entries.items():
                cell = cells.get(entity)
                if cell is None:
                    cell = cells[entity] = _Cell()
                cell.absorb(count, errors, durations)
        for bucket, counts in calls.items():
            edges = all_edges[bucket]
            for pair, n in counts.items():
                edges[pair] = edges.get(pair, 0) + n
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
        per_origin: dict[Origin, set[int]] = {}
        for tables in (self._cells_by_origin, self._edges_by_origin):
            for origin, table in tables.items():
                per_origin.setdefault(origin, set()).update(table)
        mark = self.watermark if watermark is None else watermark
        closing = self.lagging.closing(per_origin, mark, self.window_s, flush)
        if closing:
            last = closing[-1][0]
            self._closed_upto = max(last, self._closed_upto or last)
        observations: list[Observation] = []
        edges: list[CallEdge] = []
        for bucket, origins in closing:
            end = (bucket + 1) * self.window_s
            for entity, cell in self._pop_cells(bucket, origins).items():
                observations.extend(self._observe(entity, cell, end))
            for (caller, callee), count in self._pop_edges(bucket, origins).items():
                edges.append(CallEdge(caller, callee, count, end))
        return observations, edges

    def closed_upto(self, origin: Origin) -> int | None:
        """The last window closed for ``origin``'s records (its own while it lags)."""
        return self.lagging.closed.get(origin, self._closed_upto)

    def _pop_cells(self, bucket: int, origins: set[Origin]) -> dict[str, _Cell]:
        """Window ``bucket``'s cells, taken out of ``origins`` and merged."""
        parts = [
            t.pop(bucket) for o, t in self._cells_by_origin.items() if o in origins and bucket in t
        ]
        if len(parts) == 1:
            return parts[0]
        merged: dict[str, _Cell] = {}
        for part in parts:
            for entity, cell in part.items():
                into = merged.get(entity)
                if into is None:
                    merged[entity] = cell
                else:
                    into.absorb(cell.count, cell.errors, cell.durations)
        return merged

    def _pop_edges(self, bucket: int, origins: set[Origin]) -> dict[tuple[str, str], int]:
        """Window ``bucket``'s calls, taken out of ``origins`` and added up."""
        parts = [
            t.pop(bucket) for o, t in self._edges_by_origin.items() if o in origins and bucket in t
        ]
        if len(parts) == 1:
            return parts[0]
        merged: dict[tuple[str, str], int] = {}
        for part in parts:
            for pair, n in part.items():
                merged[pair] = merged.get(pair, 0) + n
        return merged

    def __setstate__(self, state: dict[str, object]) -> None:
        """Read snapshots written before windows were kept per origin (one, None)."""
        if "_cells" in state:
            state["_cells_by_origin"] = {None: state.pop("_cells")}
            state["_edges_by_origin"] = {None: state.pop("_edges")}
        state.setdefault("lagging", Lagging())  # snapshots written before origins lagged
        self.__dict__.update(state)

    def _observe(self, entity: str, cell: _Cell, ts: float) -> list[Observation]:
        p50, p99 = np.percentile(np.asarray(cell.durations), [50, 99])
        w, n = self.window_s, cell.count
        return [
            Observation(f"{entity}|request_rate", entity, Signal.REQUEST_RATE, n / w, ts, w),
            Observation(
                f"{entity}|error_ratio", entity, Signal.ERROR_RATIO, cell.errors / n, ts, w, "", n
            ),
            Observation(
                f"{entity}|latency_p50", entity, Signal.LATENCY_P50, float(p50), ts, w, "", n
            ),
            Observation(
                f"{entity}|latency_p99", entity, Signal.LATENCY_P99, float(p99), ts, w, "", n
            ),
        ]


def _end_of(span: SpanRecord | SpanRow) -> float:
    """A span's end time (its window's time)."""
    return (span if type(span) is SpanRow else SpanRow.of(span))[0]  # type: ignore[arg-type]
