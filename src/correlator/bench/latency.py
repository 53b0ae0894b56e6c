"""Latency: from a fault's first anomalous record being produced to its OPENED incident change
being readable on the incidents topic, in wall-clock time, at a steady live rate.

The fleet's telemetry is generated up front (so generation does not compete with the engine
for the two cores), then sent one simulated second per wall second at ``--rate`` events/s
(default: half of ``--max-rate``, the engine's measured maximum from ``bench throughput``)
to an engine running as its own process (``correlator run``). Every ``--spacing-s`` seconds
after warm-up one leaf service turns slow, failing and hot for ``--fault-s`` seconds. For
each fault: t0 = when the producer started sending the first second holding the fault's
records, t1 = when a reader of the incidents topic got the OPENED change whose services
include the faulty one; latency = t1 - t0.

What bounds it: metric points are scored as they arrive; span and log signals come from
event-time windows (``detect.window_s``) that close one window after their end, so a
fault seen only in spans costs 10-20 s of event time, which in a live stream is wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from correlator.bench.load import Fault
from correlator.bench.perf_env import (
    add_load_arguments,
    bench_settings,
    create_topics,
    engine_process,
    generate,
    load_from_args,
    print_result,
    services,
    settings_data,
)
from correlator.config import DetectSettings, Settings, TopicSettings
from correlator.model.incident import ChangeKind, IncidentChange
from correlator.transport.kafka import KafkaSink, KafkaSource

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser, seconds=0)
    parser.add_argument("--max-rate", type=float, default=45_000, help="engine max, events/s")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s (0: max-rate / 2)")
    parser.add_argument("--faults", type=int, default=8)
    parser.add_argument("--warmup-s", type=int, default=70, help="seconds before the 1st fault")
    parser.add_argument("--spacing-s", type=int, default=40, help="seconds between faults")
    parser.add_argument("--fault-s", type=int, default=15)
    parser.set_defaults(metric_interval_s=1)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _read_opened(settings: Settings, opened: dict[str, tuple[float, IncidentChange]]) -> None:
    async with KafkaSource(
        settings.kafka,
        [settings.topics.incidents],
        group_id="lat-reader",
        auto_offset_reset="latest",
    ) as source:
        while True:
            for message in await source.get_batch(0.05):
                change = IncidentChange.model_validate_json(message.value or b"")
                if change.change is ChangeKind.OPENED:
                    opened.setdefault(change.incident_id, (time.monotonic(), change))


async def _measure(
    args: argparse.Namespace, bootstrap: str, redis_url: str, work: Path
) -> dict[str, Any]:
    load = load_from_args(args)
    probe = replace(load, seconds=3)
    sample = sum(r.events for s in probe.messages(TopicSettings()) for r in s) / 3
    rate = args.rate or args.max_rate / 2
    metric = (
        load.services * load.metrics_per_service * load.hosts_per_service / args.metric_interval_s
    )
    load.requests_per_s = max(1, round(load.requests_per_s * (rate - metric) / (sample - metric)))
    leaves = [load.name(i) for i in range(load.services - 1, load.services // 2, -3)]
    faults = [
        Fault(leaves[k % len(leaves)], args.warmup_s + k * args.spacing_s, args.fault_s)
        for k in range(args.faults)
    ]
    load.faults = faults
    load.seconds = args.seconds or (args.warmup_s + args.faults * args.spacing_s + 10)
    detectors = {k: v.model_dump() for k, v in DetectSettings().detectors.items()}
    # Median/MAD with a 50% relative floor: the fleet's thousands of noisy gauges (uniform
    # 5% noise) raise no false alarms after a 5-point warm-up, a fault's 4x jump does.
    detectors["metric"] = {
        "kind": "robust",
        "params": {"min_relative_change": 0.5, "two_sided": False},
    }
    detect = {"warmup": 5, "detectors": detectors}
    correlate = {"window_s": 10.0, "resolve_after_s": 15.0, "reopen_grace_s": 0.0}
    data = settings_data(
        bootstrap, redis_url, "lat", args.partitions, detect=detect, correlate=correlate
    )
    settings = bench_settings(
        bootstrap, redis_url, "lat", args.partitions, detect=detect, correlate=correlate
    )
    await create_topics(settings)
    started = time.perf_counter()
    seconds = generate(load, settings.topics)
    generated = time.perf_counter() - started
    events = sum(r.events for s in seconds for r in s)
    opened: dict[str, tuple[float, IncidentChange]] = {}
    reader = asyncio.create_task(_read_opened(settings, opened))
    engine = engine_process(data, work, "lat-engine")
    sent_at: dict[int, float] = {}
    try:
        await asyncio.sleep(5)  # the engine joins its group; the reader is at the end
        async with KafkaSink(settings.kafka) as sink:
            t0 = time.monotonic()
            for t, second in enumerate(seconds):
                await asyncio.sleep(max(0.0, t0 + t - time.monotonic()))
                sent_at[t] = time.monotonic()
                await sink.send([r.message for r in second])
        await asyncio.sleep(args.fault_s + 25)
    finally:
        engine.terminate()
        engine.wait(30)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    latencies: list[float] = []
    rows: list[str] = []
    for fault in faults:
        t0 = sent_at[int(fault.at_s)]
        hits = [
            at - t0
            for at, change in opened.values()
            if fault.service in change.incident.services and at >= t0
        ]
        if hits:
            latencies.append(min(hits))
        rows.append(
            f"  fault {fault.service} at +{fault.at_s:.0f}s: "
            + (f"{min(hits):.3f}s" if hits else "no incident")
        )
    return {
        "rate_events_per_s": round(events / load.seconds),
        "events": events,
        "generate_s": round(generated, 1),
        "faults": len(faults),
        "detected": len(latencies),
        "latency_p50_s": round(_quantile(latencies, 0.5), 3) if latencies else None,
        "latency_p99_s": round(_quantile(latencies, 0.99), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        "latency_mean_s": round(statistics.fmean(latencies), 3) if latencies else None,
        "incidents_opened": len(opened),
        "rows": rows,
    }


def run(args: argparse.Namespace) -> int:
    with services(args.work_dir) as (broker, redis, work):
        result = asyncio.run(_measure(args, broker.bootstrap_servers, redis.url, work))
    r = result
    lines = [
        f"live stream: {r['rate_events_per_s']:,} events/s for {r['events']:,} events "
        f"(generated beforehand in {r['generate_s']}s), {r['faults']} faults",
        *r.pop("rows"),
        f"fault -> OPENED on incidents topic: p50 {r['latency_p50_s']}s, p99 {r['latency_p99_s']}s "
        f"(max {r['latency_max_s']}s, {r['detected']}/{r['faults']} faults opened an incident; "
        f"target p99 <= 1 s)",
    ]
    print_result(lines, result, args.json)
    return 0 if r["detected"] == r["faults"] else 1


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="correlator bench latency", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
