"""The web view: server-rendered HTML with inline CSS, no front-end build.

``GET /ui`` lists incidents, ``GET /ui/incidents/{id}`` shows one with its root-cause
ranking and its topology subgraph as inline SVG. Authenticate with the
``Authorization: Bearer`` header, or open ``/ui?token=<token>`` once: the token moves
into an HttpOnly, SameSite=Strict cookie and the page reloads without it in the URL.
"""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from correlator.model.incident import IncidentStatus
from correlator.serve.auth import Principal, require_ui
from correlator.serve.context import ServeContext, get_ctx
from correlator.serve.query import CursorError, IncidentQuery, list_incidents
from correlator.serve.routes_incidents import incident_detail
from correlator.serve.schemas import IncidentDetail, IncidentSummary
from correlator.serve.settings import Scope
from correlator.serve.topology_view import topology_svg

__all__ = ["error_page", "login_page", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
Ctx = Annotated[ServeContext, Depends(get_ctx)]
Viewer = Annotated[Principal, Depends(require_ui(Scope.READ))]

_CSS = """
body{font-family:system-ui,sans-serif;margin:0;color:#1f2933;background:#f7f9fb}
header{background:#1f2933;color:#fff;padding:10px 24px}header a{color:#fff;text-decoration:none}
main{padding:16px 24px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e4e7eb;padding:6px 8px;text-align:left;font-size:14px}
th{background:#eef2f7}.open{color:#c62828;font-weight:600}.resolved{color:#2e7d32}
.critical{color:#c62828}.warning{color:#b26a00}.info{color:#52606d}
section{margin:18px 0}.svg{background:#fff;border:1px solid #e4e7eb;overflow:auto;padding:8px}
.muted{color:#7b8794}form.filter input,form.filter select{margin-right:8px}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · correlator</title><style>{_CSS}</style></head><body>"
        '<header><a href="/ui">correlator</a> · incidents</header>'
        f"<main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status)


def error_page(detail: str, status: int) -> HTMLResponse:
    return _page("error", f"<h1>{status}</h1><p>{escape(detail)}</p>", status)


def login_page(detail: str, status: int) -> HTMLResponse:
    """Shown instead of the JSON body when the web view is not authorized."""
    form = (
        f"<h1>Sign in</h1><p>{escape(detail)}</p>"
        '<form method="get" action="/ui"><input name="token" type="password" '
        'placeholder="token" autofocus> <button>Open</button></form>'
    )
    return _page("sign in", form, status)


def _remember_token(request: Request, ctx: ServeContext) -> Response | None:
    """Move ``?token=`` into the cookie and reload without it in the URL."""
    token = request.query_params.get("token")
    if not token:
        return None
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
    response = RedirectResponse(target, 303)
    response.set_cookie(
        ctx.settings.ui_cookie,
        token,
        httponly=True,
        samesite="strict",
        secure=ctx.settings.ui_cookie_secure,
        path="/ui",
    )
    return response


def _row(item: IncidentSummary) -> str:
    return (
        f'<tr><td><a href="/ui/incidents/{escape(item.incident_id)}">'
        f"{escape(item.incident_id)}</a></td>"
        f'<td class="{item.status.value}">{item.status.value}</td>'
        f'<td class="{item.severity.value}">{item.severity.value}</td>'
        f"<td>{escape(item.title)}</td><td>{escape(', '.join(item.services))}</td>"
        f"<td>{escape(item.top_root_cause or '—')}</td><td>{item.alert_count}</td>"
        f"<td>{item.updated_at:%Y-%m-%d %H:%M:%S}</td></tr>"
    )


@router.get("", response_class=HTMLResponse)
async def incidents_page(
    request: Request,
    ctx: Ctx,
    _: Viewer,
    status: Annotated[IncidentStatus | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    if (redirect := _remember_token(request, ctx)) is not None:
        return redirect
    query = IncidentQuery(status=[status] if status else [], q=q or None, limit=100)
    try:
        page = await list_incidents(ctx.store, query, cursor, ctx.settings.max_scan)
    except CursorError as exc:
        return _page("incidents", f"<p>{escape(str(exc))}</p>", 400)
    options = "".join(
        f'<option value="{s}"{" selected" if s == status else ""}>{s}</option>'
        for s in ("", *IncidentStatus)
    )
    more = ""
    if page.next_cursor:
        link = request.url.include_query_params(cursor=page.next_cursor)
        more = f'<p><a href="{escape(str(link))}">next page →</a></p>'
    rows = "".join(_row(i) for i in page.items) or '<tr><td colspan=8 class="muted">none</td>'
    body = (
        "<h1>Incidents</h1>"
        f'<form class="filter" method="get"><select name="status">{options}</select>'
        f'<input name="q" value="{escape(q or "")}" placeholder="search title, labels">'
        "<button>Filter</button></form>"
        "<table><tr><th>id</th><th>status</th><th>severity</th><th>title</th><th>services</th>"
        f"<th>top root cause</th><th>alerts</th><th>updated</th></tr>{rows}</table>{more}"
    )
    return _page("incidents", body)


def _detail_body(d: IncidentDetail, svg: str) -> str:
    causes = (
        "".join(
            f"<tr><td>{c.rank}</td><td><b>{escape(c.entity)}</b></td><td>{c.score:.3f}</td>"
            f"<td>{escape(', '.join(c.signals))}</td>"
            f"<td>{'<br>'.join(escape(f'{e.kind}: {e.detail}') for e in c.evidence)}</td></tr>"
            for c in d.root_causes
        )
        or '<tr><td colspan=5 class="muted">not ranked yet</td></tr>'
    )
    alerts = "".join(
        f"<tr><td>{escape(a.fingerprint)}</td><td>{escape(a.service)}</td>"
        f'<td>{escape(a.signal.value)}</td><td class="{a.severity.value}">{a.severity.value}'
        f"</td><td>{a.status.value}</td><td>{escape(a.summary)}</td><td>{a.count}</td></tr>"
        for a in d.alerts
    )
    timeline = "".join(
        f"<li>{escape(e.at)} — <b>{escape(e.kind)}</b>"
        f"{f' v{e.version}' if e.version else ''}"
        f"{f' by {escape(e.actor)}' if e.actor else ''}"
        f"{f': {escape(e.note)}' if e.note else ''}</li>"
        for e in d.timeline
    )
    ack = f" · acknowledged by {escape(d.acknowledged_by)}" if d.acknowledged_by else ""
    return (
        f"<h1>{escape(d.title)}</h1>"
        f'<p><span class="{d.status.value}">{d.status.value}</span> · '
        f'<span class="{d.severity.value}">{d.severity.value}</span> · {escape(d.incident_id)} '
        f"v{d.version} · services: {escape(', '.join(d.services))}{ack}</p>"
        "<section><h2>Root-cause ranking</h2><table id=root-causes><tr><th>rank</th>"
        f"<th>entity</th><th>score</th><th>signals</th><th>evidence</th></tr>{causes}</table>"
        f'</section><section><h2>Topology</h2><div class="svg">{svg}</div></section>'
        "<section><h2>Alerts</h2><table><tr><th>fingerprint</th><th>service</th><th>signal</th>"
        "<th>severity</th><th>status</th><th>summary</th><th>count</th></tr>"
        f"{alerts}</table></section><section><h2>Timeline</h2><ul>{timeline}</ul></section>"
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident_page(request: Request, ctx: Ctx, _: Viewer, incident_id: str) -> Response:
    if (redirect := _remember_token(request, ctx)) is not None:
        return redirect
    detail = await incident_detail(ctx, incident_id)
    roles = {n.id: n.role for n in detail.topology.nodes if n.role}
    nodes = [n.id for n in detail.topology.nodes]
    svg = topology_svg(ctx.topology(), nodes, roles)
    return _page(detail.title, _detail_body(detail, svg))
