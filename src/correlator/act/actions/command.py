"""The ``command`` action: run an allowlisted executable with an argv list, never a shell.

Each argv element is passed to ``execve`` as one argument, so text from an incident
(``; rm -rf /``, ``$(reboot)``) is only ever an argument, never shell syntax. The child
gets only ``PATH`` from settings plus the step's ``env``; stdin is closed; stdout and
stderr are captured together and cut at ``max_output_bytes``. On timeout the whole
process group is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from pydantic import Field

from correlator.act.actions.base import (
    ActionConfig,
    ActionDeps,
    ActionFailedError,
    ActionRefusedError,
    ActionSpec,
)
from correlator.act.settings import ActSettings

__all__ = ["COMMAND", "CommandConfig", "resolve_executable"]


class CommandConfig(ActionConfig):
    argv: list[str] = Field(min_length=1, description="Executable and arguments; no shell")
    cwd: str | None = Field(None, description="Working directory (default: act.command_cwd)")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment")


def resolve_executable(name: str, settings: ActSettings, *, must_exist: bool = True) -> str | None:
    """The absolute path of ``name`` if the allowlist permits it, else refuse.

    With ``must_exist`` false (dry-run), a permitted name not on the PATH gives None.

    >>> resolve_executable("rm", ActSettings(command_allowlist=["echo"]))
    Traceback (most recent call last):
    ...
    correlator.act.actions.base.ActionRefusedError: executable 'rm' is not in act.command_allowlist
    """
    allowed = set(settings.command_allowlist)
    if "/" in name:
        if name not in allowed or not Path(name).is_absolute():
            raise ActionRefusedError(f"executable {name!r} is not in act.command_allowlist")
        return name
    if name not in allowed:
        raise ActionRefusedError(f"executable {name!r} is not in act.command_allowlist")
    found = shutil.which(name, path=settings.command_path)
    if found is None and must_exist:
        raise ActionRefusedError(f"executable {name!r} not found on {settings.command_path}")
    return found


def _environment(config: CommandConfig, settings: ActSettings) -> dict[str, str]:
    return {"PATH": settings.command_path, **config.env}


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, int]:
    kept = bytearray()
    total = 0
    while chunk := await stream.read(65536):
        total += len(chunk)
        if len(kept) < limit:
            kept += chunk[: limit - len(kept)]
    return bytes(kept), total


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _spawn_and_wait(exe: str, config: CommandConfig, cwd: str, deps: ActionDeps) -> str:
    limit = deps.settings.max_output_bytes
    proc = await asyncio.create_subprocess_exec(
        exe,
        *config.argv[1:],
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
        env=_environment(config, deps.settings),
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        kept, total = await _read_capped(proc.stdout, limit)
        code = await proc.wait()
    except BaseException:
        _kill_group(proc)
        await asyncio.shield(proc.wait())
        raise
    output = kept.decode(errors="replace")
    if total > limit:
        output += f"... [{total - limit} more bytes]"
    if code != 0:
        raise ActionFailedError(f"{config.argv[0]} exited with {code}", output=output)
    return output


async def _run(config: CommandConfig, deps: ActionDeps) -> str:
    exe = resolve_executable(config.argv[0], deps.settings)
    assert exe is not None
    cwd = config.cwd or (str(deps.settings.command_cwd) if deps.settings.command_cwd else None)
    try:
        if cwd is not None:
            return await _spawn_and_wait(exe, config, cwd, deps)
        with tempfile.TemporaryDirectory(prefix="correlator-act-") as scratch:
            return await _spawn_and_wait(exe, config, scratch, deps)
    except OSError as exc:
        raise ActionFailedError(f"cannot run {config.argv[0]}: {exc}", retriable=False) from exc


def _preflight(config: CommandConfig, deps: ActionDeps) -> dict[str, Any]:
    exe = resolve_executable(config.argv[0], deps.settings, must_exist=False)
    return {"executable": exe or f"{config.argv[0]} (not found on {deps.settings.command_path})"}


COMMAND: ActionSpec[CommandConfig] = ActionSpec(
    "command", CommandConfig, _run, _preflight, "Run an allowlisted executable (no shell)"
)
