"""PetShop benchmark results and their output: two tables (one per protocol) and one JSON line.

The headline (``results``, ``min_top1``, ``min_top3``, ``specificity`` of the JSON line)
is detection only: the engine must find the symptom too, and specificity means no incident
on normal-only replays, as the issue defines the benchmark. ``symptom_given`` holds the
authors' protocol, where the symptom is handed to the engine as an external alert (see
:mod:`correlator.bench.petshop_given`), the protocol their published baseline ran under.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from correlator.bench.petshop_data import Issue

__all__ = [
    "AUTHORS_BASELINE",
    "GivenReport",
    "IssueResult",
    "PetShopReport",
    "frequency_guesses",
    "print_report",
    "summary",
]

#: The authors' call-graph traversal baseline (MAD 5), all 68 issues, from the dataset README.
AUTHORS_BASELINE: dict[tuple[str, str], tuple[float, float]] = {
    ("low_traffic", "latency"): (0.571, 0.571),
    ("low_traffic", "availability"): (0.833, 1.000),
    ("high_traffic", "latency"): (0.571, 0.786),
    ("high_traffic", "availability"): (0.667, 1.000),
    ("temporal_traffic", "latency"): (1.000, 1.000),
    ("temporal_traffic", "availability"): (0.750, 1.000),
}


@dataclass(frozen=True)
class IssueResult:
    issue: Issue
    ranked: list[str]
    alerts_in: int
    incidents_out: int
    first_by_symptom_only: bool = False  # symptom given: target first with no detection

    def hit(self, k: int) -> bool:
        return self.issue.root_cause in self.ranked[:k]


@dataclass
class GivenReport:
    """The authors' protocol (symptom given): issues, and normal windows x target."""

    issues: list[IssueResult] = field(default_factory=list)
    runs: int = 0
    quiet_runs: int = 0

    @property
    def specificity(self) -> float:
        """Share of (held-out normal window, target) runs naming no root cause."""
        return self.quiet_runs / self.runs if self.runs else float("nan")


@dataclass
class PetShopReport:
    """Both protocols; the top-level fields are the detection-only one."""

    issues: list[IssueResult] = field(default_factory=list)
    given: GivenReport = field(default_factory=GivenReport)
    windows: int = 0
    quiet_windows: int = 0
    target_windows: int = 0
    target_quiet_windows: int = 0
    normal_alerts: int = 0
    watch_alerts: int = 0  # watch alerts, everywhere (they open nothing)
    normal_incidents: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def specificity(self) -> float:
        """Share of (held-out normal window, target) runs with no incident on the target."""
        return (
            self.target_quiet_windows / self.target_windows if self.target_windows else float("nan")
        )

    @property
    def strict_specificity(self) -> float:
        """Share of held-out normal windows with no incident at all."""
        return self.quiet_windows / self.windows if self.windows else float("nan")


def frequency_guesses(issues: Sequence[Issue]) -> list[list[str]]:
    """Leave-one-out: for each issue, root causes of the others, most frequent first."""
    counts = Counter(i.root_cause for i in issues)
    out = []
    for issue in issues:
        others = counts.copy()
        others[issue.root_cause] -= 1
        out.append([n for n, c in sorted(others.items(), key=lambda kv: (-kv[1], kv[0])) if c > 0])
    return out


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 3) if flags else 0.0


