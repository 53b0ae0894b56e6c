"""The executor on the memory store: dry-run, retries, timeouts, rollback, safety, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from correlator.act.approval import ApprovalError
from correlator.act.guards import set_kill_switch
from correlator.act.records import ExecutionStatus, Reason, StepStatus
from correlator.act.runbook import RateLimit, Runbook
from correlator.model.incident import IncidentChange
from correlator.store.incidents import IncidentRepository

ChangeFactory = Callable[..., IncidentChange]
Parse = Callable[..., Runbook]

ECHO_RUNBOOK = """\
name: echo-cause
match:
  root_cause: [payments-db]
parameters:
  who: "{{ root_cause }}"
  note: "{{ incident.alerts[0].summary }}"
dry_run: DRY_RUN
steps:
  - name: say
    action: command
    with:
      argv: [echo, "restart", "deployment/{{ params.who }}", "{{ params.note }}"]
"""


def echo_runbook(parse: Parse, dry_run: bool = False) -> Runbook:
    return parse(ECHO_RUNBOOK.replace("DRY_RUN", str(dry_run).lower()))


def http_runbook(parse: Parse, url: str, **extra: str) -> Runbook:
    lines = "\n".join(f"{k}: {v}" for k, v in extra.items())
    return parse(
        f"""\
name: hook
match: {{services: [payments]}}
dry_run: false
{lines}
steps:
  - name: call
    action: http
    with:
      url: "{url}/call"
      body: {{incident: "{{{{ incident_id }}}}"}}
    retries: 3
    backoff_s: 2
    backoff_factor: 3
    timeout_s: 2
"""
    )


# --- dry run -------------------------------------------------------------------------


async def test_dry_run_records_exactly_what_would_run(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    executor = kit.executor([echo_runbook(parse, dry_run=True)], command_allowlist=["echo"])
    [record] = await executor.handle(change())
    assert record.status is ExecutionStatus.DRY_RUN
    [step] = record.steps
    assert step.status is StepStatus.DRY_RUN
    assert step.rendered["argv"] == [
        "echo",
        "restart",
        "deployment/payments-db",
        "p99 latency 900ms (expected 60ms)",
    ]
    assert step.rendered["preflight"]["executable"].endswith("/echo")
    assert step.attempts == 0


async def test_global_dry_run_wins_over_a_live_runbook(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    executor = kit.executor([echo_runbook(parse)], dry_run=True, command_allowlist=["echo"])
    [record] = await executor.handle(change())
    assert record.dry_run is True
    assert record.status is ExecutionStatus.DRY_RUN


async def test_dry_run_shows_a_refused_command(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    executor = kit.executor([echo_runbook(parse, dry_run=True)], command_allowlist=[])
    [record] = await executor.handle(change())
    assert record.steps[0].status is StepStatus.REFUSED
    assert record.status is ExecutionStatus.FAILED


# --- live command with hostile input -------------------------------------------------


async def test_alert_text_with_shell_metacharacters_is_one_argv_element(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    evil = "; rm -rf / $(reboot) `id` && echo PWNED | tee /tmp/x"
    executor = kit.executor([echo_runbook(parse)], command_allowlist=["echo"])
    [record] = await executor.handle(change(summary=evil))
    [step] = record.steps
    assert step.status is StepStatus.SUCCEEDED
    assert step.rendered["argv"][-1] == evil
    assert step.output == f"restart deployment/payments-db {evil}\n"
    assert record.status is ExecutionStatus.SUCCEEDED


# --- retries, timeouts ---------------------------------------------------------------


async def test_retries_with_exponential_backoff_on_the_injected_sleep(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    http_server.reply("/call", (503, {}), (500, {}), (200, {"ok": True}))
    executor = kit.executor([http_runbook(parse, http_server.url)])
    [record] = await executor.handle(change())
    [step] = record.steps
    assert (step.status, step.attempts) == (StepStatus.SUCCEEDED, 3)
    assert kit.sleeps == [2.0, 6.0]
    assert [r.body for r in http_server.requests] == [{"incident": "inc-1"}] * 3


async def test_retries_stop_on_a_non_retriable_failure(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    http_server.reply("/call", (400, {"error": "bad request"}))
    executor = kit.executor([http_runbook(parse, http_server.url)])
    [record] = await executor.handle(change())
    assert (record.steps[0].status, record.steps[0].attempts) == (StepStatus.FAILED, 1)
    assert record.status is ExecutionStatus.FAILED
    assert kit.sleeps == []


async def test_timeout_per_attempt(kit: Any, parse: Parse, change: ChangeFactory) -> None:
    rb = parse(
        """\
