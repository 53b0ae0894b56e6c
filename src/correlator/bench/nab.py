"""``correlator bench nab``: run a detector over the NAB corpus and score it as NAB does.

Each of the 58 files is replayed row by row through a fresh detector (score, then learn),
one file per task; the per-row scores are written in NAB's result layout
(``OUT/<detector>/<category>/<detector>_<file>.csv`` with ``timestamp,value,anomaly_score``),
read back and scored with :mod:`correlator.bench.nab_score` for the three profiles, with
one corpus-wide threshold per profile. Labels are read only by the scorer, after detection.

Throughput is rows divided by the process CPU time (``time.process_time``) spent inside
the score/learn loops, summed over the worker processes: observations per CPU-second, what
one core sustains, unaffected by other load on the machine (wall time is printed beside
it). The JSON key stays ``observations_per_s``. Bytes per series is the size of
``pickle.dumps(detector)`` after a whole file, the detector's checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import pickle
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from correlator.bench.nab_data import (
    FloatArray,
    NabSeries,
    load_series,
    read_detector_outputs,
    result_path,
)
from correlator.bench.nab_score import NabScorer
from correlator.config import DetectSettings
from correlator.detect.registry import build_detector
from correlator.errors import ConfigError

__all__ = ["NabRun", "add_arguments", "main", "run", "run_detector"]

log = logging.getLogger(__name__)

DEFAULT_DATA = Path("../shared/data/nab")
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
#: Published scoreboard rows printed beside ours (NAB ``results/final_results.json``).
REFERENCES = ("ARTime", "numenta", "contextOSE", "windowedGaussian")


@dataclass(frozen=True)
class _FileRun:
    key: str
    scores: FloatArray
    seconds: float
    state_bytes: int


@dataclass(frozen=True)
class NabRun:
    """Detector outputs for the whole corpus and what they cost."""

    scores: dict[str, FloatArray]
    observations: int
    seconds: float  # process CPU time inside score/learn loops, summed over processes
    bytes_per_series: float
    max_bytes_per_series: int

    @property
    def observations_per_s(self) -> float:
        """Observations per CPU-second of the score/learn loops."""
        return self.observations / self.seconds if self.seconds > 0 else float("inf")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``correlator bench nab``."""
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="NAB v1.1 folder (data/, labels/, config/)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for NAB result files")
    parser.add_argument(
        "--detector",
        default=None,
        help="registered detector kind (default: the engine's choice for metric series, "
        "detect.detectors.metric)",
    )
    parser.add_argument(
        "--params", default="{}", help="detector params as a JSON object (one for all files)"
    )
    parser.add_argument("--name", default="correlator", help="detector name in result paths")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")


def run(args: argparse.Namespace) -> int:
    """Run, write, score and print; returns the process exit code."""
    params = json.loads(args.params)
    if not isinstance(params, dict):
        raise ConfigError("--params must be a JSON object")
    if args.detector is None:
        engine_choice = DetectSettings().detectors["metric"]
        args.detector = engine_choice.kind
        params = {**engine_choice.params, **params}
    data: Path = args.data
    if not (data / "labels" / "combined_windows.json").is_file():
        print(f"NAB data not found at {data} (expected labels/combined_windows.json)")
        return 2
    scorer = NabScorer.from_root(data)
    series = load_series(data, scorer.keys)
    started = time.perf_counter()
    nab_run = run_detector(series, args.detector, params, processes=args.processes)
    wall = time.perf_counter() - started
    write_results(args.out, args.name, series, nab_run.scores)
    written = read_detector_outputs(args.out, args.name, scorer.keys)
    result = scorer.evaluate(written)
    summary: dict[str, Any] = {
        profile: round(result[profile].normalized, 2) for profile in PROFILES
    }
    summary["observations_per_s"] = round(nab_run.observations_per_s)
    summary["bytes_per_series"] = round(nab_run.bytes_per_series)
    _print_report(sys.stdout, args, params, result, nab_run, wall, _references(data))
    if args.json:
        print(json.dumps(summary))
    return 0


