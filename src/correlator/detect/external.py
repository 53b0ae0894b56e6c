"""External alerts (Alertmanager, JSON lines) → engine alerts."""

from __future__ import annotations

from correlator.model.alert import Alert, AlertStatus, Severity, fingerprint_of
from correlator.model.observation import Signal
from correlator.model.telemetry import AlertEvent

__all__ = ["SERVICE_LABELS", "from_alert_event"]

SERVICE_LABELS = ("service", "job", "app", "instance")
_SEVERITIES = {s.value: s for s in Severity}


def from_alert_event(event: AlertEvent) -> Alert:
    """Convert an external alert; its fingerprint is the hash of all its labels.

    >>> from datetime import UTC, datetime
    >>> labels = {"alertname": "HighLatency", "service": "db", "severity": "critical"}
    >>> ev = AlertEvent(labels=labels, starts_at=datetime(2026, 1, 1, tzinfo=UTC))
    >>> alert = from_alert_event(ev)
    >>> alert.service, alert.severity.value, alert.entity
    ('db', 'critical', 'db')
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
        ends_at=event.ends_at if resolved else None,
        labels=dict(labels),
    )
