"""The web view in headless Chromium (Debian's ``chromium``) against a real uvicorn server."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from tests.serve.conftest import (
    SECRETS,
    app_over_redis,
    incident,
    seed,
)

from correlator.runtime.ports import free_port
from correlator.runtime.redis_server import EmbeddedRedis
from correlator.store.base import StateStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def server(redis_server: EmbeddedRedis, unique: str) -> Iterator[str]:
    """uvicorn serving the app in a thread; the app owns its own Redis client there."""
    app = app_over_redis(redis_server.url, f"{unique}:")
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        threading.Event().wait(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


async def _chromium(profile: Path, *args: str) -> bytes:
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


async def test_incident_page_shows_ranking_and_topology(
    server: str, redis_store: StateStore, tmp_path: Path
) -> None:
    await seed(
        redis_store,
        [
            incident(
                1,
                ["web", "api", "db"],
                title="Checkout latency",
                causes=[("db", 0.93), ("api", 0.41)],
            ),
            incident(2, ["cache"], title="Cache evictions"),
        ],
    )
    token = SECRETS["reader"]
    page = f"{server}/ui/incidents/inc-0001?token={token}"
    dom = (await _chromium(tmp_path / "p1", "--dump-dom", page)).decode()
    assert "Checkout latency" in dom
    assert "Root-cause ranking" in dom
    table = dom.split('id="root-causes"', 1)[1].split("</table>", 1)[0]
    assert table.index("<b>db</b>") < table.index("<b>api</b>")
    assert "db latency_p99 score 0.93" in dom
    assert "<svg" in dom and 'data-id="payments"' not in dom  # only the incident's subgraph
    assert 'data-id="db"' in dom
    assert token not in dom

    listing = (
        await _chromium(tmp_path / "p2", "--dump-dom", f"{server}/ui?token={token}")
    ).decode()
    assert "Cache evictions" in listing and "Checkout latency" in listing
    assert 'href="/ui/incidents/inc-0001"' in listing

    shot = tmp_path / "incident.png"
    await _chromium(tmp_path / "p3", f"--screenshot={shot}", page)
    assert shot.exists()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


async def test_without_a_token_the_page_asks_for_one(server: str, tmp_path: Path) -> None:
    dom = (await _chromium(tmp_path / "p", "--dump-dom", f"{server}/ui")).decode()
    assert "Sign in" in dom
    assert 'name="token"' in dom
