"""Incident actions from the API: each writes a new version and publishes it like the engine.

A change gets version = stored version + 1. Serve claims that (id, version) for a few
seconds before sending, so two API calls cannot publish the same version; a version the
engine already published is refused with 409 (retry on the fresh state). The change goes to
the incidents topic first, then to the store with the same writes the publish stage makes,
plus a timeline entry naming the action and the actor.

Until the model gains the kinds, an acknowledgement, assignment, comment or merge is
published with its own ``ChangeKind`` (acknowledged, assigned, commented, merged, split,
resolved, reopened), with the action also in the timeline and in labels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from correlator.clock import Clock
from correlator.model.alert import Alert
from correlator.model.incident import (
    ChangeKind,
    Incident,
    IncidentChange,
    IncidentStatus,
    RootCause,
)
from correlator.publish.stage import change_message
from correlator.serve.metrics import EngineMetrics
from correlator.serve.problems import Conflict, FieldProblem, NotFound
from correlator.serve.query import summary_of
from correlator.serve.schemas import (
    AssignBody,
    ChangeResult,
    CommentBody,
    MergeBody,
    NoteBody,
    SplitBody,
)
from correlator.store.base import StateStore, WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.transport.base import Sink

__all__ = ["IncidentActions", "timeline_key"]

_CLAIM_TTL_S = 30.0


def timeline_key(incident_id: str) -> str:
    return f"incident:{incident_id}:timeline"


@dataclass
class _Step:
    """One new version to publish, with the timeline entry that explains it."""

    change: IncidentChange
    action: str
    actor: str
    note: str


def _uniq(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


class IncidentActions:
    """Ack, resolve, reopen, assign, comment, merge and split."""

    def __init__(
        self, store: StateStore, sink: Sink, topic: str, clock: Clock, metrics: EngineMetrics
    ) -> None:
        self._store = store
        self._repo = IncidentRepository(store)
        self._sink = sink
        self._topic = topic
        self._clock = clock
        self._metrics = metrics

    async def _load(self, incident_id: str, expected: int | None = None) -> Incident:
        incident = await self._repo.get(incident_id)
        if incident is None:
            raise NotFound(f"incident {incident_id!r} does not exist")
        if expected is not None and incident.version != expected:
            raise Conflict(
                f"incident {incident_id!r} is at version {incident.version}, not {expected}; "
                "reload it and retry"
            )
        return incident

    def _now(self, after: datetime) -> datetime:
        return max(self._clock.now(), after)

    def _next(self, current: Incident, kind: ChangeKind) -> tuple[Incident, ChangeKind]:
        new = current.model_copy(deep=True)
        new.version = current.version + 1
        new.updated_at = self._now(current.updated_at)
        return new, kind

    def _step(
        self, incident: Incident, kind: ChangeKind, action: str, actor: str, note: str
    ) -> _Step:
        change = IncidentChange(
            change=kind,
            incident_id=incident.incident_id,
            version=incident.version,
            incident=incident,
        )
        return _Step(change, action, actor, note)

    async def _commit(self, steps: Sequence[_Step]) -> None:
        changes = [s.change for s in steps]
        claims = [f"serve-claim:{c.incident_id}:{c.version}" for c in changes]
        taken: list[str] = []
        try:
            for claim in claims:
                await self._claim(claim)
                taken.append(claim)
            await self._not_published(changes)
            await self._sink.send([change_message(c, self._topic) for c in changes])
        except BaseException:
            undo = WriteBatch()
            for claim in taken:
                undo.delete(claim)
            await self._store.write(undo)
            raise
        batch = WriteBatch()
        self._repo.add_to(batch, changes)
        for step in steps:
            entry = {
                "at": step.change.incident.updated_at.isoformat(),
                "kind": step.action,
                "version": step.change.version,
                "actor": step.actor,
                "note": step.note,
                "source": "api",
            }
            batch.append(timeline_key(step.change.incident_id), json.dumps(entry).encode(), 1000)
        await self._store.write(batch)
        self._metrics.record_api_change(len(changes))

    async def _claim(self, key: str) -> None:
        if not await self._store.put_if_absent(key, b"1", ttl_s=_CLAIM_TTL_S):
            raise Conflict("another request is changing this incident; retry")

    async def _not_published(self, changes: Sequence[IncidentChange]) -> None:
        if len(await self._repo.unpublished(changes)) != len(changes):
            raise Conflict("the incident changed meanwhile; reload it and retry")

    async def _single(
        self, incident: Incident, kind: ChangeKind, action: str, actor: str, note: str
    ) -> ChangeResult:
        await self._commit([self._step(incident, kind, action, actor, note)])
        return ChangeResult(change=kind, action=action, incident=summary_of(incident))

    async def ack(self, incident_id: str, actor: str, body: NoteBody) -> ChangeResult:
        current = await self._load(incident_id, body.expected_version)
        if current.status is IncidentStatus.RESOLVED:
            raise Conflict(f"incident {incident_id!r} is resolved; reopen it to acknowledge it")
        if "acknowledged_by" in current.labels:
            who = current.labels["acknowledged_by"]
            raise Conflict(f"incident {incident_id!r} is already acknowledged by {who!r}")
        new, kind = self._next(current, ChangeKind.ACKNOWLEDGED)
        new.labels["acknowledged_by"] = actor
        new.labels["acknowledged_at"] = new.updated_at.isoformat()
        return await self._single(new, kind, "acknowledged", actor, body.note)

    async def resolve(self, incident_id: str, actor: str, body: NoteBody) -> ChangeResult:
        current = await self._load(incident_id, body.expected_version)
        if current.status is IncidentStatus.RESOLVED:
            raise Conflict(f"incident {incident_id!r} is already resolved")
        new, kind = self._next(current, ChangeKind.RESOLVED)
        new.status = IncidentStatus.RESOLVED
        new.resolved_at = new.updated_at
        new.labels["resolved_by"] = actor
        return await self._single(new, kind, "resolved", actor, body.note)

    async def reopen(self, incident_id: str, actor: str, body: NoteBody) -> ChangeResult:
        current = await self._load(incident_id, body.expected_version)
        if current.status is IncidentStatus.OPEN:
            raise Conflict(f"incident {incident_id!r} is open already")
        new, kind = self._next(current, ChangeKind.REOPENED)
        new.status = IncidentStatus.OPEN
        new.resolved_at = None
        for label in ("resolved_by", "acknowledged_by", "acknowledged_at", "merged_into"):
            new.labels.pop(label, None)
        return await self._single(new, kind, "reopened", actor, body.note)

    async def assign(self, incident_id: str, actor: str, body: AssignBody) -> ChangeResult:
        current = await self._load(incident_id, body.expected_version)
        if current.labels.get("assignee") == body.assignee:
            raise Conflict(f"incident {incident_id!r} is already assigned to {body.assignee!r}")
        new, kind = self._next(current, ChangeKind.ASSIGNED)
        new.labels["assignee"] = body.assignee
        return await self._single(new, kind, "assigned", actor, body.note or body.assignee)

    async def comment(self, incident_id: str, actor: str, body: CommentBody) -> ChangeResult:
        current = await self._load(incident_id, body.expected_version)
        new, kind = self._next(current, ChangeKind.COMMENTED)
        new.labels["comments"] = str(int(current.labels.get("comments", "0")) + 1)
        return await self._single(new, kind, "commented", actor, body.text)

    async def merge(self, incident_id: str, actor: str, body: MergeBody) -> ChangeResult:
        if body.other == incident_id:
            raise FieldProblem(["body", "other"], "an incident cannot be merged into itself")
        target = await self._load(incident_id)
        other = await self._load(body.other)
        if "merged_into" in other.labels:
            into = other.labels["merged_into"]
            raise Conflict(f"incident {body.other!r} was already merged into {into!r}")
        new, kind = self._next(target, ChangeKind.MERGED)
        known = {a.fingerprint for a in new.alerts}
        new.alerts.extend(a for a in other.alerts if a.fingerprint not in known)
        new.services = _uniq([*new.services, *other.services])
        new.root_causes = _combine(new.root_causes, other.root_causes)
        new.opened_at = min(new.opened_at, other.opened_at)
        before = [i for i in new.labels.get("merged_from", "").split(",") if i]
        new.labels["merged_from"] = ",".join([*before, other.incident_id])
        gone, gone_kind = self._next(other, ChangeKind.RESOLVED)
        gone.labels["merged_into"] = incident_id
        if gone.status is IncidentStatus.OPEN:
            gone.status = IncidentStatus.RESOLVED
            gone.resolved_at = gone.updated_at
        else:
            gone_kind = ChangeKind.UPDATED
        note = body.note or f"merged {other.incident_id} into {incident_id}"
        await self._commit(
            [
                self._step(new, kind, "merged", actor, note),
                self._step(gone, gone_kind, "merged_into", actor, note),
            ]
        )
        return ChangeResult(
            change=kind, action="merged", incident=summary_of(new), related=[summary_of(gone)]
        )

    async def split(self, incident_id: str, actor: str, body: SplitBody) -> ChangeResult:
        current = await self._load(incident_id)
        present = {a.fingerprint for a in current.alerts}
        for i, fp in enumerate(body.fingerprints):
            if fp not in present:
                raise FieldProblem(
                    ["body", "fingerprints", i], f"alert {fp!r} is not in incident {incident_id!r}"
                )
        moving = set(body.fingerprints)
        moved = [a for a in current.alerts if a.fingerprint in moving]
        kept = [a for a in current.alerts if a.fingerprint not in moving]
        if not kept:
            raise FieldProblem(
                ["body", "fingerprints"], "leave at least one alert in the original incident"
            )
        new, kind = self._next(current, ChangeKind.SPLIT)
        new.alerts = kept
        new.services = _services(kept, current.services)
        new.root_causes = _relevant(current.root_causes, kept) or current.root_causes
        seed = f"split|{incident_id}|{current.version}|{','.join(sorted(moving))}"
        split_id = "inc-" + hashlib.blake2b(seed.encode(), digest_size=6).hexdigest()
        born = Incident(
            incident_id=split_id,
            version=1,
            title=body.title or f"{current.title} (split from {incident_id})",
            services=_services(moved, []),
            alerts=moved,
            root_causes=_relevant(current.root_causes, moved),
            opened_at=min(a.starts_at for a in moved),
            updated_at=new.updated_at,
            labels={"split_from": incident_id},
        )
        note = body.note or f"{len(moved)} alerts split into {split_id}"
        await self._commit(
            [
                self._step(new, kind, "split", actor, note),
                self._step(born, ChangeKind.OPENED, "split_from", actor, note),
            ]
        )
        return ChangeResult(
            change=kind, action="split", incident=summary_of(new), related=[summary_of(born)]
        )


def _services(alerts: Sequence[Alert], order: Sequence[str]) -> list[str]:
    present = {a.service for a in alerts}
    return _uniq([s for s in order if s in present] + [a.service for a in alerts])


def _relevant(causes: Sequence[RootCause], alerts: Sequence[Alert]) -> list[RootCause]:
    """The root causes about a service or entity of ``alerts``."""
    names = {a.service for a in alerts} | {a.entity for a in alerts}
    return [c for c in causes if c.entity in names]


def _combine(a: Sequence[RootCause], b: Sequence[RootCause]) -> list[RootCause]:
    """One candidate per entity (the higher score), best first."""
    best: dict[str, RootCause] = {}
    for cause in [*a, *b]:
        if cause.entity not in best or cause.score > best[cause.entity].score:
            best[cause.entity] = cause
    return sorted(best.values(), key=lambda c: (-c.score, c.entity))
