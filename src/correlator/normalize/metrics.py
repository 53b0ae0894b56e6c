"""Metric points → observations, one series per service, metric name and label set."""

from __future__ import annotations

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import MetricPoint

__all__ = ["metric_observation", "series_key"]


def series_key(point: MetricPoint) -> str:
    """The stable series key of a metric point.

    >>> from datetime import UTC, datetime
    >>> p = MetricPoint(name="cpu", service="db", value=1.0,
    ...                 observed_at=datetime(2026, 1, 1, tzinfo=UTC), labels={"b": "2", "a": "1"})
    >>> series_key(p)
    'db|cpu{a=1,b=2}'
    """
    labels = ",".join(f"{k}={point.labels[k]}" for k in sorted(point.labels))
    return f"{point.service}|{point.name}{{{labels}}}"


def metric_observation(point: MetricPoint) -> Observation:
    """The observation of one metric point."""
    return Observation(
        series_key(point),
        point.service,
        Signal.METRIC,
        point.value,
        point.observed_at.timestamp(),
        detail=point.name,
    )
