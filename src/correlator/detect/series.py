"""Per-series detection state: the model, warm-up count, expected value and hysteresis."""

from __future__ import annotations

from dataclasses import dataclass

from correlator.detect.base import Detector
from correlator.model.observation import Signal

__all__ = ["SIGNAL_GROUPS", "UPWARD_ONLY", "SeriesState"]

#: Which detector configuration (``detect.detectors[group]``) serves each signal.
SIGNAL_GROUPS: dict[Signal, str] = {
    Signal.METRIC: "metric",
    Signal.LATENCY_P50: "latency",
    Signal.LATENCY_P99: "latency",
    Signal.ERROR_RATIO: "error",
    Signal.REQUEST_RATE: "rate",
    Signal.LOG_ERROR_RATE: "log",
    Signal.LOG_WARN_RATE: "log",
    Signal.LOG_TEMPLATE_RATE: "log",
    Signal.LOG_NEW_TEMPLATE: "log",
    Signal.EXTERNAL_ALERT: "metric",
}

#: Signals for which only a rise is a symptom (a faster or cleaner service is not an incident).
UPWARD_ONLY = frozenset(
    {
        Signal.LATENCY_P50,
        Signal.LATENCY_P99,
        Signal.ERROR_RATIO,
        Signal.LOG_ERROR_RATE,
        Signal.LOG_WARN_RATE,
        Signal.LOG_TEMPLATE_RATE,
    }
)


@dataclass(slots=True)
class SeriesState:
    """What the engine remembers about one series (pickled as its checkpoint)."""

    detector: Detector
    seen: int = 0
    expected: float = 0.0
    spread: float = 0.0
    alerting: bool = False
    calm: int = 0
    hits: int = 0
    peak_score: float = 0.0
    alert_started_at: float = 0.0
    last_ts: float = 0.0

    def track(self, value: float, alpha: float = 0.05) -> None:
        """Update the running expected value and mean absolute deviation (EWMA)."""
        if self.seen == 0:
            self.expected = value
        else:
            dev = abs(value - self.expected)
            self.spread += alpha * (dev - self.spread)
            self.expected += alpha * (value - self.expected)
        self.seen += 1
