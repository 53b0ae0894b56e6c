"""Deduplication: one alert per fingerprint, repeats merged, replays ignored."""

from __future__ import annotations

from enum import StrEnum

from correlator.model.alert import Alert, AlertStatus

__all__ = ["DedupReason", "merge_alert"]


class DedupReason(StrEnum):
    """Why an incoming alert did (or did not) change what we know."""

    FIRST = "first"
    REPEAT = "repeat"
    RESOLVED = "resolved"
    REFIRED = "refired"
    DUPLICATE = "duplicate"


def merge_alert(known: Alert | None, incoming: Alert) -> tuple[Alert | None, DedupReason]:
    """Merge ``incoming`` into ``known`` (same fingerprint); None when nothing changed.

    An alert not newer than what is known (a replay after a restart) is a DUPLICATE.
    """
    if known is None:
        return incoming, DedupReason.FIRST
    if incoming.last_seen_at < known.last_seen_at or (
        incoming.last_seen_at == known.last_seen_at and incoming.status == known.status
    ):
        return None, DedupReason.DUPLICATE
    if incoming.status is AlertStatus.RESOLVED:
        merged = known.model_copy(
            update={
                "status": AlertStatus.RESOLVED,
                "ends_at": incoming.ends_at or incoming.last_seen_at,
                "last_seen_at": incoming.last_seen_at,
                "count": max(known.count, incoming.count),
                "score": max(known.score, incoming.score),
            }
        )
        return merged, DedupReason.RESOLVED
    refired = known.status is AlertStatus.RESOLVED
    merged = known.model_copy(
        update={
            "status": AlertStatus.FIRING,
            "ends_at": None,
            "last_seen_at": incoming.last_seen_at,
            "observed": incoming.observed,
            "score": max(known.score, incoming.score),
            "count": known.count + 1,
        }
    )
    return merged, DedupReason.REFIRED if refired else DedupReason.REPEAT
