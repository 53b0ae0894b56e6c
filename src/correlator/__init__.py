"""correlator: streaming AIOps event correlation.

Telemetry topics in (OTLP spans, metrics and logs, JSON lines, Alertmanager alerts),
deduplicated and explained incidents out, with ranked root causes.
"""

from correlator.clock import Clock, FakeClock, SystemClock
from correlator.config import Settings, load_settings
from correlator.errors import CorrelatorError
from correlator.model import (
    Alert,
    Incident,
    IncidentChange,
    Observation,
    RawMessage,
    RootCause,
)
from correlator.pipeline import Engine, build_engine
from correlator.store import MemoryStateStore, StateStore
from correlator.transport import MemorySink, MemorySource, Sink, Source

__version__ = "0.1.0"

__all__ = [
    # the engine
    "Engine",
    "build_engine",
    # configuration
    "Settings",
    "load_settings",
    # data
    "Alert",
    "Incident",
    "IncidentChange",
    "Observation",
    "RawMessage",
    "RootCause",
    # ports and their in-memory implementations
    "Clock",
    "FakeClock",
    "MemorySink",
    "MemorySource",
    "MemoryStateStore",
    "Sink",
    "Source",
    "StateStore",
    "SystemClock",
    # errors
    "CorrelatorError",
]
