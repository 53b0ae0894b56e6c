"""Settings of the act stage (``settings.act``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ActSettings", "act_settings_of"]


class ActSettings(BaseModel):
    """How the runbook executor runs; every default is the safe one."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Run the act consumer at all")
    dry_run: bool = Field(
        True,
        description="Global dry-run: while true no runbook runs live, whatever its own "
        "dry_run says. A runbook runs live only when both are false.",
    )
    kill_switch: bool = Field(
        False, description="Refuse every execution (the store key act:kill_switch does too)"
    )
    group_id: str = Field("correlator-act", description="Consumer group on the incidents topic")
    executions_topic: str = Field(
        "runbook-executions", description="Topic that receives every execution record as JSON"
    )
    command_allowlist: list[str] = Field(
        default_factory=list,
        description="Executables the command action may run: bare names looked up on "
        "command_path, or absolute paths. Empty means no command may run.",
    )
    command_path: str = Field(
        "/usr/local/bin:/usr/bin:/bin", description="PATH given to commands (nothing else is)"
    )
    command_cwd: Path | None = Field(
        None, description="Working directory of commands; a fresh temporary one when unset"
    )
    max_output_bytes: int = Field(
        8192, ge=256, description="Command or HTTP response output kept per step"
    )
    approval_expiry_s: float = Field(
        3600.0, gt=0, description="Pending approvals expire after this long"
    )
    default_cooldown_s: float = Field(
        300.0, ge=0, description="Cooldown per runbook x target when a runbook sets none"
    )
    idempotency_ttl_s: float = Field(
        30 * 24 * 3600.0, gt=0, description="How long execution idempotency keys are kept"
    )
    poll_s: float = Field(
        1.0, gt=0, description="How often the worker looks for approved and expired executions"
    )
    lease_s: float = Field(
        900.0, gt=0, description="After this long another worker may resume an approved run"
    )
    timeline_max: int = Field(1000, ge=1, description="Cap of an incident's timeline log")


def act_settings_of(settings: Any) -> ActSettings:
    """``settings.act`` when the main Settings has it, else the defaults."""
    found = getattr(settings, "act", None)
    return found if isinstance(found, ActSettings) else ActSettings()
