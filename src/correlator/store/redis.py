"""Redis StateStore: the only module that imports redis."""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from correlator.errors import StoreError
from correlator.store.base import WriteBatch

__all__ = ["RedisStateStore"]


def _b(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise StoreError(f"unexpected reply type from Redis: {type(value).__name__}")


def _ms(ttl_s: float) -> int:
    return max(1, int(ttl_s * 1000))


class RedisStateStore:
    """A StateStore on one Redis database; every key is prefixed."""

    def __init__(self, url: str, prefix: str = "correlator:") -> None:
        self._url = url
        self._prefix = prefix
        self._client: aioredis.Redis = aioredis.Redis.from_url(url)

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def start(self) -> None:
        if not await self.ping():
            raise StoreError(f"Redis at {self._url} does not answer; check redis.url")

    async def stop(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> RedisStateStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._k(key))
        except RedisError as exc:
            raise StoreError(f"Redis GET failed: {exc}") from exc
        return None if value is None else _b(value)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            values = await self._client.mget([self._k(k) for k in keys])
        except RedisError as exc:
            raise StoreError(f"Redis MGET failed: {exc}") from exc
        return [None if v is None else _b(v) for v in values]

    async def put_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        try:
            done = await self._client.set(
                self._k(key), value, nx=True, px=_ms(ttl_s) if ttl_s else None
            )
        except RedisError as exc:
            raise StoreError(f"Redis SET NX failed: {exc}") from exc
        return bool(done)

    async def write(self, batch: WriteBatch) -> None:
        if not batch:
            return
        pipe = self._client.pipeline(transaction=True)
        for key, value in batch.puts.items():
            ttl = batch.ttls.get(key)
            pipe.set(self._k(key), value, px=_ms(ttl) if ttl else None)
        for index, member, score in batch.index_adds:
            pipe.zadd(self._k(index), {member: score})
        for index, member in batch.index_removes:
            pipe.zrem(self._k(index), member)
        for log, value, max_len in batch.appends:
            pipe.rpush(self._k(log), value)
            pipe.ltrim(self._k(log), -max_len, -1)
        for key in batch.deletes:
            pipe.delete(self._k(key))
        try:
            await pipe.execute()
        except RedisError as exc:
            raise StoreError(f"Redis transaction failed: {exc}") from exc

    async def index_range(
        self,
        index: str,
        *,
        min_score: float = float("-inf"),
        max_score: float = float("inf"),
        reverse: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> list[tuple[str, float]]:
        lo = "-inf" if min_score == float("-inf") else repr(min_score)
        hi = "+inf" if max_score == float("inf") else repr(max_score)
        try:
            if reverse:
                rows = await self._client.zrevrangebyscore(
                    self._k(index), hi, lo, start=offset, num=limit, withscores=True
                )
            else:
                rows = await self._client.zrangebyscore(
                    self._k(index), lo, hi, start=offset, num=limit, withscores=True
                )
        except RedisError as exc:
            raise StoreError(f"Redis ZRANGE failed: {exc}") from exc
        return [(_b(row[0]).decode(), float(row[1])) for row in rows]

    async def index_size(self, index: str) -> int:
        try:
            return int(await self._client.zcard(self._k(index)))
        except RedisError as exc:
            raise StoreError(f"Redis ZCARD failed: {exc}") from exc

    async def read_log(self, log: str, start: int = 0, stop: int = -1) -> list[bytes]:
        try:
            rows = await self._client.lrange(self._k(log), start, stop)
        except RedisError as exc:
            raise StoreError(f"Redis LRANGE failed: {exc}") from exc
        return [_b(r) for r in rows]

    async def incr(self, key: str, by: int = 1, ttl_s: float | None = None) -> int:
        try:
            value = await self._client.incrby(self._k(key), by)
            if ttl_s is not None:
                await self._client.pexpire(self._k(key), _ms(ttl_s), nx=True)
        except RedisError as exc:
            raise StoreError(f"Redis INCRBY failed: {exc}") from exc
        return int(value)

    async def keys(self, prefix: str) -> list[str]:
        out: list[str] = []
        try:
            async for key in self._client.scan_iter(match=self._k(prefix) + "*", count=1000):
                out.append(_b(key).decode()[len(self._prefix) :])
        except RedisError as exc:
            raise StoreError(f"Redis SCAN failed: {exc}") from exc
        return sorted(out)
