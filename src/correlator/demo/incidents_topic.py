"""Reading the incidents topic back, as any downstream consumer would."""

from __future__ import annotations

import asyncio

from correlator.config import KafkaSettings
from correlator.model.incident import IncidentChange
from correlator.transport.kafka import KafkaSource

__all__ = ["latest_versions", "read_changes"]


async def read_changes(
    settings: KafkaSettings, topic: str, group_id: str, quiet_s: float = 2.0, limit_s: float = 30.0
) -> list[IncidentChange]:
    """Every change on ``topic`` from the beginning, until it has been quiet for ``quiet_s``."""
    out: list[IncidentChange] = []
    loop = asyncio.get_running_loop()
    async with KafkaSource(settings, [topic], group_id=group_id) as source:
        deadline = loop.time() + limit_s
        last_new = loop.time()
        while loop.time() < deadline and (not out or loop.time() - last_new < quiet_s):
            batch = await source.get_batch(0.5)
            if batch:
                last_new = loop.time()
                out.extend(IncidentChange.model_validate_json(m.value or b"") for m in batch)
            elif not out and loop.time() - last_new > 3 * quiet_s:
                break
    return out


def latest_versions(changes: list[IncidentChange]) -> dict[str, IncidentChange]:
    """Fold changes to the current state: the highest version of each incident id."""
    current: dict[str, IncidentChange] = {}
    for change in changes:
        known = current.get(change.incident_id)
        if known is None or change.version > known.version:
            current[change.incident_id] = change
    return current
