"""Bearer-token auth with scopes.

The API takes ``Authorization: Bearer <token>``. The web view also takes ``?token=<token>``
(then kept in an HttpOnly cookie, so links need not carry it) or that cookie alone.

A missing or unknown token is 401 with ``WWW-Authenticate: Bearer``; a known token without
the scope an endpoint needs is 403. Bodies are JSON: ``{"error": ..., "detail": ...}``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from correlator.serve.settings import Scope, TokenSpec

__all__ = ["Principal", "authenticate", "check", "require", "require_ui", "ui_token"]

_bearer = HTTPBearer(auto_error=False, description="A token from serve.tokens")
_REALM = 'Bearer realm="correlator"'


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name and what it may do."""

    name: str
    scopes: frozenset[Scope]


def authenticate(tokens: Mapping[str, TokenSpec], presented: str) -> Principal | None:
    """The principal whose token is ``presented``, or None (compared in constant time).

    >>> from pydantic import SecretStr
    >>> tokens = {"ops": TokenSpec(token=SecretStr("x" * 16), scopes=["read"])}
    >>> authenticate(tokens, "x" * 16)
    Principal(name='ops', scopes=frozenset({<Scope.READ: 'read'>}))
    >>> authenticate(tokens, "y" * 16) is None
    True
    """
    found: Principal | None = None
    given = presented.encode()
    for name, spec in tokens.items():
        if hmac.compare_digest(spec.token.get_secret_value().encode(), given):
            found = Principal(name, spec.scopes)
    return found


def _unauthorized(detail: str, invalid: bool) -> HTTPException:
    header = _REALM + (', error="invalid_token"' if invalid else "")
    return HTTPException(
        status_code=401,
        detail={"error": "unauthorized", "detail": detail},
        headers={"WWW-Authenticate": header},
    )


def check(request: Request, presented: str | None, scope: Scope) -> Principal:
    if not presented:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'", False)
    tokens: Mapping[str, TokenSpec] = request.app.state.ctx.settings.tokens
    principal = authenticate(tokens, presented)
    if principal is None:
        raise _unauthorized("invalid token: it matches none of serve.tokens", True)
    if scope not in principal.scopes:
        raise HTTPException(
            status_code=403,
            detail={
                "error": "forbidden",
                "detail": f"token {principal.name!r} lacks the {scope.value!r} scope",
                "required_scope": scope.value,
            },
            headers={"WWW-Authenticate": f'{_REALM}, error="insufficient_scope", scope="{scope}"'},
        )
    return principal


def require(scope: Scope) -> Callable[..., Principal]:
    """A dependency that lets through only bearer tokens holding ``scope``."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        presented = credentials.credentials if credentials is not None else None
        return check(request, presented, scope)

    return dependency


def ui_token(request: Request) -> str | None:
    """The token of a web view request: header, then ``?token=``, then the cookie."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    cookie_name: str = request.app.state.ctx.settings.ui_cookie
    return request.query_params.get("token") or request.cookies.get(cookie_name)


def require_ui(scope: Scope) -> Callable[..., Principal]:
    """Like :func:`require`, for the web view (accepts ``?token=`` and the cookie too)."""

    def dependency(request: Request) -> Principal:
        return check(request, ui_token(request), scope)

    return dependency
