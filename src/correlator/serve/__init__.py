"""The serve stage: incident API with auth, engine metrics, and a web view.

>>> import correlator.serve as serve
>>> sorted(serve.__all__) == serve.__all__
True
"""

from correlator.serve.app import create_app
from correlator.serve.metrics import EngineMetrics, StatsSnapshot
from correlator.serve.settings import Scope, ServeSettings, TokenSpec

__all__ = ["EngineMetrics", "Scope", "ServeSettings", "StatsSnapshot", "TokenSpec", "create_app"]
