"""Deduplication: one alert per fingerprint, repeats merged, replays ignored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

from correlator.model.alert import WATCH_LABEL, Alert, AlertStatus, fingerprint_of, is_watch
from correlator.model.observation import Signal

__all__ = ["ALL_LABELS", "DedupReason", "external_fingerprint", "merge_alert", "rekey_external"]

#: In a fingerprint label list, stands for every label (Alertmanager's ``group_by: ['...']``).
ALL_LABELS = "..."


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
    watch = is_watch(incoming)  # a watch alert stays one until the reading alerts in full
    labels = {k: v for k, v in known.labels.items() if k != WATCH_LABEL}
    merged = known.model_copy(
        update={
            "status": AlertStatus.FIRING,
            "ends_at": incoming.ends_at if watch else None,
            "labels": {**labels, WATCH_LABEL: "true"} if watch else labels,
            "severity": incoming.severity if is_watch(known) and not watch else known.severity,
            "last_seen_at": incoming.last_seen_at,
            "observed": incoming.observed,
            "samples": incoming.samples,  # the requests behind that reading
            "score": max(known.score, incoming.score),
            "count": known.count + 1,
        }
    )
    return merged, DedupReason.REFIRED if refired else DedupReason.REPEAT


def external_fingerprint(labels: Mapping[str, str], fields: Sequence[str]) -> str:
    """The dedup key of an external alert from the ``fields`` it has (all with ``...``).

    An alert holding none of the fields falls back to all its labels, so unrelated alerts
    never share a key.

    >>> fields = ["alertname", "service"]
    >>> a = {"alertname": "HighLatency", "service": "db", "pod": "db-7f9c"}
    >>> b = {"alertname": "HighLatency", "service": "db", "pod": "db-x2k1"}
    >>> external_fingerprint(a, fields) == external_fingerprint(b, fields)
    True
    >>> external_fingerprint(a, ["..."]) == external_fingerprint(b, ["..."])
    False
    """
    if ALL_LABELS in fields:
        return fingerprint_of(dict(labels))
    chosen = {k: labels[k] for k in fields if k in labels}
    return fingerprint_of(chosen or dict(labels))


def rekey_external(alert: Alert, fields: Sequence[str]) -> Alert:
    """The alert with its fingerprint from ``fields`` when it came from outside, else as is."""
    if alert.signal is not Signal.EXTERNAL_ALERT:
        return alert
    key = external_fingerprint(alert.labels, fields)
    return alert if key == alert.fingerprint else alert.model_copy(update={"fingerprint": key})
