"""The shipped notification runbooks against a local server that checks vendor formats.

Each check follows the vendor's documented request format:
PagerDuty Events API v2, Opsgenie Alert API, Slack incoming webhooks, Jira REST API v2.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest

from correlator.act.records import ExecutionStatus, StepStatus
from correlator.act.runbook import Runbook
from correlator.model.incident import IncidentChange

ChangeFactory = Callable[..., IncidentChange]
Shipped = Callable[[str], Runbook]

ROUTING_KEY = "R0123456789abcdef0123456789abcde"  # 32 characters, like an integration key
PD_SEVERITIES = {"critical", "error", "warning", "info"}


def live(runbook: Runbook) -> Runbook:
    return runbook.model_copy(update={"dry_run": False})


def check_pagerduty(body: dict[str, Any], action: str, incident_id: str) -> None:
    assert body["routing_key"] == ROUTING_KEY
    assert body["event_action"] == action
    assert body["dedup_key"] == incident_id and len(body["dedup_key"]) <= 255
    if action == "trigger":
        payload = body["payload"]
        assert isinstance(payload["summary"], str) and 0 < len(payload["summary"]) <= 1024
        assert isinstance(payload["source"], str) and payload["source"]
        assert payload["severity"] in PD_SEVERITIES
        for optional in ("component", "group", "class"):
            assert isinstance(payload.get(optional, ""), str)
        assert isinstance(payload.get("custom_details", {}), dict)
    else:
        assert "payload" not in body


async def test_pagerduty_trigger_acknowledge_resolve(
    kit: Any, shipped: Shipped, change: ChangeFactory, http_server: Any
) -> None:
    kit.environ.update(
        PAGERDUTY_ROUTING_KEY=ROUTING_KEY, PAGERDUTY_EVENTS_URL=f"{http_server.url}/v2/enqueue"
    )
    accepted = (202, {"status": "success", "message": "Event processed", "dedup_key": "inc-7"})
    http_server.reply("/v2/enqueue", accepted, accepted, accepted)
    executor = kit.executor([live(shipped("pagerduty"))])

    [opened] = await executor.handle(change(incident_id="inc-7"))
    [acked] = await executor.handle(
        change("acknowledged", incident_id="inc-7", version=2, labels={"acknowledged_by": "ana"})
    )
    [resolved] = await executor.handle(change("resolved", incident_id="inc-7", version=3))

    assert [r.status for r in (opened, acked, resolved)] == [ExecutionStatus.SUCCEEDED] * 3
    assert [s.status for s in opened.steps] == [
        StepStatus.SUCCEEDED,
        StepStatus.SKIPPED,
        StepStatus.SKIPPED,
    ]
    requests = http_server.requests
    assert [(r.method, r.path) for r in requests] == [("POST", "/v2/enqueue")] * 3
    assert all(r.headers["content-type"] == "application/json" for r in requests)
    for request, action in zip(requests, ["trigger", "acknowledge", "resolve"], strict=True):
        check_pagerduty(request.body, action, "inc-7")
    trigger = requests[0].body["payload"]
    assert trigger["summary"] == "payments-db latency, checkout errors"
    assert (trigger["source"], trigger["severity"]) == ("payments-db", "critical")
    assert trigger["custom_details"]["services"] == ["checkout", "payments", "payments-db"]
    assert ROUTING_KEY not in opened.model_dump_json()


async def test_pagerduty_dry_run_masks_the_routing_key(
    kit: Any, shipped: Shipped, change: ChangeFactory
) -> None:
    kit.environ["PAGERDUTY_ROUTING_KEY"] = ROUTING_KEY
    executor = kit.executor([shipped("pagerduty")])
    [record] = await executor.handle(change())
    assert record.status is ExecutionStatus.DRY_RUN
    rendered = record.steps[0].rendered
    assert rendered["url"] == "https://events.pagerduty.com/v2/enqueue"
    assert rendered["body"]["routing_key"] == "***"
    assert rendered["body"]["event_action"] == "trigger"


async def test_opsgenie_create_and_close_by_alias(
    kit: Any, shipped: Shipped, change: ChangeFactory, http_server: Any
) -> None:
    kit.environ.update(OPSGENIE_API_KEY="og-key-123", OPSGENIE_URL=http_server.url)
    accepted = (202, {"result": "Request will be processed", "took": 0.1, "requestId": "r1"})
    http_server.reply("/v2/alerts", accepted)
    executor = kit.executor([live(shipped("opsgenie"))])
    [opened] = await executor.handle(change(incident_id="inc/9", title="x" * 200))
    [resolved] = await executor.handle(change("resolved", incident_id="inc/9", version=2))
    assert (opened.status, resolved.status) == (ExecutionStatus.SUCCEEDED,) * 2

    create, close = http_server.requests
    assert (create.method, create.path) == ("POST", "/v2/alerts")
    assert create.headers["authorization"] == "GenieKey og-key-123"
    body = create.body
    assert len(body["message"]) <= 130
    assert body["alias"] == "inc/9"
    assert body["priority"] in {"P1", "P2", "P3", "P4", "P5"} and body["priority"] == "P1"
    assert body["tags"] == ["checkout", "payments", "payments-db"]
    assert all(isinstance(v, str) for v in body["details"].values())
    assert body["source"] == "correlator"
    assert body["entity"] == "payments-db"

    assert close.method == "POST"
    assert close.path == "/v2/alerts/inc%2F9/close?identifierType=alias"
    assert close.headers["authorization"] == "GenieKey og-key-123"
    assert close.body["source"] == "correlator"


async def test_slack_incoming_webhook_text_and_blocks(
    kit: Any, shipped: Shipped, change: ChangeFactory, http_server: Any
) -> None:
    kit.environ["SLACK_WEBHOOK_URL"] = f"{http_server.url}/services/T000/B000/XXXX"
    http_server.reply("/services/T000/B000/XXXX", (200, "ok"))
    executor = kit.executor([live(shipped("slack"))])
    [record] = await executor.handle(change())
    assert record.status is ExecutionStatus.SUCCEEDED
    assert record.steps[0].rendered["url"] == "***"  # the webhook URL is the secret

    [request] = http_server.requests
    body = request.body
    assert body["text"] == "[OPENED] payments-db latency, checkout errors"
    header, section, context = body["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text" and len(header["text"]["text"]) <= 150
    assert section["type"] == "section" and 0 < len(section["fields"]) <= 10
    assert all(f["type"] == "mrkdwn" and len(f["text"]) <= 2000 for f in section["fields"])
    assert section["fields"][0]["text"] == "*Root cause*\npayments-db"
    assert context["type"] == "context"
    assert "inc-1" in context["elements"][0]["text"]


async def test_jira_issue_fields(
    kit: Any, shipped: Shipped, change: ChangeFactory, http_server: Any
) -> None:
    token = base64.b64encode(b"ops@example.com:api-token").decode()
    kit.environ.update(JIRA_URL=http_server.url, JIRA_BASIC_AUTH=token, JIRA_PROJECT="SRE")
    http_server.reply("/rest/api/2/issue", (201, {"id": "10000", "key": "SRE-1", "self": "x"}))
    executor = kit.executor([live(shipped("jira"))])
    [record] = await executor.handle(change())
    assert record.status is ExecutionStatus.SUCCEEDED
    assert record.steps[0].output.startswith('201 {"id": "10000", "key": "SRE-1"')

    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", "/rest/api/2/issue")
    assert request.headers["authorization"] == f"Basic {token}"
    fields = request.body["fields"]
    assert fields["project"] == {"key": "SRE"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == "payments-db latency, checkout errors"
    assert "\n" not in fields["summary"] and len(fields["summary"]) <= 255
    assert "Root cause: payments-db" in fields["description"]
    assert all(re.fullmatch(r"\S+", label) for label in fields["labels"])


@pytest.mark.parametrize("name", ["pagerduty", "opsgenie", "slack", "jira"])
async def test_notification_runbooks_are_dry_run_by_default(
    kit: Any, shipped: Shipped, change: ChangeFactory, http_server: Any, name: str
) -> None:
    executor = kit.executor([shipped(name)])
    [record] = await executor.handle(change())
    assert record.dry_run and record.status is ExecutionStatus.DRY_RUN
    assert http_server.requests == []
