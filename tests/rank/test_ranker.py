"""Root-cause ranking on small call graphs."""

from __future__ import annotations

from datetime import timedelta

from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.model.alert import Alert
from correlator.model.observation import Signal
from correlator.rank.ranker import RankWeights, rank_root_causes
from correlator.rank.stage import RankStage
from correlator.testing import T0, alert


def chain() -> TopologyGraph:
    graph = TopologyGraph()
    for name, calls in {"web": ["api"], "api": ["db", "cache"], "db": [], "cache": []}.items():
        graph.declare(ServiceSpec(name=name, depends_on=calls))
    return graph


def test_deepest_anomalous_callee_ranks_first_even_if_it_alerts_last() -> None:
    alerts = [alert("web", 0, score=0.99), alert("api", 5, score=0.99), alert("db", 10, score=0.9)]
    ranked = rank_root_causes(alerts, chain())
    assert [c.entity for c in ranked][:1] == ["db"]
    assert any(e.kind == "propagation" for e in ranked[0].evidence)


def test_earliest_service_wins_without_topology() -> None:
    alerts = [alert("x", 30), alert("y", 0), alert("z", 60)]
    ranked = rank_root_causes(alerts, TopologyGraph())
    assert ranked[0].entity == "y"
    assert any(e.kind == "first_anomaly" for e in ranked[0].evidence)


def test_scores_are_ordered_and_evidence_names_the_alerts() -> None:
    ranked = rank_root_causes([alert("api", 0), alert("web", 10)], chain())
    assert [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    assert ranked[0].entity == "api"
    assert "api latency_p99" in ranked[0].evidence[0].detail


def test_an_early_request_rate_change_alone_does_not_outrank_the_faulty_service() -> None:
    graph = TopologyGraph()
    for name, calls in {"web": ["search"], "search": ["metadata"], "metadata": []}.items():
        graph.declare(ServiceSpec(name=name, depends_on=calls))
    # metadata's request rate moved first (load), then search got slow and web with it
    rate = alert("metadata", 0, Signal.REQUEST_RATE).model_copy(
        update={"observed": 0.02, "expected": 0.0}
    )
    slow = [
        alert(name, 300, signal).model_copy(update={"observed": 30.0, "expected": 6.0})
        for name in ("search", "web")
        for signal in (Signal.LATENCY_P50, Signal.LATENCY_P99)
    ]
    ranked = rank_root_causes([rate, *slow], graph)
    assert ranked[0].entity == "search"


def _slow_search_with_less_load_below(rate_at_s: float = 0.0) -> list[Alert]:
    """search and web slow down 2x; metadata, below search, sees its request rates move."""
    rates = [
        alert("metadata", rate_at_s, Signal.REQUEST_RATE, score=1.0).model_copy(
            update={"observed": 9.0, "expected": 3.0, "count": 10, "fingerprint": f"rate-{k}"}
        )
        for k in range(3)
    ]
    slow = [
        alert(name, 0, signal).model_copy(update={"observed": 12.0, "expected": 6.0})
        for name in ("search", "web")
        for signal in (Signal.LATENCY_P50, Signal.LATENCY_P99)
    ]
    return [*slow, *rates]


def _search_graph() -> TopologyGraph:
    graph = TopologyGraph()
    calls = {"web": ["search"], "search": ["metadata", "index"], "metadata": [], "index": []}
    for name, callees in calls.items():
        graph.declare(ServiceSpec(name=name, depends_on=callees))
    return graph


def test_a_callee_that_only_sees_its_load_change_does_not_draw_the_rank() -> None:
    ranked = rank_root_causes(_slow_search_with_less_load_below(), _search_graph())
    assert [c.entity for c in ranked] == ["search", "web", "metadata"]


def test_correlated_and_ranked_the_slow_service_comes_first_not_its_callees_load() -> None:
    graph = _search_graph()
    settings = CorrelateSettings.model_validate({"topology_dir": None, "window_s": 300})
    correlate, rank = CorrelateStage(settings, graph), RankStage(graph)
    alerts = _slow_search_with_less_load_below(rate_at_s=5.0)
    [change] = rank.process(correlate.process(alerts, T0 + timedelta(seconds=5)))
    assert sorted(change.incident.services) == ["metadata", "search", "web"]
    assert change.incident.root_causes[0].entity == "search"


def failing(service: str, at_s: float, ratio: float, requests: int | None) -> Alert:
    return alert(service, at_s, Signal.ERROR_RATIO, score=1.0).model_copy(
        update={"observed": ratio, "expected": 0.0, "samples": requests}
    )


def test_a_ratio_over_many_requests_outranks_a_larger_one_over_few() -> None:
    """api's errors: db fails 2 % of 1,000 requests, cache 8 % of 50 (and a row earlier)."""
    alerts = [
        alert("web", 60, Signal.ERROR_RATIO),
        alert("api", 60, Signal.ERROR_RATIO),
        failing("cache", 0, 0.08, 50),
        failing("db", 60, 0.02, 1000),
    ]
    assert [c.entity for c in rank_root_causes(alerts, chain())][:2] == ["db", "cache"]
    unweighted = RankWeights(sample_prior=0.0)  # every reading counts in full
    assert rank_root_causes(alerts, chain(), unweighted)[0].entity == "cache"
    # without request counts the earlier, further-from-normal cache leads, as before
    blind = [a.model_copy(update={"samples": None}) for a in alerts]
    assert rank_root_causes(blind, chain())[0].entity == "cache"
