"""External alerts (Alertmanager, JSON lines) → engine alerts."""

from __future__ import annotations

from datetime import timedelta

from correlator.model.alert import Alert, AlertStatus, Severity, fingerprint_of
from correlator.model.observation import Signal
from correlator.model.telemetry import AlertEvent

__all__ = ["RESOLVE_TIMEOUT", "SERVICE_LABELS", "from_alert_event"]

SERVICE_LABELS = ("service", "job", "app", "instance")
_SEVERITIES = {s.value: s for s in Severity}


#: Like Alertmanager's ``resolve_timeout``: a firing alert without an end that is not
#: renewed within this time counts as resolved.
RESOLVE_TIMEOUT = timedelta(minutes=5)


def from_alert_event(event: AlertEvent, resolve_timeout: timedelta = RESOLVE_TIMEOUT) -> Alert:
    """Convert an external alert; its fingerprint is the hash of all its labels.

    >>> from datetime import UTC, datetime
    >>> labels = {"alertname": "HighLatency", "service": "db", "severity": "critical"}
    >>> ev = AlertEvent(labels=labels, starts_at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> alert = from_alert_event(ev)
    >>> alert.service, alert.severity.value, alert.entity
    ('db', 'critical', 'db')
    >>> (alert.ends_at - alert.starts_at).total_seconds()
    300.0
    """
    labels = event.labels
    service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), "unknown_service")
    resolved = event.status == "resolved"
    last = event.ends_at if resolved and event.ends_at else event.starts_at
    return Alert(
        fingerprint=fingerprint_of(labels),
        service=service,
        entity=service,
        signal=Signal.EXTERNAL_ALERT,
        status=AlertStatus.RESOLVED if resolved else AlertStatus.FIRING,
        severity=_SEVERITIES.get(labels.get("severity", "").lower(), Severity.WARNING),
        summary=event.annotations.get("summary") or labels.get("alertname", "external alert"),
        starts_at=event.starts_at,
        last_seen_at=last,
        ends_at=event.ends_at or (None if resolved else event.starts_at + resolve_timeout),
        labels=dict(labels),
    )
