"""Normalized telemetry: every decoder turns its input into these events.

Times are aware UTC datetimes; services are named by the OpenTelemetry
``service.name`` resource attribute (or ``unknown_service``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "AlertEvent",
    "LogRecord",
    "MetricPoint",
    "SpanKind",
    "SpanRecord",
    "TelemetryEvent",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class MetricPoint(BaseModel):
    """One numeric sample of a metric series."""

    model_config = _FROZEN
    kind: Literal["metric"] = "metric"
    name: str = Field(min_length=1, description="Metric name, e.g. http.server.duration")
    service: str = Field(min_length=1)
    value: float = Field(allow_inf_nan=False)
    observed_at: AwareDatetime
    labels: dict[str, str] = Field(default_factory=dict)


class SpanKind(StrEnum):
    """OTLP span kind, lower-cased."""

    UNSPECIFIED = "unspecified"
    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


class SpanRecord(BaseModel):
    """One finished span."""

    model_config = _FROZEN
    kind: Literal["span"] = "span"
    trace_id: str = Field(min_length=1)
    span_id: str = Field(min_length=1)
    parent_span_id: str = ""
    service: str = Field(min_length=1)
    name: str = ""
    span_kind: SpanKind = SpanKind.UNSPECIFIED
    start_at: AwareDatetime
    duration_ms: float = Field(ge=0, allow_inf_nan=False)
    is_error: bool = False
    peer_service: str = Field(default="", description="Callee named by peer.service, if any")
    attributes: dict[str, str] = Field(default_factory=dict)


class LogRecord(BaseModel):
    """One log line with its service and severity."""

    model_config = _FROZEN
    kind: Literal["log"] = "log"
    service: str = Field(min_length=1)
    observed_at: AwareDatetime
    severity: str = Field(default="INFO", description="Upper-case severity text")
    body: str
    attributes: dict[str, str] = Field(default_factory=dict)
    trace_id: str = ""


class AlertEvent(BaseModel):
    """An alert from outside (Alertmanager/Prometheus webhook or a JSON line)."""

    model_config = _FROZEN
    kind: Literal["alert"] = "alert"
    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None = None
    generator_url: str = ""
    source_fingerprint: str = ""


TelemetryEvent = Annotated[
    MetricPoint | SpanRecord | LogRecord | AlertEvent, Field(discriminator="kind")
]
