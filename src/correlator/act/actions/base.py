"""Actions: registered by name next to the pydantic model of their config.

An :class:`ActionSpec` is a name, a config model and an async ``run(config, deps)``
that returns the step's output text or raises :class:`ActionFailedError`. An optional
``preflight(config, deps)`` runs in dry-run too, so a refusal (an executable outside the
allowlist) shows up before anything goes live.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict

from correlator.act.settings import ActSettings
from correlator.clock import Clock, SystemClock
from correlator.errors import ConfigError, RunbookError
from correlator.transport.base import Sink

__all__ = [
    "ActionConfig",
    "ActionDeps",
    "ActionFailedError",
    "ActionRefusedError",
    "ActionRegistry",
    "ActionSpec",
]


class ActionConfig(BaseModel):
    """Base of action configs: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


C = TypeVar("C", bound=ActionConfig)


class ActionFailedError(RunbookError):
    """A step's action failed; ``retriable`` says whether another attempt may help."""

    def __init__(self, message: str, *, output: str = "", retriable: bool = True) -> None:
        super().__init__(message)
        self.output = output
        self.retriable = retriable


class ActionRefusedError(ActionFailedError):
    """A safety rule refused the action (never retried)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retriable=False)


@dataclass
class ActionDeps:
    """What actions may use: every side effect goes through one of these."""

    settings: ActSettings = field(default_factory=ActSettings)
    http: httpx.AsyncClient | None = None
    sink: Sink | None = None
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def client(self) -> httpx.AsyncClient:
        if self.http is None:
            raise ActionFailedError("no HTTP client configured", retriable=False)
        return self.http


@dataclass(frozen=True)
class ActionSpec(Generic[C]):
    """A named action: its config model, its run function, an optional preflight."""

    name: str
    config: type[C]
    run: Callable[[C, ActionDeps], Awaitable[str]]
    preflight: Callable[[C, ActionDeps], dict[str, Any]] | None = None
    description: str = ""


class ActionRegistry:
    """Actions by name."""

    def __init__(self, specs: tuple[ActionSpec[Any], ...] = ()) -> None:
        self._specs: dict[str, ActionSpec[Any]] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: ActionSpec[Any], *, replace: bool = False) -> None:
        if not isinstance(spec, ActionSpec):
            raise ConfigError(f"{spec!r} is not an ActionSpec")
        if spec.name in self._specs and not replace:
            raise ConfigError(f"an action named {spec.name!r} is already registered")
        self._specs[spec.name] = spec

    def get(self, name: str) -> ActionSpec[Any]:
        try:
            return self._specs[name]
        except KeyError:
            raise ConfigError(
                f"unknown action {name!r}; registered: {', '.join(sorted(self._specs))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._specs))

    def copy(self) -> ActionRegistry:
        return ActionRegistry(tuple(self._specs.values()))
