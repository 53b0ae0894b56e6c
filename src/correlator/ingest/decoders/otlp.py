"""OTLP traces, metrics and logs, as the OpenTelemetry Collector's Kafka exporter writes them.

Each message is one export request (``ExportTraceServiceRequest`` and friends; the
Collector's ``otlp_proto`` encoding writes ``TracesData``, which has the same wire form),
in protobuf or in OTLP JSON (``otlp_json``). :func:`~.otlp_common.read_request` tells them
apart per message. Protobuf is read with the generated classes and, since protobuf
already typed every field, events are built without validation
(:func:`~.base.construct_trusted`) after the few checks the model makes that protobuf
does not (non-empty ids, end not before start, finite values).

Spans
    ``service`` is the ``service.name`` resource attribute (``unknown_service`` if absent);
    ``is_error`` is status code ERROR; ``duration_ms`` is end minus start.
    ``peer_service`` is the ``peer.service`` attribute; for CLIENT and PRODUCER spans
    only, it falls back to ``server.address`` and then ``net.peer.name`` (the callee's
    host, which in most deployments is its service name; a SERVER span's
    ``server.address`` is its own address, so it is not used there). ``attributes`` are
    the span's own attributes, flattened to strings.
Logs
    ``severity`` is the upper-cased severity text, else the name of the severity number's
    range (``TRACE`` ... ``FATAL``), else ``UNSPECIFIED``; ``body`` is the body flattened to
    a string; ``observed_at`` is ``time_unix_nano``, else ``observed_time_unix_nano``, else
    the Kafka record timestamp; ``trace_id`` is hex.
Metrics
    See :mod:`.otlp_metrics`.

A request that fails a check is rejected whole: the decoders return every event of a
message or raise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from correlator.errors import DecodeError, ValidationFailedError
from correlator.ingest.decoders.base import (
    DEFAULT_MAX_MESSAGE_BYTES,
    TelemetryEventType,
    checked_value,
    construct_trusted,
)
from correlator.ingest.decoders.otlp_common import (
    any_value_to_str,
    attributes_to_dict,
    datetime_from_ns,
    ns_from_datetime,
    read_request,
    service_name,
)
from correlator.ingest.decoders.otlp_metrics import metric_points
from correlator.model.message import RawMessage
from correlator.model.telemetry import LogRecord, SpanKind, SpanRecord, SpanRow

__all__ = [
    "OtlpLogsDecoder",
    "OtlpMetricsDecoder",
    "OtlpTracesDecoder",
    "severity_name",
]

_SPAN_KINDS = tuple(SpanKind)  # index = OTLP enum number
_STATUS_ERROR = 2
_PEER_FALLBACK_KINDS = frozenset({SpanKind.CLIENT, SpanKind.PRODUCER})
_SEVERITY_RANGES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


class _OtlpDecoder:
    name: ClassVar[str]
    request_type: ClassVar[Any]
    resources_field: ClassVar[str]

    def __init__(self, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes

    def decode(self, message: RawMessage) -> list[TelemetryEventType]:
        """Decode one export request into events, or raise DecodeError/ValidationFailedError."""
        return self.decode_timed(message)[0]

    def decode_timed(self, message: RawMessage) -> tuple[list[TelemetryEventType], float]:
        """``decode``, plus the latest event time among the events (unix s; 0.0 if none)."""
        try:
            events, high_ns = self._events(self._read(message), message)
        except RecursionError:
            raise self._too_deep() from None
        return events, high_ns // 1000 / 1e6

    def _read(self, message: RawMessage) -> Any:
        value = checked_value(message, self.max_message_bytes, self.name)
        return read_request(message, value, self.request_type, self.resources_field, self.name)

    def _too_deep(self) -> DecodeError:
        # protobuf stops at 100 levels; OTLP JSON values can nest deeper than Python's stack
        return DecodeError(f"{self.name}: values nested too deeply")

    def _events(self, request: Any, message: RawMessage) -> tuple[list[TelemetryEventType], int]:
        """The events of ``request`` and the latest of their times in unix ns."""
        raise NotImplementedError


class OtlpTracesDecoder(_OtlpDecoder):
    """OTLP traces (protobuf or JSON) to :class:`SpanRecord` events."""

    name = "otlp_traces"
    request_type = ExportTraceServiceRequest
    resources_field = "resource_spans"

    def decode_rows(self, message: RawMessage) -> tuple[list[SpanRow], float]:
        """The spans of one request as :class:`SpanRow` (what the normalizer reads).

        The same checks and errors as ``decode``, and ``SpanRow.of`` of each span it
        returns, at a fraction of the cost: no datetime, attribute dict or model per span.
        """
        try:
            rows, high_ns = self._rows(self._read(message))
        except RecursionError:
            raise self._too_deep() from None
        return rows, high_ns // 1000 / 1e6

    def _rows(self, request: Any) -> tuple[list[SpanRow], int]:
        out: list[SpanRow] = []
        append, new, row = out.append, tuple.__new__, SpanRow
        kinds, n_kinds, fallback = _SPAN_KINDS, len(_SPAN_KINDS), _PEER_FALLBACK_KINDS
        high_ns = 0
        for at, service, spans in _scopes(request):
            for i, span in enumerate(spans):
                span_id = span.span_id.hex()
                start_ns = span.start_time_unix_nano
                end_ns = span.end_time_unix_nano
                if not span_id or not start_ns or end_ns < start_ns or not span.trace_id:
                    raise _bad_span(self.name, (*at, i), span)
                if end_ns > high_ns:
                    high_ns = end_ns
                kind_number = span.kind
                kind = kinds[kind_number] if 0 <= kind_number < n_kinds else kinds[0]
                pairs = span.attributes
                ms = (end_ns - start_ns) / 1e6
                append(
                    new(
                        row,
                        (
                            start_ns // 1000 / 1_000_000 + ms / 1000.0,  # = timestamp()
                            ms,
                            service,
                            kind,
                            span.parent_span_id.hex(),
                            span_id,
                            _peer(pairs, kind in fallback) if pairs else "",
                            span.status.code == _STATUS_ERROR,
                        ),
                    )
                )
        return out, high_ns

    def _events(self, request: Any, message: RawMessage) -> tuple[list[TelemetryEventType], int]:
        out: list[TelemetryEventType] = []
        append = out.append
        construct, to_datetime, to_dict = construct_trusted, datetime_from_ns, attributes_to_dict
        kinds, n_kinds, fallback = _SPAN_KINDS, len(_SPAN_KINDS), _PEER_FALLBACK_KINDS
        high_ns = 0
        for at, service, spans in _scopes(request):
            for i, span in enumerate(spans):
                trace_id = span.trace_id.hex()
                span_id = span.span_id.hex()
                start_ns = span.start_time_unix_nano
                end_ns = span.end_time_unix_nano
                if not trace_id or not span_id or not start_ns or end_ns < start_ns:
                    raise _bad_span(self.name, (*at, i), span)
                if end_ns > high_ns:
                    high_ns = end_ns
                kind_number = span.kind
                kind = kinds[kind_number] if 0 <= kind_number < n_kinds else kinds[0]
                pairs = span.attributes
                if pairs:
                    attributes = to_dict(pairs)
                    peer = attributes.get("peer.service") or (
                        (attributes.get("server.address") or attributes.get("net.peer.name"))
                        if kind in fallback
                        else ""
                    )
                else:
                    attributes, peer = {}, ""
                append(
                    construct(
                        SpanRecord,
                        {
                            "kind": "span",
                            "trace_id": trace_id,
                            "span_id": span_id,
                            "parent_span_id": span.parent_span_id.hex(),
                            "service": service,
                            "name": span.name,
                            "span_kind": kind,
                            "start_at": to_datetime(start_ns),
                            "duration_ms": (end_ns - start_ns) / 1e6,
                            "is_error": span.status.code == _STATUS_ERROR,
                            "peer_service": peer or "",
                            "attributes": attributes,
                        },
                    )
                )
        return out, high_ns


def _scopes(request: Any) -> Iterator[tuple[tuple[int, int], str, Any]]:
    """Each scope's spans with its place in the request and the service of its resource."""
    for r, resource_spans in enumerate(request.resource_spans):
        service = service_name(resource_spans.resource)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            yield (r, s), service, scope_spans.spans


