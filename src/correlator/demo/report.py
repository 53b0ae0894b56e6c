"""Text rendering of incidents for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from correlator.model.incident import Incident

__all__ = ["render_incidents"]


def render_incidents(incidents: Sequence[Incident], top: int = 3) -> str:
    """A table per incident: title, status, services, alerts, ranked root causes + evidence."""
    if not incidents:
        return "No incidents were published.\n"
    lines: list[str] = []
    for n, inc in enumerate(incidents, 1):
        span = (
            f"{inc.opened_at:%H:%M:%S}-{inc.resolved_at:%H:%M:%S}"
            if inc.resolved_at
            else (f"{inc.opened_at:%H:%M:%S}-now")
        )
        lines.append(f"[{n}] {inc.title}")
        lines.append(
            f"    id {inc.incident_id}  v{inc.version}  {inc.status.value}  {span}  "
            f"alerts {len(inc.alerts)} (x{inc.alert_count})"
        )
        lines.append(f"    services: {', '.join(sorted(inc.services))}")
        lines.append("    root-cause candidates:")
        lines.append(f"      {'rank':<5}{'service':<16}{'score':>7}  signals")
        for rank, cause in enumerate(inc.root_causes[:top], 1):
            lines.append(
                f"      {rank:<5}{cause.entity:<16}{cause.score:>7.3f}  {', '.join(cause.signals)}"
            )
        if inc.root_causes:
            lines.append(f"    evidence for {inc.root_causes[0].entity}:")
            lines.extend(f"      - {e.kind}: {e.detail}" for e in inc.root_causes[0].evidence)
        lines.append("")
    return "\n".join(lines)
