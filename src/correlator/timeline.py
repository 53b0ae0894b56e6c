"""Event-time ticks: what the correlator sees is cut by event time, never by fetch batches.

Alerts and learned call edges wait in a ``TickQueue`` until the watermark says every item
of their tick has arrived; then each tick is handed to the correlator in order, with
``now`` = the tick's end (the correlator orders a tick's alerts itself:
``correlator.correlate.grouping.batch_order``). So how the broker happened to split the
stream into batches (or where a crashed engine resumed) cannot change which incident an
alert opens, how many versions an incident gets, or when it resolves.

An item is *due* when its data is complete: a windowed signal's observation (time = window
end) is emitted one window after its end, so its due time is ``ts + window_s``; a metric or
external alert is due at its own time. Tick ``E`` holds the items due before ``E`` and runs
once the watermark is ``margin_s`` past ``E`` (the engine takes both from
``correlate.tick_s`` and ``correlate.tick_margin_s``).

>>> from datetime import UTC, datetime
>>> from correlator.model.observation import Signal
>>> def alert(ts: float) -> Alert:
...     at = datetime.fromtimestamp(ts, UTC)
...     return Alert(fingerprint=f"f{ts}", service="db", entity="db",
...                  signal=Signal.METRIC, starts_at=at, last_seen_at=at)
>>> queue = TickQueue(tick_s=1.0, margin_s=1.0)
>>> queue.add([alert(100.2), alert(103.5)], [])
>>> [(end, [a.fingerprint for a in due]) for end, due, _ in queue.ready(102.5, lambda: False)]
[(101.0, ['f100.2'])]
>>> [(end, len(due)) for end, due, _ in queue.ready(105.0, lambda: True)]
[(102.0, 0), (103.0, 0), (104.0, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from correlator.model.alert import Alert
from correlator.normalize.spans import CallEdge

__all__ = ["Tick", "TickQueue"]

#: One tick: its end (unix seconds, the correlator's ``now``), its alerts and call edges.
Tick = tuple[float, list[Alert], list[CallEdge]]


def _alert_due(alert: Alert) -> float:
    return alert.last_seen_at.timestamp() + alert.window_s


@dataclass
class TickQueue:
    """Alerts and edges waiting for their tick (part of the engine's snapshot)."""

    tick_s: float
    margin_s: float
    edge_delay_s: float = 10.0
    alerts: list[tuple[float, Alert]] = field(default_factory=list)
    edges: list[tuple[float, CallEdge]] = field(default_factory=list)
    next_end: float | None = None
    late: int = 0

    def add(self, alerts: Sequence[Alert], edges: Sequence[CallEdge]) -> None:
        """Queue items; one due before a tick already run joins the next tick (late)."""
        for alert in alerts:
            due = _alert_due(alert)
            self.late += self.next_end is not None and due < self.next_end - self.tick_s
            self.alerts.append((due, alert))
        self.edges.extend((e.ts + self.edge_delay_s, e) for e in edges)

    def ready(
        self, watermark: float, busy: Callable[[], bool], *, flush: bool = False
    ) -> Iterator[Tick]:
        """The ticks complete by ``watermark``, in order (all queued ones if ``flush``).

        ``busy()``: the correlator holds state that changes with time alone (open incidents
        resolve when quiet), so every tick runs; otherwise empty ticks are skipped. It is
        asked again before each tick, after the previous one was processed.
        """
        horizon = watermark - self.margin_s
        if flush:
            horizon = max([watermark, *self._dues()]) + self.tick_s
        while True:
            dues = self._dues()
            earliest = min(dues) if dues else None
            end, idle = self.next_end, not busy()
            if earliest is not None and (end is None or (idle and earliest >= end)):
                end = self._end_of(earliest)
            elif end is None or (idle and earliest is None):
                return
            if end > horizon:
                return
            self.next_end = end + self.tick_s
            alerts, edges = self._take(end)
            yield end, alerts, edges

    def _end_of(self, ts: float) -> float:
        return (math.floor(ts / self.tick_s) + 1) * self.tick_s

    def _dues(self) -> list[float]:
        return [d for d, _ in self.alerts] + [d for d, _ in self.edges]

    def _take(self, end: float) -> tuple[list[Alert], list[CallEdge]]:
        alerts = [a for d, a in self.alerts if d < end]  # the correlator orders them
        edges = [e for d, e in self.edges if d < end]
        self.alerts = [(d, a) for d, a in self.alerts if d >= end]
        self.edges = [(d, e) for d, e in self.edges if d >= end]
        edges.sort(key=lambda e: (e.ts, e.caller, e.callee))
        return alerts, edges