name: slow
match: {services: [payments]}
dry_run: false
steps:
  - name: nap
    action: command
    with: {argv: [sleep, "30"]}
    timeout_s: 0.2
    retries: 1
    backoff_s: 1
"""
    )
    executor = kit.executor([rb], command_allowlist=["sleep"])
    [record] = await executor.handle(change())
    [step] = record.steps
    assert (step.status, step.attempts) == (StepStatus.TIMED_OUT, 2)
    assert step.error == "timed out after 0.2s"
    assert kit.sleeps == [1.0]


# --- on_failure ----------------------------------------------------------------------

FAILING = """\
name: failing
match: {{services: [payments]}}
dry_run: false
on_failure: {policy}
steps:
  - name: first
    action: command
    with: {{argv: [echo, one]}}
  - name: broken
    action: command
    with: {{argv: [sleep, nope]}}
  - name: last
    action: command
    with: {{argv: [echo, three]}}
rollback:
  - name: undo
    action: command
    with: {{argv: [echo, "undo {{{{ root_cause }}}}"]}}
"""


@pytest.mark.parametrize(
    ("policy", "status", "steps"),
    [
        ("stop", ExecutionStatus.FAILED, ["first:succeeded", "broken:failed"]),
        (
            "continue",
            ExecutionStatus.PARTIAL,
            ["first:succeeded", "broken:failed", "last:succeeded"],
        ),
        (
            "rollback",
            ExecutionStatus.ROLLED_BACK,
            ["first:succeeded", "broken:failed", "undo:succeeded"],
        ),
    ],
)
async def test_on_failure(
    kit: Any,
    parse: Parse,
    change: ChangeFactory,
    policy: str,
    status: ExecutionStatus,
    steps: list[str],
) -> None:
    executor = kit.executor(
        [parse(FAILING.format(policy=policy))], command_allowlist=["echo", "sleep"]
    )
    [record] = await executor.handle(change())
    assert record.status is status
    assert [f"{s.name}:{s.status.value}" for s in record.steps] == steps
    if policy == "rollback":
        assert record.steps[-1].output == "undo payments-db\n"
        assert record.steps[-1].phase.value == "rollback"


# --- approval ------------------------------------------------------------------------


async def test_approval_required_waits_then_runs_when_approved(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    executor = kit.executor([http_runbook(parse, http_server.url, approval="required")])
    [record] = await executor.handle(change())
    assert record.status is ExecutionStatus.PENDING_APPROVAL
    assert record.expires_at == record.created_at + timedelta(hours=1)
    assert http_server.requests == []
    assert [r.execution_id for r in await executor.approvals.pending()] == [record.execution_id]

    approved = await executor.approvals.approve(record.execution_id, who="alice")
    assert (approved.status, approved.decided_by) == (ExecutionStatus.APPROVED, "alice")
    with pytest.raises(ApprovalError, match="not pending_approval"):
        await executor.approvals.reject(record.execution_id, who="bob")

    [done] = await executor.housekeeping()
    assert done.status is ExecutionStatus.SUCCEEDED
    assert len(http_server.requests) == 1
    assert await executor.housekeeping() == []  # not run twice
    assert await executor.approvals.pending() == []


async def test_rejected_execution_never_runs(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    executor = kit.executor([http_runbook(parse, http_server.url, approval="required")])
    [record] = await executor.handle(change())
    rejected = await executor.approvals.reject(record.execution_id, who="bob", reason="not now")
    assert (rejected.status, rejected.decision_reason) == (ExecutionStatus.REJECTED, "not now")
    assert await executor.housekeeping() == []
    assert http_server.requests == []


async def test_pending_approval_expires(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    executor = kit.executor(
        [http_runbook(parse, http_server.url, approval="required")], approval_expiry_s=600
    )
    [record] = await executor.handle(change())
    kit.clock.advance(timedelta(seconds=599))
    assert await executor.approvals.expire() == []
    kit.clock.advance(timedelta(seconds=2))
    with pytest.raises(ApprovalError, match="expired"):
        await executor.approvals.approve(record.execution_id, who="late")
    stored = await executor.audit.get(record.execution_id)
    assert stored is not None and stored.status is ExecutionStatus.EXPIRED
    assert http_server.requests == []


async def test_a_decision_written_by_serve_is_honoured(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    """serve's StoreExecutionBoard edits the document's status directly."""
    executor = kit.executor([http_runbook(parse, http_server.url, approval="required")])
    [record] = await executor.handle(change())
    key = f"execution:{record.execution_id}"
    doc = json.loads(kit.store.data[key])
    doc.update(status="approved", decided_by="carol", decision_reason="go")
    kit.store.data[key] = json.dumps(doc).encode()
    [done] = await executor.housekeeping()
    assert (done.status, done.decided_by) == (ExecutionStatus.SUCCEEDED, "carol")
    assert len(http_server.requests) == 1


# --- cooldown, rate limit, kill switch -----------------------------------------------


async def test_cooldown_per_runbook_and_target(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    rb = echo_runbook(parse).model_copy(update={"cooldown_s": 300.0})
    executor = kit.executor([rb], command_allowlist=["echo"])
    [first] = await executor.handle(change(incident_id="a"))
    [second] = await executor.handle(change(incident_id="b"))
    [other] = await executor.handle(change(incident_id="c", root="payments->payments-db"))
    assert first.status is ExecutionStatus.SUCCEEDED
    assert (second.status, second.reason) == (ExecutionStatus.SKIPPED, Reason.COOLDOWN)
    assert second.steps == []
    kit.clock.advance(timedelta(seconds=301))
    [later] = await executor.handle(change(incident_id="d"))
    assert later.status is ExecutionStatus.SUCCEEDED
    assert (other.target, other.status) == ("payments->payments-db", ExecutionStatus.SUCCEEDED)


async def test_max_executions_per_window(kit: Any, parse: Parse, change: ChangeFactory) -> None:
    limit = RateLimit(count=2, window_s=3600.0)
    rb = echo_runbook(parse).model_copy(update={"max_executions": limit})
    executor = kit.executor([rb], command_allowlist=["echo"])
    reasons = [(await executor.handle(change(incident_id=f"i{n}")))[0].reason for n in range(3)]
    assert reasons == [Reason.COMPLETED, Reason.COMPLETED, Reason.RATE_LIMITED]
    kit.clock.advance(timedelta(hours=1))
    assert (await executor.handle(change(incident_id="i9")))[0].reason is Reason.COMPLETED


async def test_kill_switch_setting_and_store_key(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    executor = kit.executor([echo_runbook(parse)], command_allowlist=["echo"], kill_switch=True)
    [record] = await executor.handle(change(incident_id="a"))
    assert (record.status, record.reason) == (ExecutionStatus.SKIPPED, Reason.KILL_SWITCH)
    assert record.steps == []

    executor = kit.executor([echo_runbook(parse)], command_allowlist=["echo"])
    await set_kill_switch(kit.store, True)
    [record] = await executor.handle(change(incident_id="b"))
    assert record.reason is Reason.KILL_SWITCH
    await set_kill_switch(kit.store, False)
    [record] = await executor.handle(change(incident_id="c"))
    assert record.status is ExecutionStatus.SUCCEEDED


async def test_kill_switch_stops_an_approved_execution(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    executor = kit.executor([http_runbook(parse, http_server.url, approval="required")])
    [record] = await executor.handle(change())
    await executor.approvals.approve(record.execution_id, who="alice")
    await set_kill_switch(kit.store, True)
    [done] = await executor.housekeeping()
    assert (done.status, done.reason) == (ExecutionStatus.SKIPPED, Reason.KILL_SWITCH)
    assert http_server.requests == []


# --- idempotency ---------------------------------------------------------------------


async def test_one_execution_per_incident_version(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    executor = kit.executor([http_runbook(parse, http_server.url)])
    [first] = await executor.handle(change())
    [again] = await executor.handle(change())  # a replayed message
    assert again.execution_id == first.execution_id
    assert len(http_server.requests) == 1
    assert await kit.store.get("runbook:hook:inc-1:1") == first.execution_id.encode()
    [newer] = await executor.handle(change("reopened", version=2))
    assert newer.execution_id != first.execution_id
    assert len(http_server.requests) == 2


async def test_resume_after_a_crash_does_not_repeat_finished_steps(
    kit: Any, parse: Parse, change: ChangeFactory
) -> None:
    rb = parse(FAILING.format(policy="stop").replace("[sleep, nope]", "[echo, two]"))
    executor = kit.executor([rb], command_allowlist=["echo", "sleep"])
    [done] = await executor.handle(change())
    assert done.status is ExecutionStatus.SUCCEEDED
    # Pretend the worker died after step 1 finished and while step 2 ran.
    exec_id = done.execution_id
    doc = json.loads(kit.store.data[f"execution:{exec_id}"])
    doc["status"] = "running"
    kit.store.data[f"execution:{exec_id}"] = json.dumps(doc).encode()
    step2 = json.loads(kit.store.data[f"execution:{exec_id}:step:main:1"])
    step2["status"] = "running"
    kit.store.data[f"execution:{exec_id}:step:main:1"] = json.dumps(step2).encode()
    del kit.store.data[f"execution:{exec_id}:step:main:2"]

    restarted = kit.executor([rb], command_allowlist=["echo", "sleep"])
    [resumed] = await restarted.handle(change())
    assert resumed.reason is Reason.STEP_FAILED
    assert [f"{s.name}:{s.status.value}" for s in resumed.steps] == [
        "first:succeeded",
        "broken:interrupted",
    ]


# --- audit ---------------------------------------------------------------------------


async def test_audit_masks_secrets_and_reaches_store_timeline_and_topic(
    kit: Any, parse: Parse, change: ChangeFactory, http_server: Any
) -> None:
    kit.environ["HOOK_TOKEN"] = "tok-very-secret"
    rb = parse(
        f"""\
