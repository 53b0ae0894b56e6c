"""Load-aware partition assignment: partitions split by measured weight, not by count.

Telemetry is keyed by service, so partitions carry very different loads and a split by
count (round-robin, range) can leave one member of the detect group with most of the work.
Each member reports, in its JoinGroup user data, the partitions it owns and the weight it
measured for each (``MemberReport``); the group leader runs ``assign_by_weight`` on all the
reports and sends each member, in its assignment user data, the weights it planned with
(``Plan``).

Measured and unknown weights are told apart. A member reports a weight for every partition
it owns and has watched for a whole window: a quiet partition reports 0 (its end did not
grow), one the member stopped watching (busy elsewhere) reports what it last measured, and
one it got less than a window ago reports the measured weight its plan gave it. Only a
partition nobody has measured (its owner just joined, or it moved with a guessed weight) is
unknown; it weighs the mean of the measured ones, as the best guess, and the plan marks it
assumed, so its owner asks for a new split once it has measured it
(``correlator.transport.partition_load.RejoinPolicy``). When nothing weighs above 0 (a new
group, or every partition quiet) weights say nothing: each partition weighs 1, all are
assumed, and the split is by count (deterministic: members and partitions are taken in
sorted order, and owners keep what a count split lets them keep). Splitting a quiet group
"by weight" instead would find it balanced at 0 and leave a member that joined during the
quiet spell with nothing, for good: a plan of total 0 with nothing assumed never asks again.

This module is pure data and arithmetic; the aiokafka assignor that carries it is in
``correlator.transport.kafka``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MemberReport", "Partition", "Plan", "assign_by_weight", "imbalance", "plan_group"]

Partition = tuple[str, int]


@dataclass(frozen=True)
class MemberReport:
    """What a member tells the leader when it joins: what it owns and what that weighed."""

    owned: frozenset[Partition] = frozenset()
    weights: Mapping[Partition, float] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "owned": sorted(self.owned),
                "weights": _weights_json(self.weights),
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes | None) -> MemberReport:
        """The report in ``data``; an empty one when there is none or it is not ours
        (a member running another version or assignor knows nothing useful)."""
        try:
            raw = json.loads(data or b"")
            return cls(_partitions_from(raw["owned"]), _weights_from(raw["weights"]))
        except (ValueError, KeyError, TypeError):
            return cls()


@dataclass(frozen=True)
class Plan:
    """What the leader tells a member with its partitions: the weights it assumed."""

    weights: Mapping[Partition, float] = field(default_factory=dict)
    assumed: frozenset[Partition] = frozenset()  # not measured: guessed (1 each by count)
    total: float = 0.0  # the whole group's weight
    members: int = 1

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "weights": _weights_json(self.weights),
                "assumed": sorted(self.assumed),
                "total": self.total,
                "members": self.members,
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes | None) -> Plan:
        try:
            raw = json.loads(data or b"")
            weights, assumed = _weights_from(raw["weights"]), _partitions_from(raw["assumed"])
            return cls(weights, assumed, float(raw["total"]), int(raw["members"]))
        except (ValueError, KeyError, TypeError):
            return cls()

    @property
    def load(self) -> float:
        """This member's planned weight."""
        return sum(self.weights.values())


def _weights_json(weights: Mapping[Partition, float]) -> list[list[object]]:
    return [[t, p, w] for (t, p), w in sorted(weights.items())]


def _weights_from(rows: Iterable[Any]) -> dict[Partition, float]:
    """Weights as :func:`_weights_json` wrote them (raises on anything else)."""
    return {(str(t), int(p)): float(w) for t, p, w in rows}


def _partitions_from(rows: Iterable[Any]) -> frozenset[Partition]:
    return frozenset((str(t), int(p)) for t, p in rows)


def imbalance(loads: Iterable[float], members: int) -> float:
    """How far the busiest member is above the mean: ``max / mean - 1`` (0 = even).

    >>> imbalance([3.0, 1.0], 2)
    0.5
    """
    loads = list(loads)
    total = sum(loads)
    if total <= 0 or members <= 0:
        return 0.0
    return max(loads, default=0.0) / (total / members) - 1.0


def assign_by_weight(
    partitions: Sequence[Partition],
    subscriptions: Mapping[str, Collection[str]],
    weights: Mapping[Partition, float],
    owners: Mapping[Partition, str] | None = None,
    threshold: float = 0.1,
) -> dict[str, list[Partition]]:
    """Split ``partitions`` between the members of ``subscriptions`` (member -> topics).

    Partitions stay with their current owner (``owners``) while that keeps the busiest
    member within ``threshold`` of the mean load; otherwise the split with the lowest
    maximum load is taken from greedy largest-first placement and the sticky one, each
    improved by single moves and swaps, preferring fewer moves when they are about even.
    A partition is only given to a member subscribed to its topic.

    >>> parts = [("t", 0), ("t", 1), ("t", 2), ("t", 3)]
    >>> split = assign_by_weight(parts, {"a": ["t"], "b": ["t"]},
    ...                          {("t", 0): 6, ("t", 1): 1, ("t", 2): 2, ("t", 3): 3})
    >>> sorted(split["a"]), sorted(split["b"])
    ([('t', 0)], [('t', 1), ('t', 2), ('t', 3)])
    """
    owners = owners or {}
    members = sorted(subscriptions)
    if not members:
        return {}
    eligible = {p: [m for m in members if p[0] in subscriptions[m]] for p in partitions}
    placeable = [p for p in partitions if eligible[p]]
    weight = {p: max(0.0, float(weights.get(p, 0.0))) for p in placeable}
    sticky = _greedy(
        [p for p in placeable if owners.get(p) not in eligible[p]],
        eligible,
        weight,
        owners,
        {p: m for p in placeable if (m := owners.get(p, "")) in eligible[p]},
    )
    if imbalance(_loads(sticky, weight, members).values(), len(members)) <= threshold:
        return _by_member(sticky, members)
    candidates = [
        _improve(sticky, eligible, weight, members),
        _improve(_greedy(placeable, eligible, weight, owners, {}), eligible, weight, members),
    ]
    best = min(max(_loads(c, weight, members).values()) for c in candidates)
    close = [c for c in candidates if max(_loads(c, weight, members).values()) <= best * 1.01]
    chosen = min(close, key=lambda c: sum(owners.get(p) != m for p, m in c.items()))
    return _by_member(chosen, members)


