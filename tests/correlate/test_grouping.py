"""Grouping alerts into incidents over the topology, dedup, resolve and reopen."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import AlertStatus
from correlator.model.incident import ChangeKind, IncidentStatus
from correlator.model.observation import Signal
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of({**SHOP_CALLS, "mail": []})


def stage(shop: TopologyGraph, **overrides: float) -> CorrelateStage:
    values: dict[str, float] = {"window_s": 300, "max_hops": 3, **overrides}
    settings = CorrelateSettings.model_validate({"topology_dir": None, **values})
    return CorrelateStage(settings, shop)


def test_cascade_along_the_call_graph_is_one_incident(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    changes = correlate.process(
        [alert("db", 0), alert("payments", 20), alert("checkout", 40), alert("web", 60)],
        T0 + timedelta(seconds=60),
    )
    [change] = changes
    assert change.change is ChangeKind.OPENED
    assert sorted(change.incident.services) == ["checkout", "db", "payments", "web"]


def test_unrelated_faults_at_the_same_time_stay_apart(shop: TopologyGraph) -> None:
    correlate = stage(shop, max_hops=1)
    changes = correlate.process([alert("db", 0), alert("index", 5), alert("mail", 6)], T0)
    groups = sorted(sorted(c.incident.services) for c in changes)
    assert groups == [["db"], ["index"], ["mail"]]


def test_alerts_far_apart_in_time_open_separate_incidents(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    first = correlate.process([alert("db", 0)], T0)
    second = correlate.process([alert("payments", 1000)], T0 + timedelta(seconds=1000))
    kinds = {c.change: c.incident.incident_id for c in second}
    assert kinds[ChangeKind.RESOLVED] == first[0].incident.incident_id
    assert kinds[ChangeKind.OPENED] != first[0].incident.incident_id


def test_repeat_of_a_fingerprint_updates_count_not_a_new_alert(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([alert("db", 0)], T0)
    [change] = correlate.process([alert("db", 0, last_s=30)], T0 + timedelta(seconds=30))
    assert change.change is ChangeKind.UPDATED
    [only] = change.incident.alerts
    assert only.count == 2


def test_replayed_alert_changes_nothing(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    batch = [alert("db", 0), alert("payments", 10)]
    correlate.process(batch, T0 + timedelta(seconds=10))
    assert correlate.process(batch, T0 + timedelta(seconds=10)) == []


def test_quiet_incident_resolves_then_reopens_within_grace(shop: TopologyGraph) -> None:
    correlate = stage(shop, resolve_after_s=120, reopen_grace_s=600)
    [opened] = correlate.process([alert("db", 0)], T0)
    correlate.process(
        [alert("db", 0, status=AlertStatus.RESOLVED, last_s=60)], T0 + timedelta(seconds=60)
    )
    [resolved] = correlate.process([], T0 + timedelta(seconds=200))
    assert resolved.change is ChangeKind.RESOLVED
    assert resolved.incident.status is IncidentStatus.RESOLVED
    [back] = correlate.process([alert("db", 400)], T0 + timedelta(seconds=400))
    assert back.change is ChangeKind.REOPENED
    assert back.incident.incident_id == opened.incident.incident_id
    assert back.incident.status is IncidentStatus.OPEN


def test_return_after_grace_is_a_new_incident(shop: TopologyGraph) -> None:
    correlate = stage(shop, resolve_after_s=120, reopen_grace_s=100)
    [opened] = correlate.process([alert("db", 0, status=AlertStatus.FIRING)], T0)
    correlate.process(
        [alert("db", 0, status=AlertStatus.RESOLVED, last_s=10)], T0 + timedelta(seconds=10)
    )
    correlate.process([], T0 + timedelta(seconds=200))
    later = correlate.process([alert("db", 900)], T0 + timedelta(seconds=900))
    assert [c.change for c in later] == [ChangeKind.OPENED]
    assert later[0].incident.incident_id != opened.incident.incident_id


def test_unknown_service_groups_only_with_itself(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    changes = correlate.process(
        [alert("db", 0), alert("ghost", 1), alert("ghost", 2, Signal.ERROR_RATIO)], T0
    )
    assert sorted(sorted(c.incident.services) for c in changes) == [["db"], ["ghost"]]


def test_an_alert_past_its_ends_at_does_not_hold_the_incident_open(shop: TopologyGraph) -> None:
    correlate = stage(shop, resolve_after_s=120)
    one_shot = alert("db", 0).model_copy(update={"ends_at": T0 + timedelta(seconds=60)})
    correlate.process([one_shot], T0)
    [resolved] = correlate.process([], T0 + timedelta(seconds=130))
    assert resolved.change is ChangeKind.RESOLVED


def test_a_firing_alert_without_end_holds_the_incident_open_longer(shop: TopologyGraph) -> None:
    correlate = stage(shop, resolve_after_s=120)
    correlate.process([alert("db", 0)], T0)
    assert correlate.process([], T0 + timedelta(seconds=130)) == []
    assert [c.change for c in correlate.process([], T0 + timedelta(seconds=250))] == [
        ChangeKind.RESOLVED
    ]
