"""Which open incident an alert joins: close in time and within a few topology hops."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta

from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import Alert
from correlator.model.incident import Incident

__all__ = ["choose_incident", "incident_id_for"]


def incident_id_for(alert: Alert) -> str:
    """A deterministic id from the first alert, so a replay recreates the same incident.

    >>> from datetime import UTC, datetime
    >>> from correlator.model.observation import Signal
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> a = Alert(fingerprint="f1", service="db", entity="db", signal=Signal.LATENCY_P99,
    ...           starts_at=t, last_seen_at=t)
    >>> incident_id_for(a) == incident_id_for(a.model_copy())
    True
    """
    seed = f"{alert.fingerprint}|{alert.starts_at.isoformat()}"
    return "inc-" + hashlib.blake2b(seed.encode(), digest_size=6).hexdigest()


def choose_incident(
    alert: Alert,
    candidates: Iterable[Incident],
    topology: TopologyGraph,
    window: timedelta,
    max_hops: int,
    directed: bool = True,
) -> Incident | None:
    """The nearest open incident the alert belongs to, or None to open a new one.

    ``directed``: related means one service calls towards the other within ``max_hops``
    (a caller's symptom joins its callee's cause); two callees of one caller are not
    related through it. Otherwise any undirected path within ``max_hops`` relates them.
    """
    distance = topology.directed_hops if directed else topology.hops
    best: tuple[int, float, Incident] | None = None
    for incident in candidates:
        last = max(a.last_seen_at for a in incident.alerts)
        gap = abs((alert.starts_at - last).total_seconds())
        if alert.starts_at > last + window or alert.starts_at < incident.opened_at - window:
            continue
        hops = min(
            (
                d
                for d in (distance(alert.service, s, max_hops) for s in incident.services)
                if d is not None
            ),
            default=None,
        )
        if hops is None:
            continue
        key = (hops, gap)
        if best is None or key < (best[0], best[1]):
            best = (hops, gap, incident)
    return best[2] if best else None
