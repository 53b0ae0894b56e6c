"""Topology: declared and learned edges keep their source; learned ones age out."""

from __future__ import annotations

import argparse
import io
import pickle
from datetime import timedelta
from pathlib import Path

from correlator.config import CorrelateSettings
from correlator.correlate import cli
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.testing import T0, alert


def test_sources_merge_and_only_learned_edges_age_out_through_the_stage() -> None:
    graph = TopologyGraph()
    graph.declare(ServiceSpec(name="web", depends_on=["api"]))
    start = T0.timestamp()
    graph.learn("web", "api", 5, start)
    graph.learn("api", "db", 2, start)
    graph.learn("api", "cache", 1, start + 3000)
    assert graph.graph.edges["web", "api"]["source"] == "both"
    settings = CorrelateSettings(topology_dir=None, learned_edge_max_age_s=3600)
    correlate = CorrelateStage(settings, graph)
    correlate.process([], T0 + timedelta(seconds=4000))
    assert set(graph.graph.edges) == {("web", "api"), ("api", "cache")}
    correlate.process([], T0 + timedelta(seconds=7000))
    assert set(graph.graph.edges) == {("web", "api")}  # declared (and both) edges stay


def test_direction_aware_grouping_keeps_siblings_apart_but_joins_callers() -> None:
    graph = TopologyGraph()
    for name, calls in {"web": ["checkout", "search"], "checkout": ["db"]}.items():
        graph.declare(ServiceSpec(name=name, depends_on=calls))
    correlate = CorrelateStage(CorrelateSettings(topology_dir=None, max_hops=2), graph)
    changes = correlate.process([alert("db", 0), alert("search", 5), alert("checkout", 20)], T0)
    groups = sorted(sorted(c.incident.services) for c in changes)
    assert groups == [["checkout", "db"], ["search"]]
    undirected = CorrelateStage(
        CorrelateSettings(topology_dir=None, max_hops=2, direction_aware=False), graph
    )
    [only] = undirected.process([alert("checkout", 0), alert("search", 5)], T0)
    assert sorted(only.incident.services) == ["checkout", "search"]


def test_topology_command_prints_each_edge_source(tmp_path: Path) -> None:
    (tmp_path / "shop.yaml").write_text(
        "services:\n  - name: web\n    owner: team-web\n    depends_on: [api]\n  - name: api\n"
    )
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = io.StringIO()
    args = parser.parse_args(
        ["--dir", str(tmp_path), "--learned", "web:api", "--learned", "api:db"]
    )
    assert cli.run(args, out) == 0
    text = out.getvalue()
    assert "web -> api  [both, 1 calls]" in text
    assert "api -> db  [learned, 1 calls]" in text
    assert "owner=team-web" in text
    assert "declared 0, learned 1, both 1" in text


def test_heights_follow_edges_learned_and_aged_out() -> None:
    graph = TopologyGraph()
    graph.learn("web", "api", 1, 0.0)
    assert (graph.height("web"), graph.height("api"), graph.height("db")) == (1, 0, 0)
    graph.learn("api", "db", 1, 50.0)  # a new callee lifts every caller above it
    assert (graph.height("web"), graph.height("api"), graph.height("db")) == (2, 1, 0)
    graph.learn("db", "web", 1, 50.0)  # a cycle: one height for all three
    assert {graph.height(s) for s in ("web", "api", "db")} == {0}
    assert graph.age_out(now=100.0, max_age_s=60.0) == 1  # web -> api, last seen at 0
    assert (graph.height("api"), graph.height("db"), graph.height("web")) == (2, 1, 0)


def test_reach_follows_edges_learned_and_aged_out_and_survives_a_snapshot() -> None:
    graph = TopologyGraph()
    graph.learn("web", "api", 1, 0.0)
    assert (graph.downstream("web", 3), graph.upstream("db", 3)) == (
        {"web": 0, "api": 1},
        {"db": 0},
    )
    graph.learn("api", "db", 1, 50.0)
    assert graph.downstream("web", 3) == {"web": 0, "api": 1, "db": 2}
    assert graph.upstream("db", 3) == {"db": 0, "api": 1, "web": 2}
    assert graph.age_out(now=100.0, max_age_s=60.0) == 1  # web -> api
    assert (graph.downstream("web", 3), graph.upstream("db", 3)) == (
        {"web": 0},
        {"db": 0, "api": 1},
    )
    copy = pickle.loads(pickle.dumps(graph))
    assert "_down" not in graph.__getstate__()  # a snapshot carries no derived views
    copy.learn("web", "api", 1, 120.0)
    assert copy.downstream("web", 3) == {"web": 0, "api": 1, "db": 2}
