"""Crash safety on the real broker and Redis: SIGKILLed engine processes lose and add nothing.

Runs ``correlator.bench.crash`` small: an uninterrupted engine process and one SIGKILLed
three times at random moments (the second time with Redis, restarted on its AOF), both on
the demo's known fault. Every (incident id, version) the uninterrupted run published must
be published by the crashed run with the same contents, and nothing else. A live runbook
executor, killed with the engine, runs each change's step once and never twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from correlator.bench.crash import compare, crash_case
from correlator.model.incident import IncidentStatus
from correlator.runtime import EmbeddedBroker, EmbeddedRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_sigkilled_engine_loses_and_duplicates_no_incident(tmp_path: Path) -> None:
    with (
        EmbeddedBroker(tmp_path / "broker") as broker,
        EmbeddedRedis(tmp_path / "redis", persistent=True) as redis,
    ):
        # 0.06 wall s per simulated s: the 840 s stream lasts ~50 s, past the third kill
        reference = await crash_case("ref", broker, redis, tmp_path, kills=0, pace_s=0.06)
        crashed = await crash_case(
            "crash", broker, redis, tmp_path, kills=3, redis_kill_at=1, seed=3, pace_s=0.06
        )
    assert crashed.kills == 3 and crashed.redis_restarts == 1
    [incident] = [c.incident for c in reference.latest.values()]
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.root_causes[0].entity == "payments-db"
    # one live runbook step per incident change, each run once
    assert set(reference.act.calls) == {(c.incident_id, c.version) for c in reference.changes}
    assert set(reference.act.calls.values()) == {1}
    assert len(crashed.act.executions) == len(reference.act.executions)
    assert compare(reference, crashed) == []


async def test_sigkilled_detect_member_of_a_split_engine_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """``correlator run --stage detect`` killed mid-window (it checkpoints every 3 s) and
    restarted, once with Redis, under a correlate process that runs throughout: the
    restarted member merges the windows written with its last commit."""
    with (
        EmbeddedBroker(tmp_path / "broker") as broker,
        EmbeddedRedis(tmp_path / "redis", persistent=True) as redis,
    ):
        reference = await crash_case(
            "ref", broker, redis, tmp_path, kills=0, pace_s=0.06, stage="detect"
        )
        crashed = await crash_case(
            "crash",
            broker,
            redis,
            tmp_path,
            kills=3,
            redis_kill_at=1,
            seed=1,
            pace_s=0.06,
            stage="detect",
        )
    assert crashed.kills == 3 and crashed.redis_restarts == 1
    [incident] = [c.incident for c in reference.latest.values()]
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.root_causes[0].entity == "payments-db"
    assert compare(reference, crashed) == []
