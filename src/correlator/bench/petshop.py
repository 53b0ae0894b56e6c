"""``correlator bench petshop``: root-cause recall on the PetShop dataset, through the engine.

Each metrics column (node, metric, statistic) is one series of 5-minute observations, fed
row by row through the engine's own stages: ``DetectStage`` (detectors from
``detector_factory_for``), ``CorrelateStage`` (grouping over ``graph.csv``, caller → callee,
declared) and ``RankStage``. One configuration (:func:`default_config`) for every scenario
and both protocols. Two protocols are measured in one run, on the same detected alerts:

* **detection only** (the headline): the engine must detect the symptom itself and name
  its root cause, and specificity means no incident on normal-only replays, as the issue
  defines the benchmark.
* **symptom given** (the ``symptom_given`` object of the JSON line): the authors' RCA task,
  where the method *receives* the target (node, metric, statistic, time) and names root
  causes; their published baseline was measured this way. The engine receives the target
  as an operator's SLO alert on it: an external Alertmanager alert
  (:mod:`correlator.bench.petshop_given`), fed with the detected alerts to a correlate and
  rank stage of its own, which treat it like any external alert.

Per scenario:

1. the first ``1 - holdout`` of ``noissue`` is replayed (detectors learn the normal period);
2. **specificity**: from there, the held-out tail of ``noissue`` is replayed in windows of
   ``window_rows`` rows. Symptom given: for each window and target (node, metric), the
   target's alert is given at the window's first row to a fresh correlate stage; the pair
   passes when the incident holding it gathers no detected alert by the window's end (no
   root cause named beyond the given symptom). Detection only, two readings: per target, a
   (window, target) pair passes when no incident holding the target node is opened or grows
   in the window (``specificity``); strict, a window passes when no incident at all is
   opened or grows in it (``specificity_strict``);
3. **issues**: from the same point, each issue's rows are replayed (re-timed to follow the
   normal period, 5 minutes apart) with fresh correlate stages. Symptom given: the target's
   alert starts at ``target.json``'s timestamp re-timed the same way, fed with the row whose
   5-minute period holds it; the incident scored is the one holding it, and it answers its
   ranked root causes, or nothing when it holds no detected alert (the given symptom alone
   is no answer). Detection only: the incident scored is the one holding an alert on the
   target node and metric (PetSite), else any incident holding the target node, else none
   (a miss, counted as "empty"). Top-k is 1 when ``root_cause`` is among the first k ranked
   root causes. ``root_cause`` is read only here, after ranking.

Scenarios without a normal period (``temporal_*``: their ``noissue`` files are missing) are
skipped: their graphs differ from the other scenarios', so no other normal period applies.

Two references are printed beside ours: the authors' baseline (published, all 68 issues,
from the dataset README) and a frequency guesser (root causes ranked by how often they are
the answer in the *other* issues loaded here; leave-one-out).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from correlator.bench.petshop_data import MetricTable, PetShopScenario, load_scenarios
from correlator.bench.petshop_given import GivenRun, symptom_alert, symptom_at
from correlator.bench.petshop_report import (
    AUTHORS_BASELINE,
    IssueResult,
    PetShopReport,
    print_report,
    summary,
)
from correlator.bench.petshop_synthetic import print_by_root, synthetic_scenario
from correlator.config import CorrelateSettings, DetectorChoice, DetectSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import ServiceSpec, TopologyGraph
from correlator.detect.registry import detector_factory_for
from correlator.detect.stage import DetectStage
from correlator.model.alert import Alert, AlertStatus, is_watch
from correlator.model.incident import ChangeKind, Incident
from correlator.model.observation import Observation, Signal
from correlator.rank.ranker import RankWeights
from correlator.rank.stage import RankStage

__all__ = [
    "AUTHORS_BASELINE",
    "PetShopConfig",
    "PetShopReport",
    "add_arguments",
    "default_config",
    "evaluate",
    "main",
    "run",
]

DEFAULT_DATA = Path("../shared/data/petshop")
STEP_S = 300.0
DAY_ROWS = 288  # a day of 5-minute rows


@dataclass(frozen=True)
class PetShopConfig:
    """One configuration for every scenario."""

    detect: DetectSettings
    correlate: CorrelateSettings
    weights: RankWeights = field(default_factory=RankWeights)
    holdout: float = 0.2
    window_rows: int = 5
    tail_samples: bool = False
    #: Feed each row's alerts (and the given symptom) to the correlate stages in reverse
    #: order: the outcome must not change (``--reverse-alerts``, an order-independence check).
    reverse_alerts: bool = False


def default_config() -> PetShopConfig:
    """Detectors and windows for 5-minute data (the engine's defaults assume 10 s windows).

    Two habits keep normal-period noise (mostly Lambda cold starts: p90-p99 latency and
    error ratios far above their medians, every few rows) from opening incidents: a rise
    must go above the series' recent 98th percentile, peaks included (recurring peaks are
    normal; for latency the 99th percentile of the last day, 288 rows, so a peak that comes
    back a few times a day is normal too), and latency and request-rate alerts need two
    anomalous rows in a row (10 minutes, like a rule's ``for:``). Error ratios alert on the
    first row: a failing request is rarer and more telling than a slow one. And an incident
    is published only once two series agree (``open_min_alerts=2``: two statistics of one
    node, or two related nodes), so one lone series opens nothing (strict specificity
    0.804 -> 0.891, recall unchanged; the day-long latency window then 0.891 -> 0.913).
    Last, a p90/p95/p99 latency is read only from a row whose node served enough requests
    for it to be a percentile (``tail_samples``: a p99 of a Lambda invoked 12 times is its
    slowest invocation): strict specificity 0.913 -> 0.935, recall unchanged.

    A reading that scores the clear threshold (0.5) without alerting, too weak for the
    alert bar or not yet persistent, is a watch alert (``watch_threshold``): it joins an
    incident whose cause lies below it and opens none. So PetSite's p95 rising 33-63 % (4-7
    spreads, scores 0.5-0.86) while PetSearch fails below it shows PetSite affected;
    detection-only latency top-1 0.75 / 0.50 -> 1.00, specificity on the target 1.000 ->
    0.978, strict unchanged. 0.3 and 0.7 give the same recall.
    """
    ceiling = 0.98
    detect = DetectSettings(
        detectors={
            "metric": DetectorChoice(kind="default"),
            "latency": DetectorChoice(
                kind="robust",
                params={
                    "window": DAY_ROWS,
                    "min_relative_change": 0.3,
                    "two_sided": False,
                    "ceiling_quantile": 0.99,
                    "persistence": 2,
                },
            ),
            # availability as an error ratio: 0 most of the time, so the floor sets the scale
            # (score 0.9 at about 1.5 % errors)
            "error": DetectorChoice(
                kind="robust",
                params={"floor": 0.002, "two_sided": False, "ceiling_quantile": ceiling},
            ),
            "rate": DetectorChoice(
                kind="robust",
                params={
                    "min_relative_change": 0.5,
                    "z_start": 6.0,
                    "ceiling_quantile": ceiling,
                    "persistence": 2,
                },
            ),
            "log": DetectorChoice(kind="robust", params={"floor": 0.1, "two_sided": False}),
        },
        window_s=STEP_S,
        watch_threshold=0.5,
    )
    correlate = CorrelateSettings(
        window_s=1800.0,
        max_hops=3,
        direction_aware=True,
        resolve_after_s=1800.0,
        reopen_grace_s=3600.0,
        topology_dir=None,
        learn_topology=False,
        fingerprint_labels=["service", "entity", "signal", "series"],
        # flapping over hours of 5-minute rows, not minutes of 10-second windows
        flap_window_s=6 * 3600.0,
        # corroboration: an incident is published once two series agree (a lone series is
        # mostly a Lambda cold start, a real fault moves several statistics or services)
        open_min_alerts=2,
    )
    weights = RankWeights(sample_prior=correlate.sample_prior)
    return PetShopConfig(detect=detect, correlate=correlate, weights=weights, tail_samples=True)


def with_sample_prior(config: PetShopConfig, prior: float) -> PetShopConfig:
    """``config`` with ``prior`` as the requests at which a reading counts half, everywhere."""
    return dataclasses.replace(
        config,
        correlate=config.correlate.model_copy(update={"sample_prior": prior}),
        weights=dataclasses.replace(config.weights, sample_prior=prior),
    )


# ---------------------------------------------------------------- observations


def _signal(metric: str, statistic: str) -> Signal:
    if metric == "latency":
        return Signal.LATENCY_P50 if statistic in ("Average", "p50") else Signal.LATENCY_P99
    if metric == "availability":
        return Signal.ERROR_RATIO
    if metric == "requests":
        return Signal.REQUEST_RATE
    return Signal.METRIC


def _value(metric: str, raw: float) -> float:
    if metric == "availability":
        return 1.0 - raw / 100.0  # availability % → error ratio, so a drop is a rise
    if metric == "requests":
        return raw / STEP_S  # sum over 5 minutes → per second
    return raw


#: Requests a tail percentile needs before it says more than the slowest request: a p99
#: over fewer than 100 requests is their maximum (1 / (1 - q) samples for quantile q).
TAIL_SAMPLES = {"p90": 10.0, "p95": 20.0, "p99": 100.0}


def _measured(node: str, metric: str, stat: str, requests: dict[str, float | None]) -> bool:
    """False for a tail latency percentile over fewer ``requests`` than it needs."""
    need = TAIL_SAMPLES.get(stat) if metric == "latency" else None
    count = requests.get(node)
    return need is None or count is None or count >= need


def _samples(node: str, metric: str, requests: dict[str, float | None]) -> int:
    """The node's requests in the row behind a latency or availability value (0: unknown)."""
    count = requests.get(node) if metric in ("latency", "availability") else None
    return int(count) if count is not None else 0