def _peer(attributes: Iterable[Any], fallback: bool) -> str:
    """``peer_service`` read from OTLP attributes (the last value of a repeated key wins)."""
    peer = server = net = ""
    for kv in attributes:
        key = kv.key
        if key == "peer.service":
            peer = kv.value.string_value or any_value_to_str(kv.value)
        elif key == "server.address":
            server = kv.value.string_value or any_value_to_str(kv.value)
        elif key == "net.peer.name":
            net = kv.value.string_value or any_value_to_str(kv.value)
    return peer or ((server or net) if fallback else "")


def peer_service(kind: SpanKind, attributes: dict[str, str]) -> str:
    """The callee a span names: ``peer.service``, else (CLIENT/PRODUCER) its server address.

    >>> peer_service(SpanKind.CLIENT, {"server.address": "db"})
    'db'
    >>> peer_service(SpanKind.SERVER, {"server.address": "checkout"})
    ''
    >>> peer_service(SpanKind.INTERNAL, {"peer.service": "cache"})
    'cache'
    """
    peer = attributes.get("peer.service")
    if peer:
        return peer
    if kind in _PEER_FALLBACK_KINDS:
        return attributes.get("server.address") or attributes.get("net.peer.name") or ""
    return ""


def _bad_span(decoder: str, at: tuple[int, int, int], span: Any) -> ValidationFailedError:
    r, s, i = at
    where = f"resource_spans[{r}].scope_spans[{s}].spans[{i}]"
    if not span.trace_id:
        problem = "trace_id is empty"
    elif not span.span_id:
        problem = "span_id is empty"
    elif not span.start_time_unix_nano:
        problem = "start_time_unix_nano is 0 (unset)"
    else:
        problem = (
            f"end_time_unix_nano {span.end_time_unix_nano} is before "
            f"start_time_unix_nano {span.start_time_unix_nano}"
        )
    return ValidationFailedError(f"{decoder}: {where}: {problem}")


