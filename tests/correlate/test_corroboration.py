"""open_min_alerts: an incident is published only once enough distinct alerts agree."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import AlertStatus
from correlator.model.incident import ChangeKind
from correlator.model.observation import Signal
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of({**SHOP_CALLS, "mail": []})


def stage(shop: TopologyGraph, need: int) -> CorrelateStage:
    settings = CorrelateSettings.model_validate(
        {
            "topology_dir": None,
            "window_s": 300,
            "max_hops": 3,
            "resolve_after_s": 300,
            "open_min_alerts": need,
        }
    )
    return CorrelateStage(settings, shop)


def test_a_lone_alert_is_held_and_published_when_a_related_one_joins(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop, need=2)
    assert correlate.process([alert("db", 0)], T0) == []
    [change] = correlate.process([alert("payments", 20)], T0 + timedelta(seconds=20))
    assert change.change is ChangeKind.OPENED
    assert sorted(change.incident.services) == ["db", "payments"]


def test_a_second_statistic_of_the_same_service_corroborates(shop: TopologyGraph) -> None:
    correlate = stage(shop, need=2)
    changes = correlate.process([alert("db", 0), alert("db", 0, Signal.ERROR_RATIO)], T0)
    assert [c.change for c in changes] == [ChangeKind.OPENED]


def test_unrelated_lone_alerts_do_not_corroborate_each_other(shop: TopologyGraph) -> None:
    correlate = stage(shop, need=2)
    assert correlate.process([alert("db", 0), alert("mail", 5)], T0) == []
    assert len(correlate.incidents) == 2


def test_a_held_incident_that_goes_quiet_vanishes_without_a_change(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop, need=2)
    correlate.process([alert("db", 0)], T0)
    resolved = alert("db", 0, status=AlertStatus.RESOLVED, last_s=60)
    assert correlate.process([resolved], T0 + timedelta(seconds=60)) == []
    assert correlate.process([], T0 + timedelta(seconds=2000)) == []
    assert correlate.incidents == {}
    # the same fault later starts afresh, held again
    assert correlate.process([alert("db", 2100)], T0 + timedelta(seconds=2100)) == []
    [change] = correlate.process([alert("payments", 2110)], T0 + timedelta(seconds=2110))
    assert change.change is ChangeKind.OPENED


def test_a_published_incident_updates_and_resolves_as_usual(shop: TopologyGraph) -> None:
    correlate = stage(shop, need=2)
    correlate.process([alert("db", 0), alert("payments", 10)], T0 + timedelta(seconds=10))
    [update] = correlate.process([alert("checkout", 30)], T0 + timedelta(seconds=30))
    assert update.change is ChangeKind.UPDATED
    [resolved] = correlate.process([], T0 + timedelta(seconds=2000))
    assert resolved.change is ChangeKind.RESOLVED


def test_the_held_set_survives_a_snapshot(shop: TopologyGraph) -> None:
    correlate = stage(shop, need=2)
    correlate.process([alert("db", 0)], T0)
    resumed = stage(shop, need=2)
    resumed.load_state(correlate.state())
    [change] = resumed.process([alert("payments", 20)], T0 + timedelta(seconds=20))
    assert change.change is ChangeKind.OPENED


def test_one_needed_publishes_at_once(shop: TopologyGraph) -> None:
    [change] = stage(shop, need=1).process([alert("db", 0)], T0)
    assert change.change is ChangeKind.OPENED


def test_an_external_alert_needs_no_corroboration(shop: TopologyGraph) -> None:
    external = alert("db", 0, Signal.EXTERNAL_ALERT)
    [change] = stage(shop, need=2).process([external], T0)
    assert change.change is ChangeKind.OPENED
