"""Which open incident an alert joins: close in time and within a few topology hops."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta

from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import Alert, AlertStatus, is_watch, sample_share
from correlator.model.incident import Incident
from correlator.model.observation import Signal

__all__ = [
    "WeightCache",
    "active_services",
    "batch_order",
    "can_explain",
    "choose_incident",
    "incident_id_for",
    "stronger_home",
]


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


def batch_order(alerts: Sequence[Alert], topology: TopologyGraph) -> list[Alert]:
    """The order a batch is correlated in, whatever order it arrived in.

    By last-seen time; at one time, callees before callers (lower
    :meth:`~correlator.correlate.topology.TopologyGraph.height` first), so of simultaneous
    alerts the likelier causes open incidents and their callers' symptoms join them (as
    when a cause is seen first); then the earlier onset; then the stronger reading (more
    failed requests, then the higher detector score, as :func:`choose_incident` breaks its
    ties); then service, signal and fingerprint, only so that the order is total. The
    strength keys seldom decide a grouping: services of one height never call each other,
    so the alert of one never relates to another's. The exception: two of them that could
    each explain the same caller's symptom, open from an earlier batch and unexplained so
    far; the first in this order explains it (and joins it), the other stays apart. Only
    when they are equally strong does the name decide.

    >>> from correlator.testing import SHOP_CALLS, alert, graph_of
    >>> batch = [alert("web", 0), alert("search", 0), alert("index", 0), alert("db", 10)]
    >>> [a.service for a in batch_order(batch, graph_of(SHOP_CALLS))]
    ['index', 'search', 'web', 'db']
    """
    if len(alerts) < 2:
        return list(alerts)
    return sorted(
        alerts,
        key=lambda a: (
            a.last_seen_at,
            topology.height(a.service),
            a.starts_at,
            -_failed(a),
            -a.score,
            a.service,
            a.signal.value,
            a.fingerprint,
            a.status.value,
        ),
    )


def active_services(incident: Incident, at: datetime, window: timedelta) -> set[str]:
    """Services of the incident's alerts still firing, or that ended within ``window`` of ``at``.

    Only these relate a new alert to the incident: a service whose alert is long over no
    longer draws unrelated alerts in (an incident does not snowball through stale members).
    """
    horizon = at - window
    out = set()
    for a in incident.alerts:
        if is_watch(a):
            continue  # a watch alert relates nothing to the incident
        end = (
            a.ends_at
            if a.ends_at is not None
            else (None if a.status is AlertStatus.FIRING else a.last_seen_at)
        )
        if end is None or end >= horizon:
            out.add(a.service)
    return out


def choose_incident(
    alert: Alert,
    candidates: Iterable[Incident],
    topology: TopologyGraph,
    window: timedelta,
    max_hops: int,
    directed: bool = True,
    symptomatic: AbstractSet[str] = frozenset(),
    causes_only: bool = False,
) -> Incident | None:
    """The open incident the alert belongs to, or None to open a new one.

    Only the incident's active services (see :func:`active_services`) relate. With
    ``directed``, relations follow the direction of the cause:

    * **below**: the alert's service calls an active service of the incident within
      ``max_hops`` whose alerts can explain it (its symptom can come from that incident's
      cause; see :func:`can_explain`: a callee's request-rate change is load its callers
      passed on, not a cause of their latency or errors); preferred;
    * **above**: an active service of the incident calls the alert's service and is not yet
      explained by another of its active services below it (the new alert may be its cause).
      A service is explained once each kind of symptom it shows has a cause of that kind
      below it (latency explains latency, errors explain errors): until then a fault below
      may still be the cause of the rest. An external alert's kind is unknown to the engine,
      so any fault below (not a request-rate change) explains it; a stronger fault that
      comes later takes it over instead of joining (see :func:`stronger_home`).

    **An external alert and a fault below it** (an SLO alert on a front end, say) relate
    only along a path of symptoms: a direct callee's fault explains it, one further down
    only through services that alert too (in the incident or, as ``symptomatic``, anywhere
    now: the batch's callees are taken before their callers). A fault that left every
    service between quiet did not reach the SLO alert's service by that path; a Lambda two
    hops below failing a few invocations no longer claims an SLO alert the engine was
    handed. A detected alert is never explained by an external alert on its own service:
    both are symptoms, so it relates to the fault below like any other alert.

    A shared caller with two candidate causes joins, in this order of preference:

    1. the nearest (the relation and hop count above);
    2. the one whose nearest service shows the same kind of symptom;
    3. the one whose related services' anomalies (as causes, so request-rate changes left
       out) began closest in time;
    4. the one whose nearest related evidence failed more requests: the most failed
       requests (error ratio times the requests it was measured over, when the alert
       carries them) among the nearest services' alerts that relate (causes below that can
       explain it, or symptoms above it can explain), of the same kind when 2. held. A
       caller's failures come from the callee that fails enough of them: an error ratio
       over a few dozen requests is further from normal than one over a thousand, but fails
       fewer requests and is a noisier reading;
    5. the one whose nearest related evidence is the more anomalous: the highest detector
       score among those alerts. A score says how far a series is from its own normal,
       whatever its unit, so of two callees that went wrong at the same moment the one
       further from normal is the likelier cause;
    6. on a tie in all of these the engine cannot tell the causes apart, and the choice is
       only made reproducible: the nearest related service first by name, then the smaller
       incident id. It never depends on which incident was opened first, so the outcome
       does not depend on the order of simultaneous alerts (see :func:`batch_order`).

    **Watch alerts** (:func:`~correlator.model.alert.is_watch`) are inert: they make no
    service active, explain nothing and need no explaining. With ``causes_only`` (how a
    watch alert is placed) only an incident holding a cause below the alert relates.

    A service whose symptom is already explained never lets an unrelated fault in through
    it, so two faults under one caller stay two incidents. Without ``directed`` any
    undirected path within ``max_hops`` relates them. The rest of the key is the same there.
    """
    below = topology.downstream(alert.service, max_hops) if directed else {}
    above = topology.upstream(alert.service, max_hops) if directed else {}
    external = alert.signal is Signal.EXTERNAL_ALERT
    reach: dict[str, dict[str, int]] = {}

    def explained(service: str, services: set[str], alerts: Sequence[Alert]) -> bool:
        if service not in reach:
            reach[service] = topology.downstream(service, max_hops)
        kinds = {_kind(a) for a in alerts if a.service == service}
        below = {
            _kind(a)
            for a in alerts
            if a.service != service and a.service in services and a.service in reach[service]
        }
        if "external" in kinds:
            # an SLO alert: any fault below is a cause of it, reached through symptoms
            through = topology.downstream_through(service, max_hops, services, symptomatic)
            if any(
                _kind(a) != "request"
                for a in alerts
                if a.service != service and a.service in services and a.service in through
            ):
                kinds.discard("external")
        return kinds <= below

    def up_hops(service: str, services: set[str], alerts: Sequence[Alert]) -> int | None:
        hops = above.get(service)
        if hops is None or hops <= 1 or _observed(service, alerts):
            return hops
        path = topology.downstream_through(service, max_hops, services, symptomatic)
        return path.get(alert.service)

    best: tuple[tuple[int, int, int, float, float, float, str, str], Incident] | None = None
    for incident in candidates:
        if alert.starts_at < incident.opened_at - window:
            continue
        services = active_services(incident, alert.starts_at, window)
        if not services:
            continue
        alerts = [a for a in incident.alerts if not is_watch(a)]  # watch alerts explain nothing
        if directed:
            causes = {
                a.service
                for a in alerts
                if a.service in services
                and can_explain(a, alert)
                and (external or a.service != alert.service or _kind(a) != "external")
            }
            reached = (
                topology.downstream_through(alert.service, max_hops, services, symptomatic)
                if external
                else below
            )
            down = min((reached[s] for s in causes if s in reached), default=None)
            near = {s for s in causes if s in reached and reached[s] == down}
            ups = {
                s: up_hops(s, services, alerts)
                for s in services
                if s in above and not explained(s, services, alerts)
            }
            up = min((d for d in ups.values() if d is not None), default=None)
            relation = (0, down) if down is not None else (1, up) if up is not None else None
            if causes_only and relation is not None and relation[0] == 1:
                relation = None
            if relation is not None and relation[0] == 1:
                near = {s for s, d in ups.items() if d == up}
        else:
            if causes_only:  # a cause below it, whatever the direction elsewhere
                callees = topology.downstream(alert.service, max_hops)
                hops = {s: callees.get(s) for s in services}
            else:
                hops = {s: topology.hops(alert.service, s, max_hops) for s in services}
            nearest = min((d for d in hops.values() if d is not None), default=None)
            relation = None if nearest is None else (0, nearest)
            near = {s for s, d in hops.items() if d is not None and d == nearest}
        if relation is None:
            continue
        alike = directed and relation[0] == 0 and _same_kind(alert, alerts, near)
        evidence = _related(alert, alerts, near, alike, relation[0] == 1 and directed)
        key = (
            relation[0],
            relation[1],
            0 if alike else 1,
            _onset_gap(alert, alerts, near),
            -max((_failed(a) for a in evidence), default=0.0),
            -max((a.score for a in evidence), default=0.0),
            min(near),
            incident.incident_id,
        )
        if best is None or key < best[0]:
            best = (key, incident)
    return best[1] if best else None


#: Per incident id, the weight of its causes below an external or watch alert's service as
#: of the alert's start: ``{incident_id: {(service, starts_at, kind): weight}}`` (see
#: stronger_home).
WeightCache = dict[str, dict[tuple[str, datetime, str], float]]


def stronger_home(
    alert: Alert,
    current: Incident,
    candidates: Iterable[Incident],
    topology: TopologyGraph,
    window: timedelta,
    max_hops: int,
    sample_prior: float,
    cache: WeightCache | None = None,
    symptomatic: AbstractSet[str] = frozenset(),
) -> Incident | None:
    """The incident an external alert should move to, if another explains it better.

    An external alert (an SLO alert, say) does not tell the engine which kind of fault is
    behind it, so it joins the first fault found below its service, and later faults below
    open incidents of their own instead of joining it through that service (two faults
    under one caller stay apart). When one of those holds the stronger cause, the alert
    moves there: an incident's cause weighs its strongest alert below the service (not a
    request-rate change; another external alert counts at its score), each alert's score
    shrunk by the requests it was measured over
    (:func:`~correlator.model.alert.sample_share`), so a Lambda's cold start over five
    invocations yields to a service failing hundreds of requests. Below means reached along
    a path of symptoms, as in :func:`choose_incident`. Only a strictly stronger
    cause takes it; of two equal, the smaller id. As in :func:`choose_incident`, an
    incident opened more than ``window`` after the alert started is no candidate: an SLO
    alert firing for hours does not move to an unrelated fault that starts later.
    ``cache`` keeps weights across calls of one pass; drop an incident's entry when its
    alerts change.
    """
    others = [i for i in candidates if i is not current and alert.starts_at >= i.opened_at - window]
    if not others:
        return None
    memo: WeightCache = {} if cache is None else cache
    external = alert.signal is Signal.EXTERNAL_ALERT
    key = (alert.service, alert.starts_at, _kind(alert))

    def weight(incident: Incident) -> float:
        known = memo.setdefault(incident.incident_id, {})
        if key not in known:
            services = active_services(incident, alert.starts_at, window)
            below = (
                topology.downstream_through(alert.service, max_hops, services, symptomatic)
                if external
                else topology.downstream(alert.service, max_hops)
            )
            known[key] = max(
                (
                    a.score * sample_share(a.samples, sample_prior)
                    for a in incident.alerts
                    if a.service != alert.service
                    and a.service in services
                    and a.service in below
                    and can_explain(a, alert)
                    and not is_watch(a)
                ),
                default=0.0,
            )
        return known[key]

    best: tuple[float, str] | None = None
    home: Incident | None = None
    for incident in others:
        strength = weight(incident)
        if strength > 0 and (best is None or (-strength, incident.incident_id) < best):
            best, home = (-strength, incident.incident_id), incident
    if best is None or weight(current) >= -best[0]:
        return None
    return home


def can_explain(cause: Alert, symptom: Alert) -> bool:
    """Whether ``cause``, on a service ``symptom``'s service calls, can be why it fired.

    A request-rate change is load the callers passed on: it explains their request-rate
    changes (the same load), never their latency or errors.

    >>> from correlator.testing import alert
    >>> from correlator.model.observation import Signal
    >>> load = alert("db", signal=Signal.REQUEST_RATE)
    >>> can_explain(load, alert("api")), can_explain(load, alert("api", signal=Signal.REQUEST_RATE))
    (False, True)
    >>> can_explain(alert("db", signal=Signal.ERROR_RATIO), alert("api"))
    True
    """
    return _kind(cause) != "request" or _kind(symptom) == "request"


def _onset_gap(alert: Alert, alerts: Sequence[Alert], services: set[str]) -> float:
    """Seconds between the alert's start and the nearest start among ``services``' alerts.

    The related services whose anomaly began closest to the alert's are the likelier cause;
    only alerts that can explain it (:func:`can_explain`) date a cause.
    """
    return min(
        (
            abs((alert.starts_at - a.starts_at).total_seconds())
            for a in alerts
            if a.service in services and can_explain(a, alert)
        ),
        default=float("inf"),
    )


def _related(
    alert: Alert, alerts: Sequence[Alert], services: set[str], alike: bool, above: bool
) -> list[Alert]:
    """``services``' alerts that relate to ``alert``.

    Below (``above`` False): the alerts that can explain it, of its kind when ``alike``.
    Above: the symptoms it can explain.
    """
    kind = _kind(alert)
    return [
        a
        for a in alerts
        if a.service in services
        and (can_explain(alert, a) if above else can_explain(a, alert))
        and (not alike or _kind(a) == kind)
    ]


def _failed(alert: Alert) -> float:
    """Requests an error-ratio alert failed (ratio times its requests); 0 when unknown.

    >>> from correlator.testing import alert
    >>> elb = alert("elb", signal=Signal.ERROR_RATIO).model_copy(
    ...     update={"observed": 0.08, "samples": 50})
    >>> _failed(elb), _failed(alert("db"))
    (4.0, 0.0)
    """
    if alert.signal is not Signal.ERROR_RATIO or alert.observed is None or not alert.samples:
        return 0.0
    return alert.observed * alert.samples


def _kind(alert: Alert) -> str:
    """The symptom family: latency, error, request (rate), log, metric, external."""
    return alert.signal.value.split("_")[0]


def _observed(service: str, alerts: Sequence[Alert]) -> bool:
    """``alerts`` hold one of the engine's own on ``service`` (not only external)."""
    return any(a.service == service and _kind(a) != "external" for a in alerts)


def _same_kind(alert: Alert, alerts: Sequence[Alert], services: set[str]) -> bool:
    kind = _kind(alert)
    return any(a.service in services and _kind(a) == kind for a in alerts)