class OtlpMetricsDecoder(_OtlpDecoder):
    """OTLP metrics (protobuf or JSON) to :class:`MetricPoint` events; see :mod:`.otlp_metrics`."""

    name = "otlp_metrics"
    request_type = ExportMetricsServiceRequest
    resources_field = "resource_metrics"

    def _events(self, request: Any, message: RawMessage) -> tuple[list[TelemetryEventType], int]:
        out: list[TelemetryEventType] = []
        for r, resource_metrics in enumerate(request.resource_metrics):
            service = service_name(resource_metrics.resource)
            for s, scope_metrics in enumerate(resource_metrics.scope_metrics):
                for m, metric in enumerate(scope_metrics.metrics):
                    where = f"resource_metrics[{r}].scope_metrics[{s}].metrics[{m}]"
                    out.extend(metric_points(metric, service, self.name, where))
        latest = max((point.observed_at for point in out), default=None)  # type: ignore[union-attr]
        return out, 0 if latest is None else ns_from_datetime(latest)


class OtlpLogsDecoder(_OtlpDecoder):
    """OTLP logs (protobuf or JSON) to :class:`LogRecord` events."""

    name = "otlp_logs"
    request_type = ExportLogsServiceRequest
    resources_field = "resource_logs"

    def _events(self, request: Any, message: RawMessage) -> tuple[list[TelemetryEventType], int]:
        out: list[TelemetryEventType] = []
        construct = construct_trusted
        fallback_ns = message.timestamp_ms * 1_000_000
        high_ns = 0
        for r, resource_logs in enumerate(request.resource_logs):
            service = service_name(resource_logs.resource)
            for s, scope_logs in enumerate(resource_logs.scope_logs):
                for i, record in enumerate(scope_logs.log_records):
                    at_ns = record.time_unix_nano or record.observed_time_unix_nano or fallback_ns
                    if at_ns <= 0:
                        raise ValidationFailedError(
                            f"{self.name}: resource_logs[{r}].scope_logs[{s}].log_records[{i}]: "
                            "time_unix_nano and observed_time_unix_nano are 0 (unset) and the "
                            "Kafka record has no timestamp"
                        )
                    if at_ns > high_ns:
                        high_ns = at_ns
                    pairs = record.attributes
                    out.append(
                        construct(
                            LogRecord,
                            {
                                "kind": "log",
                                "service": service,
                                "observed_at": datetime_from_ns(at_ns),
                                "severity": severity_name(
                                    record.severity_text, record.severity_number
                                ),
                                "body": any_value_to_str(record.body),
                                "attributes": attributes_to_dict(pairs) if pairs else {},
                                "trace_id": record.trace_id.hex(),
                            },
                        )
                    )
        return out, high_ns


def severity_name(text: str, number: int) -> str:
    """Upper-case severity: the text if set, else the OTLP range of ``number``.

    >>> severity_name("warning", 13), severity_name("", 17), severity_name("", 0)
    ('WARNING', 'ERROR', 'UNSPECIFIED')
    """
    text = text.strip()
    if text:
        return text.upper()
    if 1 <= number <= 24:
        return _SEVERITY_RANGES[(number - 1) // 4]
    return "UNSPECIFIED"
