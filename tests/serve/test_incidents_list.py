"""GET /incidents: filters, sort orders and cursor pagination over real Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.serve.conftest import T0, Served, auth, incident, seed

from correlator.model import IncidentStatus, Severity

pytestmark = pytest.mark.integration


async def _seed_mix(served: Served) -> None:
    await seed(
        served.store,
        [
            incident(1, ["api", "db"], severity=Severity.CRITICAL, causes=[("db", 0.9)]),
            incident(2, ["web"], title="checkout slow", labels={"team": "payments"}),
            incident(3, ["cache"], severity=Severity.INFO, status=IncidentStatus.RESOLVED),
            incident(4, ["db"], severity=Severity.CRITICAL, status=IncidentStatus.RESOLVED),
            incident(5, ["api"], opened=T0 + timedelta(hours=1)),
        ],
    )


async def _ids(served: Served, **params: object) -> list[str]:
    r = await served.client.get("/incidents", params=params, headers=auth("reader"))
    assert r.status_code == 200, r.text
    return [i["incident_id"] for i in r.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["inc-0005", "inc-0004", "inc-0003", "inc-0002", "inc-0001"]),
        ({"status": "open"}, ["inc-0005", "inc-0002", "inc-0001"]),
        ({"status": ["open", "resolved"]}, ["inc-0005", "inc-0004", "inc-0003", "inc-0002", "inc-0001"]),  # noqa: E501
        ({"service": "db"}, ["inc-0004", "inc-0001"]),
        ({"service": ["web", "cache"]}, ["inc-0003", "inc-0002"]),
        ({"severity": "critical"}, ["inc-0004", "inc-0001"]),
        ({"severity": "critical", "status": "open"}, ["inc-0001"]),
        ({"q": "CHECKOUT"}, ["inc-0002"]),
        ({"q": "payments"}, ["inc-0002"]),
        ({"q": "nothing-like-this"}, []),
        ({"since": (T0 + timedelta(minutes=30)).isoformat()}, ["inc-0005"]),
        ({"until": (T0 + timedelta(minutes=2)).isoformat()}, ["inc-0002", "inc-0001"]),
        (
            {
                "since": (T0 + timedelta(minutes=2)).isoformat(),
                "until": (T0 + timedelta(minutes=3)).isoformat(),
            },
            ["inc-0003", "inc-0002"],
        ),
        ({"sort": "updated_at"}, ["inc-0001", "inc-0002", "inc-0003", "inc-0004", "inc-0005"]),
        ({"sort": "-severity"}, ["inc-0004", "inc-0001", "inc-0005", "inc-0002", "inc-0003"]),
        ({"sort": "-alert_count", "limit": 1}, ["inc-0001"]),
    ],
    ids=[
        "all-newest-first", "status", "status-any", "service", "service-any", "severity",
        "severity-and-status", "q-title-any-case", "q-label-value", "q-none", "since", "until",
        "time-window", "oldest-first", "severity-desc", "alert-count",
    ],
)  # fmt: skip
async def test_filters_and_sorts(
    served: Served, params: dict[str, object], expected: list[str]
) -> None:
    await _seed_mix(served)
    assert await _ids(served, **params) == expected


async def test_summary_rows_carry_severity_and_top_root_cause(served: Served) -> None:
    await _seed_mix(served)
    r = await served.client.get(
        "/incidents", params={"service": "api", "status": "open"}, headers=auth("reader")
    )
    rows = {row["incident_id"]: row for row in r.json()["items"]}
    assert rows["inc-0001"]["severity"] == "critical"
    assert rows["inc-0001"]["top_root_cause"] == "db"
    assert rows["inc-0001"]["alert_count"] == 2
    assert rows["inc-0005"]["top_root_cause"] is None


@pytest.mark.parametrize(
    "sort", ["-updated_at", "updated_at", "-opened_at", "opened_at", "-severity", "alert_count"]
)
@pytest.mark.parametrize("limit", [1, 7, 50])
async def test_walking_every_page_sees_each_incident_once(
    served: Served, sort: str, limit: int
) -> None:
    # 45 incidents, many sharing one updated_at so keyset ties are exercised
    same = T0 + timedelta(hours=1)
    batch = [
        incident(
            n,
            ["api"] if n % 2 else ["db", "api"],
            severity=[Severity.INFO, Severity.WARNING, Severity.CRITICAL][n % 3],
            updated=same if n % 3 == 0 else None,
        )
        for n in range(45)
    ]
    await seed(served.store, batch)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, object] = {"sort": sort, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = await served.client.get("/incidents", params=params, headers=auth("reader"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= limit
        seen += [i["incident_id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 100
    assert len(seen) == len(set(seen)) == 45
    assert set(seen) == {i.incident_id for i in batch}
    # the pages joined are one listing in the requested order
    one = await _ids(served, sort=sort, limit=500)
    assert seen == one


async def test_pages_of_a_filtered_listing(served: Served) -> None:
    await seed(served.store, [incident(n, ["db"] if n % 4 == 0 else ["web"]) for n in range(30)])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"service": "db", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = (await served.client.get("/incidents", params=params, headers=auth("reader"))).json()
        seen += [i["incident_id"] for i in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert seen == [f"inc-{n:04d}" for n in range(28, -1, -4)]


async def test_a_cursor_is_refused_with_other_filters_or_when_garbled(served: Served) -> None:
    await seed(served.store, [incident(n) for n in range(3)])
    first = (
        await served.client.get("/incidents", params={"limit": 1}, headers=auth("reader"))
    ).json()
    cursor = first["next_cursor"]
    other = await served.client.get(
        "/incidents",
        params={"limit": 1, "cursor": cursor, "sort": "opened_at"},
        headers=auth("reader"),
    )
    assert other.status_code == 400
    assert other.json()["error"] == "bad_cursor"
    assert "other filters" in other.json()["detail"]
    garbled = await served.client.get(
        "/incidents", params={"cursor": "%%not-a-cursor"}, headers=auth("reader")
    )
    assert garbled.status_code == 400
    assert "invalid cursor" in garbled.json()["detail"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "sleeping"}, "status"),
        ({"severity": "fatal"}, "severity"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"sort": "title"}, "sort"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-03-01T12:00:00"}, "since"),  # no zone
    ],
)
async def test_bad_query_parameters_are_422_naming_the_field(
    served: Served, params: dict[str, object], field: str
) -> None:
    r = await served.client.get("/incidents", params=params, headers=auth("reader"))
    assert r.status_code == 422
    errors = r.json()["detail"]
    assert any(e["loc"][:2] == ["query", field] for e in errors), errors


async def test_empty_store_lists_nothing(served: Served) -> None:
    body = (await served.client.get("/incidents", headers=auth("reader"))).json()
    assert body == {"items": [], "next_cursor": None, "scanned": 0, "truncated": False}
