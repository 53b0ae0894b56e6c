"""Session fixtures: one real Tansu broker and one real redis-server for the whole run."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from correlator.config import KafkaSettings, Settings
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.store.redis import RedisStateStore

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
_names = itertools.count()


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def broker(run_dir: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(run_dir / "broker") as started:
        yield started


@pytest.fixture(scope="session")
def redis_server(run_dir: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(run_dir / "redis") as started:
        yield started


@pytest.fixture
def unique() -> str:
    """A name no other test in this run uses (topics, groups, key prefixes)."""
    return f"t{next(_names)}"


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker, unique: str) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=broker.bootstrap_servers, group_id=f"g-{unique}", poll_timeout_ms=200
    )


@pytest.fixture
def settings(broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str) -> Settings:
    """Settings whose topics, group and key prefix belong to this test alone."""
    return Settings.model_validate(
        {
            "kafka": {"bootstrap_servers": broker.bootstrap_servers, "group_id": f"g-{unique}"},
            "redis": {"url": redis_server.url, "key_prefix": f"{unique}:"},
            "topics": {
                "spans": f"{unique}-spans",
                "metrics": f"{unique}-metrics",
                "logs": f"{unique}-logs",
                "events": f"{unique}-events",
                "alerts_in": f"{unique}-alertmanager",
                "incidents": f"{unique}-incidents",
                "dead_letter": f"{unique}-dlq",
                "partitions": 2,
            },
            "correlate": {"topology_dir": None},
            "runbooks_dir": None,
        }
    )


@pytest.fixture
async def redis_store(redis_server: EmbeddedRedis, unique: str) -> AsyncIterator[RedisStateStore]:
    store = RedisStateStore(redis_server.url, prefix=f"{unique}:")
    await store.start()
    yield store
    await store.stop()
