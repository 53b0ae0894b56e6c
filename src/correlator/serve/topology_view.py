"""The topology (whole, or the part one incident touches) as API data and as SVG."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from correlator.correlate.topology import TopologyGraph
from correlator.model.incident import Incident
from correlator.serve.schemas import TopologyEdge, TopologyNode, TopologyView
from correlator.serve.svg import render_svg

__all__ = ["incident_roles", "topology_svg", "topology_view"]


def incident_roles(incident: Incident) -> dict[str, str]:
    """``root_cause`` for the best candidate, ``affected`` for every service of the incident."""
    roles = dict.fromkeys(incident.services, "affected")
    if incident.root_causes:
        roles[incident.root_causes[0].entity] = "root_cause"
    return roles


def _graph(topology: TopologyGraph, nodes: Iterable[str] | None) -> Any:
    return topology.graph if nodes is None else topology.subgraph(nodes)


def topology_view(
    topology: TopologyGraph,
    nodes: Iterable[str] | None = None,
    roles: Mapping[str, str] | None = None,
) -> TopologyView:
    """Every node and edge (or those induced by ``nodes``), JSON-ready."""
    roles = roles or {}
    graph = _graph(topology, nodes)
    return TopologyView(
        nodes=[
            TopologyNode(id=n, role=roles.get(n), **{k: v for k, v in d.items() if k != "role"})
            for n, d in sorted(graph.nodes(data=True))
        ],
        edges=[
            TopologyEdge(caller=u, callee=v, **d)
            for u, v, d in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1]))
        ],
    )


def topology_svg(
    topology: TopologyGraph,
    nodes: Iterable[str] | None = None,
    roles: Mapping[str, str] | None = None,
) -> str:
    graph = _graph(topology, nodes)
    edges = [(u, v, str(d.get("source", "declared"))) for u, v, d in graph.edges(data=True)]
    return render_svg(edges, list(graph.nodes), roles)
