"""Loghub-2k benchmark for the log template miner.

Streams the ``Content`` field of every system's ``<Sys>_2k.log_structured_corrected.csv``
through the engine's :class:`~correlator.normalize.log_templates.LogTemplateMiner`, with the
engine's one configuration, in file order, and scores the result against the corrected
ground truth (Khan et al., ICSE'22) with :mod:`correlator.bench.log_accuracy`. The labels are
read only for scoring, after every line has been mined.

Each line is scored with the final template of the cluster it joined, as logparser and
Loghub-2.0 score Drain. Ground-truth groups are the distinct corrected templates.

Run: ``python -m correlator.bench.loghub --data ../shared/data/loghub2k [--json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

from correlator.bench.log_accuracy import grouping_accuracy, parsing_accuracy
from correlator.normalize.log_templates import LogTemplateConfig, LogTemplateMiner

__all__ = [
    "PUBLISHED_GA",
    "LoghubSystem",
    "SystemScore",
    "add_arguments",
    "find_systems",
    "load_system",
    "main",
    "run",
    "score_system",
]

# Published GA on the original Loghub-2k labels (logparser READMEs; REFERENCE.md section 4a):
# system -> (Drain, Brain). Drain was tuned per system there.
PUBLISHED_GA: Final[dict[str, tuple[float, float]]] = {
    "HDFS": (0.9975, 0.9975),
    "Hadoop": (0.9475, 0.949),
    "Spark": (0.92, 0.9975),
    "Zookeeper": (0.9665, 0.9875),
    "BGL": (0.9625, 0.986),
    "HPC": (0.887, 0.945),
    "Thunderbird": (0.955, 0.971),
    "Windows": (0.997, 0.997),
    "Linux": (0.69, 0.996),
    "Android": (0.911, 0.9605),
    "HealthApp": (0.78, 1.0),
    "Apache": (1.0, 1.0),
    "Proxifier": (0.5265, 1.0),
    "OpenSSH": (0.7875, 1.0),
    "OpenStack": (0.7325, 1.0),
    "Mac": (0.7865, 0.942),
}
PUBLISHED_MEAN_GA: Final = {"Drain": 0.865, "Brain": 0.983}
CORRECTED_SUFFIX: Final = "_2k.log_structured_corrected.csv"
ORIGINAL_SUFFIX: Final = "_2k.log_structured.csv"


@dataclass(frozen=True, slots=True)
class LoghubSystem:
    """One system's 2k sample: message bodies and both ground truths, in file order."""

    name: str
    contents: tuple[str, ...]
    templates: tuple[str, ...]
    original_templates: tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class SystemScore:
    """Accuracy and speed of the miner on one system."""

    name: str
    ga: float
    pa: float
    ga_original: float | None
    lines: int
    seconds: float
    templates_found: int
    templates_true: int


def find_systems(data: Path) -> list[Path]:
    """System folders under ``data`` that hold a corrected structured CSV, sorted by name."""
    return sorted(
        folder
        for folder in data.iterdir()
        if folder.is_dir() and (folder / f"{folder.name}{CORRECTED_SUFFIX}").is_file()
    )


def load_system(folder: Path) -> LoghubSystem:
    """Read a system folder's corrected (and, if present, original) structured CSV."""
    rows = _read_rows(folder / f"{folder.name}{CORRECTED_SUFFIX}")
    original_path = folder / f"{folder.name}{ORIGINAL_SUFFIX}"
    original = _read_rows(original_path) if original_path.is_file() else None
    if original is not None and [r["Content"] for r in original] != [r["Content"] for r in rows]:
        original = None  # not the same lines: cannot score against it
    return LoghubSystem(
        name=folder.name,
        contents=tuple(r["Content"] for r in rows),
        templates=tuple(r["EventTemplate"] for r in rows),
        original_templates=None if original is None else tuple(r["EventId"] for r in original),
    )