def run_detector(
    series: Sequence[NabSeries], kind: str, params: dict[str, Any], processes: int = 2
) -> NabRun:
    """Replay every series through a fresh detector of ``kind``; one file per task."""
    build_detector(kind, params)  # bad config fails here, not in a worker
    tasks = [(kind, params, one.key, one.values, _unix_seconds(one)) for one in series]
    if processes <= 1:
        runs = [_run_file(task) for task in tasks]
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            runs = list(pool.map(_run_file, tasks))
    sizes = [r.state_bytes for r in runs]
    return NabRun(
        scores={r.key: r.scores for r in runs},
        observations=sum(len(r.scores) for r in runs),
        seconds=sum(r.seconds for r in runs),
        bytes_per_series=float(np.mean(sizes)),
        max_bytes_per_series=max(sizes),
    )


def write_results(
    out: Path, name: str, series: Sequence[NabSeries], scores: dict[str, FloatArray]
) -> None:
    """Write NAB result files: ``timestamp,value,anomaly_score`` per input row."""
    for one in series:
        path = result_path(out, name, one.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["timestamp", "value", "anomaly_score"])
            for stamp, value, score in zip(
                one.timestamp_text, one.values.tolist(), scores[one.key].tolist(), strict=True
            ):
                writer.writerow([stamp, repr(value), repr(score)])


def _run_file(task: tuple[str, dict[str, Any], str, FloatArray, list[float]]) -> _FileRun:
    kind, params, key, values, stamps = task
    detector = build_detector(kind, params)
    score_one, learn_one = detector.score_one, detector.learn_one
    out = []
    started = time.process_time()  # this worker's CPU time, not the wall clock
    for value, ts in zip(values.tolist(), stamps, strict=True):
        out.append(score_one(value, ts))
        learn_one(value, ts)
    seconds = time.process_time() - started
    state = pickle.dumps(detector, protocol=pickle.HIGHEST_PROTOCOL)
    return _FileRun(key, np.array(out, dtype=np.float64), seconds, len(state))


def _unix_seconds(one: NabSeries) -> list[float]:
    seconds = one.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6
    return [float(s) for s in seconds]


def _references(data: Path) -> dict[str, dict[str, float]]:
    path = data / "reference_results" / "final_results.json"
    if not path.is_file():
        return {}
    with path.open() as handle:
        published = json.load(handle)
    return {name: published[name] for name in REFERENCES if name in published}


def _print_report(
    stream: TextIO,
    args: argparse.Namespace,
    params: dict[str, Any],
    result: dict[str, Any],
    nab_run: NabRun,
    wall: float,
    references: dict[str, dict[str, float]],
) -> None:
    write = stream.write
    write(f"NAB v1.1, detector kind {args.detector!r} params {json.dumps(params)}\n")
    write(f"results written to {args.out / args.name}\n")
    write(f"{'detector':<30}" + "".join(f"{p:>22}" for p in PROFILES) + "\n")
    row = "".join(
        f"{result[p].normalized:>12.2f} (t={result[p].threshold:.4g})".rjust(22) for p in PROFILES
    )
    write(f"{args.name + ' (this run)':<30}{row}\n")
    for name, scores in references.items():
        cells = "".join(f"{scores.get(p, float('nan')):>22.2f}" for p in PROFILES)
        write(f"{name + ' (published)':<30}{cells}\n")
    write(
        f"observations: {nab_run.observations}, {nab_run.observations_per_s:,.0f} obs per "
        f"CPU-second (score+learn loops, {nab_run.seconds:.2f} s process CPU time summed over "
        f"workers), wall {wall:.2f} s with {args.processes} processes\n"
    )
    write(
        f"bytes per series (pickled detector after a full file): mean "
        f"{nab_run.bytes_per_series:,.0f}, max {nab_run.max_bytes_per_series:,}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m correlator.bench.nab`` entry point."""
    parser = argparse.ArgumentParser(prog="correlator bench nab", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
