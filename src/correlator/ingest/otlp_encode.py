"""Build OTLP export requests from our events: the inverse of the OTLP decoders.

The demo's scenario generator and the integration tests use these to put realistic
OTLP on the broker, in protobuf (``encode_*``) or OTLP JSON (``encode_*_json``, ids as
hex). Events are grouped by service into one ``Resource*`` each (resource attribute
``service.name``), under one scope named ``correlator``; metric points become gauges,
one ``Metric`` per (service, name).

``decode(encode(events)) == events`` holds for events in service order whose values
survive the wire: durations are whole nanoseconds, and a span's ``peer_service`` is
written as its ``peer.service`` attribute (so it comes back in ``attributes`` unless
already there). Severity numbers are derived from the severity text.

>>> from datetime import UTC, datetime
>>> from correlator.model.telemetry import SpanRecord
>>> span = SpanRecord(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7",
...                   service="checkout", name="GET /cart", duration_ms=12.5,
...                   start_at=datetime(2024, 5, 1, tzinfo=UTC))
>>> len(encode_spans([span]))
107
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpLogRecord
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from correlator.ingest.decoders.otlp_common import ns_from_datetime
from correlator.model.telemetry import LogRecord, MetricPoint, SpanKind, SpanRecord

__all__ = [
    "encode_logs",
    "encode_logs_json",
    "encode_metrics",
    "encode_metrics_json",
    "encode_spans",
    "encode_spans_json",
    "logs_request",
    "metrics_request",
    "otlp_json",
    "spans_request",
]

_SCOPE = InstrumentationScope(name="correlator")
_SPAN_KIND_NUMBERS = {kind: Span.SpanKind.Value(f"SPAN_KIND_{kind.name}") for kind in SpanKind}
_SEVERITY_NUMBERS = {
    text: SeverityNumber.Value(f"SEVERITY_NUMBER_{number}")
    for text, number in {
        "TRACE": "TRACE",
        "DEBUG": "DEBUG",
        "INFO": "INFO",
        "WARN": "WARN",
        "WARNING": "WARN",
        "ERROR": "ERROR",
        "CRITICAL": "FATAL",
        "FATAL": "FATAL",
    }.items()
}
_UNSPECIFIED = SeverityNumber.Value("SEVERITY_NUMBER_UNSPECIFIED")
_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId"})

_T = TypeVar("_T", SpanRecord, MetricPoint, LogRecord)


def spans_request(spans: Iterable[SpanRecord]) -> Any:
    """An ``ExportTraceServiceRequest`` holding ``spans``, one ResourceSpans per service."""
    request = ExportTraceServiceRequest()
    for service, group in _by_service(spans).items():
        scope = ScopeSpans(scope=_SCOPE, spans=[_span(span) for span in group])
        request.resource_spans.append(
            ResourceSpans(resource=_resource(service), scope_spans=[scope])
        )
    return request


def metrics_request(points: Iterable[MetricPoint]) -> Any:
    """An ``ExportMetricsServiceRequest``: one gauge per (service, name), a point per event."""
    request = ExportMetricsServiceRequest()
    for service, group in _by_service(points).items():
        by_name: dict[str, list[NumberDataPoint]] = {}
        for point in group:
            by_name.setdefault(point.name, []).append(
                NumberDataPoint(
                    time_unix_nano=ns_from_datetime(point.observed_at),
                    as_double=point.value,
                    attributes=_attributes(point.labels),
                )
            )
        metrics = [
            Metric(name=name, gauge=Gauge(data_points=data)) for name, data in by_name.items()
        ]
        request.resource_metrics.append(
            ResourceMetrics(
                resource=_resource(service),
                scope_metrics=[ScopeMetrics(scope=_SCOPE, metrics=metrics)],
            )
        )
    return request


def logs_request(records: Iterable[LogRecord]) -> Any:
    """An ``ExportLogsServiceRequest`` holding ``records``, one ResourceLogs per service."""
    request = ExportLogsServiceRequest()
    for service, group in _by_service(records).items():
        scope = ScopeLogs(scope=_SCOPE, log_records=[_log(record) for record in group])
        request.resource_logs.append(ResourceLogs(resource=_resource(service), scope_logs=[scope]))
    return request


def encode_spans(spans: Iterable[SpanRecord]) -> bytes:
    """``spans`` as an OTLP protobuf traces request."""
    return bytes(spans_request(spans).SerializeToString())


def encode_metrics(points: Iterable[MetricPoint]) -> bytes:
    """``points`` as an OTLP protobuf metrics request (gauges)."""
    return bytes(metrics_request(points).SerializeToString())


def encode_logs(records: Iterable[LogRecord]) -> bytes:
    """``records`` as an OTLP protobuf logs request."""
    return bytes(logs_request(records).SerializeToString())


def encode_spans_json(spans: Iterable[SpanRecord]) -> bytes:
    """``spans`` as an OTLP JSON traces request."""
    return otlp_json(spans_request(spans))


def encode_metrics_json(points: Iterable[MetricPoint]) -> bytes:
    """``points`` as an OTLP JSON metrics request."""
    return otlp_json(metrics_request(points))


def encode_logs_json(records: Iterable[LogRecord]) -> bytes:
    """``records`` as an OTLP JSON logs request."""
    return otlp_json(logs_request(records))


def otlp_json(request: Any) -> bytes:
    """Any OTLP request message as OTLP JSON: proto3 JSON with hex ids and integer enums.

    >>> from opentelemetry.proto.trace.v1.trace_pb2 import Span
    >>> otlp_json(Span(span_id=bytes.fromhex("00f067aa0ba902b7"), kind=2))
    b'{"spanId":"00f067aa0ba902b7","kind":2}'
    """
    obj = MessageToDict(request, use_integers_for_enums=True)
    _ids_to_hex(obj)
    return json.dumps(obj, separators=(",", ":")).encode()


def _ids_to_hex(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = _b64_to_hex(value)
            else:
                _ids_to_hex(value)
    elif isinstance(node, list):
        for item in node:
            _ids_to_hex(item)


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _by_service(events: Iterable[_T]) -> dict[str, list[_T]]:
    groups: dict[str, list[_T]] = {}
    for event in events:
        groups.setdefault(event.service, []).append(event)
    return groups


def _resource(service: str) -> Resource:
    return Resource(attributes=_attributes({"service.name": service}))


def _attributes(values: dict[str, str]) -> Sequence[KeyValue]:
    return [KeyValue(key=key, value=AnyValue(string_value=value)) for key, value in values.items()]


def _span(span: SpanRecord) -> Span:
    start = ns_from_datetime(span.start_at)
    attributes = dict(span.attributes)
    if span.peer_service:
        attributes.setdefault("peer.service", span.peer_service)
    return Span(
        trace_id=bytes.fromhex(span.trace_id),
        span_id=bytes.fromhex(span.span_id),
        parent_span_id=bytes.fromhex(span.parent_span_id),
        name=span.name,
        kind=_SPAN_KIND_NUMBERS[span.span_kind],
        start_time_unix_nano=start,
        end_time_unix_nano=start + round(span.duration_ms * 1_000_000),
        attributes=_attributes(attributes),
        status=Status(code=Status.STATUS_CODE_ERROR) if span.is_error else None,
    )


def _log(record: LogRecord) -> OtlpLogRecord:
    at = ns_from_datetime(record.observed_at)
    return OtlpLogRecord(
        time_unix_nano=at,
        observed_time_unix_nano=at,
        severity_text=record.severity,
        severity_number=_SEVERITY_NUMBERS.get(record.severity, _UNSPECIFIED),
        body=AnyValue(string_value=record.body),
        attributes=_attributes(record.attributes),
        trace_id=bytes.fromhex(record.trace_id),
    )
