"""`correlator run` as a user starts it: a process on the real broker and Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from correlator.cli import _engine_until, main
from correlator.clock import FakeClock
from correlator.config import Settings
from correlator.correlate.rules import Silence, SilenceLoader, SilenceRepository
from correlator.demo.produce import scenario_messages, stream_scenario
from correlator.demo.scenario import Scenario
from correlator.model.message import RawMessage
from correlator.pipeline import build_engine
from correlator.runtime import free_port
from correlator.store.base import WriteBatch
from correlator.store.incidents import IncidentRepository
from correlator.store.redis import RedisStateStore
from correlator.transport import MemorySink
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789"
ENGINE = [sys.executable, "-m", "correlator.cli"]


async def _produce(settings: Settings, scenario: Scenario) -> None:
    topics = settings.topics
    await ensure_topics(settings.kafka, [*topics.decoders(), topics.incidents], topics.partitions)
    async with KafkaSink(settings.kafka) as sink:
        await stream_scenario(sink, scenario_messages(scenario, topics))


async def _incidents(settings: Settings) -> list[str]:
    url = settings.redis.url.get_secret_value()
    async with RedisStateStore(url, settings.redis.key_prefix) as store:
        return [i.root_causes[0].entity for i in await IncidentRepository(store).recent()]


def _config_file(settings: Settings, tmp_path: Path, **sections: dict[str, Any]) -> Path:
    """``settings`` as a YAML file for ``--config``, each of ``sections`` merged into its own."""
    config = settings.model_dump(mode="json")
    config["redis"]["url"] = settings.redis.url.get_secret_value()
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path = tmp_path / "correlator.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_with_api_processes_the_stream_serves_it_and_stops_on_sigterm(
    settings: Settings, tmp_path: Path
) -> None:
    path = _config_file(
        settings,
        tmp_path,
        correlate={"topology_dir": str(REPO / "topology")},
        serve={"tokens": {"ops": {"token": TOKEN, "scopes": ["read"]}}},
    )
    port = free_port()
    asyncio.run(_produce(settings, Scenario(normal_s=300, fault_s=120, recovery_s=60)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
    log = tmp_path / "run.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [*ENGINE, "run", "--config", str(path), "--api", "--port", str(port)],
            env=env,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 90
        found: list[str] = []
        # The first version may rank the external alert's service first: its topic is
        # consumed before the span windows reach the fault. Later versions settle.
        while time.monotonic() < deadline and found[:1] != ["payments-db"]:
            time.sleep(1.0)
            assert proc.poll() is None, log.read_text()
            found = asyncio.run(_incidents(settings))
        assert found[:1] == ["payments-db"]
        # the API in the same process serves the incident and the engine's live counters
        auth = {"Authorization": f"Bearer {TOKEN}"}
        listed = httpx.get(f"http://127.0.0.1:{port}/incidents", headers=auth, timeout=10)
        assert listed.status_code == 200
        assert "payments-db" in listed.text
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert "correlator_" in metrics
        assert httpx.get(f"http://127.0.0.1:{port}/incidents", timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0, log.read_text()


def test_run_with_an_unreachable_broker_exits_2_and_says_what_to_check(
    settings: Settings, tmp_path: Path
) -> None:
    closed = settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
    proc = subprocess.run(
        [*ENGINE, "run", "--config", str(_config_file(closed, tmp_path))],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "engine could not start" in proc.stderr
    assert "check that Kafka answers at 127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_start_that_fails_after_the_ports_opened_closes_every_one_of_them(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def corrupt_saved_templates() -> None:
        url = settings.redis.url.get_secret_value()
        async with RedisStateStore(url, settings.redis.key_prefix) as store:
            batch = WriteBatch()
            batch.put("logs:template-miner", b"not json")
            await store.write(batch)

    asyncio.run(corrupt_saved_templates())
    started: list[object] = []
    stopped: list[object] = []
    for cls in (RedisStateStore, KafkaSink, KafkaSource):
        monkeypatch.setattr(cls, "start", _recording(cls.start, started))  # type: ignore[attr-defined]
        monkeypatch.setattr(cls, "stop", _recording(cls.stop, stopped))  # type: ignore[attr-defined]
    code = main(["run", "--config", str(_config_file(settings, tmp_path))])
    assert code == 2
    assert {type(p) for p in started} == {RedisStateStore, KafkaSink, KafkaSource}
    assert {id(p) for p in started} <= {id(p) for p in stopped}


def _recording(method: Any, calls: list[object]) -> Any:
    async def wrapper(self: object) -> None:
        await method(self)
        calls.append(self)

    return wrapper


class _Script:
    """A source whose n-th poll runs ``actions[n]`` (which returns the batch)."""

    def __init__(self, actions: list[Callable[[], Awaitable[list[RawMessage]]]]) -> None:
        self.actions = actions

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def get_batch(self, timeout_s: float) -> list[RawMessage]:
        return await self.actions.pop(0)() if self.actions else []

    async def commit(self, batch: Sequence[RawMessage]) -> None:
        return None


async def test_the_run_loop_picks_up_silences_added_and_deleted_while_it_runs(
    settings: Settings,
) -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    stop = asyncio.Event()
    store = RedisStateStore(settings.redis.url.get_secret_value(), settings.redis.key_prefix)
    repository = SilenceRepository(store)
    silence = Silence.model_validate(
        {"id": "disk-work", "matchers": ["alertname=DiskFull"], "created_by": "ops"}
        | {"starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1)}
    )
    seen: list[set[str]] = []

    async def add() -> list[RawMessage]:  # what POST /silences writes, while the engine runs
        await repository.put(silence)
        return []

    async def delete() -> list[RawMessage]:
        seen.append(set(engine.correlate.silences))
        await repository.delete(silence.id)
        return []

    async def last() -> list[RawMessage]:
        seen.append(set(engine.correlate.silences))
        stop.set()
        return []

    engine = build_engine(
        settings,
        source=_Script([add, delete, last]),
        sink=MemorySink(),
        store=store,
        clock=FakeClock(now),
    )
    loader = SilenceLoader(repository, configured=engine.correlate.silences)
    await engine.start()
    await _engine_until(engine, loader, settings, stop)
    assert seen == [{"disk-work"}, set()]


def test_run_api_on_a_port_in_use_stops_the_engine_and_exits_2(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started: list[object] = []
    stopped: list[object] = []
    for cls in (RedisStateStore, KafkaSink, KafkaSource):
        monkeypatch.setattr(cls, "start", _recording(cls.start, started))  # type: ignore[attr-defined]
        monkeypatch.setattr(cls, "stop", _recording(cls.stop, stopped))  # type: ignore[attr-defined]
    config = _config_file(settings, tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["run", "--config", str(config), "--api", "--port", str(port)])
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert {type(p) for p in started} >= {RedisStateStore, KafkaSink, KafkaSource}
    assert {id(p) for p in started} <= {id(p) for p in stopped}


def test_run_split_into_detect_and_correlate_processes_finds_the_root_cause(
    settings: Settings, tmp_path: Path
) -> None:
    """`run --stage detect` and `run --stage correlate` together do what `run` does alone."""
    path = _config_file(settings, tmp_path, correlate={"topology_dir": str(REPO / "topology")})
    asyncio.run(_produce(settings, Scenario(normal_s=300, fault_s=120, recovery_s=60)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRELATOR_")}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for stage in ("correlate", "detect"):
        with (tmp_path / f"{stage}.log").open("wb") as err:
            procs[stage] = subprocess.Popen(
                [*ENGINE, "run", "--config", str(path), "--stage", stage], env=env, stderr=err
            )
    try:
        deadline = time.monotonic() + 120
        found: list[str] = []
        while time.monotonic() < deadline and found[:1] != ["payments-db"]:
            time.sleep(1.0)
            for stage, proc in procs.items():
                assert proc.poll() is None, (tmp_path / f"{stage}.log").read_text()
            found = asyncio.run(_incidents(settings))
        assert found[:1] == ["payments-db"], {
            s: (tmp_path / f"{s}.log").read_text()[-2000:] for s in procs
        }
    finally:
        codes = {}
        for stage, proc in procs.items():
            proc.send_signal(signal.SIGTERM)
            codes[stage] = proc.wait(timeout=30)
    assert codes == {"correlate": 0, "detect": 0}
