"""Read the NAB corpus: series, label windows, cost profiles and stored thresholds.

The folder layout is NAB v1.1's (see ``SCORING.md`` in the data folder)::

    data/<category>/<name>.csv            timestamp,value
    labels/combined_windows.json          {"<category>/<name>.csv": [[start, end], ...]}
    config/profiles.json                  {"standard": {"CostMatrix": {...}}, ...}
    config/thresholds.json                {"<detector>": {"<profile>": {"threshold": t}}}

A file is named by its key ``"<category>/<name>.csv"`` everywhere in this package.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from correlator.errors import ConfigError

__all__ = [
    "NabSeries",
    "Profile",
    "load_profiles",
    "load_series",
    "load_stored_thresholds",
    "load_windows",
    "probationary_rows",
    "read_detector_outputs",
    "read_score_column",
    "result_path",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile (``A_TP``, ``A_FP``, ``A_FN``)."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class NabSeries:
    """One corpus file: its key, timestamps (``datetime64[us]``) and values."""

    key: str
    timestamps: npt.NDArray[np.datetime64]
    timestamp_text: list[str]
    values: FloatArray

    @property
    def category(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]


def probationary_rows(n_rows: int) -> int:
    """Rows NAB drops before scoring: ``min(floor(0.15 n), 750)``.

    >>> probationary_rows(4032), probationary_rows(1000)
    (604, 150)
    >>> probationary_rows(22695)
    750
    """
    return min(int(0.15 * n_rows), int(0.15 * 5000))


def load_windows(root: Path) -> dict[str, list[tuple[np.datetime64, np.datetime64]]]:
    """Label windows per file key, with both ends parsed to ``datetime64[us]``."""
    raw = _read_json(root / "labels" / "combined_windows.json")
    windows: dict[str, list[tuple[np.datetime64, np.datetime64]]] = {}
    for key, pairs in raw.items():
        windows[key] = [(_parse_ts(start), _parse_ts(end)) for start, end in pairs]
    return windows


def load_profiles(root: Path) -> list[Profile]:
    """The cost profiles of ``config/profiles.json``, in file order."""
    raw = _read_json(root / "config" / "profiles.json")
    profiles = []
    for name, spec in raw.items():
        cost = spec["CostMatrix"]
        profiles.append(
            Profile(name, float(cost["tpWeight"]), float(cost["fpWeight"]), float(cost["fnWeight"]))
        )
    return profiles


def load_stored_thresholds(root: Path, detector: str) -> dict[str, float]:
    """The published threshold of ``detector`` for each profile (``config/thresholds.json``)."""
    raw = _read_json(root / "config" / "thresholds.json")
    if detector not in raw:
        raise ConfigError(f"{root / 'config' / 'thresholds.json'}: no entry for {detector!r}")
    return {profile: float(entry["threshold"]) for profile, entry in raw[detector].items()}


def load_series(root: Path, keys: list[str] | None = None) -> list[NabSeries]:
    """Read the data files (all keys of the window file unless ``keys`` is given)."""
    if keys is None:
        keys = sorted(_read_json(root / "labels" / "combined_windows.json"))
    return [_read_series(root / "data", key) for key in keys]


def result_path(out_dir: Path, detector: str, key: str) -> Path:
    """Where NAB keeps ``detector``'s result file for corpus file ``key``.

    >>> result_path(Path("r"), "numenta", "realKnownCause/nyc_taxi.csv").as_posix()
    'r/numenta/realKnownCause/numenta_nyc_taxi.csv'
    """
    category, name = key.split("/", 1)
    return out_dir / detector / category / f"{detector}_{name}"


def read_score_column(path: Path, column: str = "anomaly_score") -> FloatArray:
    """Read one numeric column of a result CSV, by header name."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if column not in header:
            raise ConfigError(f"{path}: no column {column!r} (header: {header})")
        index = header.index(column)
        return np.array([float(row[index]) for row in reader], dtype=np.float64)


def read_detector_outputs(
    results_dir: Path, detector: str, keys: list[str]
) -> Mapping[str, FloatArray]:
    """The ``anomaly_score`` column of every result file of ``detector``."""
    return {key: read_score_column(result_path(results_dir, detector, key)) for key in keys}


def _read_series(data_dir: Path, key: str) -> NabSeries:
    path = data_dir / key
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if header[:2] != ["timestamp", "value"]:
            raise ConfigError(f"{path}: expected header timestamp,value, got {header}")
        rows = list(reader)
    text = [row[0] for row in rows]
    values = np.array([float(row[1]) for row in rows], dtype=np.float64)
    stamps = np.array(text, dtype="datetime64[us]")
    return NabSeries(key, stamps, text, values)


def _parse_ts(text: str) -> np.datetime64:
    return np.datetime64(text, "us")


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: not found; is this a NAB v1.1 folder?")
    with path.open() as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data
