"""Which runbooks (and steps) apply to an incident change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from correlator.act.runbook import Match, Runbook
from correlator.model.alert import Severity
from correlator.model.incident import IncidentChange

__all__ = ["matches", "select_runbooks", "top_root_cause"]

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


def _any(patterns: Sequence[str], values: Iterable[str]) -> bool:
    values = list(values)
    return any(fnmatchcase(v, p) for p in patterns for v in values)


def _has_all(labels: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(k in labels and fnmatchcase(labels[k], v) for k, v in wanted.items())


def top_root_cause(change: IncidentChange) -> str | None:
    """The top-ranked root-cause entity, if any."""
    causes = change.incident.root_causes
    return causes[0].entity if causes else None


def matches(match: Match, change: IncidentChange, *, any_change: bool = False) -> bool:
    """True when ``change`` meets every condition of ``match``.

    ``any_change`` ignores ``match.changes`` when it was left at its default (for ``when``).
    """
    incident = change.incident
    changes_apply = not (any_change and "changes" not in match.model_fields_set)
    if changes_apply and match.changes and change.change not in match.changes:
        return False
    if match.status and incident.status not in match.status:
        return False
    if match.services and not _any(match.services, incident.services):
        return False
    if match.root_cause:
        top = top_root_cause(change)
        # An edge entity ("checkout->payments") also answers to its callee's name.
        names = [top, top.rsplit("->", 1)[-1]] if top else []
        if not _any(match.root_cause, names):
            return False
    if match.signals and not _any(match.signals, (a.signal.value for a in incident.alerts)):
        return False
    if match.min_severity is not None:
        floor = _RANK[match.min_severity]
        if not any(_RANK[a.severity] >= floor for a in incident.alerts):
            return False
    if match.labels and not (
        _has_all(incident.labels, match.labels)
        or any(_has_all(a.labels, match.labels) for a in incident.alerts)
    ):
        return False
    return not any(
        incident.labels.get(k) is not None and fnmatchcase(incident.labels[k], v)
        for k, v in match.exclude_labels.items()
    )


def select_runbooks(runbooks: Sequence[Runbook], change: IncidentChange) -> list[Runbook]:
    """The enabled runbooks whose ``match`` holds for ``change``, in name order."""
    return sorted(
        (rb for rb in runbooks if rb.enabled and matches(rb.match, change)),
        key=lambda rb: rb.name,
    )
