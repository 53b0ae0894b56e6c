"""JSON lines of our own event shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from correlator.errors import DecodeError, ValidationFailedError
from correlator.ingest.decoders import JsonLinesDecoder
from correlator.model.message import RawMessage
from correlator.model.telemetry import AlertEvent, LogRecord, MetricPoint, SpanRecord

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)
EVENTS = [
    MetricPoint(
        name="queue.depth", service="orders", value=12.0, observed_at=AT, labels={"queue": "emails"}
    ),
    SpanRecord(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        service="orders",
        start_at=AT,
        duration_ms=31.5,
        peer_service="db",
    ),
    LogRecord(service="orders", observed_at=AT, severity="ERROR", body="payment timed out"),
    AlertEvent(labels={"alertname": "Backlog"}, starts_at=AT),
]


def lines(*objects: Any) -> bytes:
    return "\n".join(json.dumps(o) for o in objects).encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lines(*[e.model_dump(mode="json") for e in EVENTS]), id="one-per-line"),
        pytest.param(
            b"\n" + lines(*[e.model_dump(mode="json") for e in EVENTS]) + b"\n\n",
            id="blank-lines-skipped",
        ),
        pytest.param(
            lines(*[e.model_dump(mode="json") for e in EVENTS]).replace(b"\n", b"\r\n"), id="crlf"
        ),
    ],
)
def test_round_trip_every_kind(body: bytes) -> None:
    assert JsonLinesDecoder().decode(RawMessage("events", body)) == EVENTS


def test_single_object_with_unix_time() -> None:
    [event] = JsonLinesDecoder().decode(
        RawMessage(
            "events",
            lines(
                {
                    "kind": "metric",
                    "name": "m",
                    "service": "s",
                    "value": "1.5",
                    "observed_at": 1714564800,
                }
            ),
        )
    )
    assert event == MetricPoint(name="m", service="s", value=1.5, observed_at=AT)


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        pytest.param(None, DecodeError, "empty message", id="tombstone"),
        pytest.param(b"\n \n", DecodeError, "only blank lines", id="blank"),
        pytest.param(
            b'{"kind": "metric"',
            DecodeError,
            "line 1: invalid JSON at column 18",
            id="invalid-json",
        ),
        pytest.param(
            b'{"kind": "log"}\n\xff', DecodeError, "not valid UTF-8 at byte 16", id="invalid-utf8"
        ),
        pytest.param(
            b"[1, 2]", ValidationFailedError, "line 1: expected a JSON object", id="not-an-object"
        ),
        pytest.param(
            lines({"name": "x"}),
            ValidationFailedError,
            "line 1: Unable to extract tag using discriminator 'kind'",
            id="no-kind",
        ),
        pytest.param(
            lines({"kind": "trace"}),
            ValidationFailedError,
            "line 1: Input tag 'trace' found using 'kind' does not match",
            id="unknown-kind",
        ),
        pytest.param(
            lines(
                {"kind": "log", "service": "s", "observed_at": 0, "body": "ok"},
                {
                    "kind": "metric",
                    "name": "x",
                    "service": "s",
                    "value": "abc",
                    "observed_at": "2024-05-01T12:00:00Z",
                },
            ),
            ValidationFailedError,
            r"line 2 \(kind=metric\): value: Input should be a valid number",
            id="wrong-type",
        ),
        pytest.param(
            lines({"kind": "span", "service": "s"}),
            ValidationFailedError,
            r"line 1 \(kind=span\): trace_id: Field required",
            id="missing-fields",
        ),
        pytest.param(
            lines(
                {"kind": "log", "service": "s", "body": "b", "observed_at": "2024-05-01T12:00:00"}
            ),
            ValidationFailedError,
            "observed_at: Input should have timezone info",
            id="naive-time",
        ),
        pytest.param(
            lines({"kind": "log", "service": "s", "body": "b", "observed_at": 0, "extra": 1}),
            ValidationFailedError,
            "extra: Extra inputs are not permitted",
            id="unknown-field",
        ),
    ],
)
def test_bad_lines(body: bytes | None, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        JsonLinesDecoder().decode(RawMessage("events", body))
    assert type(caught.value) is error
    assert str(caught.value).startswith("jsonlines: ")
