"""Silences (maintenance windows) and inhibition rules, with Alertmanager's semantics.

A rules file (YAML)::

    silences:
      - id: db-maintenance
        matchers: ["service=payments-db", "signal=~latency_.*"]
        starts_at: 2026-11-23T09:00:00Z
        ends_at: 2026-11-23T10:00:00Z
        comment: index rebuild
    inhibit_rules:
      - source_matchers: ["service=payments-db"]
        target_matchers: ["signal=~latency_.*|error_ratio"]
        equal: []
        target_depends_on_source: true

Matchers are ``name=value``, ``name!=value``, ``name=~regex`` or ``name!~regex`` against an
alert's labels plus ``service``, ``entity``, ``signal`` and ``severity``; regexes are anchored
as in Alertmanager. An inhibit rule mutes a *target* alert while a firing *source* alert
exists whose ``equal`` labels have the same values (a missing label counts as empty); an
alert matching both sides does not inhibit itself. ``target_depends_on_source`` adds the
topology: the target's service must call the source's service, directly or not.

Silences also live in the state store (``SilenceRepository``) so ``serve`` can add and
delete them; the engine loads them at start and ``SilenceLoader`` keeps them current.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

from correlator.errors import ConfigError
from correlator.model.alert import Alert
from correlator.store.base import StateStore, WriteBatch

__all__ = [
    "SILENCE_RETENTION_S",
    "InhibitRule",
    "MatchType",
    "Matcher",
    "Rules",
    "Silence",
    "SilenceLoader",
    "SilenceRepository",
    "alert_labels",
    "load_rules",
]

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*\"?(.*?)\"?\s*$")


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


def alert_labels(alert: Alert) -> dict[str, str]:
    """The labels matchers see: the alert's own plus its identity fields."""
    return {
        **alert.labels,
        "service": alert.service,
        "entity": alert.entity,
        "signal": alert.signal.value,
        "severity": alert.severity.value,
    }


