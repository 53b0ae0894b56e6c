"""Runbook actions: registry, built-ins (http, kafka, command, check, wait) and plugins."""

from correlator.act.actions.base import (
    ActionConfig,
    ActionDeps,
    ActionFailedError,
    ActionRefusedError,
    ActionRegistry,
    ActionSpec,
)
from correlator.act.actions.plugins import (
    BUILTIN_ACTIONS,
    ENTRY_POINT_GROUP,
    default_registry,
    load_plugins,
    register_action,
)

__all__ = [
    "BUILTIN_ACTIONS",
    "ENTRY_POINT_GROUP",
    "ActionConfig",
    "ActionDeps",
    "ActionFailedError",
    "ActionRefusedError",
    "ActionRegistry",
    "ActionSpec",
    "default_registry",
    "load_plugins",
    "register_action",
]
