"""Merging a repeat of an alert into the one known: what each field keeps."""

from __future__ import annotations

from datetime import timedelta

from correlator.correlate.dedup import DedupReason, merge_alert
from correlator.model.alert import WATCH_LABEL, Alert, AlertStatus, is_watch
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


def test_a_watch_reading_stays_a_watch_alert_when_merged() -> None:
    def watch(at_s: float) -> Alert:
        full = alert("web", at_s)
        return full.model_copy(
            update={
                "labels": {**full.labels, WATCH_LABEL: "true"},
                "ends_at": full.starts_at + timedelta(seconds=10),
            }
        )

    first, again = watch(0), watch(10)
    merged, _ = merge_alert(first, again)
    assert merged is not None and is_watch(merged) and merged.ends_at == again.ends_at
    # a resolved full alert re-fired by a reading that is only a watch is a watch again
    over = alert("web", 0).model_copy(update={"status": AlertStatus.RESOLVED})
    refired, _ = merge_alert(over, watch(20))
    assert refired is not None and is_watch(refired) and refired.ends_at is not None
