"""The API's changes and alerts land on the real broker's topics."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from tests.serve.conftest import T0, auth, incident, make_settings, seed, shop_topology

from correlator.clock import FakeClock
from correlator.config import Settings
from correlator.model import IncidentChange, RawMessage
from correlator.serve import create_app
from correlator.serve.cli import serve_settings_of
from correlator.serve.health import tcp_check
from correlator.store.base import StateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource

pytestmark = pytest.mark.integration


async def _drain(source: KafkaSource, want: int, timeout_s: float = 20.0) -> list[RawMessage]:
    got: list[RawMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(got) < want and loop.time() < deadline:
        got.extend(await source.get_batch(0.5))
    return got


async def test_an_ack_and_posted_alerts_reach_the_broker(
    settings: Settings, redis_store: StateStore
) -> None:
    topics = settings.topics
    await ensure_topics(settings.kafka, [topics.incidents, topics.alerts_in], partitions=2)
    await seed(redis_store, [incident(1, ["api", "db"], causes=[("db", 0.9)])])
    topology = shop_topology()
    app = create_app(
        make_settings(),
        store=redis_store,
        sink=KafkaSink(settings.kafka),
        topology_provider=lambda: topology,
        clock=FakeClock(T0),
        topics=topics,
        broker_check=tcp_check(settings.kafka.bootstrap_servers),
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as client,
    ):
        ready = await client.get("/readyz")
        assert ready.json() == {"status": "ready", "checks": {"store": True, "broker": True}}
        r = await client.post(
            "/incidents/inc-0001/ack", json={"note": "on it"}, headers=auth("writer")
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            "/api/v2/alerts",
            json=[{"labels": {"alertname": "Down", "service": "db"}}],
            headers=auth("writer"),
        )
        assert r.status_code == 200, r.text
    async with KafkaSource(settings.kafka, [topics.incidents, topics.alerts_in]) as source:
        got = await _drain(source, 2)
    by_topic = {m.topic: m for m in got}
    change = IncidentChange.model_validate_json(by_topic[topics.incidents].value or b"")
    assert (change.incident_id, change.version) == ("inc-0001", 2)
    assert change.incident.labels["acknowledged_by"] == "writer"
    assert by_topic[topics.incidents].key == b"inc-0001"
    assert by_topic[topics.incidents].header("incident-version") == b"2"
    webhook = json.loads(by_topic[topics.alerts_in].value or b"")
    assert webhook["alerts"][0]["labels"] == {"alertname": "Down", "service": "db"}


def test_serve_settings_default_until_the_main_settings_has_them() -> None:
    assert serve_settings_of(Settings()).port == 8080


async def test_the_cli_builds_an_app_over_redis_and_kafka(settings: Settings) -> None:
    import argparse

    from correlator.serve.cli import add_arguments, build_app

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--port", "0", "--host", "0.0.0.0"])
    assert (args.port, args.host, args.config) == (0, "0.0.0.0", None)

    app = build_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://s") as client,
    ):
        ready = await client.get("/readyz")
        assert ready.json() == {"status": "ready", "checks": {"store": True, "broker": True}}
        assert (await client.get("/incidents")).status_code == 401  # no tokens configured