def rows_of(
    table: MetricTable, times: Sequence[float], *, tail_samples: bool = False
) -> list[tuple[float, list[Observation]]]:
    """One batch of observations per row, stamped with ``times``.

    A latency or availability value carries the node's requests of that row as its
    ``samples``. With ``tail_samples``, a node's p90/p95/p99 latency is left out of a row in
    which the node served fewer requests than the percentile needs (:data:`TAIL_SAMPLES`).
    """
    out: list[tuple[float, list[Observation]]] = []
    for ts, row in zip(times, table.values, strict=True):
        requests = {
            node: value
            for (node, metric, stat), value in zip(table.columns, row, strict=True)
            if metric == "requests" and stat == "Sum"
        }
        batch = [
            Observation(
                series=f"{node}|{metric}|{stat}",
                entity=node,
                signal=_signal(metric, stat),
                value=_value(metric, value),
                ts=ts,
                window_s=STEP_S,
                detail=f"{metric} {stat}",
                samples=_samples(node, metric, requests),
            )
            for (node, metric, stat), value in zip(table.columns, row, strict=True)
            if value is not None and (not tail_samples or _measured(node, metric, stat, requests))
        ]
        out.append((ts, batch))
    return out


def topology_of(scenario: PetShopScenario) -> TopologyGraph:
    graph = TopologyGraph()
    callees: dict[str, list[str]] = {n: [] for n in sorted(scenario.nodes)}
    for caller, callee in scenario.edges:
        callees[caller].append(callee)
    for name, calls in callees.items():
        graph.declare(ServiceSpec(name=name, depends_on=calls))
    return graph


