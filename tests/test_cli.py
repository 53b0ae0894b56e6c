"""The correlator command: help for every command, topology printing, replay to a broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from correlator.cli import main
from correlator.config import Settings
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSource


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["demo", "--help"],
        ["run", "--help"],
        ["replay", "--help"],
        ["bench", "nab", "--help"],
    ],
    ids=lambda a: " ".join(a),
)
def test_help_explains_each_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert "usage: correlator" in capsys.readouterr().out


def test_topology_prints_the_declared_graph(capsys: pytest.CaptureFixture[str]) -> None:
    repo = Path(__file__).resolve().parents[1]
    assert main(["topology", "--dir", str(repo / "topology")]) == 0
    out = capsys.readouterr().out
    assert "payments -> payments-db  [declared]" in out
    assert "services (9)" in out


def test_bad_config_is_a_clear_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("kafka:\n  max_batch: 0\n")
    assert main(["replay", str(tmp_path / "x"), "--config", str(bad)]) == 2
    assert "kafka.max_batch" in capsys.readouterr().err


@pytest.mark.integration
def test_replay_publishes_each_line(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = tmp_path / "alerts.jsonl"
    recorded.write_text('{"a": 1}\n\n{"a": 2}\n{"a": 3}\n')
    monkeypatch.setenv("CORRELATOR_KAFKA__BOOTSTRAP_SERVERS", settings.kafka.bootstrap_servers)
    topic = settings.topics.events
    asyncio.run(ensure_topics(settings.kafka, [topic], 1))
    assert main(["replay", str(recorded), "--topic", topic]) == 0

    async def read() -> list[bytes]:
        got: list[bytes] = []
        async with KafkaSource(settings.kafka, [topic], group_id=f"{topic}-r") as source:
            for _ in range(40):
                got.extend(m.value or b"" for m in await source.get_batch(0.5))
                if len(got) >= 3:
                    break
        return got

    assert sorted(asyncio.run(read())) == [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}']


def test_python_dash_m_runs_the_same_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "correlator", "topology", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: correlator topology")
