"""PublishStage: number incident versions, send change events, record them in the store.

Exactly once as seen by consumers: each change is keyed by incident id and carries a
version; a version that already has a publish marker is never sent again. The engine
records changes (markers and its outbox) before sending them (``prepare``, then ``send``);
a crash in between re-sends the outbox with the same keys, versions and contents, which a
consumer keeping the highest version per id ignores.
"""

from __future__ import annotations

from collections.abc import Sequence

from correlator.correlate.stage import PendingChange
from correlator.model.incident import ChangeKind, IncidentChange
from correlator.model.message import RawMessage
from correlator.store.base import WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.transport.base import Sink

__all__ = ["PublishStage", "change_message"]


def change_message(change: IncidentChange, topic: str) -> RawMessage:
    """The Kafka record of one change: key = incident id, JSON value, version headers."""
    return RawMessage(
        topic=topic,
        key=change.incident_id.encode(),
        value=change.model_dump_json().encode(),
        partition=-1,
        headers=(
            ("incident-version", str(change.version).encode()),
            ("change", change.change.value.encode()),
            ("schema-version", str(change.schema_version).encode()),
            ("content-type", b"application/json"),
        ),
    )


class PublishStage:
    """Turns pending changes into published, stored ``IncidentChange`` events."""

    def __init__(self, sink: Sink, repository: IncidentRepository, topic: str) -> None:
        self._sink = sink
        self._repo = repository
        self._topic = topic

    async def rebase(self, pending: Sequence[PendingChange]) -> None:
        """Catch up with versions others published (the API's ack, assign, comments...).

        The engine's copy of an open incident can be behind the store when someone else
        changed it; its next change must come after theirs and keep their labels, or it
        would reuse their version number and be dropped as already published.
        """
        ids = [p.incident.incident_id for p in pending if p.change is not ChangeKind.OPENED]
        stored = {i.incident_id: i for i in await self._repo.get_many(ids)} if ids else {}
        for item in pending:
            theirs = stored.get(item.incident.incident_id)
            if theirs is not None and theirs.version > item.incident.version:
                item.incident.version = theirs.version
                item.incident.labels = {**theirs.labels, **item.incident.labels}

    @staticmethod
    def version(pending: Sequence[PendingChange]) -> list[IncidentChange]:
        """Give each changed incident its next version and freeze it into a change event."""
        out: list[IncidentChange] = []
        for item in pending:
            incident = item.incident
            incident.version = 1 if item.change is ChangeKind.OPENED else incident.version + 1
            out.append(
                IncidentChange(
                    change=item.change,
                    incident_id=incident.incident_id,
                    version=incident.version,
                    incident=incident.model_copy(deep=True),
                )
            )
        return out

    async def prepare(
        self, changes: Sequence[IncidentChange], batch: WriteBatch
    ) -> list[IncidentChange]:
        """The changes not yet published, their store writes (markers too) queued in ``batch``.

        The engine writes ``batch`` with its snapshot and outbox, then calls ``send``.
        """
        if not changes:
            return []
        fresh = await self._repo.unpublished(changes)
        self._repo.add_to(batch, fresh)
        return fresh

    async def send(self, changes: Sequence[IncidentChange]) -> None:
        """Send change events to the incidents topic (acknowledged when this returns)."""
        await self._sink.send([change_message(c, self._topic) for c in changes])

    async def process(
        self, changes: Sequence[IncidentChange], batch: WriteBatch
    ) -> list[IncidentChange]:
        """Send the changes not yet published; queue their store writes into ``batch``."""
        fresh = await self.prepare(changes, batch)
        await self.send(fresh)
        return fresh
