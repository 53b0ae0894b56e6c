"""An engine fed only alerts (no telemetry to move event time) still opens incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from correlator.clock import FakeClock
from correlator.config import Settings
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.pipeline import build_engine
from correlator.store import MemoryStateStore
from correlator.transport import MemorySink
from correlator.transport.memory import MemorySource

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _webhook(at: datetime) -> bytes:
    alert = {
        "status": "firing",
        "labels": {"alertname": "PaymentsPoolSaturated", "service": "payments"},
        "annotations": {"summary": "connection pool 95% used"},
        "startsAt": at.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
    }
    return json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()


def _changes(sink: MemorySink, settings: Settings) -> list[IncidentChange]:
    return [
        IncidentChange.model_validate_json(m.value or b"")
        for m in sink.topics.get(settings.topics.incidents, [])
    ]


@pytest.mark.parametrize(
    "ticks",
    [{}, {"tick_s": 2.0, "tick_margin_s": 3.0}],
    ids=["default-ticks", "long-ticks"],
)
async def test_alerts_alone_open_an_incident_once_the_stream_is_silent(
    ticks: dict[str, float],
) -> None:
    settings = Settings.model_validate({"runbooks_dir": None, "correlate": ticks})
    clock = FakeClock(START)
    message = RawMessage(settings.topics.alerts_in, _webhook(START), None, 0, 0, 0, ())
    source, sink = MemorySource([[message]]), MemorySink()
    engine = build_engine(settings, source=source, sink=sink, store=MemoryStateStore(), clock=clock)
    await engine.start()
    await engine.step(0)
    # while the stream may still be flowing, event time has not passed the alert: it waits
    assert _changes(sink, settings) == []

    # silent for idle_partition_s, then half the alert's tick and margin more
    wait = (settings.correlate.tick_s + settings.correlate.tick_margin_s) / 2
    clock.advance(timedelta(seconds=settings.detect.idle_partition_s + wait))
    await engine.step(0)
    assert _changes(sink, settings) == [], "not yet past the alert's tick and margin"

    clock.advance(timedelta(seconds=10))
    await engine.step(0)
    opened = _changes(sink, settings)
    assert [c.incident.services for c in opened] == [["payments"]]
    assert opened[0].change.value == "opened"
    await engine.stop()


async def test_queued_alerts_shorten_the_poll_so_their_tick_runs_on_time() -> None:
    settings = Settings.model_validate({"runbooks_dir": None})
    clock = FakeClock(START)
    message = RawMessage(settings.topics.alerts_in, _webhook(START), None, 0, 0, 0, ())
    waits: list[float] = []

    class Recording(MemorySource):
        async def get_batch(self, timeout_s: float) -> list[RawMessage]:
            waits.append(timeout_s)
            return await super().get_batch(0)

    source = Recording([[message]])
    engine = build_engine(
        settings, source=source, sink=MemorySink(), store=MemoryStateStore(), clock=clock
    )
    await engine.start()
    await engine.step()  # takes the alert; it waits for its tick
    await engine.step()
    assert waits[0] == settings.kafka.poll_timeout_ms / 1000
    assert waits[1] < waits[0], "an alert waits in the tick queue: poll sooner"
    await engine.stop()