def score_system(system: LoghubSystem, config: LogTemplateConfig | None = None) -> SystemScore:
    """Mine a system's lines with a fresh miner, then score them."""
    miner = LogTemplateMiner(config)
    started = time.perf_counter()
    ids = [miner.add(content).template_id for content in system.contents]
    seconds = time.perf_counter() - started
    final = miner.templates()
    predicted_templates = [final.get(template_id, "") for template_id in ids]
    original = system.original_templates
    return SystemScore(
        name=system.name,
        ga=grouping_accuracy(system.templates, ids),
        pa=parsing_accuracy(system.templates, predicted_templates),
        ga_original=None if original is None else grouping_accuracy(original, ids),
        lines=len(ids),
        seconds=seconds,
        templates_found=len(set(ids)),
        templates_true=len({t for t in system.templates if t.strip()}),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``correlator bench loghub``."""
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder holding the Loghub-2k system folders (e.g. ../shared/data/loghub2k)",
    )
    parser.add_argument(
        "--json", action="store_true", help="end the output with one JSON line of the scores"
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Score every system under ``args.data``; print a table (and JSON with ``--json``)."""
    stream = out or sys.stdout
    data: Path = args.data
    if not data.is_dir():
        print(f"no Loghub data at {data}: pass --data <folder of system folders>", file=stream)
        return 2
    folders = find_systems(data)
    if not folders:
        print(f"no <Sys>/<Sys>{CORRECTED_SUFFIX} files under {data}", file=stream)
        return 2
    scores = [score_system(load_system(folder)) for folder in folders]
    _print_report(scores, stream, data)
    if args.json:
        print(json.dumps(_summary(scores)), file=stream)
    return 0


def _summary(scores: Sequence[SystemScore]) -> dict[str, object]:
    return {
        "systems": {s.name: {"GA": round(s.ga, 4), "PA": round(s.pa, 4)} for s in scores},
        "mean_GA": round(_mean([s.ga for s in scores]), 4),
        "mean_PA": round(_mean([s.pa for s in scores]), 4),
    }


def _print_report(scores: Sequence[SystemScore], out: TextIO, data: Path) -> None:
    def line(text: str = "") -> None:
        print(text, file=out)

    line(f"$ python -m correlator.bench.loghub --data {data}")
    line(f"config: {LogTemplateConfig().model_dump_json(exclude={'masks'})}")
    line(f"masks: {', '.join(m.name for m in LogTemplateConfig().masks)}")
    line("scored against the corrected templates (Khan et al. ICSE'22); GA_orig uses the")
    line("original ICSE'19 labels, which is what the published Drain/Brain GA columns use")
    line()
    header = (
        f"{'system':<12}{'GA':>8}{'PA':>8}{'GA_orig':>9}{'Drain':>8}{'Brain':>8}"
        f"{'found':>7}{'true':>6}{'lines/s':>10}"
    )
    line(header)
    for s in scores:
        drain, brain = PUBLISHED_GA.get(s.name, (float("nan"), float("nan")))
        orig = "-" if s.ga_original is None else f"{s.ga_original:.4f}"
        line(
            f"{s.name:<12}{s.ga:>8.4f}{s.pa:>8.4f}{orig:>9}{drain:>8.4f}{brain:>8.4f}"
            f"{s.templates_found:>7}{s.templates_true:>6}{s.lines / max(s.seconds, 1e-9):>10.0f}"
        )
    known = [s for s in scores if s.name in PUBLISHED_GA]
    originals = [s.ga_original for s in scores if s.ga_original is not None]
    line()
    line(
        f"mean GA  {_mean([s.ga for s in scores]):.4f}   ({len(scores)} systems, corrected labels)"
    )
    line(f"mean PA  {_mean([s.pa for s in scores]):.4f}")
    if len(originals) == len(scores):
        line(f"mean GA on original labels {_mean(originals):.4f}")
    line(
        f"published mean GA over these {len(known)} systems: "
        f"Drain {_mean([PUBLISHED_GA[s.name][0] for s in known]):.4f}, "
        f"Brain {_mean([PUBLISHED_GA[s.name][1] for s in known]):.4f}"
    )
    line(
        f"published mean GA over all 16 systems: Drain {PUBLISHED_MEAN_GA['Drain']}, "
        f"Brain {PUBLISHED_MEAN_GA['Brain']} (original labels, per-system tuning)"
    )
    total_lines = sum(s.lines for s in scores)
    total_seconds = sum(s.seconds for s in scores)
    line(f"throughput {total_lines / max(total_seconds, 1e-9):,.0f} lines/s ({total_lines} lines)")


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m correlator.bench.loghub``."""
    parser = argparse.ArgumentParser(prog="python -m correlator.bench.loghub", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
