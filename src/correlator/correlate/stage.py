"""CorrelateStage: alerts → incident changes (opened, updated, resolved, reopened).

Event time drives it: ``now`` is the watermark of the telemetry, so replays in simulated
time behave as live traffic does and tests never sleep.

Corroboration (``open_min_alerts``): a new incident is *held* until it holds that many
distinct alerts. While held it groups alerts like any open incident, but none of its changes
is returned (nothing is published) and it inhibits nothing; when it reaches the count its
change is OPENED, with every alert gathered so far; if it goes quiet first it vanishes
without a trace. An external alert (from Alertmanager) needs no corroboration: its own
rule has already decided. One lone anomalous series then opens nothing, as a rule's ``for:`` keeps a
lone sample from paging, but at incident level, where the evidence of several series meets.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import networkx as nx

from correlator.config import CorrelateSettings
from correlator.correlate.dedup import DedupReason, merge_alert, rekey_external
from correlator.correlate.grouping import (
    WeightCache,
    batch_order,
    choose_incident,
    incident_id_for,
    stronger_home,
)
from correlator.correlate.rules import Rules, Silence
from correlator.correlate.topology import TopologyGraph
from correlator.model.alert import Alert, AlertStatus, is_watch
from correlator.model.incident import ChangeKind, Incident, IncidentStatus
from correlator.model.observation import Signal

__all__ = ["CorrelateStage", "PendingChange", "SuppressReason", "Suppressed"]

log = logging.getLogger(__name__)
_MAX_SUPPRESSED = 10_000


class SuppressReason(StrEnum):
    """Why an alert was recorded without opening or joining an incident."""

    SILENCED = "silenced"
    INHIBITED = "inhibited"
    FLAPPING = "flapping"


@dataclass(frozen=True)
class Suppressed:
    """An alert kept aside, the reason, and what caused it (silence id or source alert)."""

    alert: Alert
    reason: SuppressReason
    by: str


@dataclass
class PendingChange:
    """An incident that changed in this batch, and why (before ranking and versioning)."""

    incident: Incident
    change: ChangeKind


class CorrelateStage:
    """Keeps open incidents in memory (restored from the store) and groups alerts into them."""

    def __init__(
        self, settings: CorrelateSettings, topology: TopologyGraph, rules: Rules | None = None
    ) -> None:
        self.settings = settings
        self.topology = topology
        self.incidents: dict[str, Incident] = {}
        self._by_fingerprint: dict[str, str] = {}
        rules = rules or Rules()
        self.silences: dict[str, Silence] = {s.id: s for s in rules.silences}
        self.inhibit_rules = list(rules.inhibit_rules)
        self.suppressed: dict[str, Suppressed] = {}
        self._transitions: dict[str, deque[datetime]] = {}
        self._held: set[str] = set()  # incidents not yet corroborated (never published)
        # per batch: how often each incident was marked changed, and for each external
        # alert that joined an existing incident, whether that incident had changed before
        # it and its updated_at then (a move in the same batch then changes it back)
        self._marks: dict[str, int] = {}
        self._joined: dict[str, tuple[str, bool, datetime]] = {}
        self._symptomatic: set[str] = set()  # services alerting in the current batch
        self._watches: dict[str, Alert] = {}  # watch alerts no incident explains yet

    def add_silences(self, silences: Iterable[Silence]) -> None:
        """Adopt silences (from the rules file or the store); a same id replaces."""
        for silence in silences:
            self.silences[silence.id] = silence

    def restore(self, incidents: Iterable[Incident]) -> None:
        """Adopt incidents read back from the store."""
        for incident in incidents:
            self.incidents[incident.incident_id] = incident
            for alert in incident.alerts:
                self._by_fingerprint[alert.fingerprint] = incident.incident_id

    def state(self) -> dict[str, Any]:
        """Everything an engine snapshot needs to resume exactly where this stage was."""
        return {
            "incidents": self.incidents,
            "by_fingerprint": self._by_fingerprint,
            "transitions": self._transitions,
            "suppressed": self.suppressed,
            "held": self._held,
            "watches": self._watches,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Resume from ``state()`` of an earlier run (replaces what is in memory)."""
        self.incidents = state["incidents"]
        self._by_fingerprint = state["by_fingerprint"]
        self._transitions = state["transitions"]
        self.suppressed = state["suppressed"]
        self._held = state.get("held", set())  # absent from snapshots before it existed
        self._watches = state.get("watches", {})

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.status is IncidentStatus.OPEN]

    def _alerting(self, batch: Sequence[Alert]) -> set[str]:
        """Services with a firing alert, in the batch or in an open incident.

        An external alert is related to a cause more than a hop below it only through these
        (see :meth:`~correlator.correlate.topology.TopologyGraph.downstream_through`).
        """
        found = {a.service for a in batch if a.status is AlertStatus.FIRING and not is_watch(a)}
        for incident in self.open_incidents():
            found.update(
                a.service
                for a in incident.alerts
                if a.status is AlertStatus.FIRING and not is_watch(a)
            )
        return found

    def process(self, alerts: Sequence[Alert], now: datetime) -> list[PendingChange]:
        """Group a batch of alerts at ``now``; the changes to publish.

        The batch is taken in :func:`~correlator.correlate.grouping.batch_order` (time, then
        callees before callers), never in the order it came in, so the same alerts give the
        same incidents, with the same ids, in any order.
        """
        changed: dict[str, ChangeKind] = {}
        self._marks, self._joined = {}, {}
        if self.settings.learned_edge_max_age_s is not None:
            self.topology.age_out(now.timestamp(), self.settings.learned_edge_max_age_s)
        self._resolve_quiet(now, changed)
        fields = self.settings.external_fingerprint_labels
        keyed = [rekey_external(alert, fields) for alert in alerts]
        self._symptomatic = self._alerting(keyed)
        for alert in batch_order(keyed, self.topology):
            self._take(alert, changed)
        self._place_watches(changed, now)
        if self.settings.direction_aware:
            self._rehome_external(changed, now)
        return self._published(changed)

    def _rehome_external(self, changed: dict[str, ChangeKind], now: datetime) -> None:
        """Move each firing external alert to the incident that explains it best.

        See :func:`~correlator.correlate.grouping.stronger_home`. Only an incident that
        changed in this batch can have become the stronger home (any incident below the
        alert's service, when its own incident changed), so a quiet batch costs nothing.
        Incidents are visited by id, so the outcome does not depend on the order they were
        opened or restored in.
        """
        if not changed:
            return
        open_now = self.open_incidents()
        if len(open_now) < 2:
            return
        window = timedelta(seconds=self.settings.window_s)
        hops = self.settings.max_hops
        cache: WeightCache = {}
        by_service: dict[str, list[Incident]] = {}
        for incident in open_now:
            for service in incident.services:
                by_service.setdefault(service, []).append(incident)
        for incident in sorted(open_now, key=lambda i: i.incident_id):
            mine = incident.incident_id in changed
            for alert in [
                a
                for a in incident.alerts
                if (a.signal is Signal.EXTERNAL_ALERT or is_watch(a))
                and a.status is AlertStatus.FIRING
            ]:
                near = {
                    other.incident_id: other
                    for service in self.topology.downstream(alert.service, hops)
                    if service != alert.service
                    for other in by_service.get(service, ())
                    if other is not incident
                    and (mine or other.incident_id in changed)
                    and self._still_open(other)
                }
                if not near or not self._still_open(incident):
                    continue
                home = stronger_home(
                    alert,
                    incident,
                    near.values(),
                    self.topology,
                    window,
                    hops,
                    self.settings.sample_prior,
                    cache,
                    self._symptomatic,
                )
                if home is not None:
                    self._move(alert, incident, home, changed, now)
                    cache.pop(incident.incident_id, None)
                    cache.pop(home.incident_id, None)

    def _still_open(self, incident: Incident) -> bool:
        """Open and not merged away earlier in this pass."""
        return (
            self.incidents.get(incident.incident_id) is incident
            and incident.status is IncidentStatus.OPEN
        )

    def _move(
        self,
        alert: Alert,
        source: Incident,
        target: Incident,
        changed: dict[str, ChangeKind],
        now: datetime,
    ) -> None:
        """Take ``alert`` out of ``source`` into ``target``.

        A source left with nothing was the alert's alone: it is merged into the target,
        dropped when it was opened in this very batch (never published), else resolved with
        the label ``merged_into`` (it keeps the alert as it was, as the API's merge does).
        Watch alerts alone are nothing: they wait for a cause again (:meth:`_place_watches`).
        """
        rest = [a for a in source.alerts if a.fingerprint != alert.fingerprint]
        if all(is_watch(a) for a in rest):
            for watch in rest:
                self._watches[watch.fingerprint] = watch
                self._by_fingerprint.pop(watch.fingerprint, None)
            rest = []
        target.alerts.append(alert)
        if alert.service not in target.services:
            target.services.append(alert.service)
        self._by_fingerprint[alert.fingerprint] = target.incident_id
        self._mark(target, changed, ChangeKind.UPDATED, alert.last_seen_at)
        joined = self._joined.pop(alert.fingerprint, None)
        if rest:
            source.alerts = rest
            if all(a.service != alert.service for a in rest):
                source.services.remove(alert.service)
            if (
                joined is not None
                and joined[0] == source.incident_id
                and not joined[1]
                and self._marks.get(source.incident_id) == 1
            ):
                # it changed in this batch only by taking the alert: nothing to publish
                del changed[source.incident_id]
                source.updated_at = joined[2]
                self._marks[source.incident_id] = 0
            else:
                self._mark(source, changed, ChangeKind.UPDATED, alert.last_seen_at)
        elif changed.get(source.incident_id) is ChangeKind.OPENED:
            del changed[source.incident_id]
            self._drop(source.incident_id)
        else:
            source.status = IncidentStatus.RESOLVED
            source.resolved_at = now
            source.updated_at = max(source.updated_at, now)
            source.labels["merged_into"] = target.incident_id
            changed[source.incident_id] = ChangeKind.RESOLVED

    def _published(self, changed: dict[str, ChangeKind]) -> list[PendingChange]:
        """The changes to publish: none of a held incident, OPENED when it is corroborated."""
        out = []
        for incident_id, kind in changed.items():
            incident = self.incidents.get(incident_id)
            if incident is None:
                continue  # a held incident that went quiet
            if incident_id in self._held:
                if not self._corroborated(incident):
                    continue
                self._held.discard(incident_id)
                kind = ChangeKind.OPENED
            out.append(PendingChange(incident, kind))
        return out

    def _corroborated(self, incident: Incident) -> bool:
        """Enough distinct alerts (watch alerts left out), or one from outside (its own rule
        already decided)."""
        own = sum(not is_watch(a) for a in incident.alerts)
        return own >= self.settings.open_min_alerts or any(
            a.signal is Signal.EXTERNAL_ALERT for a in incident.alerts
        )

    def _take(self, alert: Alert, changed: dict[str, ChangeKind]) -> None:
        owner_id = self._by_fingerprint.get(alert.fingerprint)
        owner = self.incidents.get(owner_id) if owner_id else None
        known = (
            next((a for a in owner.alerts if a.fingerprint == alert.fingerprint), None)
            if owner
            else None
        )
        if known is not None and is_watch(alert) and not is_watch(known):
            return  # the series' full alert is there already: a weaker reading adds nothing
        if (
            owner is not None
            and known is not None
            and owner.status is IncidentStatus.OPEN
            and _confirms(known, alert)
        ):
            # the reading alerts in full: placed afresh, as any new alert (the incident its
            # watch joined need not be where the fault it now shows belongs)
            self._unjoin(owner, known, changed)
            owner = known = None
        merged, reason = merge_alert(known, alert)
        if merged is None:
            return
        # a watch alert is no transition: it would count a reading that never alerted
        flapping = not is_watch(alert) and self._note_transition(alert, reason)
        if owner is not None and self._can_update(owner, merged, reason):
            if flapping:
                merged = _flagged(merged)
            self._replace_alert(owner, merged)
            self._mark(owner, changed, ChangeKind.UPDATED, merged.last_seen_at)
            return
        if merged.status is AlertStatus.RESOLVED:
            return  # a resolve for an alert we never saw firing: nothing to show
        merged = alert  # a new episode of this fingerprint starts afresh
        self._watches.pop(merged.fingerprint, None)
        if is_watch(merged):
            self._watch(merged, changed)
            return
        if flapping:
            self._suppress(_flagged(merged), SuppressReason.FLAPPING, "flap detection")
            return
        if self._muted(merged):
            return
        target = self._home(merged)
        if target is None:
            target = self._reopen(merged, changed) or self._open(merged, changed)
            self._join(target, merged, changed, append=False)
        else:
            self._join(target, merged, changed, movable=merged.signal is Signal.EXTERNAL_ALERT)

    def _watch(self, alert: Alert, changed: dict[str, ChangeKind]) -> None:
        """A new watch alert: into the incident whose cause lies below it, else kept aside.

        One kept aside is placed when such an incident comes within ``window_s`` (see
        :meth:`_place_watches`); it never opens an incident of its own.
        """
        if self._muted(alert):
            return
        target = self._home(alert, causes_only=True)
        if target is None:
            self._watches[alert.fingerprint] = alert
            return
        self._join(target, alert, changed, movable=True)

    def _home(self, alert: Alert, *, causes_only: bool = False) -> Incident | None:
        """The open incident ``alert`` joins (see :func:`choose_incident`), if any."""
        return choose_incident(
            alert,
            self.open_incidents(),
            self.topology,
            timedelta(seconds=self.settings.window_s),
            self.settings.max_hops,
            self.settings.direction_aware,
            self._symptomatic,
            causes_only=causes_only,
        )

    def _join(
        self,
        target: Incident,
        alert: Alert,
        changed: dict[str, ChangeKind],
        *,
        append: bool = True,
        movable: bool = False,
    ) -> None:
        """Record ``alert`` in ``target`` (appended unless it is there already).

        ``movable`` (an SLO or watch alert, which may move on in this batch): note what the
        incident was before, so that one left as it was publishes nothing (see :meth:`_move`).
        """
        if movable:
            before = (target.incident_id, target.incident_id in changed, target.updated_at)
            self._joined[alert.fingerprint] = before
        if append:
            target.alerts.append(alert)
        if alert.service not in target.services:
            target.services.append(alert.service)
        self._by_fingerprint[alert.fingerprint] = target.incident_id
        self._mark(target, changed, ChangeKind.UPDATED, alert.last_seen_at)

    def _unjoin(self, incident: Incident, alert: Alert, changed: dict[str, ChangeKind]) -> None:
        """Take a watch alert out of ``incident`` (its series now alerts in full).

        An incident never holds watch alerts alone (they join only a cause); should it be
        left so, its watches wait again and it is resolved (dropped if opened in this batch).
        """
        incident.alerts = [a for a in incident.alerts if a.fingerprint != alert.fingerprint]
        if all(a.service != alert.service for a in incident.alerts):
            incident.services.remove(alert.service)
        del self._by_fingerprint[alert.fingerprint]
        self._mark(incident, changed, ChangeKind.UPDATED, alert.last_seen_at)
        if any(not is_watch(a) for a in incident.alerts):
            return
        for watch in incident.alerts:
            self._watches[watch.fingerprint] = watch
            self._by_fingerprint.pop(watch.fingerprint, None)
        if changed.get(incident.incident_id) is ChangeKind.OPENED:
            changed.pop(incident.incident_id, None)
            self._drop(incident.incident_id)
            return
        incident.status = IncidentStatus.RESOLVED
        incident.resolved_at = alert.last_seen_at
        changed[incident.incident_id] = ChangeKind.RESOLVED

    def _place_watches(self, changed: dict[str, ChangeKind], now: datetime) -> None:
        """Place watch alerts kept aside whose cause has come; forget those past window_s.

        A caller's reading can turn a row before its callee's fault alerts in full (a rule's
        ``for:`` holds the fault back); within ``window_s`` it still joins the fault.
        """
        if not self._watches:
            return
        horizon = now - timedelta(seconds=self.settings.window_s)
        for fingerprint in sorted(self._watches):
            alert = self._watches[fingerprint]
            if alert.last_seen_at < horizon:
                del self._watches[fingerprint]
                continue
            target = self._home(alert, causes_only=True)
            if target is not None:
                del self._watches[fingerprint]
                self._join(target, alert, changed, movable=True)

    def _note_transition(self, alert: Alert, reason: DedupReason) -> bool:
        """Count fire/resolve transitions of the fingerprint; True when it is flapping."""
        if reason is DedupReason.REPEAT:
            return False
        window = timedelta(seconds=self.settings.flap_window_s)
        seen = self._transitions.setdefault(alert.fingerprint, deque())
        seen.append(alert.last_seen_at)
        while seen and alert.last_seen_at - seen[0] > window:
            seen.popleft()
        return len(seen) > self.settings.flap_max_transitions

    def _muted(self, alert: Alert) -> bool:
        """Silenced or inhibited: recorded in ``suppressed``, kept out of incidents."""
        for silence in self.silences.values():
            if silence.mutes(alert):
                self._suppress(alert, SuppressReason.SILENCED, silence.id)
                return True
        if not self.inhibit_rules:
            return False
        sources = [
            a
            for i in self.open_incidents()
            if i.incident_id not in self._held
            for a in i.alerts
            if a.status is AlertStatus.FIRING and not is_watch(a)
        ]
        for rule in self.inhibit_rules:
            source = rule.inhibits(alert, sources, self._depends)
            if source is not None:
                self._suppress(alert, SuppressReason.INHIBITED, source.fingerprint)
                return True
        return False

    def _depends(self, caller: str, callee: str) -> bool:
        """True when ``caller`` calls ``callee``, directly or through others."""
        graph = self.topology.graph
        return (
            caller in graph
            and callee in graph
            and caller != callee
            and (callee in self._descendants(caller))
        )

    def _descendants(self, service: str) -> set[str]:
        found: set[str] = nx.descendants(self.topology.graph, service)
        return found

    def _suppress(self, alert: Alert, reason: SuppressReason, by: str) -> None:
        if len(self.suppressed) >= _MAX_SUPPRESSED and alert.fingerprint not in self.suppressed:
            self.suppressed.pop(next(iter(self.suppressed)))
        self.suppressed[alert.fingerprint] = Suppressed(alert, reason, by)
        log.info(
            "alert suppressed",
            extra={"fingerprint": alert.fingerprint, "reason": reason.value, "by": by},
        )

    def _can_update(self, owner: Incident, merged: Alert, reason: DedupReason) -> bool:
        if owner.status is IncidentStatus.OPEN:
            return True
        return reason is DedupReason.RESOLVED

    @staticmethod
    def _replace_alert(incident: Incident, alert: Alert) -> None:
        incident.alerts = [
            alert if a.fingerprint == alert.fingerprint else a for a in incident.alerts
        ]

    def _open(self, alert: Alert, changed: dict[str, ChangeKind]) -> Incident:
        incident_id = incident_id_for(alert)
        incident = Incident(
            incident_id=incident_id,
            version=1,
            title=f"{alert.service}: {alert.signal.value}",
            services=[alert.service],
            alerts=[alert],
            opened_at=alert.starts_at,
            updated_at=alert.last_seen_at,
        )
        self.incidents[incident_id] = incident
        changed[incident_id] = ChangeKind.OPENED
        if self.settings.open_min_alerts > 1:
            self._held.add(incident_id)
        return incident

    def _reopen(self, alert: Alert, changed: dict[str, ChangeKind]) -> Incident | None:
        """A recently resolved incident the same fault comes back to, reopened."""
        grace = timedelta(seconds=self.settings.reopen_grace_s)
        for incident in self.incidents.values():
            if incident.status is not IncidentStatus.RESOLVED or incident.resolved_at is None:
                continue
            if "merged_into" in incident.labels:
                continue  # its alerts live on in the incident it was merged into
            same = any(
                a.fingerprint == alert.fingerprint and not is_watch(a) for a in incident.alerts
            )
            if same and alert.starts_at - incident.resolved_at <= grace:
                incident.status = IncidentStatus.OPEN
                incident.resolved_at = None
                self._replace_alert(incident, alert)
                changed[incident.incident_id] = ChangeKind.REOPENED
                return incident
        return None

    def _mark(
        self, incident: Incident, changed: dict[str, ChangeKind], kind: ChangeKind, at: datetime
    ) -> None:
        self._marks[incident.incident_id] = self._marks.get(incident.incident_id, 0) + 1
        if at > incident.updated_at:
            incident.updated_at = at
        if incident.incident_id not in changed:
            changed[incident.incident_id] = kind

    def _resolve_quiet(self, now: datetime, changed: dict[str, ChangeKind]) -> None:
        quiet = timedelta(seconds=self.settings.resolve_after_s)
        for incident in self.open_incidents():
            own = [a for a in incident.alerts if not is_watch(a)] or incident.alerts
            last = max(a.last_seen_at for a in own)  # watch readings keep nothing open
            firing = any(
                a.status is AlertStatus.FIRING and (a.ends_at is None or a.ends_at > now)
                for a in own
            )
            if now - last < quiet or (firing and now - last < 2 * quiet):
                continue
            if incident.incident_id in self._held:
                self._drop(incident.incident_id)
                continue
            incident.status = IncidentStatus.RESOLVED
            incident.resolved_at = now
            incident.updated_at = max(incident.updated_at, now)
            changed[incident.incident_id] = ChangeKind.RESOLVED
        self._forget_old(now)

    def _forget_old(self, now: datetime) -> None:
        """Drop resolved incidents past the reopen grace period from memory."""
        horizon = timedelta(seconds=self.settings.reopen_grace_s + self.settings.resolve_after_s)
        for incident_id in [
            i.incident_id
            for i in self.incidents.values()
            if i.status is IncidentStatus.RESOLVED
            and i.resolved_at is not None
            and now - i.resolved_at > horizon
        ]:
            self._drop(incident_id)

    def _drop(self, incident_id: str) -> None:
        """Forget an incident and which fingerprints it held."""
        incident = self.incidents.pop(incident_id)
        self._held.discard(incident_id)
        for alert in incident.alerts:
            if self._by_fingerprint.get(alert.fingerprint) == incident_id:
                del self._by_fingerprint[alert.fingerprint]


def _confirms(known: Alert, incoming: Alert) -> bool:
    """``incoming`` turns the watch alert ``known`` into a full one (a later reading)."""
    return (
        is_watch(known)
        and not is_watch(incoming)
        and incoming.status is AlertStatus.FIRING
        and incoming.last_seen_at > known.last_seen_at
    )


def _flagged(alert: Alert) -> Alert:
    """The alert labelled ``flapping=true``."""
    return alert.model_copy(update={"labels": {**alert.labels, "flapping": "true"}})
