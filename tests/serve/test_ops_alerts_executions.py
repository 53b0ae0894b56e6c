"""Alertmanager intake, runbooks and executions, health, readiness and metrics."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.serve.conftest import T0, Served, auth, incident, make_settings, seed

from correlator.act.approval import PENDING
from correlator.act.audit import AuditLog
from correlator.act.records import ExecutionRecord, ExecutionStatus, Reason
from correlator.clock import FakeClock
from correlator.correlate.topology import TopologyGraph
from correlator.model import ChangeKind
from correlator.pipeline import EngineStats
from correlator.serve import EngineMetrics, create_app
from correlator.serve.executions import StoreExecutionBoard, runbooks_from_folder
from correlator.serve.problems import Conflict, NotFound
from correlator.store import MemoryStateStore
from correlator.store.base import StateStore, WriteBatch
from correlator.transport import MemorySink

pytestmark = pytest.mark.integration


async def test_prometheus_alerts_become_one_alertmanager_webhook_message(served: Served) -> None:
    now = served.clock.now()
    posted = [
        {
            "labels": {"alertname": "HighLatency", "service": "api", "severity": "critical"},
            "annotations": {"summary": "p99 over 1s"},
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": (now + timedelta(minutes=3)).isoformat(),
            "generatorURL": "http://prometheus/graph?g0.expr=x",
        },
        {
            "labels": {"alertname": "HighLatency", "service": "db"},
            "endsAt": (now - timedelta(minutes=1)).isoformat(),
            "startsAt": (now - timedelta(minutes=9)).isoformat(),
        },
        {"labels": {"alertname": "HighLatency", "service": "web"}},
    ]
    r = await served.client.post("/api/v2/alerts", json=posted, headers=auth("writer"))
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 3, "topic": served.topics.alerts_in}
    [message] = served.sink.topics[served.topics.alerts_in]
    assert message.header("content-type") == b"application/json"
    payload = json.loads(message.value or b"")
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["commonLabels"] == {"alertname": "HighLatency"}
    first, resolved, bare = payload["alerts"]
    assert first["status"] == "firing"
    assert first["labels"]["service"] == "api"
    assert first["annotations"] == {"summary": "p99 over 1s"}
    assert first["generatorURL"] == "http://prometheus/graph?g0.expr=x"
    assert len(first["fingerprint"]) == 16
    assert resolved["status"] == "resolved"
    assert bare["startsAt"] == now.isoformat().replace("+00:00", "Z")
    assert bare["endsAt"] == "0001-01-01T00:00:00Z"
    assert bare["status"] == "firing"


async def test_an_empty_alert_list_sends_nothing(served: Served) -> None:
    r = await served.client.post("/api/v2/alerts", json=[], headers=auth("writer"))
    assert r.status_code == 200
    assert r.json()["accepted"] == 0
    assert not served.sink.topics[served.topics.alerts_in]


@pytest.mark.parametrize(
    ("alerts", "loc_tail"),
    [
        ([{"annotations": {}}], ["body", 0, "labels"]),
        ([{"labels": {}}], ["body", 0, "labels"]),
        ([{"labels": {"bad-name": "x"}}], ["body", 0, "labels"]),
        ([{"labels": {"a": 1}}], ["body", 0, "labels", "a"]),
        ([{"labels": {"a": "b"}, "startsAt": "not a time"}], ["body", 0, "startsAt"]),
        (
            [{"labels": {"a": "b"}, "startsAt": "2026-03-01T10:00Z", "endsAt": "2026-03-01T09:00Z"}],  # noqa: E501
            ["body", 0],
        ),
        ({"labels": {"a": "b"}}, ["body"]),
    ],
)  # fmt: skip
async def test_bad_alerts_are_422(served: Served, alerts: object, loc_tail: list[object]) -> None:
    r = await served.client.post("/api/v2/alerts", json=alerts, headers=auth("writer"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc_tail


async def _pending(
    served: Served, ex_id: str, status: ExecutionStatus, incident_id: str, minute: int
) -> None:
    """An execution as act's executor records it (pending ones also in the approvals index)."""
    record = ExecutionRecord(
        execution_id=ex_id,
        runbook="restart-db",
        incident_id=incident_id,
        version=1,
        change=ChangeKind.OPENED,
        target="db",
        dry_run=True,
        status=status,
        reason=Reason.APPROVAL_REQUIRED,
        created_at=T0 + timedelta(minutes=minute),
        expires_at=T0 + timedelta(days=1),
    )
    batch = WriteBatch()
    if status is ExecutionStatus.PENDING_APPROVAL:
        batch.index_add(PENDING, ex_id, record.created_at.timestamp())
    await AuditLog(served.store).save(record, timeline=True, batch=batch)


