"""NAB scoring, re-implemented from the rules in the data folder's ``SCORING.md``.

A detection is a row whose ``anomaly_score >= threshold``, outside the probationary period.
Each label window adds one term: ``-A_FN`` if it holds no detection, else
``A_TP * sigma(y) / sigma(-1)`` of its earliest detection, with ``y = -(R - i + 1) / w``.
Each detection outside every window adds ``A_FP * sigma((i - R_prev) / (w_prev - 1))``
when a window ended earlier in the same file, else ``-A_FP``. One threshold per profile is
chosen for the whole corpus by a descending sweep over the distinct scores, and the raw
score is normalised between the null detector (0) and the perfect detector (100).

Everything that does not depend on the scores (window membership, the sigmoid weight of
every row) is computed once per corpus, so scoring a detector is a few numpy passes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from correlator.bench.nab_data import (
    FloatArray,
    NabSeries,
    Profile,
    load_profiles,
    load_series,
    load_windows,
    probationary_rows,
)
from correlator.errors import ConfigError

__all__ = ["NO_DETECTION_THRESHOLD", "NabScorer", "ProfileScore", "scaled_sigmoid"]

NO_DETECTION_THRESHOLD = 1.1
"""The candidate threshold that means "no detections at all"."""

IntArray = npt.NDArray[np.int64]


def scaled_sigmoid(y: FloatArray) -> FloatArray:
    """NAB's scaled sigmoid: ``2 / (1 + exp(5 y)) - 1``, and ``-1`` once ``y > 3``.

    >>> [round(float(v), 5) for v in scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.5]))]
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, value)


_SIGMA_AT_MINUS_ONE = float(scaled_sigmoid(np.array([-1.0]))[0])


@dataclass(frozen=True)
class ProfileScore:
    """The result of one profile: threshold, raw corpus score and normalised score."""

    profile: str
    threshold: float
    raw: float
    normalized: float


@dataclass(frozen=True)
class _FileLayout:
    key: str
    n_rows: int
    probation: int
    offset: int  # first scorable row of this file in the corpus-wide arrays
    first_window: int
    n_windows: int

    @property
    def end(self) -> int:
        return self.offset + self.n_rows - self.probation


