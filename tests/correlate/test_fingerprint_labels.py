"""External alerts are deduplicated on the configured label set, not on every label."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from correlator.config import CorrelateSettings
from correlator.correlate.dedup import external_fingerprint, rekey_external
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.detect.external import from_alert_event
from correlator.model.alert import Alert
from correlator.model.telemetry import AlertEvent
from correlator.testing import T0, alert


def external(pod: str, at_s: float = 0.0, **extra: str) -> Alert:
    labels = {"alertname": "HighLatency", "service": "db", "pod": pod, **extra}
    return from_alert_event(AlertEvent(labels=labels, starts_at=T0 + timedelta(seconds=at_s)))


def correlate(**settings: object) -> CorrelateStage:
    values = {"topology_dir": None, **settings}
    return CorrelateStage(CorrelateSettings.model_validate(values), TopologyGraph())


@pytest.mark.parametrize(
    ("fields", "alerts_kept"),
    [
        pytest.param(None, 1, id="default-ignores-pod"),
        pytest.param(["..."], 2, id="all-labels"),
        pytest.param(["alertname", "pod"], 2, id="pod-identifies"),
    ],
)
def test_pod_churn_is_one_alert_by_default(fields: list[str] | None, alerts_kept: int) -> None:
    stage = correlate(**({} if fields is None else {"external_fingerprint_labels": fields}))
    stage.process([external("db-1")], T0)
    [change] = stage.process([external("db-2", 30)], T0 + timedelta(seconds=30))
    assert len(change.incident.alerts) == alerts_kept


def test_default_keeps_alerts_with_different_names_apart() -> None:
    stage = correlate()
    stage.process([external("db-1"), external("db-1", alertname="DiskFull")], T0)
    [incident] = stage.incidents.values()
    assert len(incident.alerts) == 2


def test_an_alert_without_any_listed_label_keys_on_all_of_them() -> None:
    a = {"team": "x", "pod": "p1"}
    b = {"team": "x", "pod": "p2"}
    assert external_fingerprint(a, ["alertname"]) != external_fingerprint(b, ["alertname"])


def test_engine_alerts_keep_their_own_fingerprint() -> None:
    own = alert("db")
    assert rekey_external(own, ["alertname"]) is own


def test_empty_label_set_is_rejected() -> None:
    with pytest.raises(ValidationError):
        CorrelateSettings.model_validate({"external_fingerprint_labels": []})
