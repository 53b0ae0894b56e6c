"""Repeated input after a restart (or a crash) creates no second alert, incident or version.

Run over the in-memory store and the real Redis (conftest's ``redis_store``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.detect.external import from_alert_event
from correlator.model.alert import WATCH_LABEL, Alert, is_watch
from correlator.model.incident import ChangeKind, IncidentChange
from correlator.model.observation import Signal
from correlator.model.telemetry import AlertEvent
from correlator.publish.stage import PublishStage
from correlator.rank.stage import RankStage
from correlator.store import MemoryStateStore, WriteBatch
from correlator.store.base import StateStore
from correlator.store.incidents import IncidentRepository
from correlator.testing import T0, alert
from correlator.transport import MemorySink


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> StateStore:
    if request.param == "memory":
        return MemoryStateStore()
    found: StateStore = request.getfixturevalue("redis_store")
    return found


def topology() -> TopologyGraph:
    graph = TopologyGraph()
    for name, calls in {"web": ["api", "search"], "api": ["db"]}.items():
        graph.declare(ServiceSpec(name=name, depends_on=calls))
    return graph


async def engine_step(
    store: StateStore, sink: MemorySink, alerts: list[Alert], at_s: float, *, durable: bool = True
) -> list[IncidentChange]:
    """A fresh process: restore open incidents, run one batch, publish, then write the store."""
    repo = IncidentRepository(store)
    graph = topology()
    correlate = CorrelateStage(CorrelateSettings(topology_dir=None), graph)
    correlate.restore(await repo.open_incidents())
    changes = PublishStage.version(
        RankStage(graph).process(correlate.process(alerts, T0 + timedelta(seconds=at_s)))
    )
    batch = WriteBatch()
    published = await PublishStage(sink, repo, "incidents").process(changes, batch)
    if durable:
        await store.write(batch)
    return published


async def test_same_alerts_after_a_restart_change_nothing(store: StateStore) -> None:
    sink = MemorySink()
    batch = [alert("db", 0), alert("api", 10), alert("web", 20)]
    [first] = await engine_step(store, sink, batch, 20)
    assert len(first.incident.alerts) == 3
    assert await engine_step(store, sink, batch, 20) == []
    assert await engine_step(store, sink, [batch[1]], 25) == []
    [stored] = await IncidentRepository(store).open_incidents()
    assert (stored.incident_id, stored.version, len(stored.alerts)) == (first.incident_id, 1, 3)
    assert len(sink.topics["incidents"]) == 1


async def test_crash_after_send_before_store_write_resends_the_same_version(
    store: StateStore,
) -> None:
    sink = MemorySink()
    batch = [alert("db", 0), alert("api", 10)]
    [lost] = await engine_step(store, sink, batch, 10, durable=False)  # crash: store not written
    [again] = await engine_step(store, sink, batch, 10)
    assert (again.incident_id, again.version) == (lost.incident_id, lost.version)
    assert await engine_step(store, sink, batch, 10) == []
    keys = {(m.key, m.header("incident-version")) for m in sink.topics["incidents"]}
    assert len(keys) == 1  # a consumer keeping the highest version per id sees one change


async def test_an_slo_alert_moved_to_a_stronger_fault_stays_moved_after_a_restart(
    store: StateStore,
) -> None:
    sink = MemorySink()
    slo = from_alert_event(
        AlertEvent(labels={"alertname": "SLOBurn", "service": "web"}, starts_at=T0)
    )
    [opened] = await engine_step(store, sink, [slo, alert("api", 5, score=0.5)], 5)
    later = [alert("search", 10, Signal.ERROR_RATIO)]
    moved = await engine_step(store, sink, later, 10)
    by_id = {c.incident_id: c for c in moved}
    assert by_id[opened.incident_id].change is ChangeKind.UPDATED
    assert by_id[opened.incident_id].incident.services == ["api"]
    [taken] = [c for c in moved if c.incident_id != opened.incident_id]
    assert (taken.change, sorted(taken.incident.services)) == (ChangeKind.OPENED, ["search", "web"])
    assert await engine_step(store, sink, later, 10) == []  # the same input again: no change
    stored = {
        i.incident_id: sorted(i.services) for i in await IncidentRepository(store).open_incidents()
    }
    assert stored == {opened.incident_id: ["api"], taken.incident_id: ["search", "web"]}


async def test_a_watch_alert_confirmed_after_a_restart_moves_once(store: StateStore) -> None:
    """web's watch joins db's incident (2 hops below); after a restart web alerts in full,
    search's nearer fault is there, and the full alert goes with it; replaying that input
    publishes nothing more."""
    sink = MemorySink()
    [opened] = await engine_step(store, sink, [alert("db", 0)], 0)
    seen = alert("web", 10)
    watch = seen.model_copy(
        update={
            "labels": {**seen.labels, WATCH_LABEL: "true"},
            "ends_at": seen.starts_at + timedelta(seconds=10),
        }
    )
    [joined] = await engine_step(store, sink, [watch], 10)
    assert joined.incident_id == opened.incident_id and "web" in joined.incident.services
    confirmed = [alert("search", 20, score=1.0), alert("web", 20)]
    changes = await engine_step(store, sink, confirmed, 20)
    by_id = {c.incident_id: c for c in changes}
    assert by_id[opened.incident_id].incident.services == ["db"]
    [taken] = [c for c in changes if c.incident_id != opened.incident_id]
    assert sorted(taken.incident.services) == ["search", "web"]
    assert not any(is_watch(a) for a in taken.incident.alerts)
    assert await engine_step(store, sink, confirmed, 20) == []
