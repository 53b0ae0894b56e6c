"""Normalized telemetry: every decoder turns its input into these events.

Times are aware UTC datetimes; services are named by the OpenTelemetry
``service.name`` resource attribute (or ``unknown_service``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "AlertEvent",
    "LogRecord",
    "MetricPoint",
    "SpanKind",
    "SpanRecord",
    "SpanRow",
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


class _SpanRowFields(NamedTuple):
    end_s: float
    duration_ms: float
    service: str
    span_kind: SpanKind
    parent_span_id: str
    span_id: str
    peer_service: str
    is_error: bool


class SpanRow(_SpanRowFields):
    """What the span normalizer reads of a span, as a tuple: the decode stage's hot-path form.

    A batch of spans is decoded straight into rows (no datetime, attribute dict or model
    instance per span); :meth:`of` derives the same row from a :class:`SpanRecord`.
    ``end_s`` is unix seconds at which the span ended, computed as
    ``start_at.timestamp() + duration_ms / 1000``. ``kind`` routes it like a span event.

    >>> from datetime import UTC, datetime
    >>> record = SpanRecord(trace_id="ab", span_id="cd", service="api",
    ...                     start_at=datetime(2026, 1, 1, tzinfo=UTC), duration_ms=250.0)
    >>> row = SpanRow.of(record)
    >>> row.end_s - 1767225600.0, row.service, row.kind
    (0.25, 'api', 'span')
    """

    __slots__ = ()
    kind: ClassVar[Literal["span"]] = "span"

    @classmethod
    def of(cls, span: SpanRecord) -> SpanRow:
        """The row of a full span record."""
        ms = span.duration_ms
        return tuple.__new__(
            cls,
            (
                span.start_at.timestamp() + ms / 1000.0,
                ms,
                span.service,
                span.span_kind,
                span.parent_span_id,
                span.span_id,
                span.peer_service,
                span.is_error,
            ),
        )


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
