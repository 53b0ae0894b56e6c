"""DecodeStage over a generated fleet's records: the batch path against record by record."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from correlator.bench.load import Fault, Load
from correlator.config import TopicSettings
from correlator.errors import CorrelatorError
from correlator.ingest.decode_stage import DecodeStage, event_time
from correlator.ingest.decoders.registry import decoder_for
from correlator.ingest.otlp_encode import encode_logs_json, encode_spans_json
from correlator.model.message import RawMessage
from correlator.model.telemetry import AlertEvent, LogRecord, MetricPoint, SpanRecord, SpanRow

TOPICS = TopicSettings()
DECODERS = {topic: decoder_for(name) for topic, name in TOPICS.decoders().items()}
VALIDATORS = {"span": SpanRecord, "metric": MetricPoint, "log": LogRecord, "alert": AlertEvent}


def fleet_records() -> list[RawMessage]:
    """Three seconds of a small fleet with a fault, spread over two partitions."""
    load = Load(services=7, requests_per_s=30, metrics_per_service=3, seconds=3, log_p=0.5)
    load.faults = [Fault(load.leaf(), 1, 2)]
    records = [r.message for second in load.messages(TOPICS) for r in second]
    return [
        RawMessage(m.topic, m.value, m.key, partition=i % 2, offset=i, timestamp_ms=1)
        for i, m in enumerate(records)
    ]


def bad_records() -> list[RawMessage]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    span = SpanRecord(trace_id="ab", span_id="cd", service="x", start_at=at, duration_ms=1.0)
    log = LogRecord(service="x", observed_at=at, severity="WARN", body="disk 91% full")
    alert = {"labels": {"alertname": "Down", "service": "x"}, "startsAt": at.isoformat()}
    return [
        RawMessage(TOPICS.spans, b"\x0a\xff", offset=100),  # truncated protobuf
        RawMessage(TOPICS.metrics, None, offset=101),  # tombstone
        RawMessage("nobody-decodes-this", b"{}", offset=102),
        RawMessage(TOPICS.spans, encode_spans_json([span]), offset=103),  # good, JSON
        RawMessage(TOPICS.logs, encode_logs_json([log]), offset=104),  # good, JSON
        RawMessage(TOPICS.logs, b'{"resourceLogs": 3}', offset=105),
        RawMessage(TOPICS.alerts_in, json.dumps({"alerts": [alert]}).encode(), offset=106),
    ]


def one_by_one(records: list[RawMessage]) -> tuple[list[object], list[int], dict[str, int]]:
    """Each record through its decoder alone: events, offsets that fail, records per topic.

    Spans are given as ``SpanRow.of`` the decoder's full record, as the stage gives them.
    """
    events: list[object] = []
    failed: list[int] = []
    consumed: dict[str, int] = {}
    for message in records:
        consumed[message.topic] = consumed.get(message.topic, 0) + 1
        try:
            decoded = DECODERS[message.topic].decode(message)
        except (KeyError, CorrelatorError):
            failed.append(message.offset)
            continue
        events += [SpanRow.of(e) if isinstance(e, SpanRecord) else e for e in decoded]
    return events, failed, consumed


@pytest.mark.parametrize("with_bad", [False, True], ids=["clean", "with-bad-records"])
def test_a_batch_decodes_to_what_its_records_decode_to_one_by_one(with_bad: bool) -> None:
    records = fleet_records()
    if with_bad:
        records[5:5] = bad_records()
    decoded = DecodeStage(DECODERS, "dlq").process(records)
    events, failed, consumed = one_by_one(records)
    assert decoded.events == events
    assert [type(e) for e in decoded.events] == [type(e) for e in events]
    assert {e.kind for e in events} == {"span", "metric", "log"} | (
        {"alert"} if with_bad else set()
    )
    assert [int(m.header("x-correlator-source-offset") or b"-1") for m in decoded.dead_letters] == (
        failed
    )
    assert failed == ([100, 101, 102, 105] if with_bad else [])
    assert all(m.topic == "dlq" and m.header("x-correlator-error") for m in decoded.dead_letters)
    assert dict(decoded.consumed) == consumed


def test_decoded_events_are_what_full_validation_makes_of_them() -> None:
    decoded = DecodeStage(DECODERS, "dlq").process([*fleet_records(), *bad_records()])
    rows = [e for e in decoded.events if isinstance(e, SpanRow)]
    assert rows  # spans are rows, checked against full records above
    for event in decoded.events:
        if isinstance(event, SpanRow):
            continue
        data = event.model_dump()
        assert VALIDATORS[event.kind].model_validate(data) == event
        if event.kind != "alert":  # built without validation: every field counts as set
            assert event.model_fields_set == set(type(event).model_fields)


def test_each_partitions_latest_event_time_is_the_latest_of_its_events() -> None:
    records = [*fleet_records(), *bad_records()]
    decoded = DecodeStage(DECODERS, "dlq").process(records)
    expected: dict[tuple[str, int], float] = {}
    for message in records:
        try:
            events = DECODERS[message.topic].decode(message)
        except (KeyError, CorrelatorError):
            continue
        for event in events:
            key = (message.topic, message.partition)
            expected[key] = max(expected.get(key, -math.inf), event_time(event))
    assert decoded.high_ts.keys() == expected.keys()
    for key, ts in expected.items():
        assert decoded.high_ts[key] == pytest.approx(ts, abs=1e-6), key