name: audited
match: {{services: [payments]}}
dry_run: false
parameters:
  auth: "Bearer ${{ENV:HOOK_TOKEN}}"
steps:
  - name: call
    action: http
    with:
      url: "{http_server.url}/a?token=${{ENV:HOOK_TOKEN}}"
      headers: {{Authorization: "{{{{ params.auth }}}}"}}
      body: {{echo: "${{ENV:HOOK_TOKEN}}"}}
"""
    )
    http_server.reply("/a", (200, {"seen": "tok-very-secret"}))
    executor = kit.executor([rb])
    [record] = await executor.handle(change())
    [req] = http_server.requests
    assert req.headers["authorization"] == "Bearer tok-very-secret"
    assert req.path == "/a?token=tok-very-secret"

    blob = kit.store.data[f"execution:{record.execution_id}"].decode()
    assert "tok-very-secret" not in blob
    stored = json.loads(blob)
    assert stored["parameters"] == {"auth": "Bearer ***"}
    step = stored["steps"][0]
    assert step["rendered"]["headers"] == {"Authorization": "Bearer ***"}
    assert step["rendered"]["url"].endswith("/a?token=***")
    assert step["output"] == '200 {"seen": "***"}'
    assert (stored["status"], stored["runbook"], stored["version"]) == ("succeeded", "audited", 1)

    [published] = kit.published()
    assert published["execution_id"] == record.execution_id
    assert "tok-very-secret" not in json.dumps(published)
    assert [i for i, _ in await kit.store.index_range("executions:by_time")] == [
        record.execution_id
    ]
    timeline = await IncidentRepository(kit.store).timeline("inc-1")
    assert timeline[-1]["kind"] == "runbook"
    assert timeline[-1]["runbook"] == "audited"
    assert timeline[-1]["status"] == "succeeded"
    assert [r.execution_id for r in await executor.audit.for_incident("inc-1")] == [
        record.execution_id
    ]


async def test_shipped_restart_runbook_dry_run_shows_the_kubectl_argv(
    kit: Any, shipped: Callable[[str], Runbook], change: ChangeFactory
) -> None:
    executor = kit.executor(
        [shipped("restart-on-db-latency")], dry_run=True, command_allowlist=["kubectl"]
    )
    [record] = await executor.handle(change(labels={"namespace": "shop"}))
    assert record.status is ExecutionStatus.DRY_RUN
    assert record.parameters == {"deployment": "payments-db", "namespace": "shop"}
    assert [s.rendered["argv"] for s in record.steps] == [
        ["kubectl", "rollout", "restart", "deployment/payments-db", "--namespace", "shop"],
        [
            "kubectl",
            "rollout",
            "status",
            "deployment/payments-db",
            "--namespace",
            "shop",
            "--timeout=120s",
        ],
    ]
    assert await executor.handle(change(root="checkout")) == []
