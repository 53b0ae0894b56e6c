"""What a cause explains depends on its kind: load is no fault, errors do not explain latency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.grouping import can_explain
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.detect.external import from_alert_event
from correlator.model.alert import Alert
from correlator.model.incident import ChangeKind, IncidentStatus
from correlator.model.observation import Signal
from correlator.model.telemetry import AlertEvent
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of(SHOP_CALLS)


def stage(shop: TopologyGraph) -> CorrelateStage:
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 3}
    )
    return CorrelateStage(settings, shop)


def groups(correlate: CorrelateStage) -> list[list[str]]:
    return sorted(sorted(i.services) for i in correlate.incidents.values())


def external(service: str, at_s: float) -> Alert:
    event = AlertEvent(
        labels={"alertname": "SLOBurn", "service": service, "severity": "critical"},
        starts_at=T0 + timedelta(seconds=at_s),
    )
    return from_alert_event(event)


@pytest.mark.parametrize(
    ("cause", "symptom", "explains"),
    [
        (Signal.REQUEST_RATE, Signal.LATENCY_P99, False),
        (Signal.REQUEST_RATE, Signal.ERROR_RATIO, False),
        (Signal.REQUEST_RATE, Signal.REQUEST_RATE, True),
        (Signal.LATENCY_P99, Signal.LATENCY_P50, True),
        (Signal.ERROR_RATIO, Signal.LATENCY_P99, True),
        (Signal.EXTERNAL_ALERT, Signal.LATENCY_P99, True),
    ],
    ids=["load-latency", "load-errors", "load-load", "latency", "errors-latency", "external"],
)
def test_a_request_rate_change_explains_only_request_rate_changes(
    cause: Signal, symptom: Signal, explains: bool
) -> None:
    assert can_explain(alert("db", signal=cause), alert("api", signal=symptom)) is explains


def test_a_callees_load_change_does_not_draw_its_callers_fault_in(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([alert("index", 0, Signal.REQUEST_RATE)], T0)
    correlate.process([alert("search", 10)], T0 + timedelta(seconds=10))
    # index's request rate moved because search's callers sent more or less, not the reverse
    assert groups(correlate) == [["index"], ["search"]]


def test_a_callers_load_change_still_joins_its_callees_load_change(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([alert("index", 0, Signal.REQUEST_RATE)], T0)
    correlate.process([alert("search", 10, Signal.REQUEST_RATE)], T0 + timedelta(seconds=10))
    assert groups(correlate) == [["index", "search"]]


def test_errors_below_do_not_explain_a_callers_latency(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    batch = [alert("checkout", 0, Signal.ERROR_RATIO), alert("web", 5)]
    correlate.process(batch, T0 + timedelta(seconds=5))
    correlate.process([alert("search", 10)], T0 + timedelta(seconds=10))
    # web's latency is not explained by checkout's errors: search's latency may be its cause
    assert groups(correlate) == [["checkout", "search", "web"]]


def test_latency_below_explains_a_callers_latency_and_keeps_another_fault_out(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    batch = [alert("checkout", 0, Signal.ERROR_RATIO), alert("checkout", 0), alert("web", 5)]
    correlate.process(batch, T0 + timedelta(seconds=5))
    correlate.process([alert("search", 10)], T0 + timedelta(seconds=10))
    assert groups(correlate) == [["checkout", "web"], ["search"]]


def test_an_external_alert_explained_below_keeps_a_later_fault_out(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([external("web", 0), alert("checkout", 5)], T0 + timedelta(seconds=5))
    correlate.process([alert("search", 10)], T0 + timedelta(seconds=10))
    # web's SLO alert has a cause below it; a second fault under web is a second incident,
    # and one no stronger than the first does not take the SLO alert over
    assert groups(correlate) == [["checkout", "web"], ["search"]]


def test_an_external_alert_moves_to_a_stronger_fault_found_later(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    weak = alert("checkout", 5, score=0.5)
    correlate.process([external("web", 0), weak], T0 + timedelta(seconds=5))
    [first] = correlate.incidents.values()
    changes = correlate.process([alert("search", 10)], T0 + timedelta(seconds=10))
    assert groups(correlate) == [["checkout"], ["search", "web"]]
    assert correlate.incidents[first.incident_id].services == ["checkout"]
    # both incidents changed: the one that lost the alert and the one that took it
    assert {c.incident.incident_id for c in changes} == set(correlate.incidents)


def test_an_external_alert_alone_is_merged_into_the_fault_found_below_it() -> None:
    """web's SLO alert comes first; db is beyond max_hops, so its cascade opens elsewhere."""
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 2}
    )
    correlate = CorrelateStage(settings, graph_of(SHOP_CALLS))
    [alone] = correlate.process([external("web", 0)], T0)
    cascade = [alert("db", 10), alert("payments", 10), alert("checkout", 10)]
    changes = correlate.process(cascade, T0 + timedelta(seconds=10))
    kinds = {c.incident.incident_id: c.change for c in changes}
    merged = correlate.incidents[alone.incident.incident_id]
    [home] = correlate.open_incidents()
    assert sorted(home.services) == ["checkout", "db", "payments", "web"]
    assert (merged.status, merged.labels["merged_into"]) == (
        IncidentStatus.RESOLVED,
        home.incident_id,
    )
    assert kinds == {merged.incident_id: ChangeKind.RESOLVED, home.incident_id: ChangeKind.OPENED}
    # the SLO alert firing again updates the incident it moved to, never reopens the merged one
    again = external("web", 0).model_copy(update={"last_seen_at": T0 + timedelta(seconds=20)})
    correlate.process([again], T0 + timedelta(seconds=20))
    assert merged.status is IncidentStatus.RESOLVED
    assert [a.last_seen_at for a in home.alerts if a.service == "web"] == [again.last_seen_at]


