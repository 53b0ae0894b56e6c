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

from correlator.lazy import lazy_attributes

__all__ = ["EngineMetrics", "Scope", "ServeSettings", "StatsSnapshot", "TokenSpec", "create_app"]

_HOMES = {
    "create_app": "correlator.serve.app",
    "EngineMetrics": "correlator.serve.metrics",
    "StatsSnapshot": "correlator.serve.metrics",
    "Scope": "correlator.serve.settings",
    "ServeSettings": "correlator.serve.settings",
    "TokenSpec": "correlator.serve.settings",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
