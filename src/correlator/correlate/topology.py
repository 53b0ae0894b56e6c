"""The service topology: a networkx DiGraph of caller → callee, declared and learned.

Declared edges come from ``topology/*.yaml``; learned edges from spans. Each edge keeps
``source`` (declared, learned or both), ``calls`` and ``last_seen`` (unix seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from correlator.errors import ConfigError

__all__ = ["ServiceSpec", "TopologyFile", "TopologyGraph", "load_topology"]


class ServiceSpec(BaseModel):
    """One service as declared in a topology file."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    owner: str = ""
    tier: int = Field(2, ge=0, le=5)
    labels: dict[str, str] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list, description="Services this one calls")


class TopologyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[ServiceSpec]


class TopologyGraph:
    """Caller → callee graph with helpers for hop distance and subgraphs."""

    def __init__(self) -> None:
        self.graph: nx.DiGraph[str] = nx.DiGraph()
        self._undirected: nx.Graph[str] | None = None
        self._heights: dict[str, int] | None = None
        self._down: dict[tuple[str, int], dict[str, int]] = {}
        self._up: dict[tuple[str, int], dict[str, int]] = {}

    def _reshaped(self) -> None:
        """Forget what was derived from the graph's shape (a node or edge came or went)."""
        self._undirected = None
        self._heights = None
        self._down = {}
        self._up = {}

    def __getstate__(self) -> dict[str, Any]:
        """The graph without what is derived from it (a snapshot need not carry caches)."""
        state = self.__dict__.copy()
        for key in ("_undirected", "_heights", "_down", "_up"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reshaped()

    def declare(self, spec: ServiceSpec) -> None:
        self.graph.add_node(
            spec.name, owner=spec.owner, tier=spec.tier, labels=dict(spec.labels), declared=True
        )
        self._reshaped()
        for callee in spec.depends_on:
            self._add_edge(spec.name, callee, "declared", 0, 0.0)

    def learn(self, caller: str, callee: str, calls: int, ts: float) -> None:
        """Record ``calls`` observed calls from ``caller`` to ``callee`` at ``ts``."""
        self._add_edge(caller, callee, "learned", calls, ts)

    def _add_edge(self, caller: str, callee: str, source: str, calls: int, ts: float) -> None:
        if caller == callee:
            return
        data: dict[str, Any] | None = self.graph.get_edge_data(caller, callee)
        if data is None:
            self.graph.add_edge(caller, callee, source=source, calls=calls, last_seen=ts)
            self._reshaped()
            return
        if data["source"] != source:
            data["source"] = "both"
        data["calls"] += calls
        data["last_seen"] = max(data["last_seen"], ts)

    def age_out(self, now: float, max_age_s: float) -> int:
        """Drop learned-only edges unseen for ``max_age_s``; return how many went."""
        stale = [
            (u, v)
            for u, v, d in self.graph.edges(data=True)
            if d["source"] == "learned" and now - d["last_seen"] > max_age_s
        ]
        self.graph.remove_edges_from(stale)
        if stale:
            self._reshaped()
        return len(stale)

    def hops(self, a: str, b: str, limit: int) -> int | None:
        """Undirected hop distance from ``a`` to ``b`` if within ``limit``, else None.

        >>> g = TopologyGraph()
        >>> g.learn("web", "api", 1, 0.0); g.learn("api", "db", 1, 0.0)
        >>> g.hops("web", "db", 3), g.hops("web", "db", 1), g.hops("web", "cache", 3)
        (2, None, None)
        """
        if a == b:
            return 0
        if a not in self.graph or b not in self.graph:
            return None
        if self._undirected is None:
            self._undirected = self.graph.to_undirected(as_view=False)
        lengths = nx.single_source_shortest_path_length(self._undirected, a, cutoff=limit)
        dist = lengths.get(b)
        return None if dist is None else int(dist)

    def directed_hops(self, a: str, b: str, limit: int) -> int | None:
        """Hops along call edges between ``a`` and ``b`` (either one calling towards the other).

        Siblings that share a caller but do not call each other are not related:

        >>> g = TopologyGraph()
        >>> g.learn("web", "checkout", 1, 0.0); g.learn("web", "search", 1, 0.0)
        >>> g.learn("checkout", "db", 1, 0.0)
        >>> g.directed_hops("db", "web", 3), g.directed_hops("checkout", "search", 3)
        (2, None)
        """
        if a == b:
            return 0
        if a not in self.graph or b not in self.graph:
            return None
        best: int | None = None
        for src, dst in ((a, b), (b, a)):
            dist = nx.single_source_shortest_path_length(self.graph, src, cutoff=limit).get(dst)
            if dist is not None and (best is None or dist < best):
                best = int(dist)
        return best

    def downstream(self, service: str, limit: int) -> dict[str, int]:
        """Services ``service`` calls within ``limit`` hops (itself at 0), with their distance.

        >>> g = TopologyGraph()
        >>> g.learn("web", "api", 1, 0.0); g.learn("api", "db", 1, 0.0)
        >>> g.downstream("web", 2), g.downstream("cache", 2)
        ({'web': 0, 'api': 1, 'db': 2}, {'cache': 0})

        The answer is kept until the graph changes shape: do not modify it.
        """
        if service not in self.graph:
            return {service: 0}
        key = (service, limit)
        if key not in self._down:
            found = nx.single_source_shortest_path_length(self.graph, service, cutoff=limit)
            self._down[key] = {n: int(d) for n, d in found.items()}
        return self._down[key]

    def downstream_through(
        self,
        service: str,
        limit: int,
        through: AbstractSet[str],
        also: AbstractSet[str] = frozenset(),
    ) -> dict[str, int]:
        """Like :meth:`downstream`, but past the first hop only through ``through`` or ``also``.

        A service is reached when ``service`` calls it directly, or when a service of
        ``through`` (or ``also``: two sets, so no union is built) within ``limit`` hops does (a
        path whose every step between the two is in them). Not cached: the sets change from
        call to call.

        >>> g = TopologyGraph()
        >>> g.learn("web", "api", 1, 0.0); g.learn("api", "db", 1, 0.0)
        >>> g.downstream_through("web", 3, set()), g.downstream_through("web", 3, {"api"})
        ({'web': 0, 'api': 1}, {'web': 0, 'api': 1, 'db': 2})
        """
        if service not in self.graph:
            return {service: 0}
        found = {service: 0}
        frontier = [service]
        for depth in range(1, limit + 1):
            nxt = []
            for node in frontier:
                for callee in self.graph.successors(node):
                    if callee not in found:
                        found[callee] = depth
                        if callee in through or callee in also:
                            nxt.append(callee)
            frontier = nxt
        return found

    def upstream(self, service: str, limit: int) -> dict[str, int]:
        """Services that call ``service`` within ``limit`` hops (itself at 0), with distance.

        >>> g = TopologyGraph()
        >>> g.learn("web", "api", 1, 0.0); g.learn("api", "db", 1, 0.0)
        >>> g.upstream("db", 1)
        {'db': 0, 'api': 1}

        The answer is kept until the graph changes shape: do not modify it.
        """
        if service not in self.graph:
            return {service: 0}
        key = (service, limit)
        if key not in self._up:
            found = nx.single_source_shortest_path_length(
                self.graph.reverse(copy=False), service, cutoff=limit
            )
            self._up[key] = {n: int(d) for n, d in found.items()}
        return self._up[key]

    def height(self, service: str) -> int:
        """How far above the bottom of the call graph ``service`` sits: 0 calls nothing.

        One more than the highest of its callees, so a callee is always below its callers;
        services that call each other in a cycle share one height. Unknown services are at
        0. Computed once per shape of the graph (a batch asks for many services).

        >>> g = TopologyGraph()
        >>> g.learn("web", "api", 1, 0.0); g.learn("api", "db", 1, 0.0)
        >>> g.learn("web", "cache", 1, 0.0)
        >>> [g.height(s) for s in ("web", "api", "db", "cache", "unknown")]
        [2, 1, 0, 0, 0]
        """
        if self._heights is None:
            dag = nx.condensation(self.graph)
            heights: dict[int, int] = {}
            for node in reversed(list(nx.topological_sort(dag))):
                heights[node] = 1 + max((heights[c] for c in dag.successors(node)), default=-1)
            mapping: dict[str, int] = dag.graph["mapping"]
            self._heights = {name: heights[c] for name, c in mapping.items()}
        return self._heights.get(service, 0)

    def callees(self, service: str) -> list[str]:
        return list(self.graph.successors(service)) if service in self.graph else []

    def subgraph(self, nodes: Iterable[str]) -> nx.DiGraph[str]:
        """The induced caller → callee subgraph on ``nodes`` (nodes not in the graph kept)."""
        sub: nx.DiGraph[str] = nx.DiGraph()
        wanted = set(nodes)
        sub.add_nodes_from(wanted)
        for u, v, d in self.graph.edges(data=True):
            if u in wanted and v in wanted:
                sub.add_edge(u, v, **d)
        return sub

    def to_dict(self) -> dict[str, Any]:
        """Nodes and edges as plain JSON-ready data."""
        return {
            "nodes": [{"id": n, **d} for n, d in self.graph.nodes(data=True)],
            "edges": [{"caller": u, "callee": v, **d} for u, v, d in self.graph.edges(data=True)],
        }


def load_topology(folder: Path | None) -> TopologyGraph:
    """Read every ``*.yaml`` in ``folder`` into a graph (an empty graph when None)."""
    graph = TopologyGraph()
    if folder is None:
        return graph
    if not folder.is_dir():
        raise ConfigError(f"topology folder {folder} does not exist; set correlate.topology_dir")
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = TopologyFile.model_validate(yaml.safe_load(path.read_text()) or {})
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"{path}: {problems}") from exc
        for service in spec.services:
            graph.declare(service)
    return graph
