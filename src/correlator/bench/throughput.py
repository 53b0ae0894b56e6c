"""Throughput: the engine's full-pipeline rate against a bare consumer on the same topics.

Fills an embedded broker with a generated fleet's OTLP spans, metrics and logs, then reads
the same records three ways in one run:

(a) the ceiling: a bare aiokafka ``getmany`` loop that does nothing with the records. It
    measures how fast the broker and aiokafka hand over record batches; no event is looked
    at, so its events/s is its records/s times the mean events per record (``--raw-runs``
    runs, median reported: one run lasts well under a second);
(b) a parse floor: the engine's source (``KafkaSource``) plus the protobuf parse of each
    record, counting events but building none. What any Python consumer pays before its
    first line of per-event code;
(c) one engine process: decode → normalize → detect → correlate → rank → publish, Redis
    writes, offset commits.

Every rate counts the records after each reader's first non-empty fetch, in events/s of
the same records (the ratio is the same in records).

    python -m correlator.bench.throughput            # or: correlator bench throughput
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from correlator.bench.perf_env import (
    add_load_arguments,
    bench_settings,
    create_topics,
    generate,
    load_from_args,
    new_engine,
    print_result,
    produce,
    services,
    time_engine,
)
from correlator.config import Settings
from correlator.transport.kafka import KafkaSource, raw_consume

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser, seconds=200)
    parser.add_argument(
        "--profile", default="", help="pyinstrument profile of the engine run (.html or text)"
    )
    parser.add_argument("--raw-runs", type=int, default=3, help="runs of the bare consumer")


def _count_events(request: Any) -> int:
    """Spans, log records or metric data points in one parsed export request."""
    if isinstance(request, ExportTraceServiceRequest):
        return sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if isinstance(request, ExportLogsServiceRequest):
        return sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    return sum(
        len(getattr(m, m.WhichOneof("data")).data_points)
        for rm in request.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.WhichOneof("data")
    )


async def _parse_floor(
    settings: Settings, expected: int, group_id: str, limit_s: float
) -> tuple[int, int, float]:
    """Fetch with the engine's source and parse every record's protobuf; build no event.

    Returns records and events counted after the first non-empty fetch, and the seconds.
    """
    topics = settings.topics
    parsers = {
        topics.spans: ExportTraceServiceRequest.FromString,
        topics.metrics: ExportMetricsServiceRequest.FromString,
        topics.logs: ExportLogsServiceRequest.FromString,
    }
    loop = asyncio.get_running_loop()
    seen = records = events = 0
    first = 0.0
    async with KafkaSource(settings.kafka, list(parsers), group_id=group_id) as source:
        deadline = loop.time() + limit_s
        while seen < expected and loop.time() < deadline:
            batch = await source.get_batch(0.2)
            n = sum(_count_events(parsers[m.topic](m.value or b"")) for m in batch)
            if batch and not seen:
                first = loop.time()
            elif seen:
                records, events = records + len(batch), events + n
            seen += len(batch)
    return records, events, loop.time() - first


async def _measure(args: argparse.Namespace, bootstrap: str, redis_url: str) -> dict[str, Any]:
    settings = bench_settings(bootstrap, redis_url, "tp", args.partitions)
    await create_topics(settings)
    load = load_from_args(args)
    generated = time.perf_counter()
    messages = generate(load, settings.topics)
    generated = time.perf_counter() - generated
    produced = await produce(settings, messages)
    del messages
    per_record = produced.events / max(1, produced.records)
    topics = list(settings.topics.decoders())
    raw_runs = [
        await raw_consume(settings.kafka, topics, produced.records, f"tp-raw-{k}", limit_s=600)
        for k in range(max(1, args.raw_runs))
    ]
    raw_rate = statistics.median(n * per_record / s for n, s in raw_runs)
    raw_records_rate = statistics.median(n / s for n, s in raw_runs)
    parse_records, parse_events, parse_s = await _parse_floor(
        settings, produced.records, "tp-parse", limit_s=600
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
    engine_rate = timed.events / timed.seconds
    parse_rate = parse_events / parse_s
    return {
        "engine_events_per_s": round(engine_rate),
        "raw_consume_per_s": round(raw_rate),
        "ratio": round(engine_rate / raw_rate, 4),
        "engine_records_per_s": round(timed.records / timed.seconds),
        "raw_records_per_s": round(raw_records_rate),
        "raw_runs_s": [round(s, 2) for _, s in raw_runs],
        "parse_floor_events_per_s": round(parse_rate),
        "parse_floor_records_per_s": round(parse_records / parse_s),
        "parse_floor_events_per_record": round(parse_events / max(1, parse_records), 1),
        "ratio_to_parse_floor": round(engine_rate / parse_rate, 4),
        "records": produced.records,
        "events": produced.events,
        "events_per_record": round(per_record, 1),
        "produce_records_per_s": round(produced.records / produced.seconds),
        "generate_s": round(generated, 1),
        "engine_s": round(timed.seconds, 2),
        "engine_cpu_s": round(timed.cpu_s, 2),
        "engine_events_per_cpu_s": round(timed.events / timed.cpu_s),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "parse_floor_s": round(parse_s, 2),
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
        f"({r['raw_records_per_s']:,} records/s; median of runs of {r['raw_runs_s']} s; "
        "no event is parsed)",
        f"fetch + protobuf parse (floor): {r['parse_floor_events_per_s']:>9,} events/s "
        f"({r['parse_floor_records_per_s']:,} records/s, {r['parse_floor_s']}s; no event built)",
        f"engine full pipeline:           {r['engine_events_per_s']:>9,} events/s "
        f"({r['engine_records_per_s']:,} records/s, {r['engine_s']}s)",
        f"ratio engine/raw: {r['ratio']:.3f}   (targets: >= 50,000 events/s, ratio >= 0.3); "
        f"engine/parse floor: {r['ratio_to_parse_floor']:.3f}",
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
