"""``correlator demo --serve`` options are checked before the demo runs, not after."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import httpx
import pytest

from correlator.config import Settings
from correlator.demo.report import render_serve_banner
from correlator.demo.serve import DEMO_TOKEN, DemoServe, with_demo_token
from correlator.errors import ConfigError
from correlator.runtime import EmbeddedBroker, EmbeddedRedis, free_port
from correlator.runtime.ports import wait_for_port
from correlator.serve.auth import authenticate
from correlator.serve.settings import Scope


def test_the_demo_token_holds_every_scope_and_the_address_is_the_one_asked() -> None:
    settings = with_demo_token(Settings(), DemoServe(port=9191))
    assert (settings.serve.host, settings.serve.port) == ("127.0.0.1", 9191)
    principal = authenticate(settings.serve.tokens, DEMO_TOKEN)
    assert principal is not None
    assert principal.scopes == frozenset(Scope)


@pytest.mark.parametrize(
    ("serve", "message"),
    [
        (DemoServe(host="0.0.0.0"), "pass your own --token"),
        (DemoServe(token="short"), "at least 16 characters"),
    ],
    ids=["well-known-token-off-loopback", "short-token"],
)
def test_unsafe_or_invalid_options_are_refused(serve: DemoServe, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        serve.check()


def test_a_port_in_use_is_refused_with_a_way_out() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            DemoServe(port=port).check()


def test_own_token_may_listen_elsewhere_and_the_banner_shows_how_to_call() -> None:
    DemoServe(host="0.0.0.0", port=0, token="my-own-secret-token-123").check()
    banner = render_serve_banner(DemoServe().base_url, DEMO_TOKEN)
    assert f"export API=http://127.0.0.1:8080 TOKEN={DEMO_TOKEN}" in banner


_SERVE = """
import sys
from correlator.config import Settings
from correlator.demo.serve import DemoServe, serve_demo, with_demo_token
bootstrap, redis_url, port = sys.argv[1:]
settings = Settings.model_validate(
    {"kafka": {"bootstrap_servers": bootstrap}, "redis": {"url": redis_url},
     "correlate": {"topology_dir": None}, "runbooks_dir": None}
)
serve_demo(with_demo_token(settings, DemoServe(port=int(port))))
print("serve_demo returned", flush=True)
"""


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_signal_stops_the_api_and_returns_so_the_demo_can_stop_its_services(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, signum: signal.Signals
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, broker.bootstrap_servers, redis_server.url, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_port(port, 60), proc.stderr.read() if proc.poll() is not None else ""
        ready = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert ready.status_code == 200
    finally:
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "serve_demo returned" in out
