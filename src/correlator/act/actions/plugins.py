"""Action registries: the built-in actions, plugins from entry points, and extra ones.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."correlator.actions"]
    scale = "my_pkg.actions:SCALE"      # an ActionSpec object

Entry points are the only way a name turns into code here; nothing builds an import
path from a string in a runbook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from correlator.act.actions.base import ActionRegistry, ActionSpec
from correlator.act.actions.command import COMMAND
from correlator.act.actions.http import HTTP
from correlator.act.actions.kafka import KAFKA
from correlator.act.actions.wait import CHECK, WAIT
from correlator.errors import ConfigError

__all__ = [
    "BUILTIN_ACTIONS",
    "ENTRY_POINT_GROUP",
    "default_registry",
    "load_plugins",
    "register_action",
]

ENTRY_POINT_GROUP = "correlator.actions"
BUILTIN_ACTIONS: tuple[ActionSpec[Any], ...] = (HTTP, KAFKA, COMMAND, CHECK, WAIT)
_EXTRA: list[ActionSpec[Any]] = []


def _group(group: str) -> Iterable[EntryPoint]:
    return entry_points(group=group)


def load_plugins(
    registry: ActionRegistry,
    find: Callable[[str], Iterable[EntryPoint]] = _group,
) -> list[str]:
    """Register every ``correlator.actions`` entry point; return the names added."""
    added: list[str] = []
    for ep in find(ENTRY_POINT_GROUP):
        try:
            spec = ep.load()
        except Exception as exc:  # a broken plugin must name itself
            raise ConfigError(
                f"action plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        if not isinstance(spec, ActionSpec):
            raise ConfigError(
                f"action plugin {ep.name!r} ({ep.value}) is a {type(spec).__name__}, "
                "not an ActionSpec"
            )
        if spec.name != ep.name:
            raise ConfigError(
                f"action plugin entry point {ep.name!r} holds an action named {spec.name!r}; "
                "use the same name"
            )
        registry.register(spec)
        added.append(spec.name)
    return added


def register_action(spec: ActionSpec[Any]) -> None:
    """Add an action to every registry :func:`default_registry` builds from now on."""
    if any(s.name == spec.name for s in (*BUILTIN_ACTIONS, *_EXTRA)):
        raise ConfigError(f"an action named {spec.name!r} is already registered")
    _EXTRA.append(spec)


def default_registry(*, plugins: bool = True) -> ActionRegistry:
    """Built-in actions, then entry-point plugins, then :func:`register_action` ones."""
    registry = ActionRegistry(BUILTIN_ACTIONS)
    if plugins:
        load_plugins(registry)
    for spec in _EXTRA:
        registry.register(spec)
    return registry