# ---------------------------------------------------------------- replay


@dataclass
class Replay:
    """detect → correlate → rank over rows of observations, as the engine wires them."""

    config: PetShopConfig
    topology: TopologyGraph
    detect: DetectStage
    correlate: CorrelateStage = field(init=False)
    rank: RankStage = field(init=False)
    alerts_in: int = 0  # the detector's alerts, watch alerts left out
    watch_in: int = 0  # watch alerts (see DetectSettings.watch_threshold)
    opened: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.correlate = CorrelateStage(self.config.correlate, self.topology)
        self.rank = RankStage(self.topology, self.config.weights)

    @classmethod
    def fresh(cls, config: PetShopConfig, topology: TopologyGraph) -> Replay:
        labels = config.correlate.fingerprint_labels
        detect = DetectStage(config.detect, detector_factory_for(config.detect), labels)
        return cls(config, topology, detect)

    def fork(self) -> Replay:
        """Same learned detectors, a fresh correlate stage and counters."""
        return Replay(self.config, self.topology, copy.deepcopy(self.detect))

    def feed(
        self,
        rows: Sequence[tuple[float, list[Observation]]],
        taps: Sequence[GivenRun] = (),
    ) -> list[Incident]:
        """Run the rows; return the incidents opened or grown (not just resolved) by them.

        Each of ``taps`` gets every row's detected alerts too (the symptom-given runs).
        """
        active: dict[str, Incident] = {}
        for ts, batch in rows:
            alerts = self.detect.process(batch).alerts
            watches = sum(is_watch(a) for a in alerts)
            self.alerts_in += len(alerts) - watches
            self.watch_in += watches
            for tap in taps:
                tap.feed_row(ts, alerts)
            fed = alerts[::-1] if self.config.reverse_alerts else alerts
            pending = self.rank.process(
                self.correlate.process(fed, datetime.fromtimestamp(ts, UTC))
            )
            for change in pending:
                if change.change is ChangeKind.OPENED:
                    self.opened.append(change.incident.incident_id)
                if _grew(change.incident, ts):
                    active[change.incident.incident_id] = change.incident
        return list(active.values())


