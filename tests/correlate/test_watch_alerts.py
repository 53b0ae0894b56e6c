"""Watch alerts in the correlate stage: they join a fault below them and do nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.rules import InhibitRule, Rules
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.detect.external import from_alert_event
from correlator.model.alert import WATCH_LABEL, Alert, AlertStatus, is_watch
from correlator.model.incident import ChangeKind
from correlator.model.observation import Signal
from correlator.model.telemetry import AlertEvent
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of(SHOP_CALLS)


def stage(shop: TopologyGraph, **overrides: object) -> CorrelateStage:
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 3, **overrides}
    )
    return CorrelateStage(settings, shop)


def external(service: str, at_s: float) -> Alert:
    event = AlertEvent(
        labels={"alertname": "SLOBurn", "service": service}, starts_at=T0 + timedelta(seconds=at_s)
    )
    return from_alert_event(event)


def watch(
    service: str, at_s: float, score: float = 0.6, signal: Signal = Signal.LATENCY_P99
) -> Alert:
    full = alert(service, at_s, signal, score=score)
    return full.model_copy(
        update={
            "labels": {**full.labels, WATCH_LABEL: "true"},
            "ends_at": full.starts_at + timedelta(seconds=10),
        }
    )


def at(seconds: float):  # type: ignore[no-untyped-def]
    return T0 + timedelta(seconds=seconds)


def groups(correlate: CorrelateStage) -> list[list[str]]:
    return sorted(sorted(i.services) for i in correlate.open_incidents())


def test_a_watch_alert_alone_opens_nothing(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    assert correlate.process([watch("web", 0)], at(0)) == []
    assert correlate.incidents == {}


def test_a_watch_alert_joins_the_fault_below_its_service(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([alert("payments", 0)], at(0))
    [change] = correlate.process([watch("web", 10)], at(10))
    assert change.change is ChangeKind.UPDATED
    assert groups(correlate) == [["payments", "web"]]
    # never the other way: a watch on a callee does not join its caller's incident
    correlate.process([watch("index", 10)], at(10))
    assert groups(correlate) == [["payments", "web"]]


def test_a_watch_alert_before_its_cause_joins_when_the_cause_comes(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([watch("web", 0)], at(0))
    correlate.process([alert("search", 200)], at(200))
    assert groups(correlate) == [["search", "web"]]
    # one older than window_s is forgotten
    late = stage(shop)
    late.process([watch("web", 0)], at(0))
    late.process([alert("search", 400)], at(400))
    assert groups(late) == [["search"]]


def test_a_watch_alert_explains_nothing_and_corroborates_nothing(shop: TopologyGraph) -> None:
    correlate = stage(shop, open_min_alerts=2, max_hops=1)
    # payments alone is held (it needs a second alert); a watch on checkout does not count
    assert correlate.process([alert("payments", 0), watch("checkout", 0)], at(0)) == []
    # web's fault relates to payments' incident only through checkout's watch: apart
    correlate.process([alert("web", 10, signal=Signal.ERROR_RATIO)], at(10))
    assert sorted(sorted(i.services) for i in correlate.incidents.values()) == [
        ["checkout", "payments"],
        ["web"],
    ]


def test_a_watch_alert_confirmed_in_full_is_placed_afresh(shop: TopologyGraph) -> None:
    """web's watch joined db's incident (the only fault below it then); when web alerts in
    full, search's nearer fault is there and takes it."""
    correlate = stage(shop)
    correlate.process([alert("db", 0), alert("payments", 0), alert("checkout", 0)], at(0))
    correlate.process([watch("web", 10)], at(10))
    assert groups(correlate) == [["checkout", "db", "payments", "web"]]
    search = alert("search", 20, score=1.0)  # stronger than checkout's 0.95
    full = alert("web", 10, last_s=20)  # the same series, now alerting
    correlate.process([search, full], at(20))
    by_services = {tuple(sorted(i.services)): i for i in correlate.open_incidents()}
    assert set(by_services) == {("checkout", "db", "payments"), ("search", "web")}
    [web] = [a for a in by_services[("search", "web")].alerts if a.service == "web"]
    assert not is_watch(web)


