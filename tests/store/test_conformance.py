"""One conformance suite run over every StateStore implementation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from correlator.runtime import EmbeddedRedis
from correlator.store import MemoryStateStore, StateStore, WriteBatch
from correlator.store.redis import RedisStateStore


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, unique: str) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
        return
    server: EmbeddedRedis = request.getfixturevalue("redis_server")
    async with RedisStateStore(server.url, prefix=f"{unique}:") as redis_store:
        yield redis_store


async def test_write_batch_is_visible_as_a_whole(store: StateStore) -> None:
    batch = WriteBatch()
    batch.put("a", b"1")
    batch.put("b", b"2")
    batch.index_add("idx", "a", 5.0)
    batch.index_add("idx", "b", 1.0)
    batch.append("log", b"x", max_len=2)
    await store.write(batch)
    assert await store.get_many(["a", "b", "missing"]) == [b"1", b"2", None]
    assert await store.index_range("idx") == [("b", 1.0), ("a", 5.0)]
    assert await store.index_range("idx", reverse=True, limit=1) == [("a", 5.0)]
    assert await store.index_range("idx", min_score=2.0) == [("a", 5.0)]
    assert await store.index_size("idx") == 2


async def test_put_if_absent_sets_once(store: StateStore) -> None:
    assert await store.put_if_absent("once", b"first") is True
    assert await store.put_if_absent("once", b"second") is False
    assert await store.get("once") == b"first"


async def test_capped_log_keeps_the_newest(store: StateStore) -> None:
    for i in range(5):
        batch = WriteBatch()
        batch.append("audit", str(i).encode(), max_len=3)
        await store.write(batch)
    assert await store.read_log("audit") == [b"2", b"3", b"4"]


async def test_index_remove_delete_and_counters(store: StateStore) -> None:
    batch = WriteBatch()
    batch.index_add("open", "i1", 1.0)
    batch.put("k", b"v")
    await store.write(batch)
    batch = WriteBatch()
    batch.index_remove("open", "i1")
    batch.delete("k")
    await store.write(batch)
    assert await store.index_range("open") == []
    assert await store.get("k") is None
    assert await store.incr("n") == 1
    assert await store.incr("n", 4) == 5


async def test_keys_by_prefix(store: StateStore) -> None:
    batch = WriteBatch()
    batch.put("model:a", b"1")
    batch.put("model:b", b"2")
    batch.put("other", b"3")
    await store.write(batch)
    assert await store.keys("model:") == ["model:a", "model:b"]
