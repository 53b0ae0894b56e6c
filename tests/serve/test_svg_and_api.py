"""The SVG layout, and the package's public names."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import correlator.serve
from correlator.serve.svg import layout, render_svg


def test_layers_follow_call_depth() -> None:
    place = layout([("web", "api"), ("api", "db"), ("api", "cache"), ("batch", "db")], [])
    assert {n: layer for n, (layer, _) in place.items()} == {
        "web": 0,
        "batch": 0,
        "api": 1,
        "db": 2,
        "cache": 2,
    }
    rows = [place["cache"][1], place["db"][1]]
    assert sorted(rows) == [0, 1]


def test_cycles_and_lone_nodes_are_drawn() -> None:
    svg = render_svg(
        [("a", "b"), ("b", "a"), ("b", "c")], ["a", "b", "c", "lone"], {"c": "root_cause"}
    )
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    names = [t.text for t in root.iter(f"{ns}text")]
    assert sorted(names) == ["a", "b", "c", "lone"]
    assert len(list(root.iter(f"{ns}path"))) == 1 + 3  # arrow marker + three edges
    assert 'stroke="#c62828"' in svg  # the root cause is outlined in red


def test_names_are_escaped() -> None:
    svg = render_svg([], ["<script>alert(1)</script>"])
    assert "<script>" not in svg
    ET.fromstring(svg)


def test_an_empty_graph_says_so() -> None:
    assert "no topology known" in render_svg([], [])


def test_public_api_is_explicit() -> None:
    assert correlator.serve.__all__ == [
        "EngineMetrics",
        "Scope",
        "ServeSettings",
        "StatsSnapshot",
        "TokenSpec",
        "create_app",
    ]
    for name in correlator.serve.__all__:
        assert hasattr(correlator.serve, name)
