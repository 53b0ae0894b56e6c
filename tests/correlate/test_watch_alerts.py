"""Watch alerts in the correlate stage: they join a fault below them and do nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import WATCH_LABEL, Alert, is_watch
from correlator.model.incident import ChangeKind
from correlator.model.observation import Signal
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of(SHOP_CALLS)


def stage(shop: TopologyGraph, **overrides: object) -> CorrelateStage:
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 3, **overrides}
    )
    return CorrelateStage(settings, shop)


def watch(service: str, at_s: float, score: float = 0.6) -> Alert:
    full = alert(service, at_s, score=score)
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
