"""The crash benchmark's runbook probe: its runbook loads, its recorder counts, its verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from correlator.act.actions.plugins import default_registry
from correlator.act.loader import load_runbooks
from correlator.act.records import (
    ExecutionRecord,
    ExecutionStatus,
    Reason,
    StepRecord,
    StepStatus,
)
from correlator.bench.crash_act import (
    RUNBOOK_NAME,
    ActOutcome,
    CallRecorder,
    act_sections,
    compare_act,
)
from correlator.config import Settings
from correlator.model.incident import ChangeKind

AT = datetime(2026, 1, 1, tzinfo=UTC)


def record(version: int, status: ExecutionStatus, step: StepStatus) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"e{version}",
        runbook=RUNBOOK_NAME,
        incident_id="inc",
        version=version,
        change=ChangeKind.UPDATED,
        target="db",
        dry_run=False,
        status=status,
        reason=Reason.MATCHED,
        steps=[StepRecord(index=0, name="page", action="http", status=step)],
        created_at=AT,
    )


def succeeded(version: int) -> ExecutionRecord:
    return record(version, ExecutionStatus.SUCCEEDED, StepStatus.SUCCEEDED)


def test_the_probe_runbook_loads_live_and_the_recorder_counts_each_version(
    tmp_path: Path,
) -> None:
    with CallRecorder() as recorder:
        sections = act_sections("run", tmp_path, recorder.url)
        settings = Settings.model_validate(sections)
        assert settings.act.dry_run is False
        [runbook] = load_runbooks(Path(sections["runbooks_dir"]), default_registry())
        assert (runbook.name, runbook.dry_run) == (RUNBOOK_NAME, False)
        for version in ("1", "2", "2"):
            body = {"incident": "inc", "version": version}
            assert httpx.post(f"{recorder.url}/page", json=body).status_code == 200
    assert recorder.calls == {("inc", 1): 1, ("inc", 2): 2}


def test_a_step_run_twice_or_never_is_a_problem() -> None:
    reference = ActOutcome()
    reference.calls.update({("inc", 1): 1, ("inc", 2): 1})
    reference.executions = {("inc", 1): succeeded(1), ("inc", 2): succeeded(2)}
    crashed = ActOutcome()
    crashed.calls.update({("inc", 1): 2})
    crashed.executions = {("inc", 1): succeeded(1), ("inc", 2): succeeded(2)}
    assert compare_act(reference, crashed) == [
        "crashed: runbook step for inc v1 ran 2 times",
        "crashed: runbook step for inc v2 never ran",
    ]


def test_a_step_interrupted_by_a_kill_is_accepted_once_and_never_repeated() -> None:
    reference = ActOutcome()
    reference.calls.update({("inc", 1): 1, ("inc", 2): 1})
    reference.executions = {("inc", 1): succeeded(1), ("inc", 2): succeeded(2)}
    crashed = ActOutcome()
    crashed.calls.update({("inc", 1): 1})
    cut = record(2, ExecutionStatus.FAILED, StepStatus.INTERRUPTED)
    crashed.executions = {("inc", 1): succeeded(1), ("inc", 2): cut}
    assert crashed.interrupted == [("inc", 2)]
    assert compare_act(reference, crashed) == []
    # the same interruption in the uninterrupted run is a problem
    assert compare_act(crashed, crashed) == ["reference: execution for inc v2 is failed"]


def test_an_unfinished_or_missing_execution_is_a_problem() -> None:
    reference = ActOutcome()
    reference.calls.update({("inc", 1): 1})
    reference.executions = {("inc", 1): succeeded(1)}
    crashed = ActOutcome()
    crashed.executions = {
        ("inc", 1): record(1, ExecutionStatus.RUNNING, StepStatus.RUNNING),
        ("inc", 2): None,
    }
    assert compare_act(reference, crashed) == [
        "crashed: execution for inc v1 is running",
        "crashed: execution for inc v2 is missing",
        "crashed: runbook step for inc v1 never ran",
    ]
