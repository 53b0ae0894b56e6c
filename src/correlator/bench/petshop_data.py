"""Read the PetShop RCA dataset (Hardt et al., CLeaR 2024): call graphs, metrics, issues.

Layout (``<data>/dataset/<scenario>/``)::

    graph.csv                          adjacency matrix, a non-zero at (row A, column B): A calls B
    noissue/metrics.csv                normal operation, 5-minute rows (missing for temporal_*)
    train|test/issue_<i>/metrics.csv   the anomalous window (5 rows)
    train|test/issue_<i>/target.json   the symptom (target, with its timestamp) and the
                                       injected root cause

``metrics.csv`` has three header rows (node, metric, statistic), then a row naming the index
(``unix_timestamp``), then one row per timestamp; an empty cell is no data.

``Issue.root_cause`` is the label: the benchmark reads it only when scoring, after ranking.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from correlator.errors import ConfigError

__all__ = [
    "Issue",
    "MetricTable",
    "PetShopScenario",
    "load_scenarios",
    "read_graph",
    "read_metrics",
]

Column = tuple[str, str, str]  # (node, metric, statistic)


@dataclass(frozen=True)
class MetricTable:
    """A wide metrics file: ``values[row][col]`` is None where the file had no data."""

    columns: list[Column]
    timestamps: list[float]
    values: list[list[float | None]]

    def head(self, rows: int) -> MetricTable:
        return MetricTable(self.columns, self.timestamps[:rows], self.values[:rows])

    def tail(self, start: int) -> MetricTable:
        return MetricTable(self.columns, self.timestamps[start:], self.values[start:])

    def column(self, node: str, metric: str, statistic: str) -> list[float | None]:
        j = self.columns.index((node, metric, statistic))
        return [row[j] for row in self.values]


@dataclass(frozen=True)
class Issue:
    """One labelled performance issue."""

    scenario: str
    split: str
    name: str
    metrics: MetricTable
    target_node: str
    target_metric: str
    target_statistic: str
    root_cause: str
    command: str
    target_ts: float | None = None  # when the symptom was observed (target.json)


@dataclass(frozen=True)
class PetShopScenario:
    name: str
    edges: list[tuple[str, str]]
    normal: MetricTable | None
    issues: list[Issue]

    @property
    def nodes(self) -> set[str]:
        return {n for edge in self.edges for n in edge}


def _cell(text: str) -> float | None:
    return float(text) if text.strip() else None


def read_metrics(path: Path) -> MetricTable:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 4 or rows[0][0] != "microservice" or rows[3][0] != "unix_timestamp":
        raise ConfigError(f"{path}: not a PetShop metrics file (three header rows expected)")
    columns = list(zip(rows[0][1:], rows[1][1:], rows[2][1:], strict=True))
    timestamps = [float(r[0]) for r in rows[4:]]
    values = [[_cell(v) for v in r[1:]] for r in rows[4:]]
    return MetricTable(columns, timestamps, values)


def read_graph(path: Path) -> list[tuple[str, str]]:
    """Caller → callee edges of the adjacency matrix."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0][1:]
    return [
        (row[0], header[j])
        for row in rows[1:]
        for j, value in enumerate(row[1:])
        if value.strip() and float(value) != 0.0 and row[0] != header[j]
    ]


def _issue(scenario: str, split: str, folder: Path) -> Issue:
    meta = json.loads((folder / "target.json").read_text())
    target = meta["target"]
    return Issue(
        scenario=scenario,
        split=split,
        name=folder.name,
        metrics=read_metrics(folder / "metrics.csv"),
        target_node=target["node"],
        target_metric=target["metric"],
        target_statistic=target.get("agg") or "Average",
        root_cause=meta["root_cause"]["node"],
        command=meta.get("metadata", {}).get("reproducibility", {}).get("command", ""),
        target_ts=float(target["timestamp"]) if target.get("timestamp") is not None else None,
    )


def load_scenarios(data: Path) -> list[PetShopScenario]:
    """Every scenario under ``data`` (or ``data/dataset``), with its train and test issues."""
    root = data / "dataset" if (data / "dataset").is_dir() else data
    if not root.is_dir():
        raise ConfigError(f"PetShop data not found at {data}; pass --data <petshop folder>")
    out: list[PetShopScenario] = []
    for folder in sorted(p for p in root.iterdir() if (p / "graph.csv").is_file()):
        normal_path = folder / "noissue" / "metrics.csv"
        issues = [
            _issue(folder.name, split, issue)
            for split in ("train", "test")
            if (folder / split).is_dir()
            for issue in sorted(
                (folder / split).glob("issue_*"), key=lambda p: int(p.name.split("_")[-1])
            )
            if (issue / "metrics.csv").is_file()
        ]
        out.append(
            PetShopScenario(
                name=folder.name,
                edges=read_graph(folder / "graph.csv"),
                normal=read_metrics(normal_path) if normal_path.is_file() else None,
                issues=issues,
            )
        )
    return out
