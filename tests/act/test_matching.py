"""Which incident changes a runbook (or a step's ``when``) applies to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from correlator.act.matching import matches, select_runbooks
from correlator.act.runbook import Match, Runbook
from correlator.model.incident import IncidentChange

ChangeFactory = Callable[..., IncidentChange]


@pytest.mark.parametrize(
    ("match", "fields", "expected"),
    [
        pytest.param({}, {}, True, id="defaults-match-opened"),
        pytest.param({}, {"change": "updated", "version": 2}, False, id="defaults-skip-updated"),
        pytest.param({"changes": ["resolved"]}, {"change": "resolved"}, True, id="resolved"),
        pytest.param({"status": ["resolved"]}, {}, False, id="status"),
        pytest.param({"services": ["payments"]}, {}, True, id="service"),
        pytest.param({"services": ["pay*"]}, {}, True, id="service-glob"),
        pytest.param({"services": ["search"]}, {}, False, id="service-absent"),
        pytest.param({"root_cause": ["payments-db"]}, {}, True, id="root-cause"),
        pytest.param({"root_cause": ["payments"]}, {}, False, id="root-cause-not-second"),
        pytest.param(
            {"root_cause": ["payments-db"]}, {"root": "payments->payments-db"}, True, id="edge"
        ),
        pytest.param({"root_cause": ["payments-db"]}, {"root": None}, False, id="no-root"),
        pytest.param({"signals": ["latency_*"]}, {}, True, id="signal-glob"),
        pytest.param({"signals": ["error_ratio"]}, {}, False, id="signal-absent"),
        pytest.param({"min_severity": "warning"}, {"severity": "critical"}, True, id="sev-above"),
        pytest.param({"min_severity": "critical"}, {"severity": "warning"}, False, id="sev-below"),
        pytest.param({"labels": {"env": "prod"}}, {"labels": {"env": "prod"}}, True, id="label"),
        pytest.param(
            {"labels": {"env": "prod"}}, {"alert_labels": {"env": "prod"}}, True, id="alert-label"
        ),
        pytest.param({"labels": {"env": "prod"}}, {"labels": {"env": "dev"}}, False, id="label-no"),
        pytest.param(
            {"exclude_labels": {"acknowledged": "true"}},
            {"labels": {"acknowledged": "true"}},
            False,
            id="exclude-label",
        ),
    ],
)
def test_match(
    match: dict[str, Any], fields: dict[str, Any], expected: bool, change: ChangeFactory
) -> None:
    assert matches(Match.model_validate(match), change(**fields)) is expected


def test_when_without_changes_applies_to_any_change(change: ChangeFactory) -> None:
    when = Match.model_validate({"labels": {"acknowledged": "true"}})
    updated = change("updated", version=2, labels={"acknowledged": "true"})
    assert not matches(when, updated)
    assert matches(when, updated, any_change=True)


def test_select_skips_disabled_and_orders_by_name(change: ChangeFactory) -> None:
    def rb(name: str, **extra: Any) -> Runbook:
        return Runbook.model_validate(
            {"name": name, "steps": [{"name": "s", "action": "http"}], **extra}
        )

    books = [rb("b"), rb("a"), rb("c", enabled=False), rb("d", match={"services": ["x"]})]
    assert [r.name for r in select_runbooks(books, change())] == ["a", "b"]
