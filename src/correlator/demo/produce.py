"""Streams a scenario onto the telemetry topics the way the OpenTelemetry Collector would.

Spans and metrics go as OTLP protobuf, logs as OTLP JSON (both exporter encodings occur in
the wild), one message per service per simulated second, keyed by service. A few malformed
messages are mixed in on purpose, to show they are dead-lettered and the stream goes on.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from correlator.config import TopicSettings
from correlator.demo.scenario import Scenario, SecondOfTelemetry
from correlator.ingest.otlp_encode import encode_logs_json, encode_metrics, encode_spans
from correlator.model.message import RawMessage
from correlator.transport.base import Sink

__all__ = ["scenario_messages", "stream_scenario"]

_T = TypeVar("_T")


def _by_service(items: Iterable[_T]) -> dict[str, list[_T]]:
    groups: dict[str, list[_T]] = defaultdict(list)
    for item in items:
        groups[item.service].append(item)  # type: ignore[attr-defined]
    return groups


def _malformed(topics: TopicSettings, second: SecondOfTelemetry) -> list[RawMessage]:
    good = encode_spans(second.spans[:5])
    return [
        RawMessage(topics.spans, good[: len(good) // 2], key=b"broken-exporter", partition=-1),
        RawMessage(topics.logs, b'{"resourceLogs": [', key=b"broken-exporter", partition=-1),
        RawMessage(
            topics.events, b'{"kind": "metric", "name": "x", "value": "high"}', partition=-1
        ),
    ]


def _external_alert(topics: TopicSettings, scenario: Scenario) -> RawMessage:
    """A Prometheus alert about the payments connection pool, as Alertmanager posts it."""
    return _alertmanager_post(
        topics,
        scenario.fault_at + timedelta(seconds=75),
        {"alertname": "PaymentsPoolSaturated", "service": "payments", "severity": "critical"},
        "payments DB connection pool above 90% for 1m",
        "c0ffee0000000001",
    )


def _slo_alert(topics: TopicSettings, scenario: Scenario, after_s: int) -> RawMessage:
    """An error-budget burn alert on frontend, the service users call."""
    return _alertmanager_post(
        topics,
        scenario.fault_at + timedelta(seconds=after_s),
        {"alertname": "FrontendErrorBudgetBurn", "service": "frontend", "severity": "page"},
        "frontend is burning its 30-day error budget 14x too fast",
        "c0ffee0000000002",
    )


def _alertmanager_post(
    topics: TopicSettings, starts: datetime, labels: dict[str, str], summary: str, fp: str
) -> RawMessage:
    """One firing alert in Alertmanager's webhook body."""
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "correlator",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": starts.isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fp,
            }
        ],
    }
    key = labels["service"].encode()
    return RawMessage(topics.alerts_in, json.dumps(body).encode(), key=key, partition=-1)


def scenario_messages(scenario: Scenario, topics: TopicSettings) -> Iterable[list[RawMessage]]:
    """The scenario as topic records, one list per simulated second."""
    onset = int((scenario.fault_at - scenario.start).total_seconds())
    external_at = onset + 75
    slo_at = None if scenario.slo_alert_s is None else onset + scenario.slo_alert_s
    for t, second in enumerate(scenario.seconds()):
        out: list[RawMessage] = []
        for service, spans in _by_service(second.spans).items():
            out.append(
                RawMessage(topics.spans, encode_spans(spans), key=service.encode(), partition=-1)
            )
        for service, points in _by_service(second.metrics).items():
            out.append(
                RawMessage(
                    topics.metrics, encode_metrics(points), key=service.encode(), partition=-1
                )
            )
        for service, logs in _by_service(second.logs).items():
            out.append(
                RawMessage(
                    topics.logs,
                    encode_logs_json(logs),
                    key=service.encode(),
                    partition=-1,
                    headers=(("content-type", b"application/json"),),
                )
            )
        if t == 30:
            out.extend(_malformed(topics, second))
        if t == external_at:
            out.append(_external_alert(topics, scenario))
        if t == slo_at and scenario.slo_alert_s is not None:
            out.append(_slo_alert(topics, scenario, scenario.slo_alert_s))
        yield out


async def stream_scenario(
    sink: Sink, batches: Sequence[list[RawMessage]] | Iterable[list[RawMessage]], chunk: int = 500
) -> int:
    """Send every record, ``chunk`` at a time; return how many were sent."""
    sent = 0
    pending: list[RawMessage] = []
    for batch in batches:
        pending.extend(batch)
        if len(pending) >= chunk:
            await sink.send(pending)
            sent += len(pending)
            pending = []
    await sink.send(pending)
    return sent + len(pending)
