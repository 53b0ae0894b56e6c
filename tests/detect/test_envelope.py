"""RollingMax: the high of the last ``window`` values, as the two-sided envelope keeps it."""

from __future__ import annotations

import pickle
import random

import pytest

from correlator.detect.envelope import RollingEnvelope, RollingMax


@pytest.mark.parametrize("window", [1, 2, 7, 100])
def test_rolling_max_is_the_max_of_the_last_window_values(window: int) -> None:
    rng = random.Random(window)
    values = [rng.choice([rng.uniform(0, 10), float(i % 13)]) for i in range(1000)]
    rolling, envelope = RollingMax(window), RollingEnvelope(window)
    for i, value in enumerate(values):
        rolling.update(value)
        envelope.update(value)
        assert rolling.high == max(values[max(0, i - window + 1) : i + 1]) == envelope.high


def test_rolling_max_keeps_less_state_than_the_two_sided_envelope() -> None:
    rolling, envelope = RollingMax(500), RollingEnvelope(500)
    for i in range(2000):
        rolling.update(float(i % 97))
        envelope.update(float(i % 97))
    assert len(pickle.dumps(rolling)) < len(pickle.dumps(envelope))


def test_a_window_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RollingMax(0)
