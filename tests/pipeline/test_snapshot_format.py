"""A snapshot written in an older format is refused with what to do, never half-loaded."""

from __future__ import annotations

import pytest

from correlator.config import Settings
from correlator.pipeline import build_engine
from correlator.store import MemoryStateStore
from correlator.store.snapshot import SnapshotError, dumps
from correlator.transport import MemorySink
from correlator.transport.memory import MemorySource


def test_a_snapshot_from_before_alerts_carried_request_counts_is_refused() -> None:
    settings = Settings.model_validate({"runbooks_dir": None})
    engine = build_engine(
        settings, source=MemorySource(), sink=MemorySink(), store=MemoryStateStore()
    )
    with pytest.raises(SnapshotError, match=r"has format 1, this engine reads 2; delete that key"):
        engine._read(dumps({"version": 1}), "engine:all:state")
    assert engine._read(dumps({"version": 2, "x": 1}), "engine:all:state") == {
        "version": 2,
        "x": 1,
    }
