"""Incidents, their ranked root causes, and the change events published about them.

The published JSON schema is ``IncidentChange`` (``schema_version`` 1): a consumer that
keeps, per ``incident_id``, the change with the highest ``version`` has the current state.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from correlator.model.alert import Alert

__all__ = [
    "SCHEMA_VERSION",
    "ChangeKind",
    "Evidence",
    "Incident",
    "IncidentChange",
    "IncidentStatus",
    "RootCause",
]

SCHEMA_VERSION = 1


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ChangeKind(StrEnum):
    """Why a new version of an incident was published."""

    OPENED = "opened"
    UPDATED = "updated"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    MERGED = "merged"
    SPLIT = "split"


class Evidence(BaseModel):
    """One fact behind a root-cause candidate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = Field(description="anomaly | first_anomaly | edge | propagation | external")
    detail: str


class RootCause(BaseModel):
    """A candidate root cause with its score (higher is likelier) and evidence."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    entity: str
    score: float
    signals: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)


class Incident(BaseModel):
    """A group of related alerts with its ranked root causes."""

    model_config = ConfigDict(extra="forbid")
    incident_id: str
    version: int = Field(ge=1)
    status: IncidentStatus = IncidentStatus.OPEN
    title: str
    services: list[str]
    alerts: list[Alert]
    root_causes: list[RootCause] = Field(default_factory=list)
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def alert_count(self) -> int:
        """Alerts in the incident, counting repeats of one fingerprint once each time."""
        return sum(alert.count for alert in self.alerts)


class IncidentChange(BaseModel):
    """The event published to the incidents topic for each new incident version."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    change: ChangeKind
    incident_id: str
    version: int = Field(ge=1)
    incident: Incident

    @property
    def idempotency_key(self) -> str:
        """``<incident_id>:<version>``: the same change always has the same key."""
        return f"{self.incident_id}:{self.version}"