def test_an_external_alert_opened_in_the_same_batch_as_its_stronger_home_leaves_no_trace() -> None:
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 2}
    )
    correlate = CorrelateStage(settings, graph_of(SHOP_CALLS))
    batch = [external("web", 0), alert("db", 10), alert("payments", 10), alert("checkout", 10)]
    changes = correlate.process(batch, T0 + timedelta(seconds=10))
    assert [sorted(c.incident.services) for c in changes] == [["checkout", "db", "payments", "web"]]
    assert len(correlate.incidents) == 1


def test_an_external_alert_moved_in_the_batch_it_joined_leaves_no_change_behind() -> None:
    """web's SLO alert joins checkout's incident (the closer onset), then search's stronger
    fault takes it: checkout's incident is as it was, so nothing is published for it."""
    settings = CorrelateSettings.model_validate({"topology_dir": None, "window_s": 300})
    correlate = CorrelateStage(settings, graph_of({"web": ["checkout", "search"]}))
    first = correlate.process(
        [alert("checkout", 8, score=0.5), alert("search", 0, score=0.9)], T0 + timedelta(seconds=8)
    )
    checkout = next(c.incident for c in first if c.incident.services == ["checkout"])
    updated_at = checkout.updated_at
    changes = correlate.process([external("web", 10)], T0 + timedelta(seconds=10))
    assert [sorted(c.incident.services) for c in changes] == [["search", "web"]]
    assert checkout.updated_at == updated_at and checkout.services == ["checkout"]


