"""Safety gates before an execution starts: kill switch, cooldown, rate limit.

Keys (under the store's prefix)::

    act:kill_switch                          "1" while every execution is refused
    cooldown:<runbook>:<target>              "<execution id> <unix seconds>" of the last start
    ratelimit:<runbook>:<target>:<bucket>    counter per fixed window (bucket = t // window)

Cooldown keys carry a TTL in Redis; the stored time is compared with the injected clock
too, so stores without TTLs and fake clocks behave the same.
"""

from __future__ import annotations

from correlator.act.records import Reason
from correlator.act.runbook import Runbook
from correlator.act.settings import ActSettings
from correlator.clock import Clock
from correlator.store.base import StateStore, WriteBatch

__all__ = ["KILL_SWITCH_KEY", "Guards", "kill_switch_on", "set_kill_switch"]

KILL_SWITCH_KEY = "act:kill_switch"


async def kill_switch_on(store: StateStore, settings: ActSettings) -> bool:
    """True when the setting or the store key says stop."""
    return settings.kill_switch or await store.get(KILL_SWITCH_KEY) == b"1"


async def set_kill_switch(store: StateStore, on: bool) -> None:
    """Turn the store kill switch on or off (the setting is not changed)."""
    batch = WriteBatch()
    if on:
        batch.put(KILL_SWITCH_KEY, b"1")
    else:
        batch.delete(KILL_SWITCH_KEY)
    await store.write(batch)


class Guards:
    """Decides whether an execution may start now; a refusal comes with its reason."""

    def __init__(self, store: StateStore, settings: ActSettings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    async def refusal(self, runbook: Runbook, target: str, execution_id: str) -> Reason | None:
        """None when it may start (and then counts it), else why not."""
        if await kill_switch_on(self._store, self._settings):
            return Reason.KILL_SWITCH
        if not await self._cooldown_free(runbook, target, execution_id):
            return Reason.COOLDOWN
        if not await self._under_rate(runbook, target):
            return Reason.RATE_LIMITED
        return None

    async def _cooldown_free(self, runbook: Runbook, target: str, execution_id: str) -> bool:
        cooldown = (
            self._settings.default_cooldown_s if runbook.cooldown_s is None else runbook.cooldown_s
        )
        if cooldown <= 0:
            return True
        key = f"cooldown:{runbook.name}:{target}"
        now = self._clock.now().timestamp()
        value = f"{execution_id} {now}".encode()
        if await self._store.put_if_absent(key, value, ttl_s=cooldown):
            return True
        held = (await self._store.get(key) or b"").decode().split()
        if len(held) == 2 and held[0] == execution_id:
            return True  # our own claim from before a restart
        if len(held) == 2 and now - float(held[1]) < cooldown:
            return False
        batch = WriteBatch()
        batch.put(key, value, ttl_s=cooldown)
        await self._store.write(batch)
        return True

    async def _under_rate(self, runbook: Runbook, target: str) -> bool:
        limit = runbook.max_executions
        if limit is None:
            return True
        bucket = int(self._clock.now().timestamp() // limit.window_s)
        key = f"ratelimit:{runbook.name}:{target}:{bucket}"
        count = await self._store.incr(key, ttl_s=limit.window_s * 2)
        return count <= limit.count
