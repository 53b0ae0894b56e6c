"""Merging a repeat of an alert into the one known: what each field keeps."""

from __future__ import annotations

from datetime import timedelta

from correlator.correlate.dedup import DedupReason, merge_alert
from correlator.model.observation import Signal
from correlator.testing import T0, alert


def test_a_repeat_takes_its_reading_and_the_requests_behind_it_together() -> None:
    first = alert("checkout", 0, Signal.ERROR_RATIO, score=0.9).model_copy(
        update={"observed": 0.08, "samples": 50}
    )
    repeat = first.model_copy(
        update={
            "observed": 0.5,
            "samples": 10,
            "score": 0.7,
            "last_seen_at": T0 + timedelta(seconds=10),
        }
    )
    merged, reason = merge_alert(first, repeat)
    assert reason is DedupReason.REPEAT and merged is not None
    assert (merged.observed, merged.samples) == (0.5, 10)  # one reading, not two mixed
    assert (merged.score, merged.count) == (0.9, 2)  # the worst score seen, and the count
