"""Pure data of the engine: telemetry events, observations, alerts, incidents. No I/O."""

from correlator.model.alert import Alert, AlertStatus, Severity
from correlator.model.incident import (
    ChangeKind,
    Evidence,
    Incident,
    IncidentChange,
    IncidentStatus,
    RootCause,
)
from correlator.model.message import RawMessage
from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import (
    AlertEvent,
    LogRecord,
    MetricPoint,
    SpanRecord,
    TelemetryEvent,
)

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertStatus",
    "ChangeKind",
    "Evidence",
    "Incident",
    "IncidentChange",
    "IncidentStatus",
    "LogRecord",
    "MetricPoint",
    "Observation",
    "RawMessage",
    "RootCause",
    "Severity",
    "Signal",
    "SpanRecord",
    "TelemetryEvent",
]
