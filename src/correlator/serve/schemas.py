"""Request and response bodies of the HTTP API (they make up the OpenAPI document)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from correlator.correlate.rules import Matcher, MatchType
from correlator.model.alert import Alert, Severity
from correlator.model.incident import ChangeKind, Evidence, IncidentStatus

__all__ = [
    "AssignBody",
    "ChangeResult",
    "CommentBody",
    "ErrorBody",
    "ExecutionDecision",
    "ExecutionView",
    "IncidentDetail",
    "IncidentPage",
    "IncidentSummary",
    "MergeBody",
    "NoteBody",
    "PostableAlert",
    "RankedRootCause",
    "RunbookView",
    "SilenceBody",
    "SilenceView",
    "SplitBody",
    "TimelineEntry",
    "TopologyEdge",
    "TopologyNode",
    "TopologyView",
]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every non-validation error: a short code and a sentence saying what to do."""

    error: str = Field(examples=["unauthorized"])
    detail: str
    required_scope: str | None = None


class IncidentSummary(BaseModel):
    """One row of the incident list."""

    incident_id: str
    version: int
    status: IncidentStatus
    severity: Severity = Field(description="The highest severity among its alerts")
    title: str
    services: list[str]
    alert_count: int
    top_root_cause: str | None
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    acknowledged_by: str | None = None
    assignee: str | None = None
    labels: dict[str, str]


class IncidentPage(BaseModel):
    """One page of incidents; pass ``next_cursor`` as ``cursor`` to get the next one."""

    items: list[IncidentSummary]
    next_cursor: str | None = Field(description="Opaque; null on the last page")
    scanned: int = Field(description="Incidents examined to build this page")
    truncated: bool = Field(description="The listing stopped at serve.max_scan incidents")


class RankedRootCause(BaseModel):
    rank: int = Field(ge=1)
    entity: str
    score: float
    signals: list[str]
    evidence: list[Evidence]


class TimelineEntry(BaseModel):
    """One event in an incident's life (a new version, an ack, a comment, a runbook run)."""

    model_config = ConfigDict(extra="allow")
    at: str
    kind: str
    version: int | None = None
    actor: str | None = None
    note: str | None = None


class TopologyNode(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    owner: str | None = None
    tier: int | None = None
    declared: bool = False
    role: str | None = Field(None, description="root_cause | affected, in an incident subgraph")


class TopologyEdge(BaseModel):
    model_config = ConfigDict(extra="allow")
    caller: str
    callee: str
    source: str = Field(description="declared | learned | both")
    calls: int = 0
    last_seen: float = 0.0


class TopologyView(BaseModel):
    nodes: list[TopologyNode]
    edges: list[TopologyEdge]


class ExecutionView(BaseModel):
    """A runbook execution as stored under ``execution:<id>``."""

    model_config = ConfigDict(extra="allow")
    execution_id: str
    status: str
    runbook: str | None = None
    incident_id: str | None = None


class IncidentDetail(IncidentSummary):
    """Everything about one incident."""

    alerts: list[Alert]
    root_causes: list[RankedRootCause] = Field(description="Best candidate first")
    timeline: list[TimelineEntry] = Field(description="Oldest first")
    executions: list[ExecutionView]
    topology: TopologyView = Field(description="The topology between its services and causes")


class ChangeResult(BaseModel):
    """What an action changed: the new versions, published to the incidents topic."""

    change: ChangeKind
    action: str
    incident: IncidentSummary
    related: list[IncidentSummary] = Field(
        default_factory=list, description="Other incidents the action changed (merge, split)"
    )


class NoteBody(_Body):
    """Optional note for ack, resolve and reopen; ``expected_version`` guards against races."""

    note: str = Field("", max_length=2000)
    expected_version: int | None = Field(
        None, ge=1, description="Refuse with 409 unless this is the stored version"
    )


class AssignBody(NoteBody):
    assignee: str = Field(min_length=1, max_length=200)


class CommentBody(_Body):
    text: str = Field(min_length=1, max_length=10_000)
    expected_version: int | None = Field(None, ge=1)


class MergeBody(_Body):
    other: str = Field(min_length=1, max_length=200, description="Incident merged into this one")
    note: str = Field("", max_length=2000)


class SplitBody(_Body):
    fingerprints: list[str] = Field(
        min_length=1, max_length=1000, description="Alerts that move to a new incident"
    )
    title: str | None = Field(None, min_length=1, max_length=500)
    note: str = Field("", max_length=2000)


class ExecutionDecision(_Body):
    reason: str = Field("", max_length=2000)


class RunbookView(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    description: str = ""
    source: str = Field("", description="File the runbook was read from")


class PostableAlert(BaseModel):
    """An alert as Prometheus posts it to Alertmanager's ``/api/v2/alerts``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: AwareDatetime | None = Field(None, alias="startsAt")
    ends_at: AwareDatetime | None = Field(None, alias="endsAt")
    generator_url: str | None = Field(None, alias="generatorURL", max_length=4096)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        bad = [name for name in labels if not _LABEL_NAME.match(name)]
        if bad:
            raise ValueError(f"invalid label names {bad}: use [a-zA-Z_][a-zA-Z0-9_]*")
        return labels

    @model_validator(mode="after")
    def _ends_after_start(self) -> PostableAlert:
        if self.starts_at and self.ends_at and self.ends_at < self.starts_at:
            raise ValueError("endsAt is before startsAt")
        return self


MatcherText = Annotated[str, Field(min_length=3, max_length=1000)]


class SilenceBody(_Body):
    """A new silence (maintenance window), as Alertmanager users write them."""

    matchers: list[MatcherText] = Field(
        min_length=1,
        max_length=50,
        description="All must match: name=value, name!=value, name=~regex or name!~regex, "
        "on the alert's labels plus service, entity, signal and severity",
        examples=[["service=payments-db", "signal=~latency_.*"]],
    )
    starts_at: AwareDatetime | None = Field(None, description="Default: now")
    ends_at: AwareDatetime
    created_by: str = Field("", max_length=200, description="Default: the token's name")
    comment: str = Field("", max_length=2000)

    @field_validator("matchers")
    @classmethod
    def _parse(cls, matchers: list[str]) -> list[str]:
        for text in matchers:
            matcher = Matcher.parse(text)  # ValueError says what the form is
            if matcher.type in (MatchType.REGEX, MatchType.NOT_REGEX):
                try:
                    re.compile(f"^(?:{matcher.value})$")
                except re.error as exc:
                    raise ValueError(f"matcher {text!r}: bad regex: {exc}") from exc
        return matchers

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, when: datetime | None) -> datetime | None:
        try:
            return None if when is None else when.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("date out of range") from exc

    @model_validator(mode="after")
    def _ends_after_start(self) -> SilenceBody:
        if self.starts_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class SilenceView(BaseModel):
    """A silence as stored, with its state now."""

    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: Literal["active", "pending", "expired"]
