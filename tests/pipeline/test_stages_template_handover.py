"""A detect member's log template miners move with their partitions, in memory.

The member that takes a partition over must number its templates as the last owner did
and must not report a template the last owner had seen as new.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.pipeline.conftest import SHAPES, memory_member, new_templates, shape_lines, spy

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_logs_json
from correlator.model.message import RawMessage
from correlator.model.observation import Observation, Signal
from correlator.stages import DetectEngine
from correlator.store import MemoryStateStore

SETTINGS = Settings.model_validate({"runbooks_dir": None})
LOGS = SETTINGS.topics.logs
API, DB = (LOGS, 0), (LOGS, 1)


def records(service: str, start_s: int, stop_s: int) -> list[RawMessage]:
    """One logs record a second with a line of each of the service's message shapes; the
    offset is the second, on the service's partition."""
    partition = API[1] if service == "api" else DB[1]
    return [
        RawMessage(
            LOGS,
            encode_logs_json(shape_lines(service, t)),
            key=service.encode(),
            partition=partition,
            offset=t,
        )
        for t in range(start_s, stop_s)
    ]


async def member(store: MemoryStateStore) -> tuple[DetectEngine, list[Observation]]:
    """A started detect member, and every observation it hands its detectors."""
    engine = await memory_member(SETTINGS, store)
    return engine, spy(engine)


def template_rates(observations: list[Observation], service: str) -> Counter[tuple[Any, ...]]:
    return Counter(
        (o.series, o.ts, o.value, o.detail)
        for o in observations
        if o.signal is Signal.LOG_TEMPLATE_RATE and o.service == service
    )


async def test_the_next_owner_keeps_the_template_ids_and_reports_nothing_new_again() -> None:
    """api's partition moves from ``old`` to ``new`` at second 25, inside window [20, 30);
    ``new`` mined db's lines before, so a miner of its own would number api's otherwise."""
    store = MemoryStateStore()
    (old, seen_old), (new, seen_new) = await member(store), await member(store)
    alone, seen_alone = await member(MemoryStateStore())  # sees every api record
    await alone._assigned({API})
    await alone.process(records("api", 0, 60))
    await alone.flush()
    await old._assigned({API})
    await new._assigned({DB})
    await new.process(records("db", 0, 25))
    await old.process(records("api", 0, 25))
    assert len(new_templates(seen_old, "api")) == len(SHAPES["api"])
    await old.release({API})
    await new._assigned({API, DB})
    await new.process(records("api", 25, 60))
    await new.flush()
    await old.flush()

    assert new_templates(seen_new, "api") == []
    assert template_rates(seen_old + seen_new, "api") == template_rates(seen_alone, "api")
    assert new.normalize.logs.unmatched == 0


async def test_windows_taken_back_out_leave_the_miner_replayed_records_are_not_new() -> None:
    """The old owner handed over but did not commit: the next one replays from offset 0."""
    store = MemoryStateStore()
    (old, _), (new, seen_new) = await member(store), await member(store)
    await old._assigned({API})
    await old.process(records("api", 0, 25))
    await old.release({API})
    await new._assigned({API})
    await new.process(records("api", 0, 40))
    await new.flush()
    assert new_templates(seen_new, "api") == []
    alone, seen_alone = await member(MemoryStateStore())
    await alone._assigned({API})
    await alone.process(records("api", 0, 40))
    await alone.flush()
    assert template_rates(seen_new, "api") == template_rates(seen_alone, "api")


async def test_a_member_started_later_finds_the_miners_of_one_that_stopped_or_checkpointed() -> (
    None
):
    store = MemoryStateStore()
    stopped, _ = await member(store)
    await stopped._assigned({API})
    await stopped.process(records("api", 0, 10))
    await stopped.stop()  # hands api's miner over
    crashed, _ = await member(store)
    await crashed._assigned({DB})
    await crashed.process(records("db", 0, 10))
    await crashed.checkpoint()  # then dies without giving db up
    later, seen = await member(store)
    await later._assigned({API, DB})
    await later.process(records("api", 10, 20) + records("db", 10, 20))
    await later.flush()
    assert new_templates(seen, "api") == [] and new_templates(seen, "db") == []
