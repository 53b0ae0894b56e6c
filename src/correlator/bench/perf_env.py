"""Shared plumbing of the performance benchmarks: services, settings, producing, timing."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from correlator.bench.load import Load, LoadRecord
from correlator.config import Settings, TopicSettings
from correlator.pipeline import Engine, build_engine
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.store.redis import RedisStateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource

__all__ = [
    "EngineRun",
    "Produced",
    "add_load_arguments",
    "bench_settings",
    "command_line",
    "engine_process",
    "generate",
    "load_from_args",
    "new_engine",
    "print_result",
    "produce",
    "services",
    "settings_data",
    "spawn",
    "time_engine",
]


def command_line() -> str:
    """The command that is running, as a user would type it."""
    argv0 = Path(sys.argv[0])
    if argv0.suffix == ".py" and "correlator" in argv0.parts:
        module = ".".join(argv0.with_suffix("").parts[argv0.parts.index("correlator") :])
        return shlex.join(["python", "-m", module, *sys.argv[1:]])
    return shlex.join([argv0.name, *sys.argv[1:]])


def add_load_arguments(parser: argparse.ArgumentParser, seconds: int = 120) -> None:
    """Options shaping the generated fleet (see ``correlator.bench.load.Load``)."""
    parser.add_argument("--services", type=int, default=40, help="services in the fleet")
    parser.add_argument("--requests-per-s", type=int, default=300, help="requests a second")
    parser.add_argument("--metrics-per-service", type=int, default=40, help="gauges per host")
    parser.add_argument("--hosts-per-service", type=int, default=2)
    parser.add_argument(
        "--metric-interval-s", type=int, default=10, help="seconds between a series' points"
    )
    parser.add_argument("--seconds", type=int, default=seconds, help="simulated seconds")
    parser.add_argument("--events-per-message", type=int, default=64, help="events per record")
    parser.add_argument("--partitions", type=int, default=4, help="partitions per topic")
    parser.add_argument("--work-dir", default="", help="service logs (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")


def load_from_args(args: argparse.Namespace) -> Load:
    return Load(
        services=args.services,
        requests_per_s=args.requests_per_s,
        metrics_per_service=args.metrics_per_service,
        hosts_per_service=args.hosts_per_service,
        seconds=args.seconds,
        events_per_message=args.events_per_message,
        metric_interval_s=args.metric_interval_s,
        log_p=0.25,
    )


@contextmanager
def services(
    work_dir: str = "", persistent: bool = False
) -> Iterator[tuple[EmbeddedBroker, EmbeddedRedis, Path]]:
    """An embedded broker and Redis on free ports for the length of the block.

    However the block ends, including by SIGTERM, SIGHUP or SIGINT (Ctrl-C), the processes
    started in it with :func:`spawn` are stopped, then Redis and the broker: a killed
    benchmark leaves no orphan behind (only SIGKILL can).
    """
    with (
        _signals_exit(),
        tempfile.TemporaryDirectory(prefix="correlator-bench-") as tmp,
    ):
        root = Path(work_dir) if work_dir else Path(tmp)
        started = len(_CHILDREN)
        with (
            EmbeddedBroker(root / "broker") as broker,
            EmbeddedRedis(root / "redis", persistent=persistent) as redis,
        ):
            try:
                yield broker, redis, root
            finally:
                _stop(_CHILDREN[started:])
                del _CHILDREN[started:]


_CHILDREN: list[subprocess.Popen[bytes]] = []


def spawn(argv: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a child process logging to ``log_path``; ``services`` stops it at the latest."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    _CHILDREN.append(proc)
    return proc


def _stop(procs: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    """Terminate the processes still running, then kill those that outlive ``grace_s``."""
    running = [p for p in procs if p.poll() is None]
    for proc in running:
        proc.terminate()
    deadline = time.monotonic() + grace_s
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class BenchSignalled(SystemExit):
    """A benchmark got SIGTERM or SIGHUP: unwind (stopping its services) and exit 128 + n."""


@contextmanager
def _signals_exit() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception for the block (SIGINT already is one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, _frame: object) -> None:
        raise BenchSignalled(128 + signum)

    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def bench_settings(
    bootstrap: str, redis_url: str, name: str, partitions: int, **sections: Any
) -> Settings:
    """Settings whose topics, group and key prefix are ``name``'s alone."""
    return Settings.model_validate(
        settings_data(bootstrap, redis_url, name, partitions, **sections)
    )