def _rows(issues: Sequence[IssueResult]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for idx, result in enumerate(issues):
        groups.setdefault((result.issue.scenario, result.issue.target_metric), []).append(idx)
    guesses = frequency_guesses([r.issue for r in issues])
    rows = []
    for (scenario, metric), idxs in sorted(groups.items()):
        results = [issues[i] for i in idxs]
        freq = [guesses[i] for i in idxs]
        rows.append(
            {
                "scenario": scenario,
                "metric": metric,
                "n": len(results),
                "empty": _share([not r.ranked for r in results]),
                "top1": _share([r.hit(1) for r in results]),
                "top3": _share([r.hit(3) for r in results]),
                "freq_top1": _share(
                    [r.issue.root_cause in g[:1] for r, g in zip(results, freq, strict=True)]
                ),
                "freq_top3": _share(
                    [r.issue.root_cause in g[:3] for r, g in zip(results, freq, strict=True)]
                ),
            }
        )
    return rows


def _table(title: str, issues: Sequence[IssueResult], out: TextIO, verbose: bool) -> None:
    print(title, file=out)
    print(
        f"{'scenario':<22} {'metric':<13} {'n':>3} {'empty':>6} {'top1':>6} {'top3':>6}"
        f"   {'freq top1/top3':>14}   {'authors top1/top3 (all 68)':>26}",
        file=out,
    )
    for row in _rows(issues):
        ref = AUTHORS_BASELINE.get((row["scenario"], row["metric"]))
        ref_text = f"{ref[0]:.3f} / {ref[1]:.3f}" if ref else "-"
        print(
            f"{row['scenario']:<22} {row['metric']:<13} {row['n']:>3} {row['empty']:>6.3f}"
            f" {row['top1']:>6.3f} {row['top3']:>6.3f}"
            f"   {row['freq_top1']:>6.3f} / {row['freq_top3']:.3f}   {ref_text:>26}",
            file=out,
        )
    if verbose:
        for r in issues:
            print(
                f"  {r.issue.scenario}/{r.issue.split}/{r.issue.name} {r.issue.target_metric}:"
                f" truth={r.issue.root_cause} ranked={r.ranked[:3]}"
                f" alerts={r.alerts_in} incidents={r.incidents_out}",
                file=out,
            )


def _results(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "results": [
            {k: row[k] for k in ("scenario", "metric", "n", "top1", "top3")} for row in rows
        ],
        "min_top1": min((row["top1"] for row in rows), default=0.0),
        "min_top3": min((row["top3"] for row in rows), default=0.0),
    }


def summary(report: PetShopReport) -> dict[str, Any]:
    """The JSON line: detection only at the top (the issue's protocol), the authors' protocol
    (symptom given) under ``symptom_given``."""
    given = report.given
    return {
        "protocol": "detection_only",
        **_results(_rows(report.issues)),
        "specificity": round(report.specificity, 3),
        "specificity_strict": round(report.strict_specificity, 3),
        "symptom_given": {
            **_results(_rows(given.issues)),
            "specificity": round(given.specificity, 3),
            "target_first_by_symptom_only": sum(r.first_by_symptom_only for r in given.issues),
        },
    }


def print_report(report: PetShopReport, out: TextIO, as_json: bool, verbose: bool) -> None:
    given = report.given
    _table(
        "== detection only (the engine must also find the symptom) ==", report.issues, out, verbose
    )
    print(
        f"specificity {report.specificity:.3f} ({report.target_quiet_windows}/"
        f"{report.target_windows} held-out normal windows x target with no incident on the"
        f" target); strict {report.strict_specificity:.3f} ({report.quiet_windows}/"
        f"{report.windows} windows with no incident at all)",
        file=out,
    )
    _table(
        "== authors' protocol (symptom given: an external alert on the target at its time) ==",
        given.issues,
        out,
        verbose,
    )
    print(
        f"specificity {given.specificity:.3f} ({given.quiet_runs}/{given.runs} held-out normal"
        f" windows x target where the given symptom gathered no detected alert); target node"
        f" ranked first with only the given alert on it:"
        f" {sum(r.first_by_symptom_only for r in given.issues)}/{len(given.issues)} issues",
        file=out,
    )
    for note in report.skipped:
        print(f"skipped {note}", file=out)
    alerts = report.normal_alerts + sum(r.alerts_in for r in report.issues)
    incidents = report.normal_incidents + sum(r.incidents_out for r in report.issues)
    ratio = alerts / incidents if incidents else float("inf")
    print(
        f"noise (detection only): {alerts} alerts in -> {incidents} incidents out"
        f" (compression {ratio:.2f}); {report.watch_alerts} watch alerts besides, which open"
        f" nothing",
        file=out,
    )
    if as_json:
        print(json.dumps(summary(report)), file=out)
