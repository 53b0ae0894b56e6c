"""What each owned partition weighs, and when a member should ask for a new assignment.

A partition's weight is the bytes it brings a second: records arriving (the growth of its
end offset, as fetch responses report it) times the mean size of the records fetched
from it. Counting the records a member *fetches* would not do: members that are behind
all fetch as fast as they can, so their fetch rates look even however unevenly the
records arrive. Nor does the backlog: how it spreads over a member's partitions follows
the order it fetches them in (adding ``lag / window_s`` once put one span partition at
60% of the load on the scale-out bench, against 32% of what it receives). Records
alone would not do either: an OTLP span record carries several times the events of a log
record (on the scale-out load a split even by records is 56/44 by events, no better than
round-robin's). Time is passed in (``now``, monotonic seconds), so tests never sleep.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from correlator.transport.assignor import Partition, Plan

__all__ = ["PartitionLoad", "RejoinPolicy", "RejoinReason"]

#: Bytes a member must have seen arrive in a window before its weights
#: replace assumed ones: a trickle would make a split by noise.
_ENOUGH = 16 * 1024


@dataclass(frozen=True)
class _Sample:
    at: float
    end: int


class PartitionLoad:
    """Per-partition weights (bytes a second) over the last ``window_s`` seconds.

    >>> load = PartitionLoad(window_s=2.0)
    >>> load.fetched(("t", 0), records=10, size=1000)
    >>> for t in range(4):
    ...     load.observe(("t", 0), now=float(t), end=100 * t)
    >>> load.weights(now=3.0)
    {('t', 0): 10000.0}
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: dict[Partition, deque[_Sample]] = {}
        self._sizes: dict[Partition, tuple[int, int]] = {}  # records, bytes fetched

    def fetched(self, partition: Partition, records: int, size: int) -> None:
        """Note that ``records`` fetched from ``partition`` held ``size`` bytes."""
        count, total = self._sizes.get(partition, (0, 0))
        if count + records > 100_000:  # let the mean follow a changing record size
            count, total = count // 2, total // 2
        self._sizes[partition] = (count + records, total + size)

    def record_size(self, partition: Partition) -> float:
        """Mean bytes of the records fetched from ``partition`` (else from any; else 1)."""
        count, total = self._sizes.get(partition, (0, 0))
        if not count:
            count = sum(c for c, _ in self._sizes.values())
            total = sum(b for _, b in self._sizes.values())
        return total / count if count else 1.0

    def observe(self, partition: Partition, now: float, end: int | None) -> None:
        """Note that ``partition``'s end offset was ``end`` at ``now`` (None: not known yet).

        ``now`` is when the broker reported ``end`` (the fetch response), not when the member
        looked: a busy member drains a fetch's records over many batches, and its end offset
        is as old as that fetch. A report no newer than the last sample adds nothing.
        """
        if end is None:
            return
        samples = self._samples.setdefault(partition, deque())
        if samples and now <= samples[-1].at:
            return
        sample = _Sample(now, end)
        if len(samples) >= 2 and now - samples[-2].at < self.window_s / 8:
            samples[-1] = sample  # keep a handful of samples a window, not one a fetch
        else:
            samples.append(sample)
        while len(samples) > 2 and samples[1].at <= now - self.window_s:
            samples.popleft()

    def weights(self, now: float) -> dict[Partition, float]:
        """The weight of every partition observed over at least a window (up to ``now``).

        A quiet partition weighs 0. One not observed lately (its owner was busy elsewhere)
        keeps the weight of its last window: it is still owned, and that is a better weight
        than none, which the leader would fill with a guess. A partition not observed over a
        whole window yet (``forget`` starts one over) has none.
        """
        out: dict[Partition, float] = {}
        for partition, samples in self._samples.items():
            first, last = samples[0], samples[-1]
            span = last.at - first.at
            if span >= self.window_s * 0.999 and last.at <= now:
                out[partition] = (last.end - first.end) / span * self.record_size(partition)
        return out

    def forget(self, keep: Collection[Partition]) -> None:
        """Drop the partitions not in ``keep`` (no longer owned)."""
        for partition in [p for p in self._samples if p not in keep]:
            del self._samples[partition]
        for partition in [p for p in self._sizes if p not in keep]:
            del self._sizes[partition]


class RejoinReason(enum.Enum):
    """Why a member asks for a new assignment (``NONE``: it does not)."""

    NONE = "none"
    MEASURED = "measured partitions whose weight the plan assumed"
    DRIFTED = "its load moved away from the plan"


class RejoinPolicy:
    """Decides, from a member's plan and its measured weights, when it asks to rejoin.

    ``MEASURED``: the plan assumed the weight of some partition this member owns and it
    has now measured it for a window, with some load on its partitions (a new group's
    first split is by count; this makes the second one by weight). ``DRIFTED``: at most
    once per ``recheck_s`` (0 = never), its measured share of the group's load, the
    others' taken as planned, is more than ``threshold`` times the mean share away from
    its planned share; not on a plan that assumed some of its weights (they may be 1 a
    partition, not bytes a second: a load below ``_ENOUGH`` would always look drifted).
    Never twice within a
    window of the last request or of the assignment, and never in a group of one.
    """

    def __init__(self, window_s: float, threshold: float, recheck_s: float) -> None:
        self.window_s = window_s
        self.threshold = threshold
        self.recheck_s = recheck_s
        self._plan: Plan | None = None
        self._since = 0.0

    def assigned(self, plan: Plan, now: float) -> None:
        self._plan, self._since = plan, now

    def requested(self, now: float) -> None:
        self._since = now

    def check(self, measured: Mapping[Partition, float], now: float) -> RejoinReason:
        plan = self._plan
        if plan is None or plan.members <= 1 or now - self._since < self.window_s:
            return RejoinReason.NONE
        mine = {p: w for p, w in measured.items() if p in plan.weights}
        if plan.assumed & mine.keys() and sum(mine.values()) * self.window_s >= _ENOUGH:
            return RejoinReason.MEASURED
        if self.recheck_s <= 0 or now - self._since < self.recheck_s or plan.total <= 0:
            return RejoinReason.NONE
        if plan.assumed:
            return RejoinReason.NONE  # settled by MEASURED; a split by count weighs 1 each
        if mine.keys() != plan.weights.keys():
            return RejoinReason.NONE  # not measured for a whole window yet
        load, planned = sum(mine.values()), plan.load
        total = plan.total - planned + load
        share = load / total if total > 0 else 0.0
        if abs(share - planned / plan.total) * plan.members > self.threshold:
            return RejoinReason.DRIFTED
        return RejoinReason.NONE
