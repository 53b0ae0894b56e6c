"""Alertmanager webhook bodies and bare Prometheus alert lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from correlator.errors import DecodeError, ValidationFailedError
from correlator.ingest.decoders import AlertmanagerDecoder, decoder_for
from correlator.model.message import RawMessage
from correlator.model.telemetry import AlertEvent

# A webhook body as Alertmanager 0.25 posts it (version 4), two alerts in one group.
WEBHOOK = {
    "receiver": "correlator",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighLatency",
                "job": "checkout",
                "instance": "10.0.0.3:8080",
                "severity": "page",
            },
            "annotations": {"summary": "p99 above 1s"},
            "startsAt": "2024-05-01T13:58:00.123456789+01:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=latency",
            "fingerprint": "b8f3bd4e5e4c8a1d",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "DiskFull", "service": "db", "job": "node"},
            "annotations": {},
            "startsAt": "2024-05-01T12:00:00Z",
            "endsAt": "2024-05-01T12:05:00Z",
            "generatorURL": "",
            "fingerprint": "0a1b2c3d4e5f6071",
        },
    ],
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
}


def message(body: Any, timestamp_ms: int = 0) -> RawMessage:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawMessage("alertmanager", raw, timestamp_ms=timestamp_ms)


def test_webhook_body() -> None:
    first, second = AlertmanagerDecoder().decode(message(WEBHOOK))
    assert first == AlertEvent(
        status="firing",
        labels={
            "alertname": "HighLatency",
            "job": "checkout",
            "instance": "10.0.0.3:8080",
            "severity": "page",
            "service": "checkout",
        },
        annotations={"summary": "p99 above 1s"},
        starts_at=datetime(2024, 5, 1, 12, 58, 0, 123456, tzinfo=UTC),
        ends_at=None,
        generator_url="http://prometheus:9090/graph?g0.expr=latency",
        source_fingerprint="b8f3bd4e5e4c8a1d",
    )
    assert first.starts_at.tzinfo is UTC
    assert (second.status, second.labels["service"]) == ("resolved", "db")
    assert second.ends_at == datetime(2024, 5, 1, 12, 5, tzinfo=UTC)


RECEIVED_MS = 1_714_564_800_000  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        pytest.param(
            {"labels": {"alertname": "A", "app": "web"}}, {"service": "web"}, id="service-from-app"
        ),
        pytest.param(
            {"labels": {"alertname": "A", "instance": "h:1"}},
            {"service": "h:1"},
            id="service-from-instance",
        ),
        pytest.param(
            {"labels": {"alertname": "A", "service": "", "job": "j"}},
            {"service": "j"},
            id="empty-service-label-falls-back",
        ),
        pytest.param(
            {"labels": {"alertname": "A"}}, {"service": "unknown_service"}, id="no-service-label"
        ),
        pytest.param(
            {"labels": {"alertname": "A"}, "endsAt": "2024-05-01T11:59:00Z"},
            {"status": "resolved"},
            id="bare-ended-before-receipt-is-resolved",
        ),
        pytest.param(
            {"labels": {"alertname": "A"}, "endsAt": "2024-05-01T12:04:00Z"},
            {"status": "firing"},
            id="bare-ends-in-future-is-firing",
        ),
        pytest.param(
            {"labels": {"alertname": "A"}},
            {"starts_at": "received"},
            id="missing-starts-at-uses-record-time",
        ),
    ],
)
def test_bare_prometheus_alert_list(alert: dict[str, Any], expected: dict[str, str]) -> None:
    [event] = AlertmanagerDecoder().decode(message([alert], timestamp_ms=RECEIVED_MS))
    if "service" in expected:
        assert event.labels["service"] == expected["service"]
    if "status" in expected:
        assert event.status == expected["status"]
    if "starts_at" in expected:
        assert event.starts_at == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_empty_lists_are_no_alerts() -> None:
    assert AlertmanagerDecoder().decode(message([])) == []
    assert AlertmanagerDecoder().decode(message({"version": "4", "alerts": []})) == []


def test_service_labels_are_configurable() -> None:
    decoder = decoder_for("alertmanager", service_label="app", service_fallbacks=("namespace",))
    [event] = decoder.decode(
        message([{"labels": {"namespace": "shop"}, "startsAt": "2024-05-01T12:00:00Z"}])
    )
    assert event.labels == {"namespace": "shop", "app": "shop"}


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        pytest.param(b"", DecodeError, "empty message", id="empty"),
        pytest.param(
            b'{"alerts": [', DecodeError, "invalid JSON at line 1 column 13", id="invalid-json"
        ),
        pytest.param(b'["\xc3\x28"]', DecodeError, "not valid UTF-8 at byte 2", id="invalid-utf8"),
        pytest.param(
            {"receiver": "x"}, ValidationFailedError, "alerts: Field required", id="missing-alerts"
        ),
        pytest.param(
            {"version": "3", "alerts": []},
            ValidationFailedError,
            "version: Input should be '4'",
            id="unknown-version",
        ),
        pytest.param(
            {"alerts": [{"labels": {}}]},
            ValidationFailedError,
            r"alerts\[0\]\.labels: Dictionary should have at least 1 item",
            id="empty-labels",
        ),
        pytest.param(
            {"alerts": [{"labels": {"a": 1}}]},
            ValidationFailedError,
            r"alerts\[0\]\.labels\.a: Input should be a valid string",
            id="label-not-string",
        ),
        pytest.param(
            {"alerts": [{"labels": {"a": "b"}, "startsAt": "yesterday"}]},
            ValidationFailedError,
            r"alerts\[0\]\.startsAt: Input should be a valid",
            id="bad-time",
        ),
        pytest.param(
            {"alerts": [{"labels": {"a": "b"}, "status": "pending"}]},
            ValidationFailedError,
            r"alerts\[0\]\.status: Input should be 'firing'",
            id="bad-status",
        ),
        pytest.param(
            [{"labels": {"a": "b"}}],
            ValidationFailedError,
            r"\[0\]\.startsAt: missing, and the Kafka record has no timestamp",
            id="no-start-no-record-time",
        ),
        pytest.param(
            b'"firing"',
            ValidationFailedError,
            "expected a webhook object or a list of alerts, got str",
            id="json-string",
        ),
    ],
)
def test_bad_payloads(body: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as caught:
        AlertmanagerDecoder().decode(message(body))
    assert type(caught.value) is error
    assert str(caught.value).startswith("alertmanager: ")