class NabScorer:
    """Scores per-row anomaly scores of the whole corpus against the label windows.

    Build it once (``NabScorer.from_root(path)``) and score any number of detectors.
    """

    def __init__(
        self,
        series: Sequence[NabSeries],
        windows: Mapping[str, Sequence[tuple[np.datetime64, np.datetime64]]],
        profiles: Sequence[Profile],
    ) -> None:
        self.profiles = {profile.name: profile for profile in profiles}
        self._layouts: list[_FileLayout] = []
        window_ids: list[IntArray] = []
        tp_units: list[FloatArray] = []
        fp_units: list[FloatArray] = []
        n_windows = 0
        offset = 0
        for one in series:
            bounds = _window_rows(one, windows.get(one.key, ()))
            probation = probationary_rows(len(one.values))
            wid, tp_unit, fp_unit = _row_weights(len(one.values), bounds, n_windows)
            window_ids.append(wid[probation:])
            tp_units.append(tp_unit[probation:])
            fp_units.append(fp_unit[probation:])
            layout = _FileLayout(
                one.key, len(one.values), probation, offset, n_windows, len(bounds)
            )
            self._layouts.append(layout)
            offset += len(one.values) - probation
            n_windows += len(bounds)
        self.n_windows = n_windows
        self._window_id = np.concatenate(window_ids)
        self._tp_unit = np.concatenate(tp_units)
        self._fp_unit = np.concatenate(fp_units)
        self._in_window = self._window_id >= 0

    @classmethod
    def from_root(cls, root: Path) -> NabScorer:
        """Load series, windows and profiles from a NAB data folder."""
        windows = load_windows(root)
        return cls(load_series(root, sorted(windows)), windows, load_profiles(root))

    @property
    def keys(self) -> list[str]:
        """The corpus file keys, in scoring order."""
        return [layout.key for layout in self._layouts]

    def raw_score(self, scores: Mapping[str, FloatArray], profile: str, threshold: float) -> float:
        """The raw corpus score ``S(threshold)`` of one profile."""
        return float(sum(self.file_scores(scores, profile, threshold).values()))

    def file_scores(
        self, scores: Mapping[str, FloatArray], profile: str, threshold: float
    ) -> dict[str, float]:
        """The raw score of every file at ``threshold`` (they sum to ``raw_score``)."""
        weights = self.profiles[profile]
        flat = self._flatten(scores)
        detected = flat >= threshold
        fp_value = np.where(detected & ~self._in_window, weights.fp * self._fp_unit, 0.0)
        best = np.full(self.n_windows, -np.inf)
        hit = detected & self._in_window
        np.maximum.at(best, self._window_id[hit], weights.tp * self._tp_unit[hit])
        window_value = np.where(np.isfinite(best), best, -weights.fn)
        result: dict[str, float] = {}
        for layout in self._layouts:
            last_window = layout.first_window + layout.n_windows
            result[layout.key] = float(
                fp_value[layout.offset : layout.end].sum()
                + window_value[layout.first_window : last_window].sum()
            )
        return result

    def optimize(self, scores: Mapping[str, FloatArray], profile: str) -> tuple[float, float]:
        """The best corpus-wide threshold and its raw score, by one descending sweep.

        Candidates are ``1.1`` (no detections) and every distinct scorable score; ties keep
        the highest threshold, as NAB does.
        """
        weights = self.profiles[profile]
        flat = self._flatten(scores)
        order = np.argsort(-flat, kind="stable")
        sorted_scores = flat[order]
        delta = np.where(self._in_window[order], 0.0, weights.fp * self._fp_unit[order])
        delta += self._window_gains(order, weights)
        base = -weights.fn * self.n_windows
        running = base + np.cumsum(delta)
        group_end = np.flatnonzero(np.append(sorted_scores[1:] != sorted_scores[:-1], True))
        candidates = np.concatenate(([NO_DETECTION_THRESHOLD], sorted_scores[group_end]))
        totals = np.concatenate(([base], running[group_end]))
        best = int(np.argmax(totals))
        return float(candidates[best]), float(totals[best])

    def normalize(self, raw: float, profile: str) -> float:
        """``100 (S - S_null) / (S_perfect - S_null)``; the null detector never fires."""
        weights = self.profiles[profile]
        null = -weights.fn * self.n_windows
        perfect = weights.tp * self.n_windows
        return 100.0 * (raw - null) / (perfect - null)

    def evaluate(
        self,
        scores: Mapping[str, FloatArray],
        thresholds: Mapping[str, float] | None = None,
    ) -> dict[str, ProfileScore]:
        """Score every profile, at ``thresholds`` if given, else at the optimised ones."""
        result = {}
        for name in self.profiles:
            if thresholds is None:
                threshold, raw = self.optimize(scores, name)
            else:
                threshold = thresholds[name]
                raw = self.raw_score(scores, name, threshold)
            result[name] = ProfileScore(name, threshold, raw, self.normalize(raw, name))
        return result

    def _flatten(self, scores: Mapping[str, FloatArray]) -> FloatArray:
        parts = []
        for layout in self._layouts:
            if layout.key not in scores:
                raise ConfigError(f"no anomaly scores for {layout.key}")
            values = np.asarray(scores[layout.key], dtype=np.float64)
            if len(values) != layout.n_rows:
                raise ConfigError(
                    f"{layout.key}: {len(values)} scores for {layout.n_rows} rows of data"
                )
            parts.append(values[layout.probation :])
        return np.concatenate(parts)

    def _window_gains(self, order: IntArray, weights: Profile) -> FloatArray:
        """Score change of each row (in sweep order) through its window's best detection."""
        gains = np.zeros(len(order))
        positions = np.flatnonzero(self._in_window[order])
        window = self._window_id[order][positions]
        value = weights.tp * self._tp_unit[order][positions]
        by_window = np.argsort(window, kind="stable")  # keeps sweep order inside a window
        window, value, positions = window[by_window], value[by_window], positions[by_window]
        # A running max per window in one pass: lift window k by k * span.
        span = 2.0 * (abs(weights.tp) + abs(weights.fn)) + 1.0
        lifted = value + window * span
        best = np.maximum.accumulate(lifted) - window * span
        previous = np.empty_like(best)
        previous[1:] = best[:-1]
        first = np.append(True, window[1:] != window[:-1])
        previous[first] = -weights.fn
        gains[positions] = best - previous
        return gains


def _window_rows(
    series: NabSeries, windows: Sequence[tuple[np.datetime64, np.datetime64]]
) -> list[tuple[int, int]]:
    """Turn timestamp windows into inclusive row ranges by exact timestamp match."""
    bounds = []
    for start, end in windows:
        left = _row_of(series, start)
        right = _row_of(series, end)
        if right < left:
            raise ConfigError(f"{series.key}: window {start}..{end} ends before it starts")
        bounds.append((left, right))
    bounds.sort()
    return bounds


def _row_of(series: NabSeries, stamp: np.datetime64) -> int:
    row = int(np.searchsorted(series.timestamps, stamp))
    if row >= len(series.timestamps) or series.timestamps[row] != stamp:
        raise ConfigError(f"{series.key}: window edge {stamp} is not a row timestamp")
    return row


def _row_weights(
    n_rows: int, bounds: Sequence[tuple[int, int]], first_id: int
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Per row: global window id (-1 outside), TP weight inside, FP weight outside."""
    rows = np.arange(n_rows)
    window_id = np.full(n_rows, -1, dtype=np.int64)
    tp_unit = np.zeros(n_rows)
    for k, (left, right) in enumerate(bounds):
        width = right - left + 1
        window_id[left : right + 1] = first_id + k
        y = -(right - rows[left : right + 1] + 1) / width
        tp_unit[left : right + 1] = scaled_sigmoid(y) / _SIGMA_AT_MINUS_ONE
    fp_unit = np.full(n_rows, -1.0)
    if bounds:
        rights = np.array([right for _, right in bounds])
        widths = np.array([right - left + 1 for left, right in bounds])
        previous = np.searchsorted(rights, rows, side="left") - 1
        after = previous >= 0
        gap = rows[after] - rights[previous[after]]
        denominator = (widths[previous[after]] - 1).astype(np.float64)
        with np.errstate(divide="ignore"):
            y = np.where(denominator > 0, gap / np.maximum(denominator, 1.0), math.inf)
        fp_unit[after] = scaled_sigmoid(y)
    return window_id, tp_unit, fp_unit
