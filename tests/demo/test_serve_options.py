"""``correlator demo --serve`` options are checked before the demo runs, not after."""

from __future__ import annotations

import socket

import pytest

from correlator.config import Settings
from correlator.demo.report import render_serve_banner
from correlator.demo.serve import DEMO_TOKEN, DemoServe, with_demo_token
from correlator.errors import ConfigError
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
