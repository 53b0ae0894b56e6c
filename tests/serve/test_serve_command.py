"""`correlator serve` as a user starts it: a process over the real broker and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from correlator.config import Settings
from correlator.runtime import free_port
from correlator.runtime.ports import wait_for_port

pytestmark = pytest.mark.integration
TOKEN = "serve-cmd-token-0123456789"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_serve_accepts_alerts_and_exits_0_on_a_signal(
    settings: Settings, tmp_path: Path, signum: signal.Signals
) -> None:
    config = settings.model_dump(mode="json")
    config["redis"]["url"] = settings.redis.url.get_secret_value()
    config["serve"] = {"tokens": {"ops": {"token": TOKEN, "scopes": ["read", "write"]}}}
    path = tmp_path / "correlator.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
    argv = ["serve", "--config", str(path), "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "correlator.cli", *argv],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_port(port, 60), proc.stderr.read() if proc.poll() is not None else ""
        sent = httpx.post(
            f"http://127.0.0.1:{port}/api/v2/alerts",
            json=[{"labels": {"alertname": "DiskFull", "service": "db"}}],
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"accepted": 1, "topic": settings.topics.alerts_in}
    finally:
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