async def test_executions_list_approve_and_reject_through_act(served: Served) -> None:
    await seed(served.store, [incident(1)])
    await _pending(served, "ex-1", ExecutionStatus.PENDING_APPROVAL, "inc-0001", 5)
    await _pending(served, "ex-2", ExecutionStatus.SUCCEEDED, "inc-0001", 4)
    await _pending(served, "ex-3", ExecutionStatus.PENDING_APPROVAL, "inc-0009", 6)
    listed = (await served.client.get("/executions", headers=auth("reader"))).json()
    assert [e["execution_id"] for e in listed] == ["ex-3", "ex-1", "ex-2"]
    assert listed[0]["runbook"] == "restart-db"
    waiting = await served.client.get(
        "/executions",
        params={"status": "pending_approval", "incident_id": "inc-0001"},
        headers=auth("reader"),
    )
    assert [e["execution_id"] for e in waiting.json()] == ["ex-1"]

    r = await served.client.post(
        "/executions/ex-1/approve", json={"reason": "go"}, headers=auth("approver")
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"]) == ("approved", "approver")
    record = await AuditLog(served.store).get("ex-1")
    assert record is not None and record.status is ExecutionStatus.APPROVED
    again = await served.client.post("/executions/ex-1/reject", headers=auth("approver"))
    assert again.status_code == 409
    assert "not pending_approval" in again.json()["detail"]
    r = await served.client.post(
        "/executions/ex-3/reject", json={"reason": "not now"}, headers=auth("approver")
    )
    assert (r.json()["status"], r.json()["decision_reason"]) == ("rejected", "not now")
    missing = await served.client.post("/executions/ex-9/approve", headers=auth("approver"))
    assert missing.status_code == 404

    detail = (await served.client.get("/incidents/inc-0001", headers=auth("reader"))).json()
    assert [e["execution_id"] for e in detail["executions"]] == ["ex-1", "ex-2"]
    runbook_entries = [e for e in detail["timeline"] if e["kind"] == "runbook"]
    assert [(e["status"], e["actor"]) for e in runbook_entries][-1] == ("approved", "approver")
    # act's entries are not folded into the incident's own version entries
    assert detail["timeline"][0]["kind"] == "opened"


async def test_the_store_board_decides_on_plain_documents(redis_store: StateStore) -> None:
    board = StoreExecutionBoard(redis_store, FakeClock(T0))
    batch = WriteBatch()
    doc = {"status": "pending_approval", "runbook": "restart-db", "incident_id": "inc-1"}
    batch.put("execution:ex-1", json.dumps(doc).encode())
    batch.append("execution:ex-1:log", b"not a document")
    await redis_store.write(batch)
    assert [e.execution_id for e in await board.list()] == ["ex-1"]
    decided = await board.decide("ex-1", approve=False, actor="ops", reason="no")
    assert decided.status == "rejected"
    stored = json.loads(await redis_store.get("execution:ex-1") or b"")
    assert (stored["status"], stored["decided_by"]) == ("rejected", "ops")
    with pytest.raises(Conflict):
        await board.decide("ex-1", approve=True, actor="ops", reason="")
    with pytest.raises(NotFound):
        await board.decide("ex-2", approve=True, actor="ops", reason="")


async def test_runbooks_are_listed_from_the_folder(tmp_path: Path) -> None:
    (tmp_path / "db.yaml").write_text(
        "name: restart-db\ndescription: Restart the primary\nmatch: {service: db}\nsteps: []\n"
    )
    (tmp_path / "many.yaml").write_text("runbooks:\n  - name: scale-api\n  - name: flush-cache\n")
    app = create_app(
        make_settings(),
        store=MemoryStateStore(),
        sink=MemorySink(),
        topology_provider=TopologyGraph,
        clock=FakeClock(T0),
        runbooks=runbooks_from_folder(tmp_path),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        body = (await c.get("/runbooks", headers=auth("reader"))).json()
    assert [(r["name"], r["source"]) for r in body] == [
        ("restart-db", "db.yaml"),
        ("scale-api", "many.yaml"),
        ("flush-cache", "many.yaml"),
    ]
    assert body[0]["match"] == {"service": "db"}


async def test_topology_json_and_svg(served: Served) -> None:
    body = (await served.client.get("/topology", headers=auth("reader"))).json()
    assert {n["id"] for n in body["nodes"]} == {"web", "api", "db", "cache", "payments"}
    edges = {(e["caller"], e["callee"]): e["source"] for e in body["edges"]}
    assert edges == {
        ("web", "api"): "declared",
        ("api", "db"): "declared",
        ("api", "cache"): "declared",
        ("api", "payments"): "learned",
    }
    r = await served.client.get("/topology.svg", headers=auth("reader"))
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.text.startswith("<svg") and r.text.count("<rect") == 5
    assert r.text.count('stroke-dasharray="5 3"') == 1  # the learned edge


async def test_healthz_and_readyz(served: Served) -> None:
    assert (await served.client.get("/healthz")).json() == {"status": "ok"}
    assert (await served.client.get("/readyz")).json() == {
        "status": "ready",
        "checks": {"store": True},
    }


async def test_readyz_is_503_when_the_broker_does_not_answer() -> None:
    async def broker_down() -> bool:
        raise OSError("connection refused")

    app = create_app(
        make_settings(),
        store=MemoryStateStore(),
        sink=MemorySink(),
        topology_provider=TopologyGraph,
        clock=FakeClock(T0),
        broker_check=broker_down,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "not_ready", "checks": {"store": True, "broker": False}}


async def test_readyz_fails_when_redis_is_gone(served: Served, redis_server: object) -> None:
    from correlator.store.redis import RedisStateStore

    dead = RedisStateStore("redis://127.0.0.1:1/0")
    app = create_app(
        make_settings(),
        store=dead,
        sink=MemorySink(),
        topology_provider=TopologyGraph,
        clock=FakeClock(T0),
        manage_ports=False,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        r = await c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["checks"] == {"store": False}
        listing = await c.get("/incidents", headers=auth("reader"))
        assert listing.status_code == 503
        assert listing.json()["error"] == "unavailable"
    await dead.stop()


async def test_metrics_follow_the_engine_counters(served: Served) -> None:
    await seed(served.store, [incident(1), incident(2), incident(3)])
    stats = EngineStats()
    metrics = EngineMetrics()

    async def lag() -> dict[tuple[str, int], int]:
        return {("otlp_spans", 0): 12, ("otlp_spans", 1): 0}

    app = create_app(
        make_settings(),
        store=served.store,
        sink=MemorySink(),
        topology_provider=TopologyGraph,
        clock=FakeClock(T0),
        stats_provider=lambda: stats,
        metrics=metrics,
        lag_provider=lag,
        manage_ports=False,
    )
    stats.consumed = {"otlp_spans": 100, "otlp_logs": 7}
    stats.anomalies, stats.alerts, stats.dead_lettered, stats.changes_published = 4, 3, 2, 1
    metrics.observe_batch(EngineStats(), {"decode": 0.002, "detect": 0.03})
    metrics.record_execution("succeeded")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        text = (await c.get("/metrics")).text
        stats.consumed["otlp_spans"] = 150
        again = (await c.get("/metrics")).text
    for line in [
        'correlator_messages_consumed_total{topic="otlp_spans"} 100.0',
        'correlator_messages_consumed_total{topic="otlp_logs"} 7.0',
        "correlator_anomalies_total 4.0",
        "correlator_alerts_total 3.0",
        "correlator_dead_lettered_total 2.0",
        "correlator_decode_errors_total 0.0",
        'correlator_incident_changes_published_total{origin="engine"} 1.0',
        "correlator_open_incidents 3.0",
        'correlator_consumer_lag{partition="0",topic="otlp_spans"} 12.0',
        'correlator_runbook_executions_total{outcome="succeeded"} 1.0',
        'correlator_stage_seconds_count{stage="detect"} 1.0',
        'correlator_stage_seconds_bucket{le="0.005",stage="decode"} 1.0',
    ]:
        assert line in text, line
    assert 'correlator_messages_consumed_total{topic="otlp_spans"} 150.0' in again


async def test_api_changes_are_counted(served: Served) -> None:
    await seed(served.store, [incident(1)])
    await served.client.post("/incidents/inc-0001/ack", headers=auth("writer"))
    text = (await served.client.get("/metrics")).text
    assert 'correlator_incident_changes_published_total{origin="api"} 1.0' in text
