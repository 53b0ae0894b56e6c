"""RankStage: attach ranked root causes and a title to each changed incident."""

from __future__ import annotations

from collections.abc import Sequence

from correlator.correlate.stage import PendingChange
from correlator.correlate.topology import TopologyGraph
from correlator.rank.ranker import RankWeights, rank_root_causes

__all__ = ["RankStage"]


class RankStage:
    """Re-ranks every incident that changed in the batch."""

    def __init__(self, topology: TopologyGraph, weights: RankWeights | None = None) -> None:
        self.topology = topology
        self.weights = weights

    def process(self, changes: Sequence[PendingChange]) -> Sequence[PendingChange]:
        for pending in changes:
            incident = pending.incident
            incident.root_causes = rank_root_causes(incident.alerts, self.topology, self.weights)
            if incident.root_causes:
                top = incident.root_causes[0]
                others = len(incident.services) - 1
                tail = f" and {others} more service{'s' * (others > 1)}" if others > 0 else ""
                incident.title = f"{top.entity}: {', '.join(top.signals)}{tail}"
        return changes
