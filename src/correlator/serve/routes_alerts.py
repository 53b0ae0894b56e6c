"""Alertmanager-compatible ``POST /api/v2/alerts``: Prometheus can send alerts straight here.

The alerts go to the ``alerts_in`` topic as one Alertmanager webhook message (version 4),
the format the engine ingests from Alertmanager itself.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from correlator.model.alert import fingerprint_of
from correlator.model.message import RawMessage
from correlator.serve.auth import Principal, require
from correlator.serve.context import ServeContext, get_ctx
from correlator.serve.routes_incidents import _ERRORS, BODY_ERRORS
from correlator.serve.schemas import PostableAlert
from correlator.serve.settings import Scope

__all__ = ["AlertsAccepted", "router", "webhook_message"]

router = APIRouter(tags=["alertmanager"])
Ctx = Annotated[ServeContext, Depends(get_ctx)]
Writer = Annotated[Principal, Depends(require(Scope.WRITE))]
_ZERO = "0001-01-01T00:00:00Z"


class AlertsAccepted(BaseModel):
    accepted: int
    topic: str


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def webhook_message(
    alerts: list[PostableAlert], now: datetime, topic: str, sender: str
) -> RawMessage:
    """One Alertmanager webhook payload (``version`` 4) carrying ``alerts``."""
    items: list[dict[str, Any]] = []
    for alert in alerts:
        starts = alert.starts_at or now
        firing = alert.ends_at is None or alert.ends_at > now
        items.append(
            {
                "status": "firing" if firing else "resolved",
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": _iso(starts),
                "endsAt": _iso(alert.ends_at) if alert.ends_at else _ZERO,
                "generatorURL": alert.generator_url or "",
                "fingerprint": fingerprint_of(alert.labels),
            }
        )
    common = dict(set.intersection(*(set(a.labels.items()) for a in alerts)))
    payload = {
        "version": "4",
        "groupKey": f"api:{sender}",
        "truncatedAlerts": 0,
        "status": "firing" if any(i["status"] == "firing" for i in items) else "resolved",
        "receiver": "correlator-api",
        "groupLabels": {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": items,
    }
    return RawMessage(
        topic=topic,
        value=json.dumps(payload).encode(),
        key=None,
        partition=-1,
        headers=(("content-type", b"application/json"), ("sender", sender.encode())),
    )


@router.post(
    "/api/v2/alerts",
    response_model=AlertsAccepted,
    responses={**_ERRORS, **BODY_ERRORS},
)
async def post_alerts(ctx: Ctx, who: Writer, alerts: list[PostableAlert]) -> AlertsAccepted:
    """Accept alerts as Prometheus sends them to Alertmanager; the engine ingests them."""
    topic = ctx.topics.alerts_in
    if alerts:
        await ctx.sink.send([webhook_message(alerts, ctx.clock.now(), topic, who.name)])
    return AlertsAccepted(accepted=len(alerts), topic=topic)
