"""Root-cause ranking over the anomalous subgraph of the topology.

Three pieces of evidence, combined linearly (weights in ``RankWeights``):

* **propagation**: personalized PageRank on the incident's services with the walk going
  caller → callee, i.e. from a symptom towards what it depends on (MicroRCA's idea: a
  callee's fault surfaces in its callers). Personalization is each service's anomaly mass.
  With ``weighted_walk`` the walker steps to a callee in proportion to the callee's fault
  mass (its anomaly mass without request-rate changes: a callee's request rate moves with
  the load its callers send, so it is no cause they suffer from) and stays put in
  proportion to its own anomaly mass (MicroRCA weights edges by how anomalous their ends
  are), so a strongly anomalous service does not hand its rank to a barely anomalous
  dependency, nor to one that only sees its load change. Anomalous services without
  anomalous callees keep the mass, so deep faults rank first.
* **precedence**: services whose first anomaly came earlier score higher.
* **magnitude**: how far the service's worst series moved from its expected value, relative
  to that value (``log1p`` of the relative change, capped), or the alert score when the
  alert carries no observed/expected pair.

Anomaly mass weighs each alert by its signal: latency, errors and logs are fault evidence;
a change of request rate is mostly load passed on by callers (``rate_weight``). Mass,
magnitude and precedence also weigh it by how many requests its value was measured over,
when the alert says (``samples``; an alert without a count, a log, metric or external
one, counts in full): n requests count ``n / (n + sample_prior)`` of it, the usual shrinkage
toward "no change" of a ratio or percentile read from few requests. An error ratio of 8 %
over 50 requests (4 failures) is further from a normal of 0 than 2 % over 1,000, but it is
the weaker evidence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import networkx as nx

from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import Alert, sample_share
from correlator.model.incident import Evidence, RootCause
from correlator.model.observation import Signal

__all__ = ["RankWeights", "rank_root_causes"]


@dataclass(frozen=True)
class RankWeights:
    """Weights of the evidence (and switches for each refinement, to measure them)."""

    propagation: float = 0.55
    precedence: float = 0.3
    magnitude: float = 0.15
    damping: float = 0.85
    weighted_walk: bool = True
    relative_magnitude: bool = True
    rate_weight: float = 0.25
    #: requests at which a measured value counts half (0: every value counts in full); the
    #: 100 requests a p99 needs before it says more than the slowest request
    sample_prior: float = 100.0


_MAGNITUDE_CAP = 50.0


def _signal_weight(alert: Alert, w: RankWeights) -> float:
    """The signal's weight, times the share its sample size earns (see the module's doc).

    >>> from correlator.testing import alert
    >>> few = alert("elb").model_copy(update={"samples": 50})
    >>> _signal_weight(few, RankWeights()), _signal_weight(alert("db"), RankWeights())
    (0.3333333333333333, 1.0)
    """
    weight = w.rate_weight if alert.signal is Signal.REQUEST_RATE else 1.0
    return weight * sample_share(alert.samples, w.sample_prior)


def _anomaly_mass(alerts: Sequence[Alert], w: RankWeights) -> dict[str, float]:
    mass: dict[str, float] = defaultdict(float)
    for alert in alerts:
        weight = _signal_weight(alert, w)
        mass[alert.service] += weight * alert.score * (1.0 + 0.1 * min(alert.count, 10))
    return dict(mass)


def relative_change(alert: Alert) -> float | None:
    """``log1p(|observed - expected| / |expected|)``, capped; None without both values.

    >>> from correlator.testing import alert
    >>> a = alert("db").model_copy(update={"observed": 30.0, "expected": 10.0})
    >>> round(relative_change(a), 3)
    1.099
    """
    if alert.observed is None or alert.expected is None:
        return None
    base = max(abs(alert.expected), 1e-9)
    return math.log1p(min(abs(alert.observed - alert.expected) / base, _MAGNITUDE_CAP))


def _magnitude(alerts: Sequence[Alert], w: RankWeights) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for alert in alerts:
        change = relative_change(alert) if w.relative_magnitude else None
        value = (alert.score if change is None else change) * _signal_weight(alert, w)
        out[alert.service] = max(out[alert.service], value)
    return dict(out)


def _propagation(
    graph: nx.DiGraph[str], mass: dict[str, float], fault: dict[str, float], w: RankWeights
) -> dict[str, float]:
    if graph.number_of_edges() == 0:
        total = sum(mass.values()) or 1.0
        return {n: mass.get(n, 0.0) / total for n in graph.nodes}
    walk: nx.DiGraph[str] = nx.DiGraph()
    walk.add_nodes_from(graph.nodes)
    for node in graph.nodes:
        # a node may hold the walker: what it keeps is its own fault
        walk.add_edge(node, node, weight=mass.get(node, 0.0) if w.weighted_walk else 1.0)
    for caller, callee in graph.edges:
        walk.add_edge(caller, callee, weight=fault.get(callee, 0.0) if w.weighted_walk else 1.0)
    scores: dict[str, float] = nx.pagerank(
        walk, alpha=w.damping, personalization=mass, max_iter=200, weight="weight"
    )
    return scores


def _normalise(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values(), default=0.0)
    return {k: (v / top if top > 0 else 0.0) for k, v in values.items()}


def rank_root_causes(
    alerts: Sequence[Alert],
    topology: TopologyGraph,
    weights: RankWeights | None = None,
    limit: int = 5,
) -> list[RootCause]:
    """Ranked candidates (best first) for the services the ``alerts`` are about."""
    w = weights or RankWeights()
    if not alerts:
        return []
    mass = _anomaly_mass(alerts, w)
    services = sorted(mass)
    sub = topology.subgraph(services)
    fault = _anomaly_mass([a for a in alerts if a.signal is not Signal.REQUEST_RATE], w)
    propagation = _normalise(_propagation(sub, mass, fault, w))
    first = {s: min(a.starts_at for a in alerts if a.service == s) for s in services}
    t0, t1 = min(first.values()), max(first.values())
    span = (t1 - t0).total_seconds() or 1.0
    # a service seen only through request-rate changes (load) earns little for being first
    signal = {s: max(_signal_weight(a, w) for a in alerts if a.service == s) for s in services}
    precedence = {s: signal[s] * (1.0 - (first[s] - t0).total_seconds() / span) for s in services}
    magnitude = _normalise(_magnitude(alerts, w))
    scored = {
        s: w.propagation * propagation.get(s, 0.0)
        + w.precedence * precedence[s]
        + w.magnitude * magnitude[s]
        for s in services
    }
    ranked = sorted(services, key=lambda s: (-scored[s], first[s], s))[:limit]
    return [
        RootCause(
            entity=s,
            score=round(scored[s], 4),
            signals=sorted({a.signal.value for a in alerts if a.service == s}),
            evidence=_evidence(s, alerts, sub, first[s] == t0),
        )
        for s in ranked
    ]


def _evidence(
    service: str, alerts: Sequence[Alert], sub: nx.DiGraph[str], earliest: bool
) -> list[Evidence]:
    own = sorted((a for a in alerts if a.service == service), key=lambda a: a.starts_at)
    out = [Evidence(kind="anomaly", detail=a.summary or a.signal.value) for a in own[:3]]
    if earliest:
        out.append(
            Evidence(
                kind="first_anomaly", detail=f"earliest anomaly at {own[0].starts_at.isoformat()}"
            )
        )
    callers = sorted(sub.predecessors(service)) if service in sub else []
    if callers:
        out.append(
            Evidence(
                kind="propagation", detail=f"anomalous callers depend on it: {', '.join(callers)}"
            )
        )
    callees = sorted(sub.successors(service)) if service in sub else []
    if not callees and callers:
        out.append(Evidence(kind="edge", detail="none of its callees is anomalous"))
    return out
