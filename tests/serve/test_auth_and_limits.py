"""Bearer scopes (401/403 bodies), body size limit (413), CORS off by default."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.serve.conftest import Served, auth, incident, make_settings, seed

from correlator.clock import SystemClock
from correlator.correlate.topology import TopologyGraph
from correlator.serve import create_app
from correlator.store import MemoryStateStore
from correlator.transport import MemorySink

pytestmark = pytest.mark.integration

READS = [
    "/incidents",
    "/incidents/inc-0001",
    "/topology",
    "/topology.svg",
    "/runbooks",
    "/executions",
]
WRITES = [
    ("/incidents/inc-0001/ack", {}),
    ("/incidents/inc-0001/resolve", {}),
    ("/incidents/inc-0001/reopen", {}),
    ("/incidents/inc-0001/assign", {"assignee": "a"}),
    ("/incidents/inc-0001/comments", {"text": "a"}),
    ("/incidents/inc-0001/merge", {"other": "inc-0002"}),
    ("/incidents/inc-0001/split", {"fingerprints": ["x"]}),
    ("/api/v2/alerts", [{"labels": {"alertname": "A"}}]),
]
APPROVALS = ["/executions/ex-1/approve", "/executions/ex-1/reject"]


@pytest.mark.parametrize("path", READS)
async def test_reads_without_a_token_are_401_with_a_challenge(served: Served, path: str) -> None:
    r = await served.client.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="correlator"'
    assert r.json() == {
        "error": "unauthorized",
        "detail": "missing bearer token: send 'Authorization: Bearer <token>'",
    }


@pytest.mark.parametrize(
    "header", ["Bearer not-a-known-token-at-all", "Basic dXNlcjpwYXNz", "Bearer"]
)
async def test_unknown_or_malformed_credentials_are_401(served: Served, header: str) -> None:
    r = await served.client.get("/incidents", headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    if header.startswith("Bearer "):
        assert 'error="invalid_token"' in r.headers["www-authenticate"]
        assert r.json()["detail"] == "invalid token: it matches none of serve.tokens"


@pytest.mark.parametrize(("path", "body"), WRITES)
async def test_no_state_change_without_the_write_scope(
    served: Served, path: str, body: object
) -> None:
    await seed(served.store, [incident(1), incident(2)])
    for who in ("reader", "approver"):
        r = await served.client.post(path, json=body, headers=auth(who))
        assert r.status_code == 403, (who, r.text)
        assert r.json() == {
            "error": "forbidden",
            "detail": f"token {who!r} lacks the 'write' scope",
            "required_scope": "write",
        }
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert (await served.client.post(path, json=body)).status_code == 401
    assert dict(served.sink.topics) == {} or all(not v for v in served.sink.topics.values())
    assert (await served.client.get("/incidents/inc-0001", headers=auth("reader"))).json()[
        "version"
    ] == 1


@pytest.mark.parametrize("path", APPROVALS)
async def test_approvals_need_the_approve_scope(served: Served, path: str) -> None:
    for who in ("reader", "writer"):
        r = await served.client.post(path, json={}, headers=auth(who))
        assert r.status_code == 403
        assert r.json()["required_scope"] == "approve"
    r = await served.client.post(path, json={}, headers=auth("approver"))
    assert r.status_code == 404  # allowed; there is just no such execution


async def test_health_and_metrics_need_no_token(served: Served) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert (await served.client.get(path)).status_code == 200, path


async def test_metrics_can_require_a_token() -> None:
    app = create_app(
        make_settings(metrics_public=False),
        store=MemoryStateStore(),
        sink=MemorySink(),
        topology_provider=TopologyGraph,
        clock=SystemClock(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.get("/metrics", headers=auth("reader"))).status_code == 200


async def test_bodies_over_the_limit_are_413(served: Served) -> None:
    await seed(served.store, [incident(1)])
    big = {"text": "x" * 70_000}
    r = await served.client.post("/incidents/inc-0001/comments", json=big, headers=auth("writer"))
    assert r.status_code == 413
    assert r.json() == {
        "error": "payload_too_large",
        "detail": "request body is larger than 65536 bytes (serve.max_body_bytes)",
    }


async def test_streamed_bodies_over_the_limit_are_413(served: Served) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'[{"labels": {"a": "'
        for _ in range(20):
            yield b"y" * 8192
        yield b'"}}]'

    r = await served.client.post(
        "/api/v2/alerts",
        content=chunks(),
        headers={**auth("writer"), "content-type": "application/json"},
    )
    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    assert not served.sink.topics[served.topics.alerts_in]


async def test_cors_is_off_by_default(served: Served) -> None:
    r = await served.client.options(
        "/incidents",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = await served.client.get(
        "/incidents", headers={"Origin": "https://evil.example", **auth("reader")}
    )
    assert "access-control-allow-origin" not in r.headers


async def test_cors_allows_configured_origins_only() -> None:
    app = create_app(
        make_settings(cors_origins=["https://ops.example"]),
        store=MemoryStateStore(),
        sink=MemorySink(),
        topology_provider=TopologyGraph,
        clock=SystemClock(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as c:
        pre = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        ok = await c.options("/incidents", headers={"Origin": "https://ops.example", **pre})
        assert ok.headers["access-control-allow-origin"] == "https://ops.example"
        bad = await c.options("/incidents", headers={"Origin": "https://evil.example", **pre})
        assert "access-control-allow-origin" not in bad.headers


def test_short_tokens_are_refused_by_the_settings() -> None:
    from pydantic import ValidationError

    from correlator.serve import ServeSettings

    with pytest.raises(ValidationError, match="at least 16 characters"):
        ServeSettings.model_validate({"tokens": {"ops": {"token": "short"}}})
    spec = ServeSettings.model_validate(
        {"tokens": {"ops": {"token": "x" * 16, "scopes": "read, approve"}}}
    ).tokens["ops"]
    assert sorted(spec.scopes) == ["approve", "read"]
    assert "x" * 16 not in repr(spec)
