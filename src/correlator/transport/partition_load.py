"""What each owned partition weighs, and when a member should ask for a new assignment.

A partition's weight is the work it brings a second: records arriving (the growth of its
end offset, as fetch responses report it) plus its backlog spread over the window
(``lag / window_s``). Counting the records a member *fetches* would not do: members that
are behind all fetch as fast as they can, so their fetch rates look even however unevenly
the records arrive. Time is passed in (``now``, monotonic seconds), so tests never sleep.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from correlator.transport.assignor import Partition, Plan

__all__ = ["PartitionLoad", "RejoinPolicy", "RejoinReason"]

#: Records a member must have seen arrive (or waiting) in a window before its weights
#: replace assumed ones: a trickle would make a split by noise.
_ENOUGH = 100


@dataclass(frozen=True)
class _Sample:
    at: float
    end: int
    lag: int


class PartitionLoad:
    """Per-partition weights (records a second) over the last ``window_s`` seconds.

    >>> load = PartitionLoad(window_s=2.0)
    >>> for t in range(4):
    ...     load.observe(("t", 0), now=float(t), end=100 * t, position=100 * t - 20)
    >>> load.weights(now=3.0)
    {('t', 0): 110.0}
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: dict[Partition, deque[_Sample]] = {}

    def observe(
        self, partition: Partition, now: float, end: int | None, position: int | None
    ) -> None:
        """Note ``partition``'s end offset and the consumer's position in it at ``now``
        (either may be unknown yet: no sample then)."""
        if end is None:
            return
        sample = _Sample(now, end, max(0, end - position) if position is not None else 0)
        samples = self._samples.setdefault(partition, deque())
        if len(samples) >= 2 and now - samples[-2].at < self.window_s / 8:
            samples[-1] = sample  # keep a handful of samples a window, not one a fetch
        else:
            samples.append(sample)
        while len(samples) > 2 and samples[1].at <= now - self.window_s:
            samples.popleft()

    def weights(self, now: float) -> dict[Partition, float]:
        """The weight of every partition observed for at least a window up to ``now``."""
        out: dict[Partition, float] = {}
        for partition, samples in self._samples.items():
            first, last = samples[0], samples[-1]
            span = last.at - first.at
            if span >= self.window_s * 0.999 and now - last.at < self.window_s:
                out[partition] = (last.end - first.end) / span + last.lag / self.window_s
        return out

    def forget(self, keep: Collection[Partition]) -> None:
        """Drop the partitions not in ``keep`` (no longer owned)."""
        for partition in [p for p in self._samples if p not in keep]:
            del self._samples[partition]


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
    its planned share. Never twice within a
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
        if mine.keys() != plan.weights.keys():
            return RejoinReason.NONE  # not measured for a whole window yet
        load, planned = sum(mine.values()), plan.load
        total = plan.total - planned + load
        share = load / total if total > 0 else 0.0
        if abs(share - planned / plan.total) * plan.members > self.threshold:
            return RejoinReason.DRIFTED
        return RejoinReason.NONE
