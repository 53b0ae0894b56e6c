"""``correlator topology``: the service graph as text, each edge with its source.

Declared edges come from the topology folder; ``--learned caller:callee`` adds learned
edges (as spans would), so an operator can see how they merge: ``declared``, ``learned``
or ``both``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from correlator.correlate.topology import TopologyGraph, load_topology

__all__ = ["add_arguments", "render", "run"]


def render(graph: TopologyGraph) -> str:
    """One line per service, then one per edge with its source and call count.

    >>> g = TopologyGraph()
    >>> g.learn("web", "api", 3, 0.0)
    >>> print(render(g))
    services (2)
      api
      web
    edges (1): declared 0, learned 1, both 0
      web -> api  [learned, 3 calls]
    """
    nodes = sorted(graph.graph.nodes)
    edges = sorted(graph.graph.edges(data=True), key=lambda e: (e[0], e[1]))
    counts = {
        k: sum(1 for *_, d in edges if d["source"] == k) for k in ("declared", "learned", "both")
    }
    lines = [f"services ({len(nodes)})"]
    for name in nodes:
        data = graph.graph.nodes[name]
        extra = [f"owner={data['owner']}"] if data.get("owner") else []
        if "tier" in data:
            extra.append(f"tier={data['tier']}")
        lines.append(f"  {name}" + (f"  ({', '.join(extra)})" if extra else ""))
    lines.append(
        f"edges ({len(edges)}): declared {counts['declared']}, learned {counts['learned']},"
        f" both {counts['both']}"
    )
    for caller, callee, data in edges:
        calls = f", {data['calls']} calls" if data["calls"] else ""
        lines.append(f"  {caller} -> {callee}  [{data['source']}{calls}]")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="topology", help="declared topology folder")
    parser.add_argument(
        "--learned",
        action="append",
        default=[],
        metavar="CALLER:CALLEE",
        help="add a learned edge (repeatable), to see how it merges with the declared ones",
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    graph = load_topology(Path(args.dir) if args.dir else None)
    for pair in args.learned:
        caller, _, callee = pair.partition(":")
        graph.learn(caller, callee, 1, 0.0)
    print(render(graph), file=out or sys.stdout)
    return 0
