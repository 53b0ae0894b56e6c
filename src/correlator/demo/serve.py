"""``correlator demo --serve``: the incident API over the demo's broker and Redis.

After the demo has printed its incidents, the API keeps serving them (and what you do to
them through it) until Ctrl-C or SIGTERM, with one demo token holding every scope. The
examples in ``docs/api-examples.md`` run against it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr, ValidationError

from correlator.config import Settings
from correlator.errors import ConfigError
from correlator.serve.settings import Scope, TokenSpec

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

__all__ = ["DEMO_TOKEN", "DemoServe", "demo_app", "demo_server", "serve_demo", "with_demo_token"]

DEMO_TOKEN = "correlator-demo-token"
_TOKEN_NAME = "demo"


@dataclass(frozen=True)
class DemoServe:
    """Where the demo's API listens and the bearer token it accepts."""

    host: str = "127.0.0.1"
    port: int = 8080
    token: str = DEMO_TOKEN

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def check(self) -> None:
        """Refuse what would fail later or expose the well-known token (before the demo runs).

        >>> DemoServe(host="0.0.0.0").check()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        correlator.errors.ConfigError: --host 0.0.0.0 is not a loopback address: pass your own...
        """
        if self.token == DEMO_TOKEN and not _loopback(self.host):
            raise ConfigError(
                f"--host {self.host} is not a loopback address: pass your own --token "
                "(16+ characters) to serve the demo there"
            )
        _token_spec(self.token)
        from correlator.serve.cli import bind_socket

        bind_socket(self.host, self.port, "--port").close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_spec(token: str) -> TokenSpec:
    try:
        return TokenSpec(token=SecretStr(token), scopes=frozenset(Scope))
    except ValidationError as exc:
        raise ConfigError(f"--token: {exc.errors()[0]['msg']}") from exc


def with_demo_token(settings: Settings, serve: DemoServe) -> Settings:
    """The demo's settings with ``serve`` listening where asked and the one demo token."""
    tokens = {_TOKEN_NAME: _token_spec(serve.token)}
    section = settings.serve.model_copy(
        update={"host": serve.host, "port": serve.port, "tokens": tokens}
    )
    return settings.model_copy(update={"serve": section})


def demo_app(settings: Settings) -> FastAPI:
    """The same app ``correlator serve`` runs, over the demo's Redis and broker.

    Call it inside the event loop that serves it: the Kafka producer binds to that loop.
    """
    from correlator.serve.cli import build_app

    return build_app(settings)


def demo_server(settings: Settings) -> uvicorn.Server:
    """A uvicorn server for :func:`demo_app` on ``serve.host:serve.port`` (in the running loop)."""
    from correlator.serve.cli import uvicorn_server

    server: uvicorn.Server = uvicorn_server(
        demo_app(settings), settings.serve.host, settings.serve.port
    )
    return server


def serve_demo(settings: Settings) -> None:
    """Serve :func:`demo_app` until Ctrl-C or SIGTERM, then return so the caller cleans up."""
    from correlator.serve.cli import serve_until_stopped

    serve_until_stopped(lambda: demo_server(settings))
