"""The leader's split by weight: balance, stickiness, subscriptions, and the user data."""

from __future__ import annotations

import itertools
import random

import pytest

from correlator.transport.assignor import (
    MemberReport,
    Partition,
    Plan,
    assign_by_weight,
    imbalance,
    plan_group,
)

TWO = {"a": ["t", "u"], "b": ["t", "u"]}


def _parts(n: int, topic: str = "t") -> list[Partition]:
    return [(topic, i) for i in range(n)]


def _loads(split: dict[str, list[Partition]], weights: dict[Partition, float]) -> list[float]:
    return [sum(weights[p] for p in parts) for parts in split.values()]


def _best_max(parts: list[Partition], weights: dict[Partition, float], members: int) -> float:
    """The lowest possible maximum load, by trying every split (small cases only)."""
    best = float("inf")
    for owners in itertools.product(range(members), repeat=len(parts)):
        loads = [0.0] * members
        for p, m in zip(parts, owners, strict=True):
            loads[m] += weights[p]
        best = min(best, max(loads))
    return best


def test_a_count_split_of_key_hashed_load_is_uneven_and_the_weighted_one_is_not() -> None:
    # services hash to partitions unevenly: the same even partitions are heavy on every topic
    weights = {("t", 0): 50.0, ("t", 1): 20.0, ("t", 2): 45.0, ("t", 3): 25.0}
    weights |= {("u", p): w / 2 for (_, p), w in list(weights.items())}
    parts = sorted(weights)
    by_parity = {"a": [p for p in parts if p[1] % 2 == 0], "b": [p for p in parts if p[1] % 2]}
    split = assign_by_weight(parts, TWO, weights)
    assert imbalance(_loads(by_parity, weights), 2) > 0.3
    assert imbalance(_loads(split, weights), 2) < 0.02
    assert max(_loads(split, weights)) == pytest.approx(_best_max(parts, weights, 2))


@pytest.mark.parametrize("seed", range(12))
def test_random_weights_come_within_a_few_percent_of_the_best_split(seed: int) -> None:
    rng = random.Random(seed)
    members = rng.choice([2, 3])
    parts = _parts(rng.randrange(5, 10))
    weights = {p: rng.lognormvariate(0, 1) for p in parts}
    subscriptions = {f"m{i}": ["t"] for i in range(members)}
    split = assign_by_weight(parts, subscriptions, weights, threshold=0.0)
    assert sorted(p for ps in split.values() for p in ps) == parts
    best = _best_max(parts, weights, members)
    assert max(_loads(split, weights)) <= best * 1.05


def test_owners_keep_their_partitions_while_the_split_is_within_the_threshold() -> None:
    weights = {p: w for p, w in zip(_parts(4), [10.0, 11.0, 9.0, 12.0], strict=True)}
    owners = {("t", 0): "a", ("t", 1): "a", ("t", 2): "b", ("t", 3): "b"}  # 21 vs 21
    split = assign_by_weight(_parts(4), TWO, weights, owners, threshold=0.1)
    assert split == {"a": [("t", 0), ("t", 1)], "b": [("t", 2), ("t", 3)]}


def test_an_uneven_split_moves_as_few_partitions_as_balance_allows() -> None:
    weights = dict.fromkeys(_parts(8), 1.0)
    owners = dict.fromkeys(_parts(8), "a")  # b just joined
    split = assign_by_weight(_parts(8), TWO, weights, owners)
    assert len(split["a"]) == len(split["b"]) == 4
    moved = sum(owners[p] != m for m, ps in split.items() for p in ps)
    assert moved == 4


def test_partitions_go_only_to_members_subscribed_to_their_topic() -> None:
    parts = _parts(3, "t") + _parts(3, "u")
    weights = dict.fromkeys(parts, 1.0) | {("u", 0): 9.0}
    split = assign_by_weight(parts, {"a": ["t", "u"], "b": ["t"]}, weights)
    assert all(p[0] == "t" for p in split["b"])
    assert sorted(split["a"] + split["b"]) == sorted(parts)


def test_a_new_group_without_weights_splits_by_count() -> None:
    reports = {"a": MemberReport(), "b": MemberReport(), "c": MemberReport()}
    plans = plan_group(_parts(7), {m: ["t"] for m in reports}, reports)
    assert sorted(len(parts) for parts, _ in plans.values()) == [2, 2, 3]
    for parts, plan in plans.values():
        assert plan.assumed == set(parts) and plan.members == 3 and plan.total == 7


