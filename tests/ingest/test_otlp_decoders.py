"""OTLP decoders over real opentelemetry-proto requests, protobuf and OTLP JSON."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as OtlpLog
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
    Summary,
    SummaryDataPoint,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from correlator.errors import DecodeError, MessageTooLargeError, ValidationFailedError
from correlator.ingest.decoders import OtlpLogsDecoder, OtlpMetricsDecoder, OtlpTracesDecoder
from correlator.ingest.otlp_encode import (
    encode_logs,
    encode_logs_json,
    encode_metrics,
    encode_metrics_json,
    encode_spans,
    encode_spans_json,
    otlp_json,
)
from correlator.model.message import RawMessage
from correlator.model.telemetry import LogRecord, MetricPoint, SpanKind, SpanRecord, SpanRow

T0 = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)
T0_NS = 1_714_564_800_250_000_000
TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"
PARENT = "eee19b7ec3c1b173"


def kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def resource(service: str | None) -> Resource:
    attrs = [kv("host.name", "node-1")]
    if service is not None:
        attrs.append(kv("service.name", service))
    return Resource(attributes=attrs)


def trace_request(*spans: Span, service: str | None = "checkout") -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(resource=resource(service), scope_spans=[ScopeSpans(spans=list(spans))])
        ]
    )


def span(**overrides: Any) -> Span:
    fields: dict[str, Any] = {
        "trace_id": bytes.fromhex(TRACE),
        "span_id": bytes.fromhex(SPAN),
        "parent_span_id": bytes.fromhex(PARENT),
        "name": "GET /cart",
        "kind": Span.SPAN_KIND_CLIENT,
        "start_time_unix_nano": T0_NS,
        "end_time_unix_nano": T0_NS + 12_500_000,
        "attributes": [kv("peer.service", "cart"), kv("http.status_code", 503)],
        "status": Status(code=Status.STATUS_CODE_ERROR),
    }
    fields.update(overrides)
    return Span(**fields)


def as_proto(request: Any) -> RawMessage:
    return RawMessage("otlp_spans", request.SerializeToString())


def as_json(request: Any) -> RawMessage:
    return RawMessage("otlp_spans", otlp_json(request))


ENCODINGS = [pytest.param(as_proto, id="protobuf"), pytest.param(as_json, id="json")]


# ---- traces -------------------------------------------------------------------------


@pytest.mark.parametrize("encode", ENCODINGS)
def test_span_fields(encode: Any) -> None:
    [record] = OtlpTracesDecoder().decode(encode(trace_request(span())))
    assert record == SpanRecord(
        trace_id=TRACE,
        span_id=SPAN,
        parent_span_id=PARENT,
        service="checkout",
        name="GET /cart",
        span_kind=SpanKind.CLIENT,
        start_at=T0,
        duration_ms=12.5,
        is_error=True,
        peer_service="cart",
        attributes={"peer.service": "cart", "http.status_code": "503"},
    )
    assert record.start_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("overrides", "service", "expected"),
    [
        pytest.param({}, None, {"service": "unknown_service"}, id="no-service-name"),
        pytest.param(
            {"kind": Span.SPAN_KIND_CLIENT, "attributes": [kv("server.address", "db")]},
            "api",
            {"peer_service": "db", "span_kind": SpanKind.CLIENT},
            id="client-server-address",
        ),
        pytest.param(
            {"kind": Span.SPAN_KIND_PRODUCER, "attributes": [kv("net.peer.name", "kafka")]},
            "api",
            {"peer_service": "kafka"},
            id="producer-net-peer-name",
        ),
        pytest.param(
            {"kind": Span.SPAN_KIND_SERVER, "attributes": [kv("server.address", "api")]},
            "api",
            {"peer_service": "", "span_kind": SpanKind.SERVER},
            id="server-address-ignored-on-server",
        ),
        pytest.param(
            {"status": Status(code=Status.STATUS_CODE_OK)},
            "api",
            {"is_error": False},
            id="status-ok",
        ),
        pytest.param({"kind": 42}, "api", {"span_kind": SpanKind.UNSPECIFIED}, id="unknown-kind"),
        pytest.param({"parent_span_id": b""}, "api", {"parent_span_id": ""}, id="root-span"),
        pytest.param(
            {
                "attributes": [
                    kv("ok", True),
                    kv("ratio", 0.5),
                    KeyValue(
                        key="map", value=AnyValue(kvlist_value=KeyValueList(values=[kv("a", 1)]))
                    ),
                ]
            },
            "api",
            {"attributes": {"ok": "true", "ratio": "0.5", "map": '{"a":1}'}},
            id="attribute-types",
        ),
        pytest.param(
            {"end_time_unix_nano": T0_NS}, "api", {"duration_ms": 0.0}, id="zero-duration"
        ),
        pytest.param(
            {"attributes": [kv("peer.service", "a"), kv("x", 1), kv("peer.service", "b")]},
            "api",
            {"peer_service": "b"},
            id="repeated-peer-last-wins",
        ),
        pytest.param(
            {"attributes": [kv("peer.service", ""), kv("net.peer.name", "mq")]},
            "api",
            {"peer_service": "mq"},
            id="empty-peer-falls-back-on-client",
        ),
        pytest.param(
            {"kind": Span.SPAN_KIND_INTERNAL, "attributes": [kv("peer.service", 7)]},
            "api",
            {"peer_service": "7", "span_kind": SpanKind.INTERNAL},
            id="non-string-peer",
        ),
        pytest.param(
            {"start_time_unix_nano": 2**63, "end_time_unix_nano": 2**63 + 1_234_567},
            "api",
            {"duration_ms": 1.234567},
            id="beyond-year-2106",
        ),
    ],
)
@pytest.mark.parametrize("encode", ENCODINGS)
def test_span_mapping(
    encode: Any, overrides: dict[str, Any], service: str | None, expected: dict[str, Any]
) -> None:
    message = encode(trace_request(span(**overrides), service=service))
    [record] = OtlpTracesDecoder().decode(message)
    assert {key: getattr(record, key) for key in expected} == expected
    rows, latest = OtlpTracesDecoder().decode_rows(message)
    assert rows == [SpanRow.of(record)]
    assert latest == pytest.approx(rows[0].end_s, abs=2e-6)  # µs, one float ulp at 2262


def test_spans_of_several_resources_and_scopes() -> None:
    request = trace_request(span(), span(span_id=b"\x01" * 8))
    request.resource_spans.append(
        ResourceSpans(
            resource=resource("cart"),
            scope_spans=[ScopeSpans(spans=[span()]), ScopeSpans(spans=[span()])],
        )
    )
    records = OtlpTracesDecoder().decode(as_proto(request))
    assert [r.service for r in records] == ["checkout", "checkout", "cart", "cart"]


def test_empty_json_request_is_no_spans() -> None:
    message = RawMessage("otlp_spans", b' {"resourceSpans": []}')
    assert OtlpTracesDecoder().decode(message) == []


def test_content_type_header_wins_over_sniffing() -> None:
    body = otlp_json(trace_request(span()))
    as_proto_header = RawMessage("t", body, headers=(("content-type", b"application/x-protobuf"),))
    with pytest.raises(DecodeError, match="not a valid ExportTraceServiceRequest protobuf"):
        OtlpTracesDecoder().decode(as_proto_header)
    padded = RawMessage(
        "t", b"\n\n" + body, headers=(("content-type", b"application/json; charset=utf-8"),)
    )
    assert len(OtlpTracesDecoder().decode(padded)) == 1


def test_json_accepts_snake_case_and_string_enums() -> None:
    body = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": TRACE,
                                "span_id": SPAN,
                                "kind": "SPAN_KIND_SERVER",
                                "start_time_unix_nano": T0_NS,
                                "end_time_unix_nano": str(T0_NS + 1_000_000),
                                "unknownField": {"ignored": True},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    [record] = OtlpTracesDecoder().decode(RawMessage("t", json.dumps(body).encode()))
    assert (record.trace_id, record.span_kind, record.duration_ms) == (TRACE, SpanKind.SERVER, 1.0)


# OTLP JSON written by hand after the examples in opentelemetry-proto (examples/*.json)
SPEC_TRACE = b"""{"resourceSpans": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
  "scopeSpans": [{
    "scope": {"name": "my.library", "version": "1.0.0",
              "attributes": [{"key": "my.scope.attribute",
                              "value": {"stringValue": "some scope attribute"}}]},
    "spans": [{
      "traceId": "5B8EFFF798038103D269B633813FC60C",
      "spanId": "EEE19B7EC3C1B174",
      "parentSpanId": "EEE19B7EC3C1B173",
      "name": "I'm a server span",
      "startTimeUnixNano": "1544712660000000000",
      "endTimeUnixNano": "1544712661000000000",
      "kind": 2,
      "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]
    }]
  }]
}]}"""

SPEC_METRICS = b"""{"resourceMetrics": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
  "scopeMetrics": [{
    "scope": {"name": "my.library", "version": "1.0.0"},
    "metrics": [
      {"name": "my.counter", "unit": "1", "description": "I am a Counter",
       "sum": {"aggregationTemporality": 1, "isMonotonic": true,
               "dataPoints": [{"asDouble": 5, "startTimeUnixNano": "1544712660300000000",
                               "timeUnixNano": "1544712660300000000",
                               "attributes": [{"key": "my.counter.attr",
                                               "value": {"stringValue": "some value"}}]}]}},
      {"name": "my.gauge", "unit": "1", "description": "I am a Gauge",
       "gauge": {"dataPoints": [{"asDouble": 10, "timeUnixNano": "1544712660300000000"}]}},
      {"name": "my.histogram", "unit": "1", "description": "I am a Histogram",
       "histogram": {"aggregationTemporality": 1,
                     "dataPoints": [{"startTimeUnixNano": "1544712660300000000",
                                     "timeUnixNano": "1544712660300000000",
                                     "count": 2, "sum": 2, "bucketCounts": [1, 1],
                                     "explicitBounds": [1], "min": 0, "max": 2}]}}
    ]
  }]
}]}"""

SPEC_LOGS = b"""{"resourceLogs": [{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
  "scopeLogs": [{
    "scope": {"name": "my.library", "version": "1.0.0"},
    "logRecords": [{
      "timeUnixNano": "1544712660300000000",
      "observedTimeUnixNano": "1544712660300000000",
      "severityNumber": 10,
      "severityText": "Information",
      "traceId": "5B8EFFF798038103D269B633813FC60C",
      "spanId": "EEE19B7EC3C1B174",
      "body": {"stringValue": "Example log record"},
      "attributes": [
        {"key": "string.attribute", "value": {"stringValue": "some string"}},
        {"key": "boolean.attribute", "value": {"boolValue": true}},
        {"key": "int.attribute", "value": {"intValue": "10"}},
        {"key": "double.attribute", "value": {"doubleValue": 637.704}},
        {"key": "array.attribute", "value": {"arrayValue": {"values": [
          {"stringValue": "many"}, {"stringValue": "values"}]}}},
        {"key": "map.attribute", "value": {"kvlistValue": {"values": [
          {"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
      ]
    }]
  }]
}]}"""

SPEC_AT = datetime(2018, 12, 13, 14, 51, 0, 300_000, tzinfo=UTC)


def test_spec_example_trace_json() -> None:
    [record] = OtlpTracesDecoder().decode(RawMessage("otlp_spans", SPEC_TRACE))
    assert record == SpanRecord(
        trace_id="5b8efff798038103d269b633813fc60c",
        span_id="eee19b7ec3c1b174",
        parent_span_id="eee19b7ec3c1b173",
        service="my.service",
        name="I'm a server span",
        span_kind=SpanKind.SERVER,
        start_at=datetime(2018, 12, 13, 14, 51, tzinfo=UTC),
        duration_ms=1000.0,
        attributes={"my.span.attr": "some value"},
    )


def test_spec_example_metrics_json() -> None:
    points = OtlpMetricsDecoder().decode(RawMessage("otlp_metrics", SPEC_METRICS))
    assert values(points) == {
        "my.counter": 5.0,
        "my.gauge": 10.0,
        "my.histogram.count": 2.0,
        "my.histogram.sum": 2.0,
        "my.histogram.p50": 1.0,
        "my.histogram.p99": 1.98,
    }
    assert points[0].labels == {"my.counter.attr": "some value"}
    assert {(p.service, p.observed_at) for p in points} == {("my.service", SPEC_AT)}


def test_spec_example_logs_json() -> None:
    [log] = OtlpLogsDecoder().decode(RawMessage("otlp_logs", SPEC_LOGS))
    assert log == LogRecord(
        service="my.service",
        observed_at=SPEC_AT,
        severity="INFORMATION",
        body="Example log record",
        trace_id="5b8efff798038103d269b633813fc60c",
        attributes={
            "string.attribute": "some string",
            "boolean.attribute": "true",
            "int.attribute": "10",
            "double.attribute": "637.704",
            "array.attribute": '["many","values"]',
            "map.attribute": '{"some.map.key":"some value"}',
        },
    )


# ---- bad input ------------------------------------------------------------------------

GOOD_SPANS = trace_request(span(), span()).SerializeToString()


def _json_span(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": SPAN,
        "startTimeUnixNano": str(T0_NS),
        "endTimeUnixNano": str(T0_NS + 1),
    }
    base.update(fields)
    base = {k: v for k, v in base.items() if v is not None}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [base]}]}]}).encode()


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        pytest.param(None, DecodeError, "empty message", id="tombstone"),
        pytest.param(b"", DecodeError, "empty message", id="empty"),
        # cut inside the first ResourceSpans (a length-delimited field): cannot parse
        pytest.param(
            GOOD_SPANS[: len(GOOD_SPANS) // 2],
            DecodeError,
            "not a valid ExportTraceServiceRequest protobuf",
            id="truncated-protobuf",
        ),
        pytest.param(
            GOOD_SPANS[:-1], DecodeError, "truncated or not OTLP", id="truncated-last-byte"
        ),
        pytest.param(b"hello world", DecodeError, "otlp_traces", id="text-not-protobuf"),
        pytest.param(b"\x98\x01\x05", DecodeError, "no resource_spans", id="only-unknown-fields"),
        pytest.param(
            b'{"resourceSpans": [',
            DecodeError,
            "invalid JSON at line 1 column 20",
            id="invalid-json",
        ),
        pytest.param(
            b'{"resourceSpans": "\xff"}',
            DecodeError,
            "not valid UTF-8 at byte 19",
            id="invalid-utf8",
        ),
        pytest.param(
            b'{"foo": 1}',
            ValidationFailedError,
            "missing field 'resourceSpans'",
            id="json-missing-resource-spans",
        ),
        pytest.param(
            b'{"resourceSpans": {"a": 1}}',
            ValidationFailedError,
            "resourceSpans: expected a list, got object",
            id="json-object-not-list",
        ),
        pytest.param(
            b'{"resourceSpans": ["x"]}',
            ValidationFailedError,
            r"resourceSpans\[0\]: expected an object, got string",
            id="json-string-item",
        ),
        pytest.param(
            _json_span(startTimeUnixNano="abc"),
            ValidationFailedError,
            r"resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.startTimeUnixNano: "
            'expected an integer, got "abc"',
            id="json-wrong-type",
        ),
        pytest.param(
            _json_span(traceId="not-hex"),
            ValidationFailedError,
            r"spans\[0\]\.traceId: 'not-hex' is not a hex id",
            id="json-bad-hex-id",
        ),
        pytest.param(
            _json_span(kind="BOGUS"),
            ValidationFailedError,
            "kind: expected an enum number",
            id="json-unknown-enum-name",
        ),
        pytest.param(
            _json_span(name=5),
            ValidationFailedError,
            "name: expected a string",
            id="json-number-for-string",
        ),
        pytest.param(
            _json_span(startTimeUnixNano=-1),
            ValidationFailedError,
            "startTimeUnixNano: Value out of range",
            id="json-negative-uint",
        ),
        pytest.param(
            _json_span(traceId=None),
            ValidationFailedError,
            r"spans\[0\]: trace_id is empty",
            id="missing-trace-id",
        ),
        pytest.param(
            _json_span(startTimeUnixNano=None),
            ValidationFailedError,
            "start_time_unix_nano is 0",
            id="missing-start",
        ),
        pytest.param(
            _json_span(endTimeUnixNano=str(T0_NS - 1)),
            ValidationFailedError,
            "is before start_time_unix_nano",
            id="end-before-start",
        ),
        pytest.param(
            trace_request(span(span_id=b"")).SerializeToString(),
            ValidationFailedError,
            "span_id is empty",
            id="protobuf-missing-span-id",
        ),
    ],
)
def test_bad_trace_messages(value: bytes | None, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        OtlpTracesDecoder().decode(RawMessage("otlp_spans", value))
    assert str(caught.value).startswith("otlp_traces: ")
    assert type(caught.value) is error
    with pytest.raises(error) as as_rows:
        OtlpTracesDecoder().decode_rows(RawMessage("otlp_spans", value))
    assert str(as_rows.value) == str(caught.value)


@pytest.mark.parametrize("depth", [50, 400, 2000])
def test_deeply_nested_json_values_do_not_escape(depth: int) -> None:
    value = '{"stringValue": "x"}'
    for _ in range(depth):
        value = '{"arrayValue": {"values": [' + value + "]}}"
    attribute = b'[{"key": "k", "value": ' + value.encode() + b"}]"
    body = _json_span(attributes=[]).replace(b'"attributes": []', b'"attributes": ' + attribute)
    try:
        [record] = OtlpTracesDecoder().decode(RawMessage("t", body))
    except DecodeError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert record.attributes["k"].startswith("[[[")
    peer = body.replace(b'"key": "k"', b'"key": "peer.service"')
    try:
        rows, _ = OtlpTracesDecoder().decode_rows(RawMessage("t", peer))
    except DecodeError as exc:
        assert "nested too deeply" in str(exc)
    else:
        assert rows[0].peer_service.startswith("[[[")


def test_oversized_protobuf_is_rejected_before_parsing() -> None:
    with pytest.raises(MessageTooLargeError, match="above max_message_bytes=100"):
        OtlpTracesDecoder(max_message_bytes=100).decode(RawMessage("t", GOOD_SPANS * 10))


def test_metrics_request_on_traces_topic_is_rejected() -> None:
    points = [MetricPoint(name="m", service="s", value=1.0, observed_at=T0)]
    with pytest.raises((DecodeError, ValidationFailedError)):
        OtlpTracesDecoder().decode(RawMessage("otlp_spans", encode_metrics(points)))


# ---- metrics --------------------------------------------------------------------------


def metrics_request(*metrics: Metric, service: str = "db") -> ExportMetricsServiceRequest:
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=resource(service), scope_metrics=[ScopeMetrics(metrics=list(metrics))]
            )
        ]
    )


def number(value: float | int, **extra: Any) -> NumberDataPoint:
    kwargs: dict[str, Any] = {"time_unix_nano": T0_NS, "attributes": [kv("pool", "main")]}
    kwargs["as_int" if isinstance(value, int) else "as_double"] = value
    kwargs.update(extra)
    return NumberDataPoint(**kwargs)


def histogram_point(**extra: Any) -> HistogramDataPoint:
    kwargs: dict[str, Any] = {
        "time_unix_nano": T0_NS,
        "count": 10,
        "sum": 150.0,
        "explicit_bounds": [10.0, 20.0],
        "bucket_counts": [2, 6, 2],
    }
    kwargs.update(extra)
    return HistogramDataPoint(**kwargs)


def values(points: list[Any]) -> dict[str, float]:
    return {p.name: p.value for p in points}


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        pytest.param(
            Metric(name="db.connections", gauge=Gauge(data_points=[number(0.75)])),
            {"db.connections": 0.75},
            id="gauge-double",
        ),
        pytest.param(
            Metric(name="requests", sum=Sum(data_points=[number(42)], is_monotonic=True)),
            {"requests": 42.0},
            id="sum-int",
        ),
        pytest.param(
            Metric(name="latency", histogram=Histogram(data_points=[histogram_point()])),
            {"latency.count": 10.0, "latency.sum": 150.0, "latency.p50": 15.0, "latency.p99": 20.0},
            id="histogram",
        ),
        pytest.param(
            Metric(
                name="latency",
                histogram=Histogram(data_points=[histogram_point(min=1.0, max=40.0)]),
            ),
            {"latency.count": 10.0, "latency.sum": 150.0, "latency.p50": 15.0, "latency.p99": 39.0},
            id="histogram-with-max",
        ),
        pytest.param(
            Metric(
                name="latency",
                histogram=Histogram(
                    data_points=[histogram_point(count=0, bucket_counts=[0, 0, 0])]
                ),
            ),
            {"latency.count": 0.0, "latency.sum": 150.0},
            id="histogram-empty",
        ),
        pytest.param(
            Metric(
                name="size",
                exponential_histogram=ExponentialHistogram(
                    data_points=[
                        ExponentialHistogramDataPoint(
                            time_unix_nano=T0_NS,
                            count=4,
                            sum=10.0,
                            scale=0,
                            positive=ExponentialHistogramDataPoint.Buckets(
                                offset=1, bucket_counts=[2, 2]
                            ),
                        )
                    ]
                ),
            ),
            {"size.count": 4.0, "size.sum": 10.0, "size.p50": 4.0, "size.p99": 7.92},
            id="exponential-histogram",
        ),
        pytest.param(
            Metric(
                name="rpc",
                summary=Summary(
                    data_points=[
                        SummaryDataPoint(
                            time_unix_nano=T0_NS,
                            count=3,
                            sum=9.0,
                            quantile_values=[
                                SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0),
                                SummaryDataPoint.ValueAtQuantile(quantile=0.999, value=7.0),
                            ],
                        )
                    ]
                ),
            ),
            {"rpc.count": 3.0, "rpc.sum": 9.0, "rpc.p50": 2.0, "rpc.p99_9": 7.0},
            id="summary",
        ),
        pytest.param(
            Metric(
                name="g",
                gauge=Gauge(
                    data_points=[
                        number(1.0, flags=1),
                        number(math.nan),
                        number(math.inf),
                        number(2.0),
                    ]
                ),
            ),
            {"g": 2.0},
            id="skips-no-recorded-value-and-non-finite",
        ),
        pytest.param(Metric(name="meta-only"), {}, id="no-data"),
    ],
)
@pytest.mark.parametrize("encode", ENCODINGS)
def test_metric_points(encode: Any, metric: Metric, expected: dict[str, float]) -> None:
    points = OtlpMetricsDecoder().decode(encode(metrics_request(metric)))
    assert values(points) == pytest.approx(expected)
    for point in points:
        assert isinstance(point, MetricPoint)
        assert (point.service, point.observed_at) == ("db", T0)
    if points and "gauge" in str(metric.WhichOneof("data")):
        assert points[0].labels == {"pool": "main"}


@pytest.mark.parametrize(
    ("metric", "match"),
    [
        pytest.param(
            Metric(name="", gauge=Gauge(data_points=[number(1.0)])),
            "name is empty",
            id="empty-name",
        ),
        pytest.param(
            Metric(name="g", gauge=Gauge(data_points=[NumberDataPoint(time_unix_nano=T0_NS)])),
            r"gauge\.data_points\[0\]: neither as_double nor as_int",
            id="missing-value",
        ),
        pytest.param(
            Metric(name="g", gauge=Gauge(data_points=[number(1.0, time_unix_nano=0)])),
            "time_unix_nano is 0",
            id="missing-time",
        ),
        pytest.param(
            Metric(
                name="h", histogram=Histogram(data_points=[histogram_point(bucket_counts=[1, 2])])
            ),
            "2 bucket_counts for 2 explicit_bounds",
            id="histogram-bucket-mismatch",
        ),
    ],
)
def test_bad_metrics(metric: Metric, match: str) -> None:
    with pytest.raises(ValidationFailedError, match=match) as caught:
        OtlpMetricsDecoder().decode(as_proto(metrics_request(metric)))
    assert "resource_metrics[0].scope_metrics[0].metrics[0]" in str(caught.value)


def test_metrics_json_wrong_value_type() -> None:
    body = json.dumps(
        {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "g",
                                    "gauge": {
                                        "dataPoints": [{"timeUnixNano": "1", "asDouble": "abc"}]
                                    },
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    with pytest.raises(
        ValidationFailedError,
        match=r"metrics\[0\]\.gauge\.dataPoints\[0\]\.asDouble: expected a number",
    ):
        OtlpMetricsDecoder().decode(RawMessage("otlp_metrics", body))


def test_metrics_json_special_floats_and_string_ints() -> None:
    body = json.dumps(
        {
            "resourceMetrics": [
                {
                    "scopeMetrics": [
                        {
                            "metrics": [
                                {
                                    "name": "g",
                                    "gauge": {
                                        "dataPoints": [
                                            {"timeUnixNano": str(T0_NS), "asDouble": "NaN"},
                                            {"timeUnixNano": str(T0_NS), "asInt": "7"},
                                        ]
                                    },
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    ).encode()
    assert values(OtlpMetricsDecoder().decode(RawMessage("m", body))) == {"g": 7.0}


# ---- logs -----------------------------------------------------------------------------


def logs_request(*records: OtlpLog, service: str = "payments") -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource(service), scope_logs=[ScopeLogs(log_records=list(records))]
            )
        ]
    )


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(
            OtlpLog(
                time_unix_nano=T0_NS,
                severity_text="error",
                severity_number=17,
                body=AnyValue(string_value="pool exhausted"),
                trace_id=bytes.fromhex(TRACE),
                attributes=[kv("thread", "main")],
            ),
            {
                "severity": "ERROR",
                "body": "pool exhausted",
                "trace_id": TRACE,
                "observed_at": T0,
                "attributes": {"thread": "main"},
            },
            id="full",
        ),
        pytest.param(
            OtlpLog(observed_time_unix_nano=T0_NS, severity_number=13, body=AnyValue(int_value=5)),
            {"severity": "WARN", "body": "5", "observed_at": T0, "trace_id": ""},
            id="observed-time-and-number",
        ),
        pytest.param(
            OtlpLog(time_unix_nano=T0_NS), {"severity": "UNSPECIFIED", "body": ""}, id="bare"
        ),
        pytest.param(
            OtlpLog(
                time_unix_nano=T0_NS,
                body=AnyValue(
                    kvlist_value=KeyValueList(values=[kv("event", "login"), kv("ok", False)])
                ),
            ),
            {"body": '{"event":"login","ok":false}'},
            id="structured-body",
        ),
    ],
)
@pytest.mark.parametrize("encode", ENCODINGS)
def test_log_records(encode: Any, record: OtlpLog, expected: dict[str, Any]) -> None:
    [log] = OtlpLogsDecoder().decode(encode(logs_request(record)))
    assert log.service == "payments"
    assert {key: getattr(log, key) for key in expected} == expected


def test_log_without_any_time_uses_kafka_timestamp_or_fails() -> None:
    body = logs_request(OtlpLog(body=AnyValue(string_value="x"))).SerializeToString()
    [log] = OtlpLogsDecoder().decode(RawMessage("otlp_logs", body, timestamp_ms=1_714_564_800_250))
    assert log.observed_at == T0
    with pytest.raises(ValidationFailedError, match=r"log_records\[0\]: time_unix_nano"):
        OtlpLogsDecoder().decode(RawMessage("otlp_logs", body))


# ---- round trips through otlp_encode --------------------------------------------------

SPANS = [
    SpanRecord(
        trace_id=TRACE,
        span_id=SPAN,
        service="checkout",
        name="GET /cart",
        span_kind=SpanKind.SERVER,
        start_at=T0,
        duration_ms=12.5,
    ),
    SpanRecord(
        trace_id=TRACE,
        span_id="eee19b7ec3c1b175",
        parent_span_id=SPAN,
        service="checkout",
        name="SELECT",
        span_kind=SpanKind.CLIENT,
        start_at=T0 + timedelta(microseconds=7),
        duration_ms=3.25,
        is_error=True,
        peer_service="db",
        attributes={"peer.service": "db", "db.system": "postgres"},
    ),
    SpanRecord(
        trace_id=TRACE,
        span_id="eee19b7ec3c1b176",
        service="db",
        name="query",
        start_at=T0,
        duration_ms=0.001,
    ),
]
POINTS = [
    MetricPoint(name="cpu", service="db", value=0.5, observed_at=T0, labels={"core": "0"}),
    MetricPoint(name="cpu", service="db", value=0.25, observed_at=T0, labels={"core": "1"}),
    MetricPoint(name="mem", service="db", value=1e9, observed_at=T0),
    MetricPoint(name="rps", service="web", value=-3.0, observed_at=T0 + timedelta(seconds=1)),
]
LOGS = [
    LogRecord(
        service="payments",
        observed_at=T0,
        severity="ERROR",
        body="timeout",
        trace_id=TRACE,
        attributes={"k": "v"},
    ),
    LogRecord(service="payments", observed_at=T0, severity="INFO", body="ok"),
    LogRecord(service="web", observed_at=T0, severity="WARN", body="slow"),
]


@pytest.mark.parametrize(
    ("encode", "decoder", "events"),
    [
        pytest.param(encode_spans, OtlpTracesDecoder(), SPANS, id="spans-protobuf"),
        pytest.param(encode_spans_json, OtlpTracesDecoder(), SPANS, id="spans-json"),
        pytest.param(encode_metrics, OtlpMetricsDecoder(), POINTS, id="metrics-protobuf"),
        pytest.param(encode_metrics_json, OtlpMetricsDecoder(), POINTS, id="metrics-json"),
        pytest.param(encode_logs, OtlpLogsDecoder(), LOGS, id="logs-protobuf"),
        pytest.param(encode_logs_json, OtlpLogsDecoder(), LOGS, id="logs-json"),
    ],
)
def test_round_trip(encode: Any, decoder: Any, events: list[Any]) -> None:
    decoded = decoder.decode(RawMessage("t", encode(events)))
    assert decoded == events
    # built without validation: they must pass it, and look exactly like validated models
    assert [type(e).model_validate(e.model_dump()) for e in decoded] == events
    assert [repr(e) for e in decoded] == [repr(e) for e in events]
    for event in decoded:
        assert list(event.__dict__) == list(type(event).model_fields)
        assert event.model_fields_set == set(type(event).model_fields)


def test_peer_service_is_written_as_attribute() -> None:
    source = SPANS[0].model_copy(update={"peer_service": "cart", "span_kind": SpanKind.CLIENT})
    [decoded] = OtlpTracesDecoder().decode(RawMessage("t", encode_spans([source])))
    assert decoded.peer_service == "cart"
    assert decoded.attributes == {"peer.service": "cart"}


def test_otlp_json_writes_hex_ids() -> None:
    body = json.loads(encode_spans_json(SPANS[1:2]))
    written = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert (written["traceId"], written["parentSpanId"], written["kind"]) == (TRACE, SPAN, 3)
