"""GET /incidents/{id} and the actions that publish new versions (real Redis, memory sink)."""

from __future__ import annotations

import json

import pytest
from tests.serve.conftest import Served, auth, incident, seed

from correlator.model import ChangeKind, IncidentChange, IncidentStatus
from correlator.store.incidents import IncidentRepository

pytestmark = pytest.mark.integration


def _published(served: Served) -> list[IncidentChange]:
    return [
        IncidentChange.model_validate_json(m.value or b"")
        for m in served.sink.topics[served.topics.incidents]
    ]


async def test_detail_has_alerts_ranked_causes_timeline_and_topology(served: Served) -> None:
    await seed(
        served.store,
        [
            incident(
                1, ["web", "api", "db"], causes=[("api", 0.4), ("db", 0.93)], title="checkout down"
            )
        ],
    )
    r = await served.client.get("/incidents/inc-0001", headers=auth("reader"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["title"] == "checkout down"
    assert [a["service"] for a in body["alerts"]] == ["web", "api", "db"]
    assert [(c["rank"], c["entity"]) for c in body["root_causes"]] == [(1, "db"), (2, "api")]
    assert body["root_causes"][0]["evidence"] == [
        {"kind": "anomaly", "detail": "db latency_p99 score 0.93"}
    ]
    assert [(e["kind"], e["version"]) for e in body["timeline"]] == [("opened", 1)]
    topo = body["topology"]
    assert {n["id"] for n in topo["nodes"]} == {"web", "api", "db"}
    assert {(e["caller"], e["callee"]) for e in topo["edges"]} == {("web", "api"), ("api", "db")}
    roles = {n["id"]: n["role"] for n in topo["nodes"]}
    # the seed's first root cause is "api" (the engine's ranking order is kept)
    assert roles == {"api": "root_cause", "web": "affected", "db": "affected"}


async def test_unknown_incident_is_404(served: Served) -> None:
    r = await served.client.get("/incidents/inc-nope", headers=auth("reader"))
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "detail": "incident 'inc-nope' does not exist"}


async def test_ack_writes_version_two_and_publishes_it(served: Served) -> None:
    await seed(served.store, [incident(1)])
    r = await served.client.post(
        "/incidents/inc-0001/ack", json={"note": "looking"}, headers=auth("writer")
    )
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "acknowledged"
    assert r.json()["incident"]["acknowledged_by"] == "writer"
    stored = await IncidentRepository(served.store).get("inc-0001")
    assert stored is not None and stored.version == 2
    assert stored.labels["acknowledged_by"] == "writer"
    [message] = served.sink.topics[served.topics.incidents]
    assert message.key == b"inc-0001"
    assert message.header("incident-version") == b"2"
    assert message.header("change") == b"acknowledged"
    change = IncidentChange.model_validate_json(message.value or b"")
    assert change.version == 2 and change.incident == stored
    # published marker: the engine's publish stage will not send version 2 again
    assert await IncidentRepository(served.store).unpublished([change]) == []
    detail = (await served.client.get("/incidents/inc-0001", headers=auth("reader"))).json()
    last = detail["timeline"][-1]
    assert (last["kind"], last["version"], last["actor"], last["note"]) == (
        "acknowledged",
        2,
        "writer",
        "looking",
    )
    again = await served.client.post("/incidents/inc-0001/ack", headers=auth("writer"))
    assert again.status_code == 409
    assert "already acknowledged by 'writer'" in again.json()["detail"]


async def test_resolve_then_reopen(served: Served) -> None:
    await seed(served.store, [incident(1)])
    r = await served.client.post("/incidents/inc-0001/resolve", headers=auth("writer"))
    assert r.status_code == 200
    assert r.json()["change"] == "resolved"
    assert r.json()["incident"]["status"] == "resolved"
    assert r.json()["incident"]["resolved_at"] == served.clock.now().isoformat().replace(
        "+00:00", "Z"
    )
    assert (
        await served.client.post("/incidents/inc-0001/resolve", headers=auth("writer"))
    ).status_code == 409
    listed = (
        await served.client.get("/incidents", params={"status": "open"}, headers=auth("reader"))
    ).json()
    assert listed["items"] == []
    r = await served.client.post("/incidents/inc-0001/reopen", json={}, headers=auth("writer"))
    assert r.status_code == 200
    assert r.json()["change"] == "reopened"
    assert (
        await served.client.post("/incidents/inc-0001/reopen", headers=auth("writer"))
    ).status_code == 409
    assert [(c.change, c.version) for c in _published(served)] == [
        (ChangeKind.RESOLVED, 2),
        (ChangeKind.REOPENED, 3),
    ]
    open_ids = [i.incident_id for i in await IncidentRepository(served.store).open_incidents()]
    assert open_ids == ["inc-0001"]


async def test_assign_and_comment(served: Served) -> None:
    await seed(served.store, [incident(1)])
    r = await served.client.post(
        "/incidents/inc-0001/assign", json={"assignee": "dana"}, headers=auth("writer")
    )
    assert r.status_code == 200
    assert r.json()["incident"]["assignee"] == "dana"
    r = await served.client.post(
        "/incidents/inc-0001/comments", json={"text": "db failover started"}, headers=auth("writer")
    )
    assert r.status_code == 200
    assert r.json()["incident"]["version"] == 3
    detail = (await served.client.get("/incidents/inc-0001", headers=auth("reader"))).json()
    assert [(e["kind"], e.get("note")) for e in detail["timeline"]] == [
        ("opened", None),
        ("assigned", "dana"),
        ("commented", "db failover started"),
    ]
    assert [c.version for c in _published(served)] == [2, 3]


async def test_expected_version_guards_against_lost_updates(served: Served) -> None:
    await seed(served.store, [incident(1)])
    r = await served.client.post(
        "/incidents/inc-0001/comments",
        json={"text": "x", "expected_version": 7},
        headers=auth("writer"),
    )
    assert r.status_code == 409
    assert "version 1, not 7" in r.json()["detail"]
    assert served.sink.topics[served.topics.incidents] == []


async def test_a_version_the_engine_already_published_is_refused(served: Served) -> None:
    await seed(served.store, [incident(1)])
    await served.store.put_if_absent("published:inc-0001:2", b"1")  # engine got there first
    r = await served.client.post("/incidents/inc-0001/ack", headers=auth("writer"))
    assert r.status_code == 409
    assert served.sink.topics[served.topics.incidents] == []
    # the claim was released: once the state is fresh again, the action goes through
    await served.store.write(_delete("published:inc-0001:2"))
    assert (
        await served.client.post("/incidents/inc-0001/ack", headers=auth("writer"))
    ).status_code == 200


def _delete(key: str):  # type: ignore[no-untyped-def]
    from correlator.store.base import WriteBatch

    batch = WriteBatch()
    batch.delete(key)
    return batch


async def test_merge_moves_alerts_and_resolves_the_other(served: Served) -> None:
    await seed(
        served.store,
        [
            incident(1, ["api"], causes=[("api", 0.5)]),
            incident(2, ["db", "api"], causes=[("db", 0.8)]),
        ],
    )
    r = await served.client.post(
        "/incidents/inc-0001/merge", json={"other": "inc-0002"}, headers=auth("writer")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["incident"]["services"] == ["api", "db"]
    assert body["incident"]["alert_count"] == 3
    assert body["incident"]["top_root_cause"] == "db"
    assert body["related"][0]["incident_id"] == "inc-0002"
    assert body["related"][0]["status"] == "resolved"
    assert body["related"][0]["labels"]["merged_into"] == "inc-0001"
    assert {(c.incident_id, c.change, c.version) for c in _published(served)} == {
        ("inc-0001", ChangeKind.MERGED, 2),
        ("inc-0002", ChangeKind.RESOLVED, 2),
    }
    again = await served.client.post(
        "/incidents/inc-0001/merge", json={"other": "inc-0002"}, headers=auth("writer")
    )
    assert again.status_code == 409
    self_merge = await served.client.post(
        "/incidents/inc-0001/merge", json={"other": "inc-0001"}, headers=auth("writer")
    )
    assert self_merge.status_code == 422
    assert self_merge.json()["detail"][0]["loc"] == ["body", "other"]
    missing = await served.client.post(
        "/incidents/inc-0001/merge", json={"other": "inc-9"}, headers=auth("writer")
    )
    assert missing.status_code == 404


async def test_split_moves_alerts_into_a_new_incident(served: Served) -> None:
    await seed(
        served.store, [incident(1, ["web", "api", "db"], causes=[("db", 0.9), ("web", 0.3)])]
    )
    r = await served.client.post(
        "/incidents/inc-0001/split",
        json={"fingerprints": ["fp-1-web"], "title": "web is separate"},
        headers=auth("writer"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["incident"]["services"] == ["api", "db"]
    assert body["incident"]["top_root_cause"] == "db"
    [born] = body["related"]
    assert born["title"] == "web is separate"
    assert born["services"] == ["web"]
    assert born["top_root_cause"] == "web"
    assert born["labels"] == {"split_from": "inc-0001"}
    changes = {c.incident_id: c for c in _published(served)}
    assert changes[born["incident_id"]].change is ChangeKind.OPENED
    assert changes[born["incident_id"]].version == 1
    assert changes["inc-0001"].version == 2
    stored = await IncidentRepository(served.store).get(born["incident_id"])
    assert stored is not None and stored.status is IncidentStatus.OPEN


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"fingerprints": ["fp-1-api", "nope"]}, ["body", "fingerprints", 1]),
        ({"fingerprints": ["fp-1-api"]}, ["body", "fingerprints"]),  # would leave nothing
        ({"fingerprints": []}, ["body", "fingerprints"]),
        ({}, ["body", "fingerprints"]),
        ({"fingerprints": "fp-1-api"}, ["body", "fingerprints"]),
    ],
)
async def test_bad_split_bodies_are_422(
    served: Served, body: dict[str, object], loc: list[object]
) -> None:
    await seed(served.store, [incident(1, ["api"])])
    r = await served.client.post("/incidents/inc-0001/split", json=body, headers=auth("writer"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("assign", {}, ["body", "assignee"]),
        ("assign", {"assignee": ""}, ["body", "assignee"]),
        ("comments", {"text": ""}, ["body", "text"]),
        ("comments", {"text": "x", "colour": "red"}, ["body", "colour"]),
        ("ack", {"note": 5}, ["body", "note"]),
        ("ack", {"expected_version": 0}, ["body", "expected_version"]),
        ("merge", {"other": ["inc-2"]}, ["body", "other"]),
    ],
)
async def test_bad_bodies_are_422_with_field_errors(
    served: Served, path: str, body: dict[str, object], loc: list[str]
) -> None:
    await seed(served.store, [incident(1)])
    r = await served.client.post(f"/incidents/inc-0001/{path}", json=body, headers=auth("writer"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc
    assert r.json()["detail"][0]["msg"]


async def test_a_body_that_is_not_json_is_422(served: Served) -> None:
    await seed(served.store, [incident(1)])
    r = await served.client.post(
        "/incidents/inc-0001/comments",
        content=b"{not json",
        headers={**auth("writer"), "content-type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"


async def test_actions_on_an_unknown_incident_are_404(served: Served) -> None:
    for path, body in [
        ("ack", {}),
        ("comments", {"text": "x"}),
        ("split", {"fingerprints": ["a"]}),
    ]:
        r = await served.client.post(f"/incidents/inc-x/{path}", json=body, headers=auth("writer"))
        assert r.status_code == 404, path
    assert json.loads(r.text)["error"] == "not_found"
