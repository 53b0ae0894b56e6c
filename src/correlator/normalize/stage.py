"""NormalizeStage: telemetry events → observations, call edges and external alerts.

``process`` is ``add`` then ``drain``. A caller that knows which partition each run of
events came from calls ``add`` once per run with that origin, then ``drain`` once; the
open windows of one origin can then be taken out (``take``) and merged into another
stage (``merge``), which is how a detect member hands windows over on a rebalance
(``correlator.normalize.handover``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from correlator.model.observation import Observation
from correlator.model.telemetry import AlertEvent, LogRecord, MetricPoint, SpanRecord, SpanRow
from correlator.normalize.logs import LogCounts, LogWindows
from correlator.normalize.metrics import metric_observation
from correlator.normalize.spans import CallEdge, EdgeCounts, SpanCells, SpanWindows
from correlator.normalize.windows import Origin

__all__ = ["Closed", "NormalizeStage", "Normalized", "OpenWindows"]


@dataclass
class Normalized:
    observations: list[Observation] = field(default_factory=list)
    edges: list[CallEdge] = field(default_factory=list)
    external_alerts: list[AlertEvent] = field(default_factory=list)


Closed = tuple[int | None, int | None]
"""The last span window and log window closed (None: none yet)."""


@dataclass
class OpenWindows:
    """One origin's open windows as plain data (see ``SpanWindows.take``, ``LogWindows.take``)."""

    spans: tuple[SpanCells, EdgeCounts] | None = None
    logs: LogCounts | None = None


class NormalizeStage:
    """Routes each event kind to its normalizer and drains closed windows."""

    def __init__(self, window_s: float, logs: LogWindows | None = None) -> None:
        self.spans = SpanWindows(window_s)
        self.logs = logs or LogWindows(window_s)

    @property
    def watermark(self) -> float:
        """The latest event time seen (unix seconds)."""
        return max(self.spans.watermark, self.logs.watermark)

    def process(
        self,
        events: Sequence[MetricPoint | SpanRecord | SpanRow | LogRecord | AlertEvent],
        watermark: float | None = None,
        flush: bool = False,
    ) -> Normalized:
        """Account ``events``; emit what windows closed by ``watermark`` (all if ``flush``)."""
        return self.drain(watermark, flush, self.add(events))

    def add(
        self,
        events: Sequence[MetricPoint | SpanRecord | SpanRow | LogRecord | AlertEvent],
        origin: Origin = None,
    ) -> Normalized:
        """Account ``events`` (all from ``origin``); return what needs no window.

        That is the metric observations and the external alerts; windowed signals come
        out of :meth:`drain`.
        """
        out = Normalized()
        spans: list[SpanRecord | SpanRow] = []
        logs: list[LogRecord] = []
        metrics: list[MetricPoint] = []
        by_kind: dict[str, list[Any]] = {
            "span": spans,
            "log": logs,
            "metric": metrics,
            "alert": out.external_alerts,
        }
        for event in events:
            by_kind[event.kind].append(event)
        if spans:
            self.spans.add_all(spans, origin)
        out.observations.extend(map(metric_observation, metrics))
        if logs:
            self.logs.add_all(logs, origin)
        return out

    def drain(
        self, watermark: float | None = None, flush: bool = False, into: Normalized | None = None
    ) -> Normalized:
        """Add what windows closed by ``watermark`` (all if ``flush``) emit to ``into``."""
        out = into or Normalized()
        span_obs, edges = self.spans.drain(watermark, flush)
        out.observations.extend(span_obs)
        out.edges.extend(edges)
        out.observations.extend(self.logs.drain(watermark, flush))
        return out

    def origins(self) -> set[Origin]:
        """Origins with open windows."""
        return self.spans.origins() | self.logs.origins()

    def take(self, origin: Origin) -> OpenWindows | None:
        """Remove ``origin``'s open windows and return them (None when it has none)."""
        windows = OpenWindows(self.spans.take(origin), self.logs.take(origin))
        return None if windows.spans is None and windows.logs is None else windows

    def peek(self, origin: Origin) -> OpenWindows | None:
        """``origin``'s open windows as :meth:`take` returns them, left in place (sharing
        lists with them: serialize them before adding more events)."""
        windows = OpenWindows(self.spans.peek(origin), self.logs.peek(origin))
        return None if windows.spans is None and windows.logs is None else windows

    def closed_upto(self, origin: Origin) -> Closed:
        """The last span and log windows closed for ``origin``'s records."""
        return self.spans.closed_upto(origin), self.logs.closed_upto(origin)

    def lag(self, origin: Origin, closed: Closed) -> None:
        """Take ``origin`` over from an owner that had closed its windows up to ``closed``
        (``closed_upto`` there): where this instance has closed more, ``origin`` lags (see
        ``correlator.normalize.windows.Lagging``)."""
        self.spans.lagging.start(origin, closed[0], self.spans.closed_upto(None))
        self.logs.lagging.start(origin, closed[1], self.logs.closed_upto(None))

    def lagging(self) -> set[Origin]:
        """Origins that lag (see :meth:`lag`) in their span or log windows."""
        return set(self.spans.lagging.closed) | set(self.logs.lagging.closed)

    def stop_lagging(self, origin: Origin) -> None:
        """``origin``'s windows close by the watermark from now on, as everyone's do."""
        self.spans.lagging.stop(origin)
        self.logs.lagging.stop(origin)

    def merge(self, origin: Origin, windows: OpenWindows) -> None:
        """Add windows from :meth:`take` to ``origin``'s, as if their events were seen here."""
        if windows.spans is not None:
            self.spans.merge(origin, windows.spans)
        if windows.logs is not None:
            self.logs.merge(origin, windows.logs)
