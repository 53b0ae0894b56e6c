"""Runbook executions and runbook definitions as serve sees them.

``correlator.act`` owns executions; serve reads and decides on them through the small
:class:`ExecutionBoard` port. :class:`ActExecutionBoard` (the default) goes through act's
``AuditLog`` and ``Approvals``, so a decision is claimed once, audited, written to the
incident timeline and published. :class:`StoreExecutionBoard` only needs the
``execution:<id>`` JSON documents: it sets ``status`` to ``approved`` / ``rejected``, which
act's ``Approvals.settle`` honours too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import yaml

from correlator.act.approval import ApprovalError, Approvals
from correlator.act.audit import AuditLog
from correlator.act.records import ExecutionRecord
from correlator.clock import Clock
from correlator.errors import ConfigError
from correlator.serve.problems import Conflict, NotFound
from correlator.serve.schemas import ExecutionView, RunbookView
from correlator.store.base import StateStore, WriteBatch
from correlator.transport.base import Sink

__all__ = [
    "AWAITING",
    "ActExecutionBoard",
    "ExecutionBoard",
    "RunbookCatalog",
    "StoreExecutionBoard",
    "runbooks_from_folder",
]

AWAITING = frozenset({"pending_approval", "awaiting_approval"})
_PREFIX = "execution:"

RunbookCatalog = Callable[[], Awaitable[list[RunbookView]]]


class ExecutionBoard(Protocol):
    async def list(
        self, *, status: str | None = None, incident_id: str | None = None, limit: int = 100
    ) -> list[ExecutionView]: ...

    async def decide(
        self, execution_id: str, *, approve: bool, actor: str, reason: str
    ) -> ExecutionView:
        """Approve or reject an execution that waits for approval (409 otherwise)."""
        ...


def _view(record: ExecutionRecord) -> ExecutionView:
    return ExecutionView.model_validate(record.model_dump(mode="json"))


class ActExecutionBoard:
    """Executions through ``correlator.act``: its audit log and its approvals."""

    def __init__(
        self,
        store: StateStore,
        clock: Clock,
        sink: Sink | None = None,
        topic: str = "runbook-executions",
    ) -> None:
        self._audit = AuditLog(store, sink, topic)
        self._approvals = Approvals(self._audit, clock)

    async def list(
        self, *, status: str | None = None, incident_id: str | None = None, limit: int = 100
    ) -> list[ExecutionView]:
        if incident_id is not None:
            records = await self._audit.for_incident(incident_id, limit=1000)
            records.sort(key=lambda r: (r.created_at, r.execution_id), reverse=True)
        else:
            records = await self._audit.recent(limit=1000 if status else limit)
        chosen = [r for r in records if status is None or r.status.value == status]
        return [_view(r) for r in chosen[:limit]]

    async def decide(
        self, execution_id: str, *, approve: bool, actor: str, reason: str
    ) -> ExecutionView:
        if await self._audit.get(execution_id) is None:
            raise NotFound(f"execution {execution_id!r} does not exist")
        try:
            if approve:
                record = await self._approvals.approve(execution_id, actor)
            else:
                record = await self._approvals.reject(execution_id, actor, reason)
        except ApprovalError as exc:
            raise Conflict(str(exc)) from exc
        return _view(record)


class StoreExecutionBoard:
    """Executions kept as ``execution:<id>`` JSON documents."""

    def __init__(self, store: StateStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def _docs(self) -> list[dict[str, Any]]:
        keys = [k for k in await self._store.keys(_PREFIX) if ":" not in k[len(_PREFIX) :]]
        out: list[dict[str, Any]] = []
        for key, blob in zip(keys, await self._store.get_many(keys), strict=True):
            if blob is None:
                continue
            try:
                doc = json.loads(blob)
            except ValueError:
                continue
            if isinstance(doc, dict):
                doc.setdefault("execution_id", key[len(_PREFIX) :])
                doc.setdefault("status", "unknown")
                out.append(doc)
        return out

    async def list(
        self, *, status: str | None = None, incident_id: str | None = None, limit: int = 100
    ) -> list[ExecutionView]:
        docs = [
            d
            for d in await self._docs()
            if (status is None or d["status"] == status)
            and (incident_id is None or d.get("incident_id") == incident_id)
        ]
        docs.sort(key=lambda d: (str(d.get("created_at", "")), d["execution_id"]), reverse=True)
        return [ExecutionView.model_validate(d) for d in docs[:limit]]

    async def decide(
        self, execution_id: str, *, approve: bool, actor: str, reason: str
    ) -> ExecutionView:
        key = _PREFIX + execution_id
        blob = await self._store.get(key)
        if blob is None:
            raise NotFound(f"execution {execution_id!r} does not exist")
        doc = json.loads(blob)
        if doc.get("status") not in AWAITING:
            raise Conflict(
                f"execution {execution_id!r} is {doc.get('status')!r}, not waiting for approval"
            )
        verb = "approved" if approve else "rejected"
        doc.update(
            status=verb,
            decided_by=actor,
            decided_at=self._clock.now().isoformat(),
            decision_reason=reason,
        )
        batch = WriteBatch()
        batch.put(key, json.dumps(doc).encode())
        batch.append(
            f"{key}:audit",
            json.dumps({"at": doc["decided_at"], "event": verb, "actor": actor}).encode(),
        )
        await self._store.write(batch)
        doc.setdefault("execution_id", execution_id)
        return ExecutionView.model_validate(doc)


def runbooks_from_folder(folder: Path | None) -> RunbookCatalog:
    """A catalog that reads every ``*.yaml`` runbook in ``folder`` on each call."""

    async def catalog() -> list[RunbookView]:
        return await asyncio.to_thread(_read_runbooks, folder)

    return catalog


def _read_runbooks(folder: Path | None) -> list[RunbookView]:
    if folder is None or not folder.is_dir():
        return []
    out: list[RunbookView] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        specs = data.get("runbooks", [data]) if isinstance(data, dict) else data
        for spec in specs if isinstance(specs, list) else []:
            if isinstance(spec, dict):
                out.append(_runbook_view(spec, path))
    return out


def _runbook_view(spec: dict[str, Any], path: Path) -> RunbookView:
    fields = {k: v for k, v in spec.items() if k not in {"name", "description", "source"}}
    return RunbookView(
        name=str(spec.get("name", path.stem)),
        description=str(spec.get("description", "")),
        source=path.name,
        **fields,
    )
