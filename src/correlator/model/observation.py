"""Observations: one value of one signal of one entity at one time.

Normalizers turn telemetry events into observations; detectors score them. This is
the engine's hot-path type, so it is a slotted dataclass built from already
validated events, not a pydantic model.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Observation", "Signal"]


class Signal(StrEnum):
    """What an observation measures."""

    METRIC = "metric"
    LATENCY_P50 = "latency_p50"
    LATENCY_P99 = "latency_p99"
    ERROR_RATIO = "error_ratio"
    REQUEST_RATE = "request_rate"
    LOG_TEMPLATE_RATE = "log_template_rate"
    LOG_NEW_TEMPLATE = "log_new_template"
    LOG_ERROR_RATE = "log_error_rate"
    LOG_WARN_RATE = "log_warn_rate"
    EXTERNAL_ALERT = "external_alert"


@dataclass(frozen=True, slots=True)
class Observation:
    """A value of ``signal`` for ``entity`` (a service, or an edge ``caller->callee``).

    ``series`` is the stable key of the series the value belongs to; ``ts`` is unix
    seconds of event time; ``window_s`` is the length of the window it summarizes
    (0 for a point sample); ``samples`` is how many requests a windowed value (an error
    ratio, a latency percentile) was measured over, 0 when unknown.

    >>> obs = Observation("svc:checkout:latency_p99", "checkout", Signal.LATENCY_P99, 812.0, 60.0)
    >>> obs.service
    'checkout'
    """

    series: str
    entity: str
    signal: Signal
    value: float
    ts: float
    window_s: float = 0.0
    detail: str = ""
    samples: int = 0

    @property
    def service(self) -> str:
        """The service the observation is about (the callee, for an edge)."""
        return self.entity.rsplit("->", 1)[-1]
