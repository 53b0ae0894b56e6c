"""The serve stage: incident API with auth, engine metrics, and a web view.

The names below load on first use, so ``correlator.config`` can import
``correlator.serve.settings`` without pulling in FastAPI and the app (and without a cycle).

>>> import correlator.serve as serve
>>> sorted(serve.__all__) == serve.__all__
True
>>> serve.create_app.__name__
'create_app'
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["EngineMetrics", "Scope", "ServeSettings", "StatsSnapshot", "TokenSpec", "create_app"]

_HOMES = {
    "create_app": "correlator.serve.app",
    "EngineMetrics": "correlator.serve.metrics",
    "StatsSnapshot": "correlator.serve.metrics",
    "Scope": "correlator.serve.settings",
    "ServeSettings": "correlator.serve.settings",
    "TokenSpec": "correlator.serve.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'correlator.serve' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