def test_a_watch_alert_moves_to_a_stronger_fault_below(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([alert("checkout", 0, score=0.5)], at(0))
    correlate.process([watch("web", 10)], at(10))
    correlate.process([alert("search", 20, score=0.99)], at(20))
    assert groups(correlate) == [["checkout"], ["search", "web"]]


def test_a_watch_reading_after_its_full_alert_resolved_changes_nothing(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    correlate.process([alert("db", 0)], at(0))
    correlate.process([alert("db", 0, status=AlertStatus.RESOLVED, last_s=30)], at(30))
    assert correlate.process([watch("db", 60)], at(60)) == []
    [incident] = correlate.incidents.values()
    assert not any(is_watch(a) for a in incident.alerts)
    correlate.process([alert("db", 90)], at(90))  # alerts again: the same incident, firing
    correlate.process([], at(100))
    assert [len(i.alerts) for i in correlate.incidents.values()] == [1]


def test_a_resolved_incident_keeps_its_watch_when_the_series_alerts_later(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    correlate.process([alert("payments", 0)], at(0))
    correlate.process([watch("web", 10)], at(10))
    correlate.process([], at(700))  # quiet: resolved
    [old] = correlate.incidents.values()
    before = (old.updated_at, list(old.services), len(old.alerts))
    changes = correlate.process([alert("web", 720)], at(720))
    assert [c.incident.incident_id for c in changes] != [old.incident_id]
    assert (old.updated_at, old.services, len(old.alerts)) == before


def test_watches_left_without_their_cause_wait_again(shop: TopologyGraph) -> None:
    """checkout's SLO alert is web's watch's only cause; it moves to the stronger fault
    below it, and the watch does not stay behind alone in an open incident."""
    correlate = stage(shop, max_hops=1)
    correlate.process([external("checkout", 0)], at(0))
    correlate.process([alert("db", 0)], at(0))
    correlate.process([watch("web", 10)], at(10))
    correlate.process([alert("payments", 20)], at(20))
    assert all(any(not is_watch(a) for a in i.alerts) for i in correlate.open_incidents())
    correlate.process([alert("web", 10, last_s=30)], at(30))
    correlate.process([], at(40))
    assert all(i.alerts for i in correlate.incidents.values())


def test_a_watch_reading_keeps_no_incident_open(shop: TopologyGraph) -> None:
    correlate = stage(shop, resolve_after_s=300)
    correlate.process([alert("payments", 0)], at(0))
    correlate.process([watch("web", 10)], at(10))
    correlate.process([alert("payments", 0, status=AlertStatus.RESOLVED, last_s=30)], at(30))
    for t in range(60, 721, 60):
        correlate.process([watch("web", t)], at(t))
    assert correlate.open_incidents() == []


def test_a_watch_joined_and_moved_in_one_batch_leaves_no_change_behind(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    correlate.process([alert("checkout", 0, score=0.5)], at(0))
    [first] = correlate.incidents.values()
    changes = correlate.process([watch("web", 10), alert("index", 10, score=0.99)], at(10))
    assert first.incident_id not in {c.incident.incident_id for c in changes}
    assert first.updated_at == at(0)


def test_a_watch_inhibits_nothing(shop: TopologyGraph) -> None:
    rule = InhibitRule(
        source_matchers=["signal=~error_.*"],
        target_matchers=["signal=latency_p99"],
        target_depends_on_source=True,
    )
    settings = CorrelateSettings.model_validate({"topology_dir": None, "window_s": 300})
    correlate = CorrelateStage(settings, shop, Rules(inhibit_rules=[rule]))
    correlate.process([alert("payments", 0)], at(0))
    correlate.process([watch("checkout", 10, signal=Signal.ERROR_RATIO)], at(10))
    correlate.process([alert("web", 120)], at(120))
    assert all(kept.alert.service != "web" for kept in correlate.suppressed.values())
    assert any("web" in i.services for i in correlate.open_incidents())


def test_undirected_a_watch_still_joins_only_a_cause_below(shop: TopologyGraph) -> None:
    correlate = stage(shop, direction_aware=False)
    correlate.process([alert("web", 0)], at(0))
    correlate.process([watch("index", 10)], at(10))
    assert groups(correlate) == [["web"]]
