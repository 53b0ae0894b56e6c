"""Alerts: an anomaly (or an external alert) about one signal of one entity."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from correlator.model.observation import Signal

__all__ = [
    "WATCH_LABEL",
    "Alert",
    "AlertStatus",
    "Severity",
    "fingerprint_of",
    "is_watch",
    "sample_share",
]

#: Label of a *watch* alert: a reading anomalous enough to show a service is affected, not
#: to open an incident (below the alert threshold, or not yet persistent). It only joins an
#: incident whose cause lies below its service, and explains nothing itself.
WATCH_LABEL = "watch"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


def fingerprint_of(labels: dict[str, str]) -> str:
    """Return the dedup key of an alert from its identifying labels (order-free).

    >>> fingerprint_of({"service": "db", "signal": "latency_p99"})
    '3c2f80f66f2a43f7'
    >>> fingerprint_of({"signal": "latency_p99", "service": "db"})
    '3c2f80f66f2a43f7'
    """
    text = "\x1f".join(f"{k}\x1e{labels[k]}" for k in sorted(labels))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def sample_share(samples: int | None, prior: float) -> float:
    """The share of its weight a value measured over ``samples`` requests earns as evidence.

    ``n / (n + prior)``: the usual shrinkage toward "no change" of a ratio or percentile read
    from few requests; 1 when the count is unknown or ``prior`` is 0.

    >>> sample_share(50, 100.0), sample_share(None, 100.0), sample_share(50, 0.0)
    (0.3333333333333333, 1.0, 1.0)
    """
    if not samples or prior <= 0:
        return 1.0
    return samples / (samples + prior)


class Alert(BaseModel):
    """One alert. ``fingerprint`` is its identity; a repeat updates count and last_seen_at."""

    model_config = ConfigDict(extra="forbid")
    fingerprint: str
    service: str
    entity: str
    signal: Signal
    status: AlertStatus = AlertStatus.FIRING
    severity: Severity = Severity.WARNING
    summary: str = ""
    observed: float | None = None
    expected: float | None = None
    score: float = Field(default=1.0, ge=0.0)
    series: str = ""
    window_s: float = 0.0
    #: requests ``observed`` was measured over (an error ratio's, a percentile's), if known
    samples: int | None = Field(default=None, ge=0)
    starts_at: AwareDatetime
    last_seen_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    count: int = Field(default=1, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)


def is_watch(alert: Alert) -> bool:
    """Whether ``alert`` is a watch alert (see :data:`WATCH_LABEL`)."""
    return alert.labels.get(WATCH_LABEL) == "true"
