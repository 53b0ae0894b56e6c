"""Batch boundaries and restarts do not change incidents (the engine on in-memory ports).

The demo's known fault is streamed as partitioned, numbered records; the same records cut
into other batches, or processed by an engine that dies without a word and is replaced by
one on the same store, must publish the very same incident changes.
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from collections.abc import Sequence

import pytest

from correlator.config import Settings
from correlator.demo.produce import scenario_messages
from correlator.demo.scenario import Scenario
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.pipeline import Engine, build_engine
from correlator.store.memory import MemoryStateStore
from correlator.transport.memory import MemorySink, MemorySource

SCENARIO = Scenario(normal_s=300, fault_s=120, recovery_s=420, requests_per_s=6)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.model_validate(
        {"correlate": {"topology_dir": None}, "runbooks_dir": None, "topics": {"partitions": 2}}
    )


@pytest.fixture(scope="module")
def seconds(settings: Settings) -> list[list[RawMessage]]:
    """Every simulated second's records, each with a partition (by key) and an offset."""
    offsets: dict[tuple[str, int], int] = defaultdict(int)
    out = []
    for second in scenario_messages(SCENARIO, settings.topics):
        placed = []
        for msg in second:
            partition = zlib.crc32(msg.key or b"") % 2
            offset = offsets[(msg.topic, partition)]
            offsets[(msg.topic, partition)] += 1
            placed.append(
                RawMessage(msg.topic, msg.value, msg.key, partition, offset, 0, msg.headers)
            )
        out.append(placed)
    return out


@pytest.fixture(scope="module")
async def reference(settings: Settings, seconds: list[list[RawMessage]]) -> list[IncidentChange]:
    """The changes of one batch a second."""
    return await _run(settings, _batches(seconds, None))


def _batches(seconds: Sequence[list[RawMessage]], seed: int | None) -> list[list[RawMessage]]:
    """One batch a second, or (with ``seed``) random runs of seconds, partitions skewed."""
    if seed is None:
        return [list(s) for s in seconds]
    rng = random.Random(seed)
    flat = [m for s in seconds for m in s]
    by_partition = [[m for m in flat if m.partition == p] for p in (0, 1)]
    batches: list[list[RawMessage]] = []
    while any(by_partition):
        batch = []
        for queue in by_partition:
            take = rng.randint(0, 400)
            batch.extend(queue[:take])
            del queue[:take]
        batches.append(batch)
    return batches


def _changes(sink: MemorySink, settings: Settings) -> list[IncidentChange]:
    return [
        IncidentChange.model_validate_json(m.value or b"")
        for m in sink.topics[settings.topics.incidents]
    ]


async def _drain(engine: Engine, source: MemorySource, stop_after: int | None = None) -> None:
    done = 0
    while not source.drained and (stop_after is None or done < stop_after):
        await engine.step(0)
        done += 1


async def _run(settings: Settings, batches: list[list[RawMessage]]) -> list[IncidentChange]:
    source, sink = MemorySource(batches), MemorySink()
    engine = build_engine(settings, source=source, sink=sink, store=MemoryStateStore())
    await engine.start()
    await _drain(engine, source)
    await engine.flush()
    return _changes(sink, settings)


def _key(changes: Sequence[IncidentChange]) -> list[tuple[str, int, str]]:
    return [(c.incident_id, c.version, c.incident.model_dump_json()) for c in changes]


async def test_other_batch_boundaries_publish_the_same_changes(
    settings: Settings, seconds: list[list[RawMessage]], reference: list[IncidentChange]
) -> None:
    assert reference, "the scenario's fault opens an incident"
    assert reference[-1].incident.root_causes[0].entity == "payments-db"
    for seed in (1, 2):
        assert _key(await _run(settings, _batches(seconds, seed))) == _key(reference)


@pytest.mark.parametrize(
    ("die_after", "every_s"),
    [(40, 1e-6), (330, 1e-6), (500, 1e-6), (400, 60.0)],
    ids=["warmup", "fault", "recovery", "fault-few-snapshots"],
)
async def test_an_engine_replaced_mid_stream_publishes_the_same_changes(
    settings: Settings,
    seconds: list[list[RawMessage]],
    reference: list[IncidentChange],
    die_after: int,
    every_s: float,
) -> None:
    """``every_s``: snapshots after every batch, or only when incidents change."""
    settings = settings.model_copy(
        update={"detect": settings.detect.model_copy(update={"checkpoint_every_s": every_s})}
    )
    store, sink = MemoryStateStore(), MemorySink()
    first = MemorySource(_batches(seconds, None))
    engine = build_engine(settings, source=first, sink=sink, store=store)
    await engine.start()
    await _drain(engine, first, stop_after=die_after)  # then it dies: no stop, no flush
    if every_s > 1:  # changes since the base snapshot were written as a cut: replayed muted
        assert await store.get(engine.snapshots.cut_key) is not None
    second = MemorySource(_batches(seconds, 7))  # everything again, cut differently
    engine = build_engine(settings, source=second, sink=sink, store=store)
    await engine.start()
    assert second.resumed, "the new engine resumes at its snapshot's offsets"
    await _drain(engine, second)
    await engine.flush()
    assert engine.ticks.late == 0, "correlation saw no alert again (none came after its tick)"
    got = _changes(sink, settings)
    assert sorted(set(_key(got))) == sorted(_key(reference))
    assert len({(c.incident_id, c.version) for c in got}) == len(set(_key(got)))
