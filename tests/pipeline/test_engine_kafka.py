"""The whole engine on the real broker and Redis: OTLP in, incidents out, bad input aside."""

from __future__ import annotations

import asyncio

import pytest

from correlator.config import Settings
from correlator.demo.run import run_scenario
from correlator.demo.scenario import Scenario
from correlator.model.incident import IncidentStatus
from correlator.model.message import RawMessage
from correlator.transport.kafka import KafkaSource

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def small_fault(root: str = "payments-db") -> Scenario:
    return Scenario(normal_s=300, fault_s=120, recovery_s=420, requests_per_s=6, root_cause=root)


async def read_all(settings: Settings, topic: str, want: int) -> list[RawMessage]:
    got: list[RawMessage] = []
    async with KafkaSource(settings.kafka, [topic], group_id=f"{topic}-check") as source:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(got) < want and loop.time() < deadline:
            got.extend(await source.get_batch(0.5))
    return got


async def test_cascading_fault_becomes_one_resolved_incident_with_the_db_first(
    settings: Settings,
) -> None:
    result = await run_scenario(settings, small_fault())
    [incident] = result.incidents
    assert incident.root_causes[0].entity == "payments-db"
    assert {"payments-db", "payments", "checkout"} <= set(incident.services)
    assert incident.status is IncidentStatus.RESOLVED
    assert any(e.kind == "propagation" for e in incident.root_causes[0].evidence)
    # Redis holds the same final version the topic does
    [stored] = result.stored
    assert (stored.incident_id, stored.version) == (incident.incident_id, incident.version)
    assert result.changes_on_topic >= 2  # opened ... resolved
    # the external Alertmanager alert joined the incident instead of opening its own
    assert any(a.labels.get("alertname") == "PaymentsPoolSaturated" for a in incident.alerts)


async def test_bad_messages_are_dead_lettered_with_reason_and_the_stream_goes_on(
    settings: Settings,
) -> None:
    result = await run_scenario(settings, small_fault())
    assert result.dead_lettered == 3
    dead = await read_all(settings, settings.topics.dead_letter, 3)
    reasons = {m.header("x-correlator-source-topic"): m.header("x-correlator-error") for m in dead}
    assert set(reasons) == {
        settings.topics.spans.encode(),
        settings.topics.logs.encode(),
        settings.topics.events.encode(),
    }
    assert b"protobuf" in (reasons[settings.topics.spans.encode()] or b"")
    assert b"invalid JSON" in (reasons[settings.topics.logs.encode()] or b"")
    assert all(m.header("x-correlator-source-offset") is not None for m in dead)
    assert result.incidents and result.incidents[0].root_causes[0].entity == "payments-db"
    # every good record sent was consumed: events counted match the telemetry streamed
    assert result.events > 10_000
