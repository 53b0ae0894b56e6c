"""Simultaneous alerts group the same way, into the same incident ids, in any order."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.grouping import incident_id_for
from correlator.correlate.stage import CorrelateStage
from correlator.model.alert import Alert
from correlator.model.observation import Signal
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


def stage() -> CorrelateStage:
    settings = CorrelateSettings.model_validate(
        {"topology_dir": None, "window_s": 300, "max_hops": 3}
    )
    return CorrelateStage(settings, graph_of(SHOP_CALLS))


def outcome(batch: list[Alert]) -> list[tuple[str, list[str]]]:
    """Each incident's id and services, after one batch at T0."""
    correlate = stage()
    correlate.process(batch, T0)
    return sorted((i.incident_id, sorted(i.services)) for i in correlate.incidents.values())


def siblings(checkout: float, search: float) -> list[Alert]:
    """web and both its callees slow at one time: each callee could be web's cause."""
    return [alert("checkout", score=checkout), alert("search", score=search), alert("web")]


def assert_web_joins(batch: list[Alert], joins: str) -> None:
    """In both orders of the batch, web joins ``joins`` and the other callee stays alone."""
    other = "search" if joins == "checkout" else "checkout"
    for order in (batch, batch[::-1]):
        groups = [services for _, services in outcome(order)]
        assert sorted(groups) == sorted([[other], sorted([joins, "web"])])


def test_every_order_of_a_simultaneous_batch_gives_the_same_incidents() -> None:
    batch = [*siblings(0.9, 0.99), alert("db", signal=Signal.ERROR_RATIO)]
    results = {tuple(map(str, outcome(list(order)))) for order in itertools.permutations(batch)}
    assert len(results) == 1


@pytest.mark.parametrize(
    ("checkout", "search", "joins"),
    [(0.9, 0.99, "search"), (0.99, 0.9, "checkout"), (0.95, 0.95, "checkout")],
    ids=["search-more-anomalous", "checkout-more-anomalous", "equal-scores-by-name"],
)
def test_a_tied_caller_joins_its_more_anomalous_callee(
    checkout: float, search: float, joins: str
) -> None:
    assert_web_joins(siblings(checkout, search), joins)


def failing(service: str, ratio: float, requests: int | None, score: float) -> Alert:
    return alert(service, signal=Signal.ERROR_RATIO, score=score).model_copy(
        update={"observed": ratio, "samples": requests}
    )


@pytest.mark.parametrize(
    ("requests", "joins"),
    [((50, 1000), "search"), ((None, None), "checkout")],
    ids=["counts-known", "counts-unknown-by-score"],
)
def test_a_tied_caller_joins_the_callee_that_failed_more_requests(
    requests: tuple[int | None, int | None], joins: str
) -> None:
    """8 % of 50 requests is further from normal than 2 % of 1000, but fails 4, not 20."""
    checkout = failing("checkout", 0.08, requests[0], score=1.0)
    search = failing("search", 0.02, requests[1], score=0.97)
    assert_web_joins([checkout, search, alert("web", signal=Signal.ERROR_RATIO)], joins)


@pytest.mark.parametrize(
    ("catalog", "search", "explains"),
    [(0.9, 0.99, "search"), (0.99, 0.9, "catalog"), (0.95, 0.95, "catalog")],
    ids=["search-stronger", "catalog-stronger", "equal-by-name"],
)
def test_the_stronger_of_two_later_callees_explains_a_callers_earlier_symptom(
    catalog: float, search: float, explains: str
) -> None:
    """Not the first by name: web's symptom came a batch before either callee's alert."""
    settings = CorrelateSettings.model_validate({"topology_dir": None, "window_s": 300})
    later = [alert("catalog", 10, score=catalog), alert("search", 10, score=search)]
    other = "search" if explains == "catalog" else "catalog"
    for order in (later, later[::-1]):
        correlate = CorrelateStage(settings, graph_of({"web": ["catalog", "search"]}))
        correlate.process([alert("web", 0)], T0)
        correlate.process(order, T0 + timedelta(seconds=10))
        groups = sorted(sorted(i.services) for i in correlate.incidents.values())
        assert groups == sorted([[other], sorted([explains, "web"])])


def test_simultaneous_caller_and_callee_open_the_incident_at_the_callee() -> None:
    caller, callee = alert("payments"), alert("db")
    for order in ([caller, callee], [callee, caller]):
        [(incident_id, services)] = outcome(order)
        assert (incident_id, services) == (incident_id_for(callee), ["db", "payments"])


def test_later_alerts_still_come_after_earlier_ones_whatever_the_topology() -> None:
    # a caller seen first opens the incident; its callee, seen later, joins it
    correlate = stage()
    caller, callee = alert("payments", 0), alert("db", 10)
    correlate.process([callee, caller], T0 + timedelta(seconds=10))
    [incident] = correlate.incidents.values()
    assert incident.incident_id == incident_id_for(caller)
