"""Throughput: the engine's full-pipeline rate against a bare consumer on the same topics.

Fills an embedded broker with a generated fleet's OTLP spans, metrics and logs, then reads
the topics twice in one run: (a) a bare aiokafka ``getmany`` loop that does nothing with
the records (the ceiling), (b) one engine process (decode → normalize → detect → correlate
→ rank → publish, Redis writes, offset commits). Both rates are in telemetry events/s (a
record carries ``--events-per-message`` events); their ratio is the same in records.

    python -m correlator.bench.throughput            # or: correlator bench throughput
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from correlator.bench.perf_env import (
    add_load_arguments,
    bench_settings,
    create_topics,
    load_from_args,
    new_engine,
    print_result,
    produce,
    services,
    time_engine,
)
from correlator.transport.kafka import raw_consume

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser, seconds=200)
    parser.add_argument(
        "--profile", default="", help="pyinstrument profile of the engine run (.html or text)"
    )


async def _measure(args: argparse.Namespace, bootstrap: str, redis_url: str) -> dict[str, Any]:
    settings = bench_settings(bootstrap, redis_url, "tp", args.partitions)
    await create_topics(settings)
    load = load_from_args(args)
    generated = time.perf_counter()
    messages = [second for second in load.messages(settings.topics)]
    generated = time.perf_counter() - generated
    produced = await produce(settings, messages)
    per_record = produced.events / max(1, produced.records)
    topics = list(settings.topics.decoders())
    raw_records, raw_s = await raw_consume(
        settings.kafka, topics, produced.records, "tp-raw", limit_s=600
    )
    engine = new_engine(settings)
    await engine.start()
    profiler: Any = None
    if args.profile:
        from pyinstrument import Profiler  # an optional dev dependency

        profiler = Profiler(async_mode="enabled")
        profiler.start()
    try:
        timed = await time_engine(engine, produced.records, limit_s=1800)
    finally:
        if profiler is not None:
            profiler.stop()
            html = args.profile.endswith(".html")
            text = profiler.output_html() if html else profiler.output_text(show_all=False)
            Path(args.profile).write_text(text)  # noqa: ASYNC240 (once, after timing)
        await engine.stop()
    raw_rate = raw_records * per_record / raw_s
    engine_rate = timed.events / timed.seconds
    return {
        "engine_events_per_s": round(engine_rate),
        "raw_consume_per_s": round(raw_rate),
        "ratio": round(engine_rate / raw_rate, 4),
        "engine_records_per_s": round(timed.records / timed.seconds),
        "raw_records_per_s": round(raw_records / raw_s),
        "records": produced.records,
        "events": produced.events,
        "events_per_record": round(per_record, 1),
        "produce_records_per_s": round(produced.records / produced.seconds),
        "generate_s": round(generated, 1),
        "engine_s": round(timed.seconds, 2),
        "engine_cpu_s": round(timed.cpu_s, 2),
        "engine_events_per_cpu_s": round(timed.events / timed.cpu_s),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "raw_s": round(raw_s, 2),
        "series": len(engine.detect.series),
        "alerts": engine.stats.alerts,
        "incident_changes": engine.stats.changes_published,
        "services": load.services,
    }


def run(args: argparse.Namespace) -> int:
    with services(args.work_dir) as (broker, redis, _):
        result = asyncio.run(_measure(args, broker.bootstrap_servers, redis.url))
    r = result
    lines = [
        f"load: {r['services']} services, {r['series']} series, {r['events']} events in "
        f"{r['records']} records ({r['events_per_record']} events/record); "
        f"generated in {r['generate_s']}s, produced at {r['produce_records_per_s']} records/s",
        f"raw aiokafka getmany (ceiling): {r['raw_consume_per_s']:>9,} events/s "
        f"({r['raw_records_per_s']:,} records/s)",
        f"engine full pipeline:           {r['engine_events_per_s']:>9,} events/s "
        f"({r['engine_records_per_s']:,} records/s, {r['engine_s']}s)",
        f"ratio engine/raw: {r['ratio']:.3f}   (targets: >= 50,000 events/s, ratio >= 0.3)",
        f"engine CPU: {r['engine_cpu_s']}s -> {r['engine_events_per_cpu_s']:,} events per "
        f"CPU-second; load average {r['load_average_1m']} on {os.cpu_count()} cores",
        f"alerts {r['alerts']}, incident changes published {r['incident_changes']}",
    ]
    print_result(lines, result, args.json)
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="correlator bench throughput", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