def plan_group(
    partitions: Sequence[Partition],
    subscriptions: Mapping[str, Collection[str]],
    reports: Mapping[str, MemberReport],
    threshold: float = 0.1,
) -> dict[str, tuple[list[Partition], Plan]]:
    """The leader's whole job: weights from every member's report, split, one plan each.

    A partition's weight is what its reporting owner measured (the member that listed it
    as owned first, by member id, if two do); one nobody measured weighs the mean of the
    measured ones. When no partition measured above 0 (a new group, or a quiet one) every
    partition weighs 1 and all are marked assumed: the split is by count, and members ask
    for one by weight once they measure load (see the module docstring).
    """
    weights: dict[Partition, float] = {}
    owners: dict[Partition, str] = {}
    for member in sorted(reports):
        report = reports[member]
        for p in sorted(report.owned):
            owners.setdefault(p, member)
        for p, w in report.weights.items():
            if owners.get(p, member) == member:
                weights.setdefault(p, w)
    measured = [weights[p] for p in partitions if p in weights]
    if sum(measured) > 0:
        guess = sum(measured) / len(measured)
        assumed = frozenset(p for p in partitions if p not in weights)
        full = {p: weights.get(p, guess) for p in partitions}
    else:  # nothing measured, or all quiet: only the count is known
        assumed = frozenset(partitions)
        full = dict.fromkeys(partitions, 1.0)
    split = assign_by_weight(partitions, subscriptions, full, owners, threshold)
    total = sum(full[p] for parts in split.values() for p in parts)
    return {
        member: (
            parts,
            Plan({p: full[p] for p in parts}, assumed & set(parts), total, len(split)),
        )
        for member, parts in split.items()
    }


def _greedy(
    partitions: Iterable[Partition],
    eligible: Mapping[Partition, list[str]],
    weight: Mapping[Partition, float],
    owners: Mapping[Partition, str],
    start: dict[Partition, str],
) -> dict[Partition, str]:
    """Place ``partitions`` largest first, each on the least-loaded member that may take it
    (its current owner on a tie), on top of the placement ``start``."""
    placed = dict(start)
    load: dict[str, float] = {}
    for p, m in placed.items():
        load[m] = load.get(m, 0.0) + weight[p]
    for p in sorted(partitions, key=lambda p: (-weight[p], p)):
        member = min(eligible[p], key=lambda m: (load.get(m, 0.0), owners.get(p) != m, m))
        placed[p] = member
        load[member] = load.get(member, 0.0) + weight[p]
    return placed


def _improve(
    placed: Mapping[Partition, str],
    eligible: Mapping[Partition, list[str]],
    weight: Mapping[Partition, float],
    members: Sequence[str],
    rounds: int = 200,
) -> dict[Partition, str]:
    """Move or swap single partitions while that lowers a busier member's load without
    raising the other above it (each step lowers the sum of squared loads, so it ends)."""
    placed = dict(placed)
    for _ in range(rounds):
        step = _best_step(placed, eligible, weight, members)
        if step is None:
            break
        for p, m in step:
            placed[p] = m
    return placed


def _best_step(
    placed: Mapping[Partition, str],
    eligible: Mapping[Partition, list[str]],
    weight: Mapping[Partition, float],
    members: Sequence[str],
) -> list[tuple[Partition, str]] | None:
    load = _loads(placed, weight, members)
    held: dict[str, list[Partition]] = {m: [] for m in members}
    for p, m in placed.items():
        held[m].append(p)
    for hi in sorted(members, key=lambda m: -load[m]):
        best: tuple[float, list[tuple[Partition, str]]] | None = None
        for lo in (m for m in members if load[m] < load[hi]):
            for p in held[hi]:
                if lo not in eligible[p] or weight[p] <= 0:
                    continue
                after = max(load[hi] - weight[p], load[lo] + weight[p])
                if after < load[hi] - 1e-9 and (best is None or after < best[0]):
                    best = (after, [(p, lo)])
                for q in held[lo]:
                    delta = weight[p] - weight[q]
                    if delta <= 0 or hi not in eligible[q]:
                        continue
                    after = max(load[hi] - delta, load[lo] + delta)
                    if after < load[hi] - 1e-9 and (best is None or after < best[0]):
                        best = (after, [(p, lo), (q, hi)])
        if best is not None:
            return best[1]
    return None


def _loads(
    placed: Mapping[Partition, str], weight: Mapping[Partition, float], members: Sequence[str]
) -> dict[str, float]:
    load = dict.fromkeys(members, 0.0)
    for p, m in placed.items():
        load[m] += weight[p]
    return load


def _by_member(
    placed: Mapping[Partition, str], members: Sequence[str]
) -> dict[str, list[Partition]]:
    out: dict[str, list[Partition]] = {m: [] for m in members}
    for p in sorted(placed):
        out[placed[p]].append(p)
    return out
