"""``correlator serve``: the API and web view over Redis and Kafka, run by uvicorn.

The main CLI calls :func:`add_arguments` on its ``serve`` sub-parser and :func:`run` with
the parsed arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from correlator.clock import SystemClock
from correlator.config import Settings, load_settings
from correlator.correlate.topology import TopologyGraph, load_topology
from correlator.errors import ConfigError, CorrelatorError
from correlator.serve.app import create_app
from correlator.serve.executions import runbooks_from_folder
from correlator.serve.health import tcp_check
from correlator.serve.settings import ServeSettings

__all__ = [
    "add_arguments",
    "bind_socket",
    "build_app",
    "run",
    "serve_settings_of",
    "serve_until_stopped",
    "uvicorn_server",
]

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``correlator serve`` (``--config`` is added unless the parent has it)."""
    with contextlib.suppress(argparse.ArgumentError):
        parser.add_argument("--config", type=Path, default=None, help="settings YAML file")
    parser.add_argument("--host", default=None, help="listen address (default serve.host)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default serve.port)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")


def serve_settings_of(settings: Settings) -> ServeSettings:
    """The ``serve`` section of the settings."""
    return settings.serve


def build_app(
    settings: Settings,
    *,
    topology_provider: Callable[[], TopologyGraph] | None = None,
    stats_provider: Callable[[], Any] | None = None,
) -> FastAPI:
    """The API over Redis (``settings.redis``) and Kafka (``settings.kafka``).

    In the engine's process (``correlator run --api``) pass its live topology (declared and
    learned edges) and counters; standalone, the declared topology files are shown.
    """
    from correlator.store.redis import RedisStateStore
    from correlator.transport.kafka import KafkaSink

    if topology_provider is None:
        declared = load_topology(settings.correlate.topology_dir)
        topology_provider = lambda: declared  # noqa: E731
    return create_app(
        serve_settings_of(settings),
        store=RedisStateStore(settings.redis.url.get_secret_value(), settings.redis.key_prefix),
        sink=KafkaSink(settings.kafka),
        topology_provider=topology_provider,
        stats_provider=stats_provider,
        clock=SystemClock(),
        topics=settings.topics,
        runbooks=runbooks_from_folder(settings.runbooks_dir),
        broker_check=tcp_check(settings.kafka.bootstrap_servers),
    )


def bind_socket(host: str, port: int, change: str = "--port") -> socket.socket:
    """A TCP socket bound to ``host:port`` for uvicorn to listen on.

    Raises ConfigError naming what to ``change`` when the address is taken or invalid.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot listen on {host}:{port} ({reason}); change {change}") from exc
    return sock


def uvicorn_server(app: FastAPI, host: str, port: int, log_level: str = "warning") -> Any:
    """A ``uvicorn.Server`` for ``app`` (build the app in the loop that will serve it)."""
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))


def serve_until_stopped(
    make_server: Callable[[], Any], before: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Run ``before``, then the server ``make_server`` builds, in one event loop, until
    SIGINT or SIGTERM; then return.

    The server (and its app, whose Kafka producer binds to the running loop) is built
    inside the loop. uvicorn shuts down on either signal, restores the handlers it found
    and raises the signal again: the handlers installed here only note it, so the caller
    gets control back to clean up and exit 0, instead of the process dying there.
    """
    received: list[int] = []

    def note(signum: int, _: object) -> None:
        received.append(signum)

    async def serve() -> None:
        if before is not None:
            await before()
        await make_server().serve()

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        asyncio.run(serve())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("serve: stopped by %s", [signal.Signals(s).name for s in received])


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 0 on a clean stop, 2 on bad settings or unreachable ports."""
    from correlator.transport.admin import ensure_topics

    try:
        settings = load_settings(getattr(args, "config", None))
        serve = serve_settings_of(settings)
        if not serve.tokens:
            log.warning("serve: no tokens in serve.tokens; every API call will get 401")
        host = args.host or serve.host
        port = args.port if args.port is not None else serve.port

        async def topics() -> None:
            wanted = [settings.topics.incidents, settings.topics.alerts_in]
            await ensure_topics(settings.kafka, wanted, settings.topics.partitions)

        serve_until_stopped(
            lambda: uvicorn_server(build_app(settings), host, port, args.log_level),
            before=topics,
        )
    except CorrelatorError as exc:
        log.error("serve: %s", exc)  # noqa: TRY400 - the message says what to fix
        return 2
    return 0
