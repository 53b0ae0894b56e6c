"""The ``http`` action: one request with a JSON body; 2xx (or ``expect_status``) is success."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import Field, field_validator

from correlator.act.actions.base import ActionConfig, ActionDeps, ActionFailedError, ActionSpec

__all__ = ["HTTP", "HttpConfig", "check_url", "send_request"]

_RETRIABLE_4XX = {408, 425, 429}


class HttpConfig(ActionConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str = Field(description="http(s) URL; may hold ${ENV:NAME} secrets")
    headers: dict[str, str] = Field(default_factory=dict, description="May hold secrets")
    body: Any = Field(None, description="JSON body")
    expect_status: list[int] = Field(
        default_factory=list, description="Accepted statuses (default: any 2xx)"
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def check_url(url: str) -> str:
    """Refuse anything but an absolute http(s) URL (after rendering)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ActionFailedError(f"not an http(s) URL: {url!r}", retriable=False)
    return url


async def send_request(
    deps: ActionDeps,
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any = None,
) -> httpx.Response:
    """Send one request; transport errors become retriable :class:`ActionFailedError`."""
    try:
        return await deps.client().request(
            method, check_url(url), headers=headers, json=body if body is not None else None
        )
    except httpx.HTTPError as exc:
        raise ActionFailedError(f"{method} {urlsplit(url).netloc}: {exc!r}") from exc


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


async def _run(config: HttpConfig, deps: ActionDeps) -> str:
    response = await send_request(deps, config.method, config.url, config.headers, config.body)
    output = _clip(f"{response.status_code} {response.text}", deps.settings.max_output_bytes)
    status = response.status_code
    ok = status in config.expect_status if config.expect_status else 200 <= status < 300
    if not ok:
        retriable = status >= 500 or status in _RETRIABLE_4XX
        raise ActionFailedError(f"HTTP {status}", output=output, retriable=retriable)
    return output


def _preflight(config: HttpConfig, deps: ActionDeps) -> dict[str, Any]:
    check_url(config.url)
    return {}


HTTP: ActionSpec[HttpConfig] = ActionSpec(
    "http", HttpConfig, _run, _preflight, "Send one HTTP request with a JSON body"
)
