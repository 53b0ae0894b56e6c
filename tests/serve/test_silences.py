"""``/silences`` over real Redis, and the engine's correlate stage picking them up live."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.serve.conftest import Served, alert, auth

from correlator.config import CorrelateSettings
from correlator.correlate.rules import Rules, Silence, SilenceLoader, SilenceRepository
from correlator.correlate.stage import CorrelateStage, SuppressReason
from correlator.correlate.topology import TopologyGraph
from correlator.model import Signal

pytestmark = pytest.mark.integration


def window(served: Served, **body: Any) -> dict[str, Any]:
    now = served.clock.now()
    return {
        "matchers": ["service=db", "signal=~latency_.*"],
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "comment": "index rebuild",
        **body,
    }


async def test_post_list_and_delete_a_silence(served: Served) -> None:
    posted = await served.client.post("/silences", json=window(served), headers=auth("writer"))
    assert posted.status_code == 201, posted.text
    silence = posted.json()
    assert silence["matchers"] == ["service=db", "signal=~latency_.*"]
    assert (silence["state"], silence["created_by"]) == ("active", "writer")

    listed = await served.client.get("/silences", headers=auth("reader"))
    assert [s["id"] for s in listed.json()] == [silence["id"]]

    gone = await served.client.delete(f"/silences/{silence['id']}", headers=auth("writer"))
    assert gone.status_code == 204
    assert (await served.client.get("/silences", headers=auth("reader"))).json() == []
    again = await served.client.delete(f"/silences/{silence['id']}", headers=auth("writer"))
    assert again.status_code == 404
    assert again.json()["error"] == "not_found"


async def test_a_scheduled_silence_is_pending_and_an_ended_one_listed_only_on_request(
    served: Served,
) -> None:
    now = served.clock.now()
    later = window(
        served,
        starts_at=(now + timedelta(hours=1)).isoformat(),
        ends_at=(now + timedelta(hours=2)).isoformat(),
        created_by="dba on call",
    )
    pending = await served.client.post("/silences", json=later, headers=auth("writer"))
    assert (pending.json()["state"], pending.json()["created_by"]) == ("pending", "dba on call")
    ended = Silence.model_validate(
        {"id": "old", "matchers": ["service=db"], "starts_at": now - timedelta(hours=2)}
        | {"ends_at": now - timedelta(hours=1)}
    )
    await SilenceRepository(served.store).put(ended)

    current = await served.client.get("/silences", headers=auth("reader"))
    assert [s["state"] for s in current.json()] == ["pending"]
    everything = await served.client.get(
        "/silences", params={"include_expired": "true"}, headers=auth("reader")
    )
    assert [(s["id"], s["state"]) for s in everything.json()] == [
        ("old", "expired"),
        (pending.json()["id"], "pending"),
    ]


async def test_posting_a_silence_deletes_those_ended_beyond_the_retention(
    served: Served,
) -> None:
    now = served.clock.now()
    ended = {"matchers": ["service=db"], "starts_at": now - timedelta(days=9)}
    repository = SilenceRepository(served.store)
    for silence_id, days_ago in (("stale", 6), ("recent", 4)):
        await repository.put(
            Silence.model_validate(
                ended | {"id": silence_id, "ends_at": now - timedelta(days=days_ago)}
            )
        )
    posted = await served.client.post("/silences", json=window(served), headers=auth("writer"))
    assert posted.status_code == 201, posted.text

    everything = await served.client.get(
        "/silences", params={"include_expired": "true"}, headers=auth("reader")
    )
    assert [s["id"] for s in everything.json()] == ["recent", posted.json()["id"]]
    assert await served.store.get("silence:stale") is None
    assert await served.store.get("silence:recent") is not None


@pytest.mark.parametrize(
    ("method", "path", "who", "status"),
    [
        ("GET", "/silences", None, 401),
        ("POST", "/silences", "reader", 403),
        ("DELETE", "/silences/any", "reader", 403),
        ("DELETE", "/silences/any", "approver", 403),
    ],
    ids=["list-without-token", "post-read-only", "delete-read-only", "delete-approve-only"],
)
async def test_silences_need_read_to_list_and_write_to_change(
    served: Served, method: str, path: str, who: str | None, status: int
) -> None:
    headers = auth(who) if who else {}
    body = window(served) if method == "POST" else None
    response = await served.client.request(method, path, json=body, headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"matchers": ["service"]}, "matchers"),
        ({"matchers": ["service=~(db"]}, "matchers"),
        ({"matchers": []}, "matchers"),
        ({"starts_at": "2026-03-01T15:00:00Z", "ends_at": "2026-03-01T14:30:00Z"}, None),
        ({"starts_at": None, "ends_at": "2026-03-01T12:30:00Z"}, "ends_at"),  # clock: 14:00
        ({"ends_at": "tomorrow"}, "ends_at"),
        ({"id": "mine"}, "id"),
    ],
    ids=["no-op", "bad-regex", "no-matchers", "ends-before-start", "ended", "not-a-date", "id"],
)
async def test_bad_silences_get_422_naming_the_field(
    served: Served, change: dict[str, Any], field: str | None
) -> None:
    response = await served.client.post(
        "/silences", json=window(served, **change), headers=auth("writer")
    )
    assert response.status_code == 422, response.text
    locations = [e["loc"] for e in response.json()["detail"]]
    if field is not None:
        assert any(field in loc for loc in locations), locations
    assert await SilenceRepository(served.store).current(served.clock.now()) == []


async def test_a_silence_posted_through_the_api_mutes_the_running_stage_until_deleted(
    served: Served,
) -> None:
    configured = Silence.model_validate(
        {"id": "from-rules-file", "matchers": ["service=cache"]}
        | {"starts_at": served.clock.now(), "ends_at": served.clock.now() + timedelta(days=1)}
    )
    stage = CorrelateStage(CorrelateSettings(), TopologyGraph(), Rules(silences=[configured]))
    loader = SilenceLoader(SilenceRepository(served.store), configured=stage.silences)
    at = served.clock.now() + timedelta(minutes=1)
    assert await loader.refresh(stage.silences, served.clock.now()) is False  # none in the store

    posted = await served.client.post("/silences", json=window(served), headers=auth("writer"))
    silence_id = posted.json()["id"]
    assert await loader.refresh(stage.silences, served.clock.now()) is True
    assert await loader.refresh(stage.silences, served.clock.now()) is False  # unchanged
    assert stage.process([alert("fp-db", "db", at=at)], at) == []
    muted = stage.suppressed["fp-db"]
    assert (muted.reason, muted.by) == (SuppressReason.SILENCED, silence_id)
    # the same service on another signal does not match every matcher: it opens an incident
    other = alert("fp-db-err", "db", at=at, signal=Signal.ERROR_RATIO)
    assert [c.incident.services for c in stage.process([other], at)] == [["db"]]

    await served.client.delete(f"/silences/{silence_id}", headers=auth("writer"))
    assert await loader.refresh(stage.silences, served.clock.now()) is True
    assert set(stage.silences) == {"from-rules-file"}  # the rules file's silence stays
    later = at + timedelta(seconds=30)
    changes = stage.process([alert("fp-db-2", "db", at=later)], later)
    assert [a.fingerprint for c in changes for a in c.incident.alerts] == ["fp-db-err", "fp-db-2"]
