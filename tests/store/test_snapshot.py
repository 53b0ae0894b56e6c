"""Engine snapshots and cuts in the state store; external objects pickled by name."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import pytest

from correlator.store.base import WriteBatch
from correlator.store.memory import MemoryStateStore
from correlator.store.snapshot import SnapshotRepository, dumps, loads


@dataclass
class _Miner:
    templates: list[str]


def test_external_objects_are_stored_by_name_and_put_back() -> None:
    miner = _Miner(["connected to <*>"])
    state = {"windows": {"a": [1.0, 2.0]}, "logs": {"miner": miner}}
    blob = dumps(state, {"miner": miner})
    assert b"connected to" not in blob
    live = _Miner(["live"])
    restored = loads(blob, {"miner": live})
    assert restored["logs"]["miner"] is live
    assert restored["windows"] == {"a": [1.0, 2.0]}


def test_a_missing_external_object_is_an_unpickling_error() -> None:
    miner = _Miner([])
    blob = dumps({"m": miner}, {"miner": miner})
    with pytest.raises(pickle.UnpicklingError, match="no object given for reference 'miner'"):
        loads(blob, {})


async def test_a_full_snapshot_supersedes_the_cut() -> None:
    store = MemoryStateStore()
    repo = SnapshotRepository(store, "all")
    writes = WriteBatch()
    repo.add_to(writes, b"state-1")
    await store.write(writes)
    writes = WriteBatch()
    repo.add_cut_to(writes, b"cut-1")
    await store.write(writes)
    assert (await repo.load(), await repo.load_cut()) == (b"state-1", b"cut-1")
    writes = WriteBatch()
    repo.add_to(writes, b"state-2")
    await store.write(writes)
    assert (await repo.load(), await repo.load_cut()) == (b"state-2", None)
