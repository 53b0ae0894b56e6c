"""Listing incidents: filters, sort orders and opaque keyset cursors over the store.

The store indexes incidents by ``updated_at`` only, so a listing walks that index (from
``since`` on) in chunks and filters the documents. Sorted by ``updated_at`` it stops as soon
as a page is full; any other order reads up to ``max_scan`` matches and sorts them. A cursor
holds the sort key and id of the last row, so a page never repeats or skips a row of a set
that did not change meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from correlator.model.alert import Severity
from correlator.model.incident import Incident, IncidentStatus
from correlator.serve.schemas import IncidentPage, IncidentSummary
from correlator.store.base import StateStore
from correlator.store.incidents import UPDATED, IncidentRepository

__all__ = [
    "CursorError",
    "IncidentQuery",
    "SortKey",
    "list_incidents",
    "severity_of",
    "summary_of",
]

_CHUNK = 200
_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class SortKey(StrEnum):
    UPDATED_DESC = "-updated_at"
    UPDATED_ASC = "updated_at"
    OPENED_DESC = "-opened_at"
    OPENED_ASC = "opened_at"
    SEVERITY_DESC = "-severity"
    SEVERITY_ASC = "severity"
    ALERTS_DESC = "-alert_count"
    ALERTS_ASC = "alert_count"

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


class CursorError(ValueError):
    """A cursor that is malformed or belongs to another query."""


def severity_of(incident: Incident) -> Severity:
    """The highest severity among the incident's alerts (warning when it has none)."""
    if not incident.alerts:
        return Severity.WARNING
    return max((a.severity for a in incident.alerts), key=_RANK.__getitem__)


def summary_of(incident: Incident) -> IncidentSummary:
    return IncidentSummary(
        incident_id=incident.incident_id,
        version=incident.version,
        status=incident.status,
        severity=severity_of(incident),
        title=incident.title,
        services=incident.services,
        alert_count=incident.alert_count,
        top_root_cause=incident.root_causes[0].entity if incident.root_causes else None,
        opened_at=incident.opened_at,
        updated_at=incident.updated_at,
        resolved_at=incident.resolved_at,
        acknowledged_by=incident.labels.get("acknowledged_by"),
        assignee=incident.labels.get("assignee"),
        labels=incident.labels,
    )


@dataclass
class IncidentQuery:
    """Filters (all optional, combined with AND; list values are alternatives)."""

    status: list[IncidentStatus] = field(default_factory=list)
    service: list[str] = field(default_factory=list)
    severity: list[Severity] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    sort: SortKey = SortKey.UPDATED_DESC
    limit: int = 50

    def matches(self, incident: Incident) -> bool:
        """Whether ``incident`` passes every filter.

        ``since``/``until`` keep incidents whose [opened_at, updated_at] overlaps the range;
        ``q`` is a case-insensitive substring of the title or of a label key or value.
        """
        if self.status and incident.status not in self.status:
            return False
        if self.service and not set(self.service) & set(incident.services):
            return False
        if self.severity and severity_of(incident) not in self.severity:
            return False
        if self.since and incident.updated_at < self.since:
            return False
        if self.until and incident.opened_at > self.until:
            return False
        if self.q:
            needle = self.q.casefold()
            texts = [incident.title, *incident.labels.keys(), *incident.labels.values()]
            if not any(needle in t.casefold() for t in texts):
                return False
        return True

    def fingerprint(self) -> str:
        """Identifies the filters and sort, so a cursor is not reused with other ones."""
        text = json.dumps(
            [
                sorted(self.status),
                sorted(self.service),
                sorted(self.severity),
                self.since.isoformat() if self.since else None,
                self.until.isoformat() if self.until else None,
                self.q,
                self.sort.value,
            ]
        )
        return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()

    def key(self, incident: Incident, score: float) -> tuple[float, str]:
        """The sort key of one row (``score`` is its updated_at index score)."""
        match self.sort:
            case SortKey.UPDATED_DESC | SortKey.UPDATED_ASC:
                value = score
            case SortKey.OPENED_DESC | SortKey.OPENED_ASC:
                value = incident.opened_at.timestamp()
            case SortKey.SEVERITY_DESC | SortKey.SEVERITY_ASC:
                value = float(_RANK[severity_of(incident)])
            case _:
                value = float(incident.alert_count)
        return (value, incident.incident_id)

    def after(self, key: tuple[float, str], cursor: tuple[float, str] | None) -> bool:
        if cursor is None:
            return True
        return key < cursor if self.sort.descending else key > cursor


def encode_cursor(query: IncidentQuery, key: tuple[float, str]) -> str:
    """An opaque token for the row after ``key``.

    >>> q = IncidentQuery()
    >>> decode_cursor(q, encode_cursor(q, (1.5, "inc-1")))
    (1.5, 'inc-1')
    """
    raw = json.dumps({"k": key[0], "i": key[1], "f": query.fingerprint()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(query: IncidentQuery, cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key = (float(data["k"]), str(data["i"]))
        same = data["f"] == query.fingerprint()
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise CursorError(
            "invalid cursor: pass next_cursor from a previous page unchanged"
        ) from exc
    if not same:
        raise CursorError("this cursor belongs to a listing with other filters or sort")
    return key


async def _walk(
    store: StateStore, query: IncidentQuery, start: tuple[float, str] | None, budget: int
) -> AsyncIterator[tuple[Incident, float]]:
    """Incidents in updated_at order (the query's direction when sorting by it), from ``start``."""
    repo = IncidentRepository(store)
    reverse = query.sort is not SortKey.UPDATED_ASC
    lo = query.since.timestamp() if query.since else float("-inf")
    hi = float("inf")
    if start is not None and query.sort in (SortKey.UPDATED_DESC, SortKey.UPDATED_ASC):
        if reverse:
            hi = start[0]
        else:
            lo = max(lo, start[0])
    offset = 0
    while budget > 0:
        rows = await store.index_range(
            UPDATED, min_score=lo, max_score=hi, reverse=reverse, offset=offset, limit=_CHUNK
        )
        if not rows:
            return
        offset += len(rows)
        scores = dict(rows)
        for incident in await repo.get_many([i for i, _ in rows]):
            budget -= 1
            yield incident, scores[incident.incident_id]
        if len(rows) < _CHUNK:
            return


async def list_incidents(
    store: StateStore, query: IncidentQuery, cursor: str | None, max_scan: int
) -> IncidentPage:
    """One page of incidents matching ``query``, after ``cursor``."""
    start = decode_cursor(query, cursor) if cursor else None
    streaming = query.sort in (SortKey.UPDATED_DESC, SortKey.UPDATED_ASC)
    rows: list[tuple[tuple[float, str], Incident]] = []
    scanned = 0
    async for incident, score in _walk(store, query, start, max_scan):
        scanned += 1
        key = query.key(incident, score)
        if query.after(key, start) and query.matches(incident):
            rows.append((key, incident))
            if streaming and len(rows) > query.limit:
                break
    truncated = scanned >= max_scan
    if not streaming:
        rows.sort(key=lambda r: r[0], reverse=query.sort.descending)
    page = rows[: query.limit]
    more = len(rows) > query.limit or (streaming and truncated and bool(page))
    return IncidentPage(
        items=[summary_of(i) for _, i in page],
        next_cursor=encode_cursor(query, page[-1][0]) if more else None,
        scanned=scanned,
        truncated=truncated,
    )
