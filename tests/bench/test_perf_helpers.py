"""Helpers of the throughput and latency benchmarks that decide what their numbers count."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from correlator.bench.latency import _first_change, _split_line
from correlator.bench.load import Fault, Load
from correlator.bench.perf_runner import _appears
from correlator.bench.throughput import _count_events
from correlator.config import TopicSettings
from correlator.ingest.decode_stage import DecodeStage
from correlator.ingest.decoders.registry import decoder_for
from correlator.model.alert import Alert, AlertStatus
from correlator.model.incident import ChangeKind, Incident, IncidentChange
from correlator.model.observation import Signal

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_parse_floor_counts_the_events_the_decoders_make() -> None:
    topics = TopicSettings()
    load = Load(services=6, requests_per_s=20, metrics_per_service=3, seconds=2, log_p=0.5)
    records = [r.message for second in load.messages(topics) for r in second]
    parsers = {
        topics.spans: ExportTraceServiceRequest.FromString,
        topics.metrics: ExportMetricsServiceRequest.FromString,
        topics.logs: ExportLogsServiceRequest.FromString,
    }
    counted = sum(_count_events(parsers[m.topic](m.value or b"")) for m in records)
    decoders = {topic: decoder_for(name) for topic, name in topics.decoders().items()}
    decoded = DecodeStage(decoders, "dlq").process(records)
    assert counted == len(decoded.events) > 0


def change(
    service: str, started_s: float, status: AlertStatus = AlertStatus.FIRING
) -> IncidentChange:
    at = START + timedelta(seconds=started_s)
    alert = Alert(
        fingerprint=f"{service}-{started_s}",
        service=service,
        entity=service,
        signal=Signal.METRIC,
        status=status,
        starts_at=at,
        last_seen_at=at,
    )
    incident = Incident(
        incident_id="i1",
        version=1,
        title="t",
        services=[service],
        alerts=[alert],
        opened_at=at,
        updated_at=at,
    )
    return IncidentChange(change=ChangeKind.UPDATED, incident_id="i1", version=1, incident=incident)


def test_a_fault_is_timed_to_the_first_change_carrying_its_own_firing_alert() -> None:
    fault = Fault("svc-039", at_s=100, duration_s=6)
    changes = [
        (10.0, change("svc-039", 99.0)),  # before the fault was sent
        (50.0, change("svc-039", 40.0)),  # an older alert of the same service
        (50.2, change("svc-036", 101.0)),  # another service
        (50.3, change("svc-039", 101.0, AlertStatus.RESOLVED)),
        (50.4, change("svc-039", 101.0)),
        (50.9, change("svc-039", 102.0)),
    ]
    latency, signal = _first_change(changes, fault, START, sent=50.0) or (0.0, "")
    assert round(latency, 3) == 0.4 and signal == "metric"
    assert _first_change(changes[:4], fault, START, sent=50.0) is None


_BENCH = """
import asyncio, sys, time
from correlator.bench.perf_env import services, spawn
with services() as (broker, redis, root):
    child = spawn([sys.executable, "-c", "import time; time.sleep(600)"], root / "child.log")
    print(broker.process.pid, redis.process.pid, child.pid, flush=True)
    WAIT
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(
    "wait", ["time.sleep(600)", "asyncio.run(asyncio.sleep(600))"], ids=["sync", "asyncio"]
)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_bench_stops_its_broker_redis_and_engine_processes(
    signum: int, wait: str
) -> None:
    argv = [sys.executable, "-c", _BENCH.replace("WAIT", wait)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as bench:
        try:
            assert bench.stdout is not None
            pids = [int(p) for p in bench.stdout.readline().split()]
            assert len(pids) == 3 and all(_running(p) for p in pids)
            bench.send_signal(signum)
            code = bench.wait(timeout=60)
        finally:
            if bench.poll() is None:
                bench.kill()
    assert code != 0  # it was interrupted, not finished
    deadline = time.monotonic() + 10
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if _running(p)] == []


def test_the_latency_split_line_names_the_floor_of_the_profile_measured() -> None:
    common = {"fetch_max_wait_s": 0.1, "window_s": 10.0, "tick_s": 0.5, "tick_margin_s": 0.5}
    deterministic = {
        **common,
        "idle_partition_s": 5.0,
        "waiting_for_event_time_s_mean": 1.0,
        "after_unblocked_p50_s": 0.58,
        "after_unblocked_p99_s": 0.73,
        "poll_timeout_s": 0.2,
    }
    live = {**deterministic, "idle_partition_s": 0.0, "waiting_for_event_time_s_mean": None}
    assert "waiting for event time (" in _split_line(deterministic)
    assert "1.0s on average" in _split_line(deterministic)
    assert _split_line(live).startswith("live profile")
    assert "waiting for event time" not in _split_line(live)


async def test_a_gated_engine_process_waits_for_its_start_file(tmp_path: Path) -> None:
    start = tmp_path / "go"
    waiting = asyncio.create_task(_appears(start))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    start.touch()
    await asyncio.wait_for(waiting, 2.0)
