"""Grouping follows the direction of the cause: two faults under one caller stay apart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.grouping import active_services
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.model.alert import AlertStatus
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of(SHOP_CALLS)


def stage(shop: TopologyGraph, **overrides: float) -> CorrelateStage:
    values: dict[str, float] = {"window_s": 300, "max_hops": 3, **overrides}
    return CorrelateStage(CorrelateSettings.model_validate({"topology_dir": None, **values}), shop)


def groups(correlate: CorrelateStage) -> list[list[str]]:
    return sorted(sorted(i.services) for i in correlate.incidents.values())


def test_shared_caller_joins_the_nearest_fault_and_does_not_bridge(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    batch = [alert("db", 0), alert("index", 5), alert("web", 10)]
    batch += [alert("payments", 20), alert("checkout", 30)]
    correlate.process(batch, T0 + timedelta(seconds=30))
    # web is 2 hops above index, 3 above db; checkout and payments are above db only
    assert groups(correlate) == [["checkout", "db", "payments"], ["index", "web"]]


def test_undirected_grouping_bridges_them_through_the_caller(shop: TopologyGraph) -> None:
    correlate = stage(shop, max_hops=4)
    correlate.settings = correlate.settings.model_copy(update={"direction_aware": False})
    correlate.process(
        [alert("db", 0), alert("web", 5), alert("index", 10)], T0 + timedelta(seconds=10)
    )
    assert groups(correlate) == [["db", "index", "web"]]


def test_callee_joins_an_unexplained_caller_only(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process(
        [alert("web", 0), alert("checkout", 10), alert("index", 20)], T0 + timedelta(seconds=20)
    )
    # checkout explains web's symptom; index below web is another fault, not a second cause
    assert groups(correlate) == [["checkout", "web"], ["index"]]


def test_a_member_whose_alert_ended_long_ago_draws_nothing_in(shop: TopologyGraph) -> None:
    correlate = stage(shop, resolve_after_s=3600)
    correlate.process([alert("web", 0)], T0)
    ended = alert("web", 0, status=AlertStatus.RESOLVED, last_s=10)
    correlate.process([ended], T0 + timedelta(seconds=10))
    correlate.process([alert("index", 900)], T0 + timedelta(seconds=900))
    assert groups(correlate) == [["index"], ["web"]]


def test_active_services_are_firing_or_recently_ended() -> None:
    from correlator.model.incident import Incident

    firing = alert("db", 0)
    ended = alert("api", 0, status=AlertStatus.RESOLVED, last_s=10)
    incident = Incident(
        incident_id="i",
        version=1,
        title="t",
        services=["db", "api"],
        alerts=[firing, ended],
        opened_at=T0,
        updated_at=T0,
    )
    window = timedelta(seconds=60)
    assert active_services(incident, T0 + timedelta(seconds=30), window) == {"db", "api"}
    assert active_services(incident, T0 + timedelta(seconds=600), window) == {"db"}


def test_a_caller_with_two_causes_at_one_hop_joins_the_one_with_its_kind_of_symptom() -> None:
    from correlator.model.observation import Signal

    graph = TopologyGraph()
    graph.declare(ServiceSpec(name="site", depends_on=["queue", "search"]))
    correlate = stage(graph)
    batch = [
        alert("queue", 0, Signal.LATENCY_P99),
        alert("search", 0, Signal.ERROR_RATIO),
        alert("site", 0, Signal.ERROR_RATIO),
    ]
    correlate.process(batch, T0)
    assert groups(correlate) == [["queue"], ["search", "site"]]


def test_shared_caller_joins_the_cause_whose_anomaly_began_with_its_own(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    # checkout has been slow for a while (a fresh alert on payments keeps its incident busy);
    # search turns slow just before web does: web's symptom goes with search
    correlate.process([alert("checkout", 0)], T0)
    correlate.process([alert("search", 190), alert("payments", 200)], T0 + timedelta(seconds=200))
    correlate.process([alert("web", 200)], T0 + timedelta(seconds=200))
    assert groups(correlate) == [["checkout", "payments"], ["search", "web"]]