def settings_data(
    bootstrap: str, redis_url: str, name: str, partitions: int, **sections: Any
) -> dict[str, Any]:
    """The raw settings of ``bench_settings`` (to write as a ``--config`` file)."""
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": bootstrap, "group_id": f"{name}-engine"},
        "redis": {"url": redis_url, "key_prefix": f"{name}:"},
        "topics": {
            "spans": f"{name}-spans",
            "metrics": f"{name}-metrics",
            "logs": f"{name}-logs",
            "events": f"{name}-events",
            "alerts_in": f"{name}-alertmanager",
            "incidents": f"{name}-incidents",
            "dead_letter": f"{name}-dlq",
            "partitions": partitions,
        },
        "correlate": {"topology_dir": None},
        "runbooks_dir": None,
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def engine_process(
    data: dict[str, Any], work: Path, name: str, stage: str = "all"
) -> subprocess.Popen[bytes]:
    """``correlator run`` in a child process on the settings ``data`` (written as YAML)."""
    config = work / f"{name}.yaml"
    config.write_text(yaml.safe_dump(json.loads(json.dumps(data, default=str))))
    argv = [sys.executable, "-m", "correlator.cli", "run", "--config", str(config)]
    if stage != "all":
        argv += ["--stage", stage]
    return spawn(argv, work / f"{name}.log")


def generate(load: Load, topics: TopicSettings, workers: int = 2) -> list[list[LoadRecord]]:
    """Every second of ``load`` as records, generated by ``workers`` processes."""
    if workers <= 1 or load.seconds < 2 * workers:
        return list(load.messages(topics))
    step = -(-load.seconds // workers)
    parts = [
        (load, topics, start, min(start + step, load.seconds))
        for start in range(0, load.seconds, step)
    ]
    with ProcessPoolExecutor(workers) as pool:
        return [
            second
            for part in pool.map(_generate_part, *zip(*parts, strict=True))
            for second in part
        ]


def _generate_part(
    load: Load, topics: TopicSettings, start: int, stop: int
) -> list[list[LoadRecord]]:
    seconds = load.seconds
    load.seconds = stop
    try:
        return list(load.messages(topics, start))
    finally:
        load.seconds = seconds


async def create_topics(settings: Settings) -> None:
    topics = settings.topics
    await ensure_topics(
        settings.kafka,
        [*topics.decoders(), topics.incidents, topics.dead_letter],
        topics.partitions,
    )


@dataclass
class Produced:
    records: int = 0
    events: int = 0
    seconds: float = 0.0


async def produce(
    settings: Settings, seconds: Iterable[list[LoadRecord]], chunk: int = 2000
) -> Produced:
    """Send every record of the load as fast as the broker takes them."""
    out = Produced()
    started = time.perf_counter()
    pending: list[LoadRecord] = []
    async with KafkaSink(settings.kafka) as sink:
        for second in seconds:
            pending.extend(second)
            if len(pending) >= chunk:
                await sink.send([r.message for r in pending])
                out.records += len(pending)
                out.events += sum(r.events for r in pending)
                pending = []
        await sink.send([r.message for r in pending])
    out.records += len(pending)
    out.events += sum(r.events for r in pending)
    out.seconds = time.perf_counter() - started
    return out


def new_engine(settings: Settings, group_id: str | None = None) -> Engine:
    topics = list(settings.topics.decoders())
    return build_engine(
        settings,
        source=KafkaSource(settings.kafka, topics, group_id=group_id),
        sink=KafkaSink(settings.kafka),
        store=RedisStateStore(settings.redis.url.get_secret_value(), settings.redis.key_prefix),
    )


@dataclass
class EngineRun:
    records: int
    events: int
    seconds: float
    cpu_s: float


async def time_engine(engine: Engine, expected: int, limit_s: float) -> EngineRun:
    """Step a started engine until it has seen ``expected`` records, then flush.

    The clock starts after the first non-empty batch (group join and fetch start-up are not
    the engine's throughput), as in ``raw_consume``; the final flush is inside the timing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    seen = counted = events_before = 0
    first = cpu = 0.0
    while seen < expected and loop.time() < deadline:
        got = await engine.step(0.2)
        if got and not seen:
            first, cpu = loop.time(), time.process_time()
            events_before = engine.stats.events
        elif seen:
            counted += got
        seen += got
    await engine.flush()
    return EngineRun(
        counted,
        engine.stats.events - events_before,
        loop.time() - first,
        time.process_time() - cpu,
    )


def print_result(lines: list[str], result: dict[str, Any], as_json: bool) -> None:
    """Print the figures, the command, and (``--json``) one JSON object last."""
    for line in lines:
        print(line)
    print(f"command: {command_line()}")
    if as_json:
        print(json.dumps(result, sort_keys=True))
