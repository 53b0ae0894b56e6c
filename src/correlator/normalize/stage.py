"""NormalizeStage: telemetry events → observations, call edges and external alerts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from correlator.model.observation import Observation
from correlator.model.telemetry import AlertEvent, LogRecord, MetricPoint, SpanRecord, SpanRow
from correlator.normalize.logs import LogWindows
from correlator.normalize.metrics import metric_observation
from correlator.normalize.spans import CallEdge, SpanWindows

__all__ = ["NormalizeStage", "Normalized"]


@dataclass
class Normalized:
    observations: list[Observation] = field(default_factory=list)
    edges: list[CallEdge] = field(default_factory=list)
    external_alerts: list[AlertEvent] = field(default_factory=list)


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
        self.spans.add_all(spans)
        out.observations.extend(map(metric_observation, metrics))
        self.logs.add_all(logs)
        span_obs, out.edges = self.spans.drain(watermark, flush)
        out.observations.extend(span_obs)
        out.observations.extend(self.logs.drain(watermark, flush))
        return out
