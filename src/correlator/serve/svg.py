"""Draw a caller → callee graph as SVG: layers by call depth, left to right, no graphviz.

A node's layer is the longest chain of callers above it (cycles are collapsed first, so
learned back-edges do not break the layout). Inside a layer, nodes are ordered by the mean
row of their callers, which keeps most edges short.

>>> svg = render_svg([("web", "api"), ("api", "db")], ["web", "api", "db"], {"db": "root_cause"})
>>> svg.startswith("<svg") and svg.count("<rect") == 3 and ">db</text>" in svg
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape

import networkx as nx

__all__ = ["layout", "render_svg"]

_W, _H = 150, 34  # node box
_DX, _DY = 210, 58  # distance between layers and rows
_PAD = 20
_FILL = {"root_cause": "#fde2e1", "affected": "#fff3d6"}
_STROKE = {"root_cause": "#c62828", "affected": "#e69500"}


def layout(edges: Iterable[tuple[str, str]], nodes: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(layer, row) of each node.

    >>> layout([("a", "b"), ("b", "c"), ("c", "b"), ("a", "d")], ["a", "b", "c", "d"])
    {'a': (0, 0), 'b': (1, 0), 'd': (1, 1), 'c': (1, 2)}
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    dag = nx.condensation(graph)
    depth: dict[int, int] = {}
    for comp in nx.topological_sort(dag):
        preds = list(dag.predecessors(comp))
        depth[comp] = max((depth[p] + 1 for p in preds), default=0)
    layer_of = {n: depth[dag.graph["mapping"][n]] for n in graph.nodes}
    layers: dict[int, list[str]] = {}
    for name in sorted(graph.nodes):
        layers.setdefault(layer_of[name], []).append(name)
    place: dict[str, tuple[int, int]] = {}
    for layer in sorted(layers):

        def pull(name: str) -> tuple[float, str]:
            rows = [place[p][1] for p in graph.predecessors(name) if p in place]
            return (sum(rows) / len(rows) if rows else float("inf"), name)

        for row, name in enumerate(sorted(layers[layer], key=pull)):
            place[name] = (layer, row)
    return dict(sorted(place.items(), key=lambda kv: (kv[1], kv[0])))


def _box(name: str, x: int, y: int, role: str | None) -> str:
    label = name if len(name) <= 20 else name[:19] + "…"
    fill = _FILL.get(role or "", "#eef2f7")
    stroke = _STROKE.get(role or "", "#52606d")
    title = f"{name} ({role})" if role else name
    return (
        f'<g class="node" data-id="{escape(name)}"><title>{escape(title)}</title>'
        f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="{2 if role else 1}"/>'
        f'<text x="{x + _W // 2}" y="{y + _H // 2 + 5}" text-anchor="middle">{escape(label)}</text>'
        "</g>"
    )


def _edge(a: tuple[int, int], b: tuple[int, int], source: str) -> str:
    x1, y1 = a[0] + _W, a[1] + _H // 2
    x2, y2 = b[0], b[1] + _H // 2
    if b[0] <= a[0]:  # same layer or backwards (a cycle): bend around
        x1, x2 = a[0] + _W // 2, b[0] + _W // 2
        y1, y2 = a[1] + _H, b[1] + _H
        mid = max(y1, y2) + _DY // 2
        path = f"M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}"
    else:
        cx = (x1 + x2) // 2
        path = f"M{x1},{y1} C{cx},{y1} {cx},{y2} {x2 - 2},{y2}"
    dash = ' stroke-dasharray="5 3"' if source == "learned" else ""
    return (
        f'<path d="{path}" fill="none" stroke="#7b8794" stroke-width="1.4"{dash} '
        'marker-end="url(#arrow)"/>'
    )


def render_svg(
    edges: Sequence[tuple[str, str]] | Sequence[tuple[str, str, str]],
    nodes: Iterable[str],
    roles: Mapping[str, str] | None = None,
) -> str:
    """An SVG document of the graph; ``roles`` colours nodes (root_cause, affected).

    ``edges`` are (caller, callee) or (caller, callee, source); learned edges are dashed.
    """
    roles = roles or {}
    triples = [(e[0], e[1], e[2] if len(e) > 2 else "declared") for e in edges]
    place = layout([(a, b) for a, b, _ in triples], nodes)
    if not place:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="60" role="img">'
            '<text x="10" y="35" font-family="sans-serif" font-size="13">'
            "no topology known</text></svg>"
        )
    xy = {n: (_PAD + layer * _DX, _PAD + row * _DY) for n, (layer, row) in place.items()}
    width = _PAD * 2 + max(x for x, _ in xy.values()) + _W
    height = _PAD * 2 + max(y for _, y in xy.values()) + _H + _DY // 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker></defs>',
    ]
    parts += [_edge(xy[a], xy[b], source) for a, b, source in triples if a in xy and b in xy]
    parts += [_box(n, x, y, roles.get(n)) for n, (x, y) in xy.items()]
    parts.append("</svg>")
    return "".join(parts)
