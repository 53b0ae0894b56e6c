"""Versions stay monotonic when the API changes an incident between engine changes."""

from __future__ import annotations

from datetime import timedelta

from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.model.incident import IncidentChange
from correlator.publish.stage import PublishStage
from correlator.store import MemoryStateStore, WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.testing import T0, alert
from correlator.transport import MemorySink


async def test_engine_change_after_an_api_change_gets_the_next_version_and_keeps_labels() -> None:
    store, sink = MemoryStateStore(), MemorySink()
    repo = IncidentRepository(store)
    publish = PublishStage(sink, repo, "incidents")
    correlate = CorrelateStage(CorrelateSettings(topology_dir=None), TopologyGraph())

    async def step(alerts: list, at_s: float) -> list[IncidentChange]:  # type: ignore[type-arg]
        pending = correlate.process(alerts, T0 + timedelta(seconds=at_s))
        await publish.rebase(pending)
        batch = WriteBatch()
        sent = await publish.process(PublishStage.version(pending), batch)
        await store.write(batch)
        return sent

    [opened] = await step([alert("db", 0)], 0)
    assert opened.version == 1
    # someone acknowledges it through the API: v2 with a label, written and published
    acked = opened.incident.model_copy(deep=True)
    acked.version, acked.labels = 2, {"acknowledged_by": "ana"}
    api_change = IncidentChange(
        change="updated", incident_id=acked.incident_id, version=2, incident=acked
    )
    batch = WriteBatch()
    repo.add_to(batch, [api_change])
    await store.write(batch)

    [update] = await step([alert("db", 0, last_s=10)], 10)
    assert update.version == 3
    assert update.incident.labels["acknowledged_by"] == "ana"
    assert [m.headers[0][1] for m in sink.topics["incidents"]] == [b"1", b"3"]
