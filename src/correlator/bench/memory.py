"""Memory: resident size per active series, and the ``detect.max_series`` cap holding.

Part 1, for each of ``--sizes`` active series (a fresh child process each, so the numbers
do not mix): feed the detect stage ``--observations`` metric observations per series and
read the process's RSS (``/proc/self/status``) before and after; print bytes per series.

Part 2, the cap: run the engine (in-memory source, the real Redis store) over metric records
for ``4 x --cap`` distinct series with ``detect.max_series = --cap``; print the most series
held, the RSS, how many were evicted and how many model checkpoints Redis holds (an evicted
series is checkpointed in the same store transaction as the batch that evicted it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from correlator.bench.perf_env import bench_settings, print_result, services
from correlator.config import DetectSettings
from correlator.detect.registry import detector_factory_for
from correlator.detect.stage import DetectStage
from correlator.ingest.otlp_encode import encode_metrics
from correlator.model.message import RawMessage
from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import MetricPoint
from correlator.pipeline import build_engine
from correlator.store.redis import RedisStateStore
from correlator.transport.memory import MemorySink, MemorySource

__all__ = ["add_arguments", "rss_bytes", "run"]


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="10000,100000,1000000", help="active series counts")
    parser.add_argument("--observations", type=int, default=10, help="per series, part 1")
    parser.add_argument("--cap", type=int, default=50_000, help="detect.max_series, part 2")
    parser.add_argument("--work-dir", default="")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)


def _one(series: int, observations: int) -> dict[str, Any]:
    """Part 1 in this process: ``series`` metric series, ``observations`` each."""
    settings = DetectSettings(max_series=series + 1)
    stage = DetectStage(settings, detector_factory_for(settings))
    keys = [f"svc-{i % 997:03d}|app.metric.{i // 997}{{host=h{i % 7}}}" for i in range(series)]
    before = rss_bytes()
    chunk = 20_000
    for k in range(observations):
        for start in range(0, series, chunk):
            stage.process(
                [
                    Observation(key, "svc", Signal.METRIC, 10.0 + (i + k) % 5, 60.0 * k)
                    for i, key in enumerate(keys[start : start + chunk], start)
                ]
            )
    after = rss_bytes()
    return {
        "series": len(stage.series),
        "rss_bytes": after,
        "bytes_per_series": round((after - before) / series),
    }


async def _cap(cap: int, bootstrap: str, redis_url: str) -> dict[str, Any]:
    settings = bench_settings(bootstrap, redis_url, "mem", 1, detect={"max_series": cap})
    source = MemorySource()
    store = RedisStateStore(redis_url, settings.redis.key_prefix)
    engine = build_engine(settings, source=source, sink=MemorySink(), store=store)
    await engine.start()
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    total, per_record, most, evicted = 4 * cap, 500, 0, 0
    rss_rounds = []
    for rnd in range(3):
        for first in range(0, total, per_record):
            points = [
                MetricPoint(
                    name=f"app.metric.{i}",
                    service=f"svc-{i % 50:02d}",
                    value=10.0 + rnd,
                    observed_at=at + timedelta(seconds=60 * rnd),
                )
                for i in range(first, first + per_record)
            ]
            record = RawMessage(settings.topics.metrics, encode_metrics(points), partition=0)
            before = len(engine.detect.series)
            await engine.process([record])
            evicted += max(0, before + per_record - len(engine.detect.series))
            most = max(most, len(engine.detect.series))
        rss_rounds.append(rss_bytes())
    checkpoints = len(await store.keys("model:"))
    await engine.stop()
    return {
        "cap": cap,
        "distinct_series": total,
        "most_series_held": most,
        "evicted": evicted,
        "checkpoints_in_redis": checkpoints,
        "rss_after_each_round_bytes": rss_rounds,
    }


def run(args: argparse.Namespace) -> int:
    if args.one:
        print(json.dumps(_one(args.one, args.observations)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    for size in sizes:
        out = subprocess.run(
            [sys.executable, "-m", "correlator.bench.memory", "--one", str(size),
             "--observations", str(args.observations)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    with services(args.work_dir) as (broker, redis, _):
        cap = asyncio.run(_cap(args.cap, broker.bootstrap_servers, redis.url))
    lines = [
        f"{r['series']:>9,} active series: RSS {r['rss_bytes'] / 2**20:7.1f} MiB, "
        f"{r['bytes_per_series']:,} bytes/series ({args.observations} observations each)"
        for r in rows
    ]
    lines.append(
        f"cap detect.max_series={cap['cap']:,}: {cap['distinct_series']:,} distinct series x 3 "
        f"rounds -> at most {cap['most_series_held']:,} held, {cap['evicted']:,} evictions, "
        f"{cap['checkpoints_in_redis']:,} model checkpoints in Redis; RSS after each round "
        + ", ".join(f"{b / 2**20:.0f}" for b in cap["rss_after_each_round_bytes"])
        + " MiB"
    )
    print_result(lines, {"sizes": rows, "cap": cap}, args.json)
    return 0 if cap["most_series_held"] <= cap["cap"] else 1


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="correlator bench memory", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
