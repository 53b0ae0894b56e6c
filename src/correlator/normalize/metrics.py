"""Metric points → observations, one series per service, metric name and label set."""

from __future__ import annotations

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import MetricPoint

__all__ = ["metric_observation", "series_key"]


_KEYS: dict[tuple[object, ...], str] = {}
_MAX_KEYS = 1_000_000


def series_key(point: MetricPoint) -> str:
    """The stable series key of a metric point (remembered per service, name and labels).

    >>> from datetime import UTC, datetime
    >>> p = MetricPoint(name="cpu", service="db", value=1.0,
    ...                 observed_at=datetime(2026, 1, 1, tzinfo=UTC), labels={"b": "2", "a": "1"})
    >>> series_key(p)
    'db|cpu{a=1,b=2}'
    """
    ident = (point.service, point.name, *point.labels.items())
    key = _KEYS.get(ident)
    if key is None:
        if len(_KEYS) >= _MAX_KEYS:
            _KEYS.clear()
        labels = ",".join(f"{k}={point.labels[k]}" for k in sorted(point.labels))
        key = _KEYS[ident] = f"{point.service}|{point.name}{{{labels}}}"
    return key


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