def _grew(incident: Incident, ts: float) -> bool:
    """The incident got a firing alert (new or re-fired) at ``ts``.

    Resolves do not count, nor re-fires of an alert the engine marked flapping (a flapping
    alert opens no incident; its re-fires only update it).
    """
    return any(
        a.status is AlertStatus.FIRING
        and a.last_seen_at.timestamp() >= ts
        and a.labels.get("flapping") != "true"
        for a in incident.alerts
    )


def scored_incident(incidents: Sequence[Incident], node: str, metric: str) -> Incident | None:
    """The incident the benchmark scores: the one holding the target symptom."""
    ordered = sorted(incidents, key=lambda i: i.opened_at)
    exact = [
        i for i in ordered if any(a.entity == node and f"|{metric}|" in a.series for a in i.alerts)
    ]
    loose = [i for i in ordered if node in i.services]
    found = exact or loose
    return found[0] if found else None


# ---------------------------------------------------------------- evaluation


def evaluate_scenario(
    scenario: PetShopScenario, config: PetShopConfig, report: PetShopReport
) -> None:
    if scenario.normal is None:
        report.skipped.append(
            f"{scenario.name}: no noissue/metrics.csv ({len(scenario.issues)} issues)"
        )
        return
    topology = topology_of(scenario)
    normal = scenario.normal
    gate = config.tail_samples
    split = int(len(normal.timestamps) * (1.0 - config.holdout))
    base = Replay.fresh(config, topology)
    base.feed(rows_of(normal.head(split), normal.timestamps[:split], tail_samples=gate))
    report.normal_alerts += base.alerts_in
    report.watch_alerts += base.watch_in
    report.normal_incidents += len(base.opened)

    tail = normal.tail(split)
    held = base.fork()
    rows = rows_of(tail, tail.timestamps, tail_samples=gate)
    step = config.window_rows
    targets = sorted(
        {(i.target_node, i.target_metric, i.target_statistic) for i in scenario.issues}
    )
    for start in range(0, len(rows) - step + 1, step):
        symptom_runs = [
            _given_run(config, topology, symptom_alert(*target, rows[start][0]), 0)
            for target in targets
        ]
        touched = held.feed(rows[start : start + step], symptom_runs)
        report.windows += 1
        report.quiet_windows += not touched
        for (node, metric, _), given in zip(targets, symptom_runs, strict=True):
            report.target_windows += 1
            report.target_quiet_windows += scored_incident(touched, node, metric) is None
            report.given.runs += 1
            report.given.quiet_runs += not given.detected()
    report.normal_alerts += held.alerts_in
    report.watch_alerts += held.watch_in
    report.normal_incidents += len(held.opened)

    last = normal.timestamps[split - 1]
    for issue in scenario.issues:
        run = base.fork()
        times = [last + STEP_S * (k + 1) for k in range(len(issue.metrics.timestamps))]
        row, at = symptom_at(issue, times, STEP_S)
        symptom = symptom_alert(issue.target_node, issue.target_metric, issue.target_statistic, at)
        given = _given_run(config, topology, symptom, row)
        run.feed(rows_of(issue.metrics, times, tail_samples=gate), [given])
        incidents = [run.correlate.incidents[i] for i in run.opened]
        chosen = scored_incident(incidents, issue.target_node, issue.target_metric)
        ranked = [c.entity for c in chosen.root_causes] if chosen else []
        report.issues.append(IssueResult(issue, ranked, run.alerts_in, len(run.opened)))
        report.watch_alerts += run.watch_in
        report.given.issues.append(
            IssueResult(
                issue, given.answer(), run.alerts_in, given.opened, given.first_by_symptom_only
            )
        )


