"""The PetShop authors' protocol in engine terms: the symptom is given, as an external alert.

In the authors' RCA task the method *receives* the target (node, metric, statistic, time)
and names root causes. An engine receives a symptom the way an operator's front-end SLO
alert reaches it: an Alertmanager alert, turned into an :class:`Alert` by the same
:func:`~correlator.detect.external.from_alert_event` the engine uses for the alerts topic
and ``POST /api/v2/alerts``. :class:`GivenRun` feeds it, with the detected alerts of each
row, to its own ``CorrelateStage`` and ``RankStage`` (the correlate stage treats it like any
external alert: no special path), and reads the answer off the incident that holds it.

An answer names only what the engine found: an incident holding the given symptom and no
detected alert answers nothing (an empty answer, a miss), so the symptom alone never counts
as a root cause. The ranking itself is left as the engine makes it; when it puts the target
node first although that node has no detected alert (only the given one), the answer stands
and :attr:`GivenRun.first_by_symptom_only` says so, for the benchmark to count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from correlator.bench.petshop_data import Issue
from correlator.config import CorrelateSettings
from correlator.correlate.stage import CorrelateStage
from correlator.correlate.topology import TopologyGraph
from correlator.detect.external import from_alert_event
from correlator.model.alert import Alert
from correlator.model.incident import ChangeKind, Incident
from correlator.model.observation import Signal
from correlator.model.telemetry import AlertEvent
from correlator.rank.ranker import RankWeights
from correlator.rank.stage import RankStage

__all__ = ["SYMPTOM_ALERTNAME", "GivenRun", "symptom_alert", "symptom_at"]

#: ``alertname`` of the given symptom (the operator's SLO alert on the target).
SYMPTOM_ALERTNAME = "PetShopTargetSymptom"


def symptom_alert(node: str, metric: str, statistic: str, at: float) -> Alert:
    """The firing external alert an operator's SLO rule on the target would send at ``at``.

    >>> a = symptom_alert("PetSite", "latency", "Average", 0.0)
    >>> a.service, a.signal.value, a.labels["metric"]
    ('PetSite', 'external_alert', 'latency')
    """
    event = AlertEvent(
        labels={
            "alertname": SYMPTOM_ALERTNAME,
            "service": node,
            "metric": metric,
            "statistic": statistic,
            "severity": "critical",
        },
        annotations={"summary": f"{node} {metric} ({statistic}) out of its objective"},
        starts_at=datetime.fromtimestamp(at, UTC),
    )
    return from_alert_event(event)


def symptom_at(issue: Issue, times: Sequence[float], step: float) -> tuple[int, float]:
    """The row the target time falls in and that time re-timed onto ``times`` (the replay's).

    A row's timestamp starts its 5-minute period (CloudWatch), so the target time belongs
    to the last row stamped at or before it (clamped to the first and last rows); it keeps
    its offset into that row's period of ``step`` seconds. Without a target time: the first
    row's start.
    """
    stamps = issue.metrics.timestamps
    if issue.target_ts is None:
        return 0, times[0]
    before = [k for k, ts in enumerate(stamps) if ts <= issue.target_ts]
    row = before[-1] if before else 0
    offset = min(max(issue.target_ts - stamps[row], 0.0), step)
    return row, times[row] + offset


class GivenRun:
    """Correlate and rank the detected alerts of a few rows, with the symptom given at one."""

    def __init__(
        self,
        settings: CorrelateSettings,
        topology: TopologyGraph,
        weights: RankWeights,
        symptom: Alert,
        at_row: int,
        *,
        reverse: bool = False,
    ) -> None:
        self.correlate = CorrelateStage(settings, topology)
        self.rank = RankStage(topology, weights)
        self.symptom = symptom
        self.at_row = at_row
        self.reverse = reverse
        self.rows = 0
        self.opened = 0

    def feed_row(self, ts: float, detected: Sequence[Alert]) -> None:
        """One row: its detected alerts, and the symptom last when this is its row.

        With ``reverse`` the row goes to the correlate stage in reverse order (symptom first).
        """
        alerts = list(detected)
        if self.rows == self.at_row:
            alerts.append(self.symptom)
        if self.reverse:
            alerts.reverse()
        self.rows += 1
        changes = self.rank.process(self.correlate.process(alerts, datetime.fromtimestamp(ts, UTC)))
        self.opened += sum(c.change is ChangeKind.OPENED for c in changes)

    def incident(self) -> Incident | None:
        """The incident holding the given symptom (None before its row).

        Not one merged into another: the engine may move the symptom to a stronger cause
        found later, and an incident that held nothing else is resolved ``merged_into`` it.
        """
        for incident in self.correlate.incidents.values():
            if "merged_into" in incident.labels:
                continue
            if any(_is_symptom(a) for a in incident.alerts):
                return incident
        return None

    def detected(self) -> list[Alert]:
        """The detected (not external) alerts gathered with the symptom."""
        incident = self.incident()
        if incident is None:
            return []
        return [a for a in incident.alerts if a.signal is not Signal.EXTERNAL_ALERT]

    def answer(self) -> list[str]:
        """Ranked root-cause nodes; empty when nothing was detected with the symptom."""
        incident = self.incident()
        if incident is None or not self.detected():
            return []
        return [c.entity for c in incident.root_causes]

    @property
    def first_by_symptom_only(self) -> bool:
        """The answer's first node is the symptom's, which has no detected alert of its own."""
        answer = self.answer()
        return bool(answer) and (
            answer[0] == self.symptom.service
            and all(a.service != self.symptom.service for a in self.detected())
        )


def _is_symptom(alert: Alert) -> bool:
    return (
        alert.signal is Signal.EXTERNAL_ALERT and alert.labels.get("alertname") == SYMPTOM_ALERTNAME
    )