def test_measured_weights_from_every_owner_drive_the_split() -> None:
    reports = {
        "a": MemberReport(frozenset({("t", 0), ("t", 2)}), {("t", 0): 300.0, ("t", 2): 100.0}),
        "b": MemberReport(frozenset({("t", 1), ("t", 3)}), {("t", 1): 100.0, ("t", 3): 100.0}),
    }
    plans = plan_group(_parts(4), {"a": ["t"], "b": ["t"]}, reports)
    loads = sorted(plan.load for _, plan in plans.values())
    assert loads == [300.0, 300.0]
    assert all(not plan.assumed and plan.total == 600.0 for _, plan in plans.values())
    heavy = next(m for m, (parts, _) in plans.items() if ("t", 0) in parts)
    assert len(plans[heavy][0]) == 1


def test_a_partition_nobody_measured_weighs_the_mean_of_the_measured_ones() -> None:
    reports = {
        "a": MemberReport(frozenset({("t", 0)}), {("t", 0): 30.0}),
        "b": MemberReport(frozenset({("t", 1)}), {("t", 1): 10.0}),
    }
    plans = plan_group(_parts(3), {"a": ["t"], "b": ["t"]}, reports)
    [(_, plan)] = [pp for pp in plans.values() if ("t", 2) in pp[0]]
    assert plan.weights[("t", 2)] == 20.0 and plan.assumed == {("t", 2)}


def test_reports_and_plans_survive_encoding_and_foreign_bytes_mean_nothing_known() -> None:
    report = MemberReport(frozenset({("t", 1)}), {("t", 1): 2.5, ("u", 0): 0.0})
    assert MemberReport.decode(report.encode()) == report
    plan = Plan({("t", 1): 2.5}, frozenset({("t", 1)}), 10.0, 2)
    assert Plan.decode(plan.encode()) == plan
    for junk in (b"", None, b"\x00\x01", b'{"v": 1}', b"[1, 2]"):
        assert MemberReport.decode(junk) == MemberReport()
        assert Plan.decode(junk) == Plan()


def test_a_quiet_group_splits_a_new_member_in_by_count_and_asks_again_when_load_comes() -> None:
    """Every partition measured at 0 (a quiet spell): the split is by count, not "all even at
    0" and so left as it was, and the plan marks the weights assumed so members ask for a split
    by weight once they measure load (a plan of total 0 assumed nothing and never asked)."""
    quiet = dict.fromkeys(_parts(4), 0.0)
    reports = {"a": MemberReport(frozenset(quiet), quiet), "b": MemberReport()}  # b just joined
    plans = plan_group(_parts(4), {"a": ["t"], "b": ["t"]}, reports)
    assert sorted(len(parts) for parts, _ in plans.values()) == [2, 2]
    assert len(plans["a"][0]) == 2  # a keeps two of its own
    for parts, plan in plans.values():
        assert plan.assumed == set(parts) and plan.total > 0


def test_a_partition_measured_quiet_weighs_0_and_one_not_measured_the_mean() -> None:
    reports = {
        "a": MemberReport(frozenset({("t", 0), ("t", 1)}), {("t", 0): 600.0, ("t", 1): 0.0}),
        "b": MemberReport(frozenset({("t", 2)})),  # owns t2, has not measured it for a window
    }
    plans = plan_group(_parts(3), {"a": ["t"], "b": ["t"]}, reports)
    weights = {p: w for _, plan in plans.values() for p, w in plan.weights.items()}
    assert weights == {("t", 0): 600.0, ("t", 1): 0.0, ("t", 2): 300.0}
    assumed = {p for _, plan in plans.values() for p in plan.assumed}
    assert assumed == {("t", 2)}


@pytest.mark.parametrize("members", [2, 3])
def test_with_no_measurement_at_all_the_split_is_by_count_and_the_same_in_any_order(
    members: int,
) -> None:
    names = [f"m{i}" for i in range(members)]
    owned = {names[0]: frozenset(_parts(3)), names[-1]: frozenset(_parts(7)[3:])}
    reports = {m: MemberReport(owned.get(m, frozenset())) for m in names}
    subscriptions = {m: ["t"] for m in names}
    plans = plan_group(_parts(7), subscriptions, reports)
    counts = sorted(len(parts) for parts, _ in plans.values())
    assert max(counts) - min(counts) <= 1 and sum(counts) == 7
    for order in itertools.permutations(names):
        again = plan_group(
            _parts(7), {m: subscriptions[m] for m in order}, {m: reports[m] for m in order}
        )
        assert again == plans
