"""The runbook file format (``runbooks/*.yaml``), as pydantic models.

A runbook says *when* (``match``), *what* (ordered ``steps``, each an action with its
config under ``with``), and *how carefully* (``dry_run``, ``approval``, ``cooldown_s``,
``max_executions``, ``on_failure``, ``rollback``). Strings anywhere under ``parameters``,
``target`` and a step's ``with`` are templates (see :mod:`correlator.act.template`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from correlator.model.alert import Severity
from correlator.model.incident import ChangeKind, IncidentStatus

__all__ = ["Approval", "Match", "OnFailure", "RateLimit", "Runbook", "Step"]


class OnFailure(StrEnum):
    STOP = "stop"
    CONTINUE = "continue"
    ROLLBACK = "rollback"


class Approval(StrEnum):
    NONE = "none"
    REQUIRED = "required"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Match(_Model):
    """Which incident changes a runbook (or a step, as ``when``) applies to.

    Every given condition must hold; list conditions hold when any element matches.
    Names accept shell-style wildcards (``payments-*``).
    """

    changes: list[ChangeKind] = Field(
        default_factory=lambda: [ChangeKind.OPENED, ChangeKind.REOPENED],
        description="Change kinds that trigger (default: opened, reopened)",
    )
    status: list[IncidentStatus] = Field(default_factory=list, description="Incident states")
    services: list[str] = Field(default_factory=list, description="Any affected service")
    root_cause: list[str] = Field(
        default_factory=list, description="The top-ranked root-cause entity"
    )
    signals: list[str] = Field(default_factory=list, description="Any alert's signal")
    min_severity: Severity | None = Field(None, description="Any alert at least this severe")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="All pairs on the incident's labels, or all on one alert's labels",
    )
    exclude_labels: dict[str, str] = Field(
        default_factory=dict, description="Never match when the incident has any of these"
    )


class RateLimit(_Model):
    count: int = Field(ge=1, description="Executions allowed per window per target")
    window_s: float = Field(gt=0)


class Step(_Model):
    """One action with its config, time limit and retry policy."""

    name: str = Field(min_length=1)
    action: str = Field(min_length=1, description="A registered action name")
    with_: dict[str, Any] = Field(
        default_factory=dict, alias="with", description="The action's config (templated)"
    )
    when: Match | None = Field(
        None, description="Run this step only for matching changes (changes default: any)"
    )
    timeout_s: float = Field(60.0, gt=0, description="Per attempt")
    retries: int = Field(0, ge=0, le=20)
    backoff_s: float = Field(1.0, ge=0, description="Wait before the first retry")
    backoff_factor: float = Field(2.0, ge=1)
    max_backoff_s: float = Field(60.0, ge=0)
    on_failure: OnFailure | None = Field(None, description="Overrides the runbook's on_failure")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based).

        >>> Step(name="s", action="wait", backoff_s=1, backoff_factor=2).backoff(3)
        4.0
        """
        return float(min(self.max_backoff_s, self.backoff_s * self.backoff_factor ** (attempt - 1)))


class Runbook(_Model):
    """One runbook file."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=100)
    description: str = ""
    enabled: bool = True
    match: Match = Field(default_factory=Match)
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Templated values, available as params.<name>"
    )
    target: str | None = Field(
        None,
        description="What cooldown and rate limits count against (templated); default: "
        "the top root cause, else the first service",
    )
    dry_run: bool = Field(True, description="Record what would run instead of running it")
    approval: Approval = Approval.NONE
    cooldown_s: float | None = Field(None, ge=0, description="Default: act.default_cooldown_s")
    max_executions: RateLimit | None = None
    on_failure: OnFailure = OnFailure.STOP
    steps: list[Step] = Field(min_length=1)
    rollback: list[Step] = Field(default_factory=list)
