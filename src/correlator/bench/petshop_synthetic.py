"""Synthetic faults in PetShop's held-out normal rows, at every component the dataset blames.

All 16 train issues present here blame one component, PetSearch, the busiest service but
one, so their recall cannot show whether the engine only favours busy services. The
withheld test split blames five (the dataset README): PetSearch, payforadoption,
lambdastatusupdater, petlistadoptions and the petInfo DynamoDB table. Here the labels are
ours: for each scenario, each of those five and each target metric, ``WINDOWS`` windows of
five rows are cut from the held-out tail of ``noissue`` (the rows the detectors did not
learn), and rows 2-3 of each are changed along the fault's call path (the shortest one from
PetSite down to the root cause, in ``graph.csv``):

* **latency**: every latency statistic of the root cause times 4, of each caller between
  it and PetSite times 2.5, of PetSite times 1.4 (the symptom);
* **availability**: the root cause loses 5 points of availability, each caller between 3,
  PetSite 2.

The factors were set once, before any run, and are not fitted. Each window is then
replayed as an issue, with the same protocols and scoring as the real ones.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

import networkx as nx

from correlator.bench.petshop_data import Issue, MetricTable, PetShopScenario
from correlator.bench.petshop_report import IssueResult, PetShopReport

__all__ = ["ROOT_CAUSES", "WINDOWS", "print_by_root", "synthetic_scenario"]

#: The components the dataset's issues blame (its README's ground-truth table).
ROOT_CAUSES = (
    "PetSearch_AWS::ECS::Fargate",
    "payforadoption_AWS::ECS::Container",
    "lambdastatusupdater_AWS::Lambda::Function",
    "petlistadoptions_AWS::ECS::Fargate",
    "petInfo_AWS::DynamoDB::Table",
)
WINDOWS = 6
ROWS = 5
FAULT_ROWS = (2, 3)
SYMPTOM = "PetSite"
#: latency factor, availability points lost: at the root cause, a caller between, PetSite
LATENCY = (4.0, 2.5, 1.4)
AVAILABILITY = (5.0, 3.0, 2.0)


def _changes(path: Sequence[str], metric: str) -> dict[str, float]:
    """Per node on the path (PetSite first, root cause last): its factor or points lost."""
    root, between, symptom = LATENCY if metric == "latency" else AVAILABILITY
    out = {node: between for node in path[1:-1]}
    out[path[0]], out[path[-1]] = symptom, root
    return out


def _inject(window: MetricTable, change: dict[str, float], metric: str) -> MetricTable:
    rows = [list(row) for row in window.values]
    for col, (node, name, _) in enumerate(window.columns):
        if name != metric or node not in change:
            continue
        for r in FAULT_ROWS:
            value = rows[r][col]
            if value is None:
                continue
            if metric == "latency":
                rows[r][col] = value * change[node]
            else:
                rows[r][col] = max(0.0, value - change[node])
    return MetricTable(window.columns, window.timestamps, rows)


def synthetic_scenario(
    scenario: PetShopScenario,
    holdout: float,
    roots: Sequence[str] = ROOT_CAUSES,
    symptom: str = SYMPTOM,
) -> PetShopScenario | None:
    """The scenario with its issues replaced by synthetic ones (None without a normal period).

    One fault per root cause in ``roots`` that ``symptom`` reaches in the call graph, per
    metric and window. The name gets ``+synthetic``, so no published baseline is printed
    beside it.
    """
    normal = scenario.normal
    if normal is None:
        return None
    graph: nx.DiGraph[str] = nx.DiGraph(scenario.edges)
    tail = normal.tail(int(len(normal.timestamps) * (1.0 - holdout)))
    span = len(tail.timestamps) - ROWS
    starts = [round(k * span / (WINDOWS - 1)) for k in range(WINDOWS)]
    name = f"{scenario.name}+synthetic"
    issues = []
    for root in roots:
        if root not in graph or not nx.has_path(graph, symptom, root):
            continue
        path = nx.shortest_path(graph, symptom, root)
        for metric in ("latency", "availability"):
            change = _changes(path, metric)
            for start in starts:
                window = tail.tail(start).head(ROWS)
                issues.append(
                    Issue(
                        scenario=name,
                        split="synthetic",
                        name=f"{root.split('_')[0]}@{start}",
                        metrics=_inject(window, change, metric),
                        target_node=symptom,
                        target_metric=metric,
                        target_statistic="Average",
                        root_cause=root,
                        command=f"synthetic {metric} fault along {' -> '.join(path)}",
                        target_ts=window.timestamps[FAULT_ROWS[0]],
                    )
                )
    return dataclasses.replace(scenario, name=name, issues=issues)


def print_by_root(report: PetShopReport, out: TextIO) -> None:
    """Top-1 per root cause, both protocols: does any component lose out?"""
    print("== synthetic faults: top-1 by root cause (detection only / symptom given) ==", file=out)

    def tally(results: Sequence[IssueResult]) -> tuple[Counter[str], Counter[str]]:
        return Counter(r.issue.root_cause for r in results if r.hit(1)), Counter(
            r.issue.root_cause for r in results
        )

    det_hits, det_n = tally(report.issues)
    giv_hits, giv_n = tally(report.given.issues)
    for root in sorted(det_n):
        if det_n[root]:
            print(
                f"  {root:<45} {det_hits[root]:>3}/{det_n[root]:<3}"
                f" {giv_hits[root]:>3}/{giv_n[root]}",
                file=out,
            )
