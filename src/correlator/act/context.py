"""The template context of an execution: plain data built from the incident change.

Only this data is visible to templates::

    incident        the Incident as JSON (alerts, root_causes, services, labels...)
    incident_id, version, change, status
    severity        the highest alert severity (info | warning | critical)
    root_cause      the top-ranked root-cause entity, or null
    runbook         {"name", "description"}
    execution_id, target
    params          the runbook's rendered parameters
"""

from __future__ import annotations

from typing import Any

from correlator.act.matching import top_root_cause
from correlator.act.runbook import Runbook
from correlator.model.alert import Severity
from correlator.model.incident import IncidentChange

__all__ = ["default_target", "severity_of", "template_context"]

_ORDER = [Severity.INFO, Severity.WARNING, Severity.CRITICAL]


def severity_of(change: IncidentChange) -> str:
    """The highest severity among the incident's alerts (``warning`` if it has none)."""
    severities = [a.severity for a in change.incident.alerts]
    return max(severities, key=_ORDER.index).value if severities else Severity.WARNING.value


def default_target(change: IncidentChange) -> str:
    """The top root cause, else the first service, else the incident id."""
    incident = change.incident
    return (
        top_root_cause(change)
        or (incident.services[0] if incident.services else "")
        or (incident.incident_id)
    )


def template_context(
    runbook: Runbook, change: IncidentChange, execution_id: str, target: str = ""
) -> dict[str, Any]:
    """The context every template of ``runbook`` renders against (``params`` added later)."""
    return {
        "incident": change.incident.model_dump(mode="json"),
        "incident_id": change.incident_id,
        "version": change.version,
        "change": change.change.value,
        "status": change.incident.status.value,
        "severity": severity_of(change),
        "root_cause": top_root_cause(change),
        "runbook": {"name": runbook.name, "description": runbook.description},
        "execution_id": execution_id,
        "target": target,
        "params": {},
    }
