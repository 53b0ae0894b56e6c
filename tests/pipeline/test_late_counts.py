"""What comes after its event time was closed is counted, by kind, and exported on /metrics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_logs_json
from correlator.model.message import RawMessage
from correlator.model.telemetry import LogRecord
from correlator.pipeline import build_engine
from correlator.serve.metrics import EngineMetrics
from correlator.store import MemoryStateStore
from correlator.testing import T0
from correlator.transport import MemorySink
from correlator.transport.memory import MemorySource

JSON = (("content-type", b"application/json"),)


def _logs(settings: Settings, offset: int, seconds: range) -> RawMessage:
    records = [
        LogRecord(service="api", observed_at=T0 + timedelta(seconds=t), body=f"served {t}")
        for t in seconds
    ]
    return RawMessage(settings.topics.logs, encode_logs_json(records), b"api", 0, offset, 0, JSON)


def _webhook(settings: Settings, offset: int, at: datetime) -> RawMessage:
    alert = {
        "status": "firing",
        "labels": {"alertname": "PoolSaturated", "service": "payments"},
        "startsAt": at.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
    }
    body = json.dumps({"version": "4", "status": "firing", "alerts": [alert]}).encode()
    return RawMessage(settings.topics.alerts_in, body, None, 0, offset, 0, ())


async def test_a_log_of_a_closed_window_and_an_alert_of_a_run_tick_are_counted_late() -> None:
    settings = Settings.model_validate({"runbooks_dir": None, "correlate": {"topology_dir": None}})
    batches = [
        [_logs(settings, 0, range(0, 40)), _webhook(settings, 0, T0 + timedelta(seconds=30))],
        [_logs(settings, 1, range(2, 3)), _webhook(settings, 1, T0 + timedelta(seconds=5))],
    ]
    engine = build_engine(
        settings, source=MemorySource(batches), sink=MemorySink(), store=MemoryStateStore()
    )
    await engine.start()
    await engine.step(0)
    assert engine.stats.late == {}, "nothing came late yet"
    await engine.step(0)  # second 2's window [0, 10) and second 5's tick are long closed

    assert engine.stats.late == {"log": 1, "alert": 1}
    metrics = EngineMetrics()
    metrics.sync(engine.stats)
    text = metrics.render().decode()
    assert 'correlator_late_total{kind="log"} 1.0' in text
    assert 'correlator_late_total{kind="alert"} 1.0' in text