def test_an_slo_alert_firing_for_hours_does_not_move_to_a_fault_that_starts_later(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    for minute in range(0, 121, 5):
        at = T0 + timedelta(minutes=minute)
        slo = external("web", 0).model_copy(update={"last_seen_at": at})
        weak = alert("checkout", 0, score=0.5, last_s=minute * 60)
        correlate.process([slo, weak], at)
    later = T0 + timedelta(minutes=121)
    correlate.process([alert("search", 121 * 60, score=0.9)], later)
    assert groups(correlate) == [["checkout", "web"], ["search"]]


def test_an_slo_alert_below_holds_an_slo_alert_above_it(shop: TopologyGraph) -> None:
    """Another SLO alert below is a cause at its score, in grouping and in re-homing alike."""
    correlate = stage(shop)
    correlate.process([external("web", 0), external("checkout", 0)], T0)
    correlate.process([alert("search", 10, score=0.2)], T0 + timedelta(seconds=10))
    assert groups(correlate) == [["checkout", "web"], ["search"]]


def test_a_reading_over_few_requests_yields_an_external_alert(shop: TopologyGraph) -> None:
    """search's reading over 20 requests weighs less than checkout's over 2,000."""
    correlate = stage(shop)
    few = alert("search", 5, Signal.ERROR_RATIO, score=1.0).model_copy(update={"samples": 20})
    many = alert("checkout", 10, Signal.ERROR_RATIO, score=0.9)
    many = many.model_copy(update={"samples": 2000})
    correlate.process([external("web", 0), few], T0 + timedelta(seconds=5))
    correlate.process([many], T0 + timedelta(seconds=10))
    assert groups(correlate) == [["checkout", "web"], ["search"]]


def test_the_onset_of_a_cause_is_its_fault_not_a_later_load_change(shop: TopologyGraph) -> None:
    correlate = stage(shop)
    correlate.process([alert("checkout", 0)], T0)
    correlate.process([alert("search", 150)], T0 + timedelta(seconds=150))
    late_load = alert("checkout", 200, Signal.REQUEST_RATE)
    correlate.process([late_load, alert("web", 200)], T0 + timedelta(seconds=200))
    # checkout has been slow for 200 s, search for 50 s: web's latency goes with search
    assert groups(correlate) == [["checkout"], ["search", "web"]]


def test_grouping_by_kind_is_replay_exact(shop: TopologyGraph) -> None:
    batches = [
        [alert("checkout", 0, Signal.ERROR_RATIO), alert("web", 5)],
        [alert("search", 10), alert("index", 10, Signal.REQUEST_RATE)],
    ]

    def run() -> list[tuple[str, list[str]]]:
        correlate = stage(shop)
        for k, batch in enumerate(batches):
            correlate.process(batch, datetime.fromtimestamp(T0.timestamp() + 10 * k, UTC))
        return sorted((i.incident_id, sorted(i.services)) for i in correlate.incidents.values())

    assert run() == run()


def test_a_caller_is_explained_only_once_each_kind_of_its_symptoms_is(
    shop: TopologyGraph,
) -> None:
    correlate = stage(shop)
    batch = [
        alert("checkout", 0, Signal.ERROR_RATIO),
        alert("web", 5, Signal.ERROR_RATIO),
        alert("web", 5),
    ]
    correlate.process(batch, T0 + timedelta(seconds=5))
    correlate.process([alert("search", 10)], T0 + timedelta(seconds=10))
    # checkout's errors explain web's errors, not its latency: search's latency may
    assert groups(correlate) == [["checkout", "search", "web"]]


def test_an_external_alert_is_not_explained_by_a_fault_below_a_quiet_path(
    shop: TopologyGraph,
) -> None:
    """db is three hops below web; with checkout and payments quiet, db's anomaly did not
    reach web by that path, so web's SLO alert stays apart (and does not move to it)."""
    correlate = stage(shop)
    correlate.process([external("web", 0)], T0)
    correlate.process([alert("db", 10)], T0 + timedelta(seconds=10))
    assert groups(correlate) == [["db"], ["web"]]
    # a direct callee's fault explains it whatever else is quiet
    correlate.process([alert("search", 20)], T0 + timedelta(seconds=20))
    assert ["search", "web"] in groups(correlate)


def test_an_external_alert_is_explained_through_callees_alerting_in_the_same_batch(
    shop: TopologyGraph,
) -> None:
    """The cascade's callees come first in a batch: db is taken before payments and
    checkout, which alert in the same batch and so make the path to web."""
    correlate = stage(shop)
    correlate.process([external("web", 0)], T0)
    cascade = [alert("db", 10), alert("payments", 10), alert("checkout", 10)]
    correlate.process(cascade, T0 + timedelta(seconds=10))
    assert groups(correlate) == [["checkout", "db", "payments", "web"]]


def test_a_symptom_beside_an_external_alert_joins_the_fault_below_it() -> None:
    """web's own latency alert is not caused by web's SLO alert: it joins the fault below,
    and the SLO alert, left alone, follows it there (no incident of web alone is left).
    db is beyond max_hops (2), so its cascade opens an incident of its own."""
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 2}
    )
    correlate = CorrelateStage(settings, graph_of(SHOP_CALLS))
    [slo] = correlate.process([external("web", 0)], T0)
    batch = [alert("db", 10), alert("payments", 10), alert("checkout", 10), alert("web", 10)]
    correlate.process(batch, T0 + timedelta(seconds=10))
    [home] = correlate.open_incidents()
    assert sorted(home.services) == ["checkout", "db", "payments", "web"]
    assert {a.signal for a in home.alerts if a.service == "web"} == {
        Signal.LATENCY_P99,
        Signal.EXTERNAL_ALERT,
    }
    assert correlate.incidents[slo.incident.incident_id].labels["merged_into"] == home.incident_id
