"""Text rendering of incidents for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from correlator.act.records import ExecutionRecord
from correlator.model.incident import Incident

__all__ = ["render_executions", "render_incidents", "render_serve_banner"]


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


def render_executions(records: Sequence[ExecutionRecord]) -> str:
    """One block per runbook execution: what matched, its status, each step as rendered."""
    if not records:
        return "No runbook matched.\n"
    lines: list[str] = []
    for rec in records:
        mode = "dry-run" if rec.dry_run else "live"
        lines.append(
            f"runbook {rec.runbook} for {rec.incident_id} v{rec.version} ({rec.change.value}): "
            f"{rec.status.value} [{mode}, {rec.reason.value}]"
        )
        for step in rec.steps:
            shown = step.rendered.get("argv") or step.rendered.get("url") or step.rendered
            lines.append(f"    {step.name} ({step.action}): {step.status.value}  {shown}")
            if step.output:
                lines.append(f"      {step.output.splitlines()[0][:160]}")
    return "\n".join(lines) + "\n"


def render_serve_banner(base_url: str, token: str) -> str:
    """What ``correlator demo --serve`` prints once the demo is done: where and how to call."""
    return "\n".join(
        [
            "",
            f"Serving the incident API over the demo's data at {base_url} (Ctrl-C stops it).",
            f"Token (scopes read, write, approve): {token}",
            "Try, in another terminal (more in docs/api-examples.md):",
            f"  export API={base_url} TOKEN={token}",
            '  curl -s -H "Authorization: Bearer $TOKEN" "$API/incidents?service=payments-db"',
            f"Web view: {base_url}/ui?token={token}",
            "",
        ]
    )
