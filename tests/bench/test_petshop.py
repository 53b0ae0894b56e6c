"""PetShop benchmark: loader, replay through the engine's stages, JSON summary."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import random
from pathlib import Path

from correlator.bench import petshop
from correlator.bench.petshop_data import MetricTable, load_scenarios

NODES = ["Front", "Search", "Db"]
COLUMNS = [(n, "latency", "Average") for n in NODES] + [
    (n, "availability", "Average") for n in NODES
]


def write_metrics(path: Path, rows: list[list[float]], t0: float) -> None:
    lines = [
        "microservice," + ",".join(c[0] for c in COLUMNS),
        "metric," + ",".join(c[1] for c in COLUMNS),
        "statistic," + ",".join(c[2] for c in COLUMNS),
        "unix_timestamp" + "," * len(COLUMNS),
    ]
    lines += [f"{t0 + 300 * i}," + ",".join(str(v) for v in row) for i, row in enumerate(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def normal_row(rng: random.Random) -> list[float]:
    return [
        0.10 + rng.gauss(0, 0.003),
        0.02 + rng.gauss(0, 0.001),
        0.005 + rng.gauss(0, 0.0002),
    ] + [100.0] * 3


def make_dataset(root: Path, blip_at: int | None = None) -> None:
    """Normal period, then one issue; ``blip_at``: Db alone slow for two normal rows there."""
    rng = random.Random(1)
    scenario = root / "dataset" / "tiny"
    scenario.mkdir(parents=True)
    (scenario / "graph.csv").write_text(",Front,Search,Db\nFront,0,1,0\nSearch,0,0,1\nDb,0,0,0\n")
    normal = [normal_row(rng) for _ in range(200)]
    if blip_at is not None:
        for row in normal[blip_at : blip_at + 2]:
            row[2] = 0.05
    write_metrics(scenario / "noissue" / "metrics.csv", normal, 1e9)
    rows = [normal_row(rng) for _ in range(5)]
    for row in rows[2:4]:
        row[0], row[1] = 0.4, 0.3  # Search is slow, Front suffers
    write_metrics(scenario / "train" / "issue_0" / "metrics.csv", rows, 2e9)
    (scenario / "train" / "issue_0" / "target.json").write_text(
        json.dumps(
            {
                "target": {"node": "Front", "metric": "latency", "agg": "Average", "timestamp": 0},
                "root_cause": {"node": "Search", "metric": None},
            }
        )
    )


def test_loader_reads_graph_normal_period_and_issues(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    [scenario] = load_scenarios(tmp_path)
    assert scenario.edges == [("Front", "Search"), ("Search", "Db")]
    assert scenario.normal is not None and len(scenario.normal.timestamps) == 200
    [issue] = scenario.issues
    assert (issue.target_node, issue.target_metric, issue.root_cause) == (
        "Front",
        "latency",
        "Search",
    )


def test_the_slow_callee_is_ranked_first_and_json_is_the_last_line(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    out = io.StringIO()
    args = argparse.Namespace(data=tmp_path, json=True, verbose=False)
    assert petshop.run(args, out) == 0
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["results"] == [
        {"scenario": "tiny", "metric": "latency", "n": 1, "top1": 1.0, "top3": 1.0}
    ]
    assert summary["specificity"] == 1.0
    assert summary["specificity_strict"] == 1.0
    assert summary["min_top1"] == 1.0


def test_the_two_specificity_readings_count_different_things() -> None:
    # 4 held-out windows, 3 with an incident somewhere, none of them on the one target
    report = petshop.PetShopReport(
        windows=4, quiet_windows=1, target_windows=4, target_quiet_windows=4
    )
    assert (report.specificity, report.strict_specificity) == (1.0, 0.25)


def test_a_lone_slow_series_in_normal_data_opens_no_incident(tmp_path: Path) -> None:
    make_dataset(tmp_path, blip_at=180)  # in the held-out tail (the last 40 rows)
    scenarios = load_scenarios(tmp_path)
    config = petshop.default_config()
    held = petshop.evaluate(scenarios, config)
    assert held.normal_alerts >= 1  # Db did alert ...
    assert held.strict_specificity == 1.0  # ... but alone it published nothing
    at_once = dataclasses.replace(
        config, correlate=config.correlate.model_copy(update={"open_min_alerts": 1})
    )
    assert petshop.evaluate(scenarios, at_once).strict_specificity < 1.0


def test_a_tail_percentile_over_too_few_requests_is_left_out_of_its_row() -> None:
    columns = [
        ("fn", "requests", "Sum"),
        ("fn", "latency", "p50"),
        ("fn", "latency", "p90"),
        ("fn", "latency", "p99"),
        ("db", "latency", "p99"),  # no request count: kept
    ]
    table = MetricTable(
        columns, [0.0, 300.0], [[12.0, 1.0, 2.0, 3.0, 4.0], [150.0, 1.0, 2.0, 3.0, 4.0]]
    )
    gated = petshop.rows_of(table, table.timestamps, tail_samples=True)
    assert [[o.detail for o in batch if o.entity == "fn"] for _, batch in gated] == [
        ["requests Sum", "latency p50", "latency p90"],  # 12 requests: p90 yes, p99 no
        ["requests Sum", "latency p50", "latency p90", "latency p99"],
    ]
    assert all(any(o.entity == "db" for o in batch) for _, batch in gated)
    ungated = petshop.rows_of(table, table.timestamps)
    assert [len(batch) for _, batch in ungated] == [5, 5]
