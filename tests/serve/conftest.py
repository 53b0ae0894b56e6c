"""Serve fixtures: the app over the real Redis (``redis_store``) with a memory sink."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from correlator.clock import FakeClock
from correlator.config import TopicSettings
from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.model import (
    Alert,
    ChangeKind,
    Evidence,
    Incident,
    IncidentChange,
    IncidentStatus,
    RootCause,
    Severity,
    Signal,
)
from correlator.serve import ServeSettings, TokenSpec, create_app
from correlator.store.base import StateStore, WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.store.redis import RedisStateStore
from correlator.transport import MemorySink

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRETS = {
    "reader": "reader-token-0123456789",
    "writer": "writer-token-0123456789",
    "approver": "approver-token-0123456",
    "admin": "admin-token-0123456789",
}
SCOPES = {
    "reader": ["read"],
    "writer": ["read", "write"],
    "approver": ["read", "approve"],
    "admin": ["read", "write", "approve"],
}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[who]}"}


def make_settings(**overrides: object) -> ServeSettings:
    tokens = {
        name: TokenSpec(token=SecretStr(SECRETS[name]), scopes=frozenset(SCOPES[name]))  # type: ignore[arg-type]
        for name in SECRETS
    }
    return ServeSettings.model_validate({"tokens": tokens, **overrides})


def alert(
    fp: str,
    service: str,
    *,
    severity: Severity = Severity.WARNING,
    at: datetime = T0,
    signal: Signal = Signal.LATENCY_P99,
) -> Alert:
    return Alert(
        fingerprint=fp,
        service=service,
        entity=service,
        signal=signal,
        severity=severity,
        summary=f"{service} {signal.value} high",
        starts_at=at,
        last_seen_at=at,
    )


def incident(
    n: int,
    services: Sequence[str] = ("api",),
    *,
    severity: Severity = Severity.WARNING,
    status: IncidentStatus = IncidentStatus.OPEN,
    title: str | None = None,
    labels: dict[str, str] | None = None,
    opened: datetime | None = None,
    updated: datetime | None = None,
    causes: Sequence[tuple[str, float]] = (),
) -> Incident:
    opened = opened or T0 + timedelta(minutes=n)
    updated = updated or opened + timedelta(seconds=30)
    alerts = [alert(f"fp-{n}-{s}", s, severity=severity, at=opened) for s in services]
    return Incident(
        incident_id=f"inc-{n:04d}",
        version=1,
        status=status,
        title=title or f"{services[0]}: latency_p99",
        services=list(services),
        alerts=alerts,
        root_causes=[
            RootCause(
                entity=e,
                score=s,
                signals=["latency_p99"],
                evidence=[Evidence(kind="anomaly", detail=f"{e} latency_p99 score {s}")],
            )
            for e, s in causes
        ],
        opened_at=opened,
        updated_at=updated,
        resolved_at=updated if status is IncidentStatus.RESOLVED else None,
        labels=labels or {},
    )


async def seed(store: StateStore, incidents: Sequence[Incident]) -> None:
    """Write incidents as the engine's publish stage does (as version-1 opened changes)."""
    batch = WriteBatch()
    IncidentRepository(store).add_to(
        batch,
        [
            IncidentChange(
                change=ChangeKind.OPENED, incident_id=i.incident_id, version=i.version, incident=i
            )
            for i in incidents
        ],
    )
    await store.write(batch)


def shop_topology() -> TopologyGraph:
    graph = TopologyGraph()
    for spec in (
        ServiceSpec(name="web", depends_on=["api"]),
        ServiceSpec(name="api", depends_on=["db", "cache"]),
        ServiceSpec(name="db"),
        ServiceSpec(name="cache"),
    ):
        graph.declare(spec)
    graph.learn("api", "payments", 5, 100.0)
    return graph


def app_over_redis(redis_url: str, prefix: str) -> FastAPI:
    """The app owning its own Redis client (started by its lifespan), for servers in a thread."""
    topology = shop_topology()
    return create_app(
        make_settings(),
        store=RedisStateStore(redis_url, prefix=prefix),
        sink=MemorySink(),
        topology_provider=lambda: topology,
        clock=FakeClock(T0),
    )


@dataclass
class Served:
    app: FastAPI
    client: httpx.AsyncClient
    store: StateStore
    sink: MemorySink
    clock: FakeClock
    topics: TopicSettings


@pytest.fixture
async def served(redis_store: StateStore, unique: str) -> AsyncIterator[Served]:
    sink = MemorySink()
    clock = FakeClock(T0 + timedelta(hours=2))
    topics = TopicSettings(incidents=f"{unique}-incidents", alerts_in=f"{unique}-am")
    topology = shop_topology()
    app = create_app(
        make_settings(max_body_bytes=64 * 1024),
        store=redis_store,
        sink=sink,
        topology_provider=lambda: topology,
        clock=clock,
        topics=topics,
        manage_ports=False,
    )
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
        yield Served(app, client, redis_store, sink, clock, topics)