class Matcher(BaseModel):
    """One label condition.

    >>> m = Matcher.parse("signal=~latency_.*")
    >>> m.matches({"signal": "latency_p99"}), m.matches({"signal": "error_ratio"})
    (True, False)
    >>> Matcher.parse("service!=db").matches({})
    True
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    value: str
    type: MatchType = MatchType.EQUAL

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _MATCHER.match(text)
        if found is None:
            raise ValueError(f"matcher {text!r}: expected name=value, !=, =~ or !~")
        name, op, value = found.groups()
        return cls(name=name, value=value, type=MatchType(op))

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return re.compile(f"^(?:{self.value})$")

    def matches(self, labels: dict[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        hit = self._regex.match(value) is not None
        return hit if self.type is MatchType.REGEX else not hit


def _parse_matchers(value: object) -> object:
    if isinstance(value, list):
        return [Matcher.parse(v) if isinstance(v, str) else v for v in value]
    return value


def _all_match(matchers: Sequence[Matcher], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


class Silence(BaseModel):
    """Mutes matching alerts between ``starts_at`` and ``ends_at`` (a maintenance window)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str = Field(min_length=1)
    matchers: list[Matcher] = Field(min_length=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    comment: str = ""
    created_by: str = ""

    _matchers = field_validator("matchers", mode="before")(_parse_matchers)

    def active(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def mutes(self, alert: Alert) -> bool:
        """True when the alert matches and its start falls inside the window."""
        return self.active(alert.last_seen_at) and _all_match(self.matchers, alert_labels(alert))


class InhibitRule(BaseModel):
    """A firing source alert mutes matching target alerts (Alertmanager's inhibit_rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source_matchers: list[Matcher] = Field(min_length=1)
    target_matchers: list[Matcher] = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)
    target_depends_on_source: bool = Field(
        False, description="Also require the target's service to call the source's service"
    )

    _source = field_validator("source_matchers", mode="before")(_parse_matchers)
    _target = field_validator("target_matchers", mode="before")(_parse_matchers)

    def inhibits(
        self,
        target: Alert,
        sources: Iterable[Alert],
        depends: Callable[[str, str], bool] | None = None,
    ) -> Alert | None:
        """The firing source alert that mutes ``target`` under this rule, if any."""
        labels = alert_labels(target)
        if not _all_match(self.target_matchers, labels):
            return None
        for source in sources:
            if source.fingerprint == target.fingerprint:
                continue
            src = alert_labels(source)
            if not _all_match(self.source_matchers, src):
                continue
            if any(src.get(k, "") != labels.get(k, "") for k in self.equal):
                continue
            if self.target_depends_on_source and (
                depends is None or not depends(target.service, source.service)
            ):
                continue
            return source
        return None


class Rules(BaseModel):
    """Everything a rules file holds."""

    model_config = ConfigDict(extra="forbid")
    silences: list[Silence] = Field(default_factory=list)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)


def load_rules(path: Path | None) -> Rules:
    """Read a rules YAML file (no rules when None)."""
    if path is None:
        return Rules()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read rules file {path}: {exc}") from exc
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


#: How long an ended silence stays listed (``GET /silences?include_expired=true``) before
#: :meth:`SilenceRepository.prune` deletes it: 120 h, Alertmanager's default retention.
SILENCE_RETENTION_S = 120 * 3600.0


class SilenceRepository:
    """Silences in the state store: ``silence:<id>`` documents, indexed by end time.

    Every change also rewrites ``silences:version``, so a reader (:class:`SilenceLoader`)
    learns with one GET whether it must read the silences again. Silences that ended more
    than ``retention_s`` ago are deleted by :meth:`prune` (the API prunes on every new one).
    """

    INDEX = "silences:by-end"
    VERSION = "silences:version"

    def __init__(self, store: StateStore, retention_s: float = SILENCE_RETENTION_S) -> None:
        self.store = store
        self.retention_s = retention_s

    def add_to(self, batch: WriteBatch, silence: Silence) -> None:
        batch.put(f"silence:{silence.id}", silence.model_dump_json().encode())
        batch.index_add(self.INDEX, silence.id, silence.ends_at.timestamp())
        batch.put(self.VERSION, uuid.uuid4().hex.encode())

    async def put(self, silence: Silence) -> None:
        batch = WriteBatch()
        self.add_to(batch, silence)
        await self.store.write(batch)

    async def get(self, silence_id: str) -> Silence | None:
        blob = await self.store.get(f"silence:{silence_id}")
        return None if blob is None else Silence.model_validate_json(blob)

    async def delete(self, silence_id: str) -> None:
        batch = WriteBatch()
        batch.delete(f"silence:{silence_id}")
        batch.index_remove(self.INDEX, silence_id)
        batch.put(self.VERSION, uuid.uuid4().hex.encode())
        await self.store.write(batch)

    async def prune(self, now: datetime, limit: int = 1_000) -> int:
        """Delete up to ``limit`` silences that ended ``retention_s`` before ``now``."""
        cutoff = now.timestamp() - self.retention_s
        ended = await self.store.index_range(self.INDEX, max_score=cutoff, limit=limit)
        if not ended:
            return 0
        batch = WriteBatch()
        for silence_id, _ in ended:
            batch.delete(f"silence:{silence_id}")
            batch.index_remove(self.INDEX, silence_id)
        await self.store.write(batch)
        return len(ended)

    async def version(self) -> bytes | None:
        """Changes whenever a silence is added, replaced or deleted."""
        return await self.store.get(self.VERSION)

    async def current(self, now: datetime, limit: int = 10_000) -> list[Silence]:
        """Silences not yet ended at ``now`` (active or scheduled)."""
        ids = [
            i
            for i, _ in await self.store.index_range(
                self.INDEX, min_score=now.timestamp(), limit=limit
            )
        ]
        blobs = await self.store.get_many([f"silence:{i}" for i in ids])
        return [Silence.model_validate_json(b) for b in blobs if b is not None]


class SilenceLoader:
    """Keeps the store's silences in a correlate stage's ``silences``, without a restart.

    Build it before the stage adopts store silences, so it knows which ids came from the
    rules file (those stay). :meth:`refresh` costs one GET while nothing changed; after a
    change it adds the store's current silences and drops the ones deleted there.
    """

    def __init__(self, repository: SilenceRepository, configured: Iterable[str] = ()) -> None:
        self.repository = repository
        self.configured = frozenset(configured)
        self._version: bytes | None = None

    async def refresh(self, silences: dict[str, Silence], now: datetime) -> bool:
        """Bring ``silences`` in step with the store; True when they were read again."""
        version = await self.repository.version()
        if version is None or version == self._version:
            return False
        current = {s.id: s for s in await self.repository.current(now)}
        for gone in [i for i in silences if i not in current and i not in self.configured]:
            del silences[gone]
        silences.update(current)
        self._version = version
        return True
