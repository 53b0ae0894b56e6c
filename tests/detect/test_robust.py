"""RobustDetector: median/MAD z-score, a ceiling for recurring peaks, persistence."""

from __future__ import annotations

import pickle

import pytest

from correlator.detect.robust import RobustDetector, RobustParams


def feed(det: RobustDetector, values: list[float], t0: float = 0.0) -> list[float]:
    """Score then learn each value as the detect stage does (no learning while alerting)."""
    scores = []
    alerting = False
    for i, value in enumerate(values):
        score = det.score_one(value, t0 + i)
        scores.append(score)
        alerting = score >= 0.9 or (alerting and score >= 0.5)
        if not alerting:
            det.learn_one(value, t0 + i)
    return scores


def with_peaks(n: int, every: int = 6, base: float = 0.4, peak: float = 1.7) -> list[float]:
    """A Lambda's latency: flat for 30 values, then a cold-start peak every ``every``."""
    return [peak if i >= 30 and i % every == 0 else base + 0.01 * (i % 3) for i in range(n)]


def test_without_a_ceiling_every_recurring_peak_alerts() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10))
    scores = feed(det, with_peaks(120))
    assert sum(s >= 0.9 for s in scores[60:]) == 10


def test_a_ceiling_lets_the_first_peak_alert_and_not_its_repeats() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10, ceiling_quantile=0.98))
    scores = feed(det, with_peaks(120))
    alerts = [i for i, s in enumerate(scores) if s >= 0.9]
    assert alerts and alerts[0] == 30
    assert not [i for i in alerts if i >= 60]
    assert det.score_one(5.0, 200.0) > 0.9  # a new, higher level still alerts


def test_a_two_sided_ceiling_ignores_recurring_drops_too() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10, ceiling_quantile=0.98))
    values = [0.0 if i % 6 == 0 else 10.0 + (i % 3) for i in range(120)]
    assert max(feed(det, values)[60:]) == 0.0


def test_a_lasting_fault_is_judged_against_the_ceiling_from_before_it() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10, ceiling_quantile=0.98))
    feed(det, [1.0 + 0.01 * (i % 3) for i in range(60)])
    # the stage stops learning while the alert lasts: the fault never raises the ceiling
    assert all(det.score_one(3.0, 100.0 + i) > 0.9 for i in range(20))


def test_persistence_needs_anomalous_values_in_a_row() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10, persistence=2))
    feed(det, [1.0 + 0.01 * (i % 3) for i in range(60)])
    assert det.score_one(3.0, 100.0) == 0.0  # one value: held back, not learned
    det.learn_one(3.0, 100.0)
    assert 3.0 not in det._window
    assert det.score_one(3.0, 101.0) > 0.9  # the second in a row scores


def test_persistence_restarts_after_a_normal_value() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10, persistence=2))
    feed(det, [1.0 + 0.01 * (i % 3) for i in range(60)])
    scores = feed(det, [3.0, 1.0, 3.0, 1.0, 3.0], t0=100.0)
    assert scores == [0.0] * 5


@pytest.mark.parametrize("params", [{}, {"ceiling_quantile": 0.98, "persistence": 2}])
def test_pickled_detector_scores_the_same(params: dict[str, float]) -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10, **params))
    feed(det, with_peaks(90))
    copy = pickle.loads(pickle.dumps(det))
    assert [copy.score_one(v, 200.0 + i) for i, v in enumerate((0.4, 1.7, 9.0))] == [
        det.score_one(v, 200.0 + i) for i, v in enumerate((0.4, 1.7, 9.0))
    ]


def test_a_checkpoint_from_before_the_ceiling_restores() -> None:
    det = RobustDetector(RobustParams(window=60, warmup=10))
    feed(det, [1.0 + 0.01 * (i % 3) for i in range(40)])
    old = {"params": det.params, "_window": det._window, "_sorted": det._sorted}
    restored = RobustDetector.__new__(RobustDetector)
    restored.__setstate__((None, old))
    assert restored.score_one(1.01, 100.0) == 0.0
    assert restored.score_one(9.0, 101.0) > 0.9
