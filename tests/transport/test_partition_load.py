"""Partition weights from arrivals and backlog, and when a member asks to rejoin."""

from __future__ import annotations

import pytest

from correlator.config import KafkaSettings
from correlator.transport.assignor import MemberReport, Plan, plan_group
from correlator.transport.kafka import _Balance
from correlator.transport.partition_load import PartitionLoad, RejoinPolicy, RejoinReason

P0, P1, P2, P3 = ("t", 0), ("t", 1), ("t", 2), ("t", 3)


def test_weights_follow_arrivals() -> None:
    load = PartitionLoad(window_s=2.0)  # no record size known: 1 byte a record
    for tick in range(31):  # every 0.1 s for 3 s
        t = tick / 10
        # p0 gets 300 records/s, p1 100/s, however fast the member fetches them
        load.observe(P0, t, end=int(300 * t))
        load.observe(P1, t, end=int(100 * t))
    weights = load.weights(3.0)
    assert weights[P0] == pytest.approx(300, rel=0.02)
    assert weights[P1] == pytest.approx(100, rel=0.02)


def test_weights_are_bytes_a_second_at_each_partitions_own_record_size() -> None:
    load = PartitionLoad(window_s=1.0)
    load.fetched(P0, records=10, size=10 * 5000)  # span records: big
    load.fetched(P1, records=30, size=30 * 500)  # log records: small
    for tick in range(11):
        t = tick / 10
        load.observe(P0, t, end=int(100 * t))
        load.observe(P1, t, end=int(300 * t))
        load.observe(P2, t, end=int(100 * t))  # nothing fetched yet
    weights = load.weights(1.0)
    assert weights[P0] == pytest.approx(100 * 5000)
    assert weights[P1] == pytest.approx(300 * 500)
    assert weights[P2] == pytest.approx(100 * (50_000 + 15_000) / 40)  # mean of all fetched


def test_a_partition_is_weighed_only_after_a_whole_window_and_until_forgotten() -> None:
    load = PartitionLoad(window_s=2.0)
    load.observe(P0, 0.0, end=0)
    load.observe(P0, 1.5, end=150)
    load.observe(P1, 0.0, end=None)  # not fetched yet: no end known
    assert load.weights(1.5) == {}
    load.observe(P0, 2.0, end=200)
    assert load.weights(2.0) == {P0: 100.0}  # no record fetched: 1 byte a record
    assert load.weights(5.0) == {P0: 100.0}  # not observed lately: its last window
    load.forget([P1])
    load.observe(P0, 6.0, end=600)
    assert load.weights(6.0) == {}  # forgotten: starts over


def test_a_busy_members_report_keeps_a_balanced_split_where_it_is() -> None:
    a, b = PartitionLoad(window_s=2.0), PartitionLoad(window_s=2.0)
    for tick in range(81):  # a owns the heavy P0, b the three light ones: 3000 B/s each
        t = tick / 10
        a.observe(P0, t, end=int(3000 * t))
        if t <= 3.0:  # then b is busy elsewhere for 5 s, and a rebalance comes
            for p in (P1, P2, P3):
                b.observe(p, t, end=int(1000 * t))
    reports = {
        "a": MemberReport(frozenset({P0}), a.weights(8.0)),
        "b": MemberReport(frozenset({P1, P2, P3}), b.weights(8.0)),
    }
    plans = plan_group([P0, P1, P2, P3], {"a": ["t"], "b": ["t"]}, reports)
    # not b's three at the mean of a's (9000 against 3000), so two moved to a
    assert plans["a"][0] == [P0] and plans["b"][0] == [P1, P2, P3]
    assert not plans["b"][1].assumed


def _policy(recheck_s: float = 0.0) -> RejoinPolicy:
    return RejoinPolicy(window_s=2.0, threshold=0.1, recheck_s=recheck_s)


def test_a_member_asks_once_it_has_measured_what_the_plan_assumed() -> None:
    policy = _policy()
    policy.assigned(Plan({P0: 1.0, P1: 1.0}, frozenset({P0, P1}), 3.0, 2), now=10.0)
    measured = {P0: 300_000.0, P1: 20_000.0}  # bytes a second
    assert policy.check(measured, 11.0) is RejoinReason.NONE  # within a window
    assert policy.check({}, 12.5) is RejoinReason.NONE  # nothing measured yet
    assert policy.check({P0: 4000.0, P1: 2000.0}, 12.5) is RejoinReason.NONE  # a trickle
    assert policy.check(measured, 12.5) is RejoinReason.MEASURED
    policy.requested(12.5)
    assert policy.check(measured, 13.0) is RejoinReason.NONE  # not again within a window
    policy.assigned(Plan(measured, frozenset(), 640_000.0, 2), now=14.0)
    assert policy.check(measured, 20.0) is RejoinReason.NONE  # the plan used its weights


def test_a_group_of_one_never_rebalances() -> None:
    policy = _policy(recheck_s=5.0)
    policy.assigned(Plan({P0: 1.0}, frozenset({P0}), 1.0, 1), now=0.0)
    assert policy.check({P0: 500.0}, 100.0) is RejoinReason.NONE