def _given_run(
    config: PetShopConfig, topology: TopologyGraph, symptom: Alert, row: int
) -> GivenRun:
    return GivenRun(
        config.correlate, topology, config.weights, symptom, row, reverse=config.reverse_alerts
    )


def evaluate(scenarios: Sequence[PetShopScenario], config: PetShopConfig) -> PetShopReport:
    report = PetShopReport()
    for scenario in scenarios:
        evaluate_scenario(scenario, config, report)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="PetShop folder")
    parser.add_argument("--json", action="store_true", help="end with one JSON summary line")
    parser.add_argument("--verbose", action="store_true", help="one line per issue")
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="replace the issues with synthetic faults at each of the five components the"
        " dataset blames, injected into held-out normal rows (see petshop_synthetic)",
    )
    parser.add_argument(
        "--sample-prior",
        type=float,
        default=None,
        help="requests at which a reading counts half in ranking and SLO re-homing"
        " (default: the engine's, 100; 0 counts every reading in full)",
    )
    parser.add_argument(
        "--watch-threshold",
        type=float,
        default=None,
        help="score from which a reading that does not alert is a watch alert (default 0.5,"
        " the clear threshold; 0.9, the alert threshold, leaves only readings persistence"
        " holds back)",
    )
    parser.add_argument(
        "--reverse-alerts",
        action="store_true",
        help="feed each row's alerts in reverse order (the results must not change)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    config = dataclasses.replace(default_config(), reverse_alerts=args.reverse_alerts)
    if args.sample_prior is not None:
        config = with_sample_prior(config, args.sample_prior)
    if args.watch_threshold is not None:
        watch = config.detect.model_copy(update={"watch_threshold": args.watch_threshold})
        config = dataclasses.replace(config, detect=watch)
    scenarios = load_scenarios(args.data)
    if args.synthetic:
        made = [synthetic_scenario(s, config.holdout) for s in scenarios]
        scenarios = [s for s in made if s is not None]
    report = evaluate(scenarios, config)
    print_report(report, stream, args.json and not args.synthetic, args.verbose)
    if args.synthetic:
        print_by_root(report, stream)
        if args.json:
            print(json.dumps(summary(report)), file=stream)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="correlator bench petshop", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
