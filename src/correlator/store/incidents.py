"""Incidents in the state store: current document, indexes, timeline, publish markers.

Keys (under the store's prefix)::

    incident:<id>             the latest Incident as JSON
    incident:<id>:timeline    capped log of change entries (JSON)
    incidents:updated         index: incident id by updated_at (unix seconds)
    incidents:open            index: open incident ids by opened_at
    published:<id>:<version>  marker: this version reached the incidents topic
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from correlator.model.incident import Incident, IncidentChange, IncidentStatus
from correlator.store.base import StateStore, WriteBatch

__all__ = ["IncidentRepository"]

_MARKER_TTL_S = 7 * 24 * 3600.0
UPDATED = "incidents:updated"
OPEN = "incidents:open"


def _doc(incident_id: str) -> str:
    return f"incident:{incident_id}"


def _marker(incident_id: str, version: int) -> str:
    return f"published:{incident_id}:{version}"


class IncidentRepository:
    """Reads and writes incidents through any StateStore."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def add_to(self, batch: WriteBatch, changes: Sequence[IncidentChange]) -> None:
        """Queue the writes that record ``changes`` as published and current."""
        for change in changes:
            incident = change.incident
            batch.put(_doc(incident.incident_id), incident.model_dump_json().encode())
            batch.index_add(UPDATED, incident.incident_id, incident.updated_at.timestamp())
            if incident.status is IncidentStatus.OPEN:
                batch.index_add(OPEN, incident.incident_id, incident.opened_at.timestamp())
            else:
                batch.index_remove(OPEN, incident.incident_id)
            batch.append(
                f"{_doc(incident.incident_id)}:timeline",
                json.dumps(
                    {
                        "at": incident.updated_at.isoformat(),
                        "kind": change.change.value,
                        "version": change.version,
                        "alerts": len(incident.alerts),
                        "top_root_cause": (
                            incident.root_causes[0].entity if incident.root_causes else None
                        ),
                    }
                ).encode(),
                max_len=1000,
            )
            batch.put(_marker(incident.incident_id, change.version), b"1", ttl_s=_MARKER_TTL_S)

    async def unpublished(self, changes: Sequence[IncidentChange]) -> list[IncidentChange]:
        """The changes whose (id, version) has no publish marker yet."""
        marks = await self.store.get_many([_marker(c.incident_id, c.version) for c in changes])
        return [c for c, mark in zip(changes, marks, strict=True) if mark is None]

    async def get(self, incident_id: str) -> Incident | None:
        blob = await self.store.get(_doc(incident_id))
        return None if blob is None else Incident.model_validate_json(blob)

    async def get_many(self, incident_ids: Sequence[str]) -> list[Incident]:
        blobs = await self.store.get_many([_doc(i) for i in incident_ids])
        return [Incident.model_validate_json(b) for b in blobs if b is not None]

    async def open_incidents(self, limit: int = 10_000) -> list[Incident]:
        ids = [i for i, _ in await self.store.index_range(OPEN, limit=limit)]
        return await self.get_many(ids)

    async def recent(self, since: datetime | None = None, limit: int = 100) -> list[Incident]:
        """Incidents by most recent update first."""
        lo = since.timestamp() if since else float("-inf")
        ids = [
            i
            for i, _ in await self.store.index_range(
                UPDATED, min_score=lo, reverse=True, limit=limit
            )
        ]
        return await self.get_many(ids)

    async def timeline(self, incident_id: str) -> list[dict[str, object]]:
        return [json.loads(e) for e in await self.store.read_log(f"{_doc(incident_id)}:timeline")]