def test_a_drifted_load_asks_at_most_once_per_recheck() -> None:
    policy = _policy(recheck_s=30.0)
    policy.assigned(Plan({P0: 100.0, P1: 100.0}, frozenset(), 400.0, 2), now=0.0)
    drifted = {P0: 300.0, P1: 100.0}  # 400 of an estimated 600: 0.67 against 0.5 planned
    close = {P0: 110.0, P1: 100.0}  # 210 of 410: 0.51, within the threshold
    assert policy.check(drifted, 20.0) is RejoinReason.NONE  # before the recheck time
    assert policy.check(close, 40.0) is RejoinReason.NONE
    assert policy.check({P0: 300.0}, 40.0) is RejoinReason.NONE  # P1 not measured yet
    assert policy.check(drifted, 40.0) is RejoinReason.DRIFTED
    policy.requested(40.0)
    assert policy.check(drifted, 60.0) is RejoinReason.NONE
    assert policy.check(drifted, 70.0) is RejoinReason.DRIFTED


def test_without_recheck_a_drift_never_asks() -> None:
    policy = _policy(recheck_s=0.0)
    policy.assigned(Plan({P0: 100.0, P2: 100.0}, frozenset(), 400.0, 2), now=0.0)
    assert policy.check({P0: 900.0, P2: 900.0}, 1000.0) is RejoinReason.NONE


def test_a_quiet_partition_weighs_0_and_is_not_dropped() -> None:
    load = PartitionLoad(window_s=2.0)
    for tick in range(41):  # observed every 0.1 s, nothing arriving after t=1
        t = tick / 10
        load.observe(P0, t, end=int(100 * min(t, 1.0)))
    assert load.weights(4.0) == {P0: 0.0}


def test_a_member_that_stopped_observing_still_reports_what_it_last_measured() -> None:
    """A member busy elsewhere (a slow checkpoint, a blocked sink) for more than a window
    may be asked to rejoin meanwhile: its partitions are still its own, and what it measured
    last is a better weight than the mean of the others' that the leader would put in."""
    load = PartitionLoad(window_s=2.0)
    for tick in range(31):
        t = tick / 10
        load.observe(P0, t, end=int(300 * t))
    assert load.weights(10.0) == {P0: pytest.approx(300.0, rel=0.02)}
    load.observe(P0, 10.0, end=3000)  # back: the rate over the gap
    assert load.weights(10.0) == {P0: pytest.approx(300.0, rel=0.02)}


def test_a_plan_that_assumed_weights_is_settled_by_measuring_not_by_drift() -> None:
    # a quiet group's plan is by count (1 a partition), whatever a trickle later weighs
    policy = _policy(recheck_s=30.0)
    policy.assigned(Plan({P0: 1.0, P1: 1.0}, frozenset({P0, P1}), 4.0, 2), now=0.0)
    assert policy.check({P0: 100.0, P1: 100.0}, 40.0) is RejoinReason.NONE  # a trickle
    assert policy.check({P0: 10_000.0, P1: 100.0}, 40.0) is RejoinReason.MEASURED


def test_an_end_reported_by_an_older_fetch_adds_no_sample() -> None:
    """A busy member looks again before its next fetch: the same end at a later time would
    read as nothing arriving, then the next fetch's end as a burst."""
    load = PartitionLoad(window_s=1.0)
    for tick in range(21):  # fetches every 0.2 s, 200 records/s, looked at every 0.05 s
        t = tick / 20
        fetch = int(t / 0.2) * 0.2
        load.observe(P0, fetch, end=int(200 * fetch))
    assert load.weights(1.0)[P0] == pytest.approx(200)
    load.observe(P0, 0.5, end=10_000)  # older than the last sample: ignored
    assert load.weights(1.0)[P0] == pytest.approx(200)


def test_a_partition_moved_again_within_a_window_keeps_the_weight_measured_before() -> None:
    """b got p1 (300/s as a measured) a moment ago and has not watched it for a window:
    it reports the planned 300, so a third member's join plans with it, not with the
    mean of the rest, and nothing is left to guess."""
    settings = KafkaSettings(partition_assignor="load-aware", load_window_s=3.0)
    b = _Balance(settings, clock=lambda: 100.0)
    plan = Plan({P1: 300.0, P2: 100.0}, frozenset(), total=600.0, members=2)
    b.assigned([P1, P2], plan)
    assert b.report().weights == {P1: 300.0, P2: 100.0}

    a = MemberReport(frozenset({P0, P3}), {P0: 100.0, P3: 100.0})
    plans = plan_group([P0, P1, P2, P3], {m: ["t"] for m in "abc"}, {"a": a, "b": b.report()})
    assert all(not p.assumed for _, p in plans.values())
    assert sum(p.total for _, p in plans.values()) == pytest.approx(3 * 600.0)

    guessed = Plan({P1: 300.0, P2: 1.0}, frozenset({P2}), total=500.0, members=2)
    b.assigned([P1, P2], guessed)  # a weight the leader guessed is not passed on as measured
    assert b.report().weights == {P1: 300.0}
