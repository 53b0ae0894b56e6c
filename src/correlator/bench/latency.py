"""Latency: from a fault's first anomalous record being produced to the incident change it
causes being readable on the incidents topic, in wall-clock time, at a steady live rate.

The fleet's telemetry is generated up front (so generation does not compete with the engine
for the two cores), then sent one simulated second per wall second at ``--rate`` events/s
(default: half of ``--max-rate``, the engine's measured maximum from ``bench throughput``)
to an engine running as its own process (``correlator run``). Every ``--spacing-s`` seconds
after warm-up one leaf service (each leaf in turn, so none flaps) turns slow, failing and
hot for ``--fault-s`` seconds: ``--faults`` samples (24 by default; below 100 samples
p99 is the worst of them). For each fault: t0 = when the producer started sending the
first second holding the fault's records; t1 = when a reader of the incidents topic
first got a change (opened, or updated when the alert joins an incident already open)
carrying a firing alert of the faulty service that started during the fault;
latency = t1 - t0.

What bounds it: metric points are scored as they arrive (no window), so a fault's hot
gauge alerts in the batch that carries it. But the correlator sees alerts in event-time
ticks (``correlator.timeline.TickQueue``: ``correlate.tick_s``, run once the watermark,
the slowest partition's latest event time, is ``correlate.tick_margin_s`` past the tick's
end), so an alert at event time t is correlated and published only once data of
end(t) + margin has reached every partition. Here every metric point of a second is
stamped at the second's start and a second is sent at once, so that data is the next
second's with ticks of 0.5 s and a 0.5 s margin (the one after it with 1 s and 1 s): a
second of wall time spent *waiting* for event time, whatever the engine does. Each row splits a
latency into that wait (the fault's second sent → the second that lets its tick run sent)
and the rest: the engine's batches (fetch, decode → cut → publish) and the reader's fetch.
With ``--idle-partition-s 0`` (the engine's live profile) a caught-up partition never holds
event time back, so there is no such wait: the tick runs once the engine has read what was
sent, and the floor is the engine's work on the fault's second of data.
Span and log signals also wait for their event-time window (``detect.window_s``) to close,
one window after its end: 10-20 s more. Each row says which signal's alert arrived first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import statistics
import time
from dataclasses import replace
from datetime import datetime, timedelta
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
from correlator.config import CorrelateSettings, DetectSettings, Settings, TopicSettings
from correlator.model.alert import AlertStatus
from correlator.model.incident import ChangeKind, IncidentChange
from correlator.transport.kafka import KafkaSink, KafkaSource

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser, seconds=0)
    parser.add_argument("--max-rate", type=float, default=50_000, help="engine max, events/s")
    parser.add_argument("--rate", type=float, default=0.0, help="events/s (0: max-rate / 2)")
    parser.add_argument("--faults", type=int, default=24, help="faults injected (samples)")
    parser.add_argument("--warmup-s", type=int, default=40, help="seconds before the 1st fault")
    parser.add_argument("--spacing-s", type=int, default=10, help="seconds between faults")
    parser.add_argument("--fault-s", type=int, default=4)
    parser.add_argument(
        "--idle-partition-s",
        type=float,
        default=DetectSettings().idle_partition_s,
        help="the engine's detect.idle_partition_s (0: the live profile, where a caught-up "
        "partition never holds event time back)",
    )
    parser.add_argument(
        "--tick-margin-s",
        type=float,
        default=CorrelateSettings().tick_margin_s,
        help="the engine's correlate.tick_margin_s: how far past a tick's end event time must "
        "be before it runs (the disorder tolerated within a partition)",
    )
    parser.set_defaults(metric_interval_s=1)


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a child process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _read_changes(settings: Settings, changes: list[tuple[float, IncidentChange]]) -> None:
    async with KafkaSource(
        settings.kafka,
        [settings.topics.incidents],
        group_id="lat-reader",
        auto_offset_reset="latest",
    ) as source:
        while True:
            for message in await source.get_batch(0.05):
                changes.append(
                    (time.monotonic(), IncidentChange.model_validate_json(message.value or b""))
                )


def _unblocking_second(at_s: float, start: datetime, tick_s: float, margin_s: float) -> int:
    """The first simulated second whose (second-start) metric points let the tick of an
    alert at ``at_s`` run: the watermark must reach the tick's end plus the margin.

    >>> from datetime import UTC
    >>> _unblocking_second(40, datetime(2026, 1, 1, tzinfo=UTC), 0.5, 0.5)
    41
    >>> _unblocking_second(40, datetime(2026, 1, 1, tzinfo=UTC), 1.0, 1.0)
    42
    """
    ts = start.timestamp() + at_s
    end = (math.floor(ts / tick_s) + 1) * tick_s
    return math.ceil(end + margin_s - start.timestamp() - 1e-9)


def _first_change(
    changes: list[tuple[float, IncidentChange]], fault: Fault, start: datetime, sent: float
) -> tuple[float, str] | None:
    """When the first change carrying a firing alert of ``fault`` arrived, and its signal."""
    begin = start + timedelta(seconds=fault.at_s)
    end = begin + timedelta(seconds=fault.duration_s + 5)
    for at, change in changes:
        if at < sent:
            continue
        for alert in change.incident.alerts:
            if (
                alert.service == fault.service
                and alert.status is AlertStatus.FIRING
                and begin <= alert.starts_at < end
            ):
                return at - sent, alert.signal.value
    return None


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
    # Every leaf in turn (services that call nobody): one series faulted again and again
    # would be a flapping alert, which correlate holds back (flap_max_transitions).
    leaves = [load.name(i) for i in range(load.services - 1, -1, -1) if not load.callees(i)]
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
    detect = {"warmup": 5, "detectors": detectors, "idle_partition_s": args.idle_partition_s}
    correlate = {
        "window_s": 10.0,
        "resolve_after_s": 15.0,
        "reopen_grace_s": 0.0,
        "tick_margin_s": args.tick_margin_s,
    }
    data = settings_data(
        bootstrap, redis_url, "lat", args.partitions, detect=detect, correlate=correlate
    )
    settings = bench_settings(
        bootstrap, redis_url, "lat", args.partitions, detect=detect, correlate=correlate
    )
    await create_topics(settings)
    started = time.perf_counter()
    seconds = generate(load, settings.topics)
    # Millions of generated records would make every cyclic-GC pass of this process (the
    # producer) a pause of up to half a second, counted as latency: keep them out of it.
    gc.freeze()
    generated = time.perf_counter() - started
    events = sum(r.events for s in seconds for r in s)
    changes: list[tuple[float, IncidentChange]] = []
    reader = asyncio.create_task(_read_changes(settings, changes))
    engine = engine_process(data, work, "lat-engine")
    sent_at: dict[int, float] = {}
    send_s: list[float] = []
    try:
        await asyncio.sleep(5)  # the engine joins its group; the reader is at the end
        cpu_before = _cpu_seconds(engine.pid)
        async with KafkaSink(settings.kafka) as sink:
            t0 = time.monotonic()
            for t, second in enumerate(seconds):
                await asyncio.sleep(max(0.0, t0 + t - time.monotonic()))
                sent_at[t] = time.monotonic()
                await sink.send([r.message for r in second])
                send_s.append(time.monotonic() - sent_at[t])
            streamed_s = time.monotonic() - t0
        cpu_streaming = _cpu_seconds(engine.pid) - cpu_before
        load_average = os.getloadavg()[0]
        await asyncio.sleep(args.fault_s + 25)
    finally:
        engine.terminate()
        engine.wait(30)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    latencies: list[float] = []
    waits: list[float] = []
    rows: list[str] = []
    first_signals: dict[str, int] = {}
    tick_s, margin_s = settings.correlate.tick_s, settings.correlate.tick_margin_s
    for fault in faults:
        sent = sent_at[int(fault.at_s)]
        hit = _first_change(changes, fault, load.start, sent)
        row = f"  fault {fault.service} at +{fault.at_s:.0f}s: "
        if hit is None:
            rows.append(row + "no incident change")
            continue
        latencies.append(hit[0])
        first_signals[hit[1]] = first_signals.get(hit[1], 0) + 1
        row += f"{hit[0]:.3f}s (first alert: {hit[1]}"
        unblocking = _unblocking_second(fault.at_s, load.start, tick_s, margin_s)
        if hit[1] == "metric" and unblocking in sent_at and args.idle_partition_s > 0:
            waits.append(sent_at[unblocking] - sent)
            row += f"; waiting for event time {waits[-1]:.3f}s, then {hit[0] - waits[-1]:.3f}s"
        rows.append(row + ")")
    after = [lat - wait for lat, wait in zip(latencies, waits, strict=False)] if waits else []
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
        "first_alert_signals": first_signals,
        "waiting_for_event_time_s_mean": round(statistics.fmean(waits), 3) if waits else None,
        "after_unblocked_p50_s": round(_quantile(after, 0.5), 3) if after else None,
        "after_unblocked_p99_s": round(_quantile(after, 0.99), 3) if after else None,
        "engine_cpu_share": round(cpu_streaming / streamed_s, 3),
        "load_average_1m": round(load_average, 2),
        "send_s_p50": round(_quantile(send_s, 0.5), 3),
        "send_s_max": round(max(send_s), 3),
        "incidents_opened": len(
            {c.incident_id for _, c in changes if c.change is ChangeKind.OPENED}
        ),
        "incident_changes": len(changes),
        "poll_timeout_s": settings.kafka.poll_timeout_ms / 1000,
        "tick_s": settings.correlate.tick_s,
        "tick_margin_s": settings.correlate.tick_margin_s,
        "window_s": settings.detect.window_s,
        "idle_partition_s": settings.detect.idle_partition_s,
        "fetch_max_wait_s": settings.kafka.fetch_max_wait_ms / 1000,
        "rows": rows,
    }


def _split_line(r: dict[str, Any]) -> str:
    """Where the time goes, by profile: waiting for event time, or the engine's batches."""
    if r["idle_partition_s"] == 0:
        return (
            "live profile (detect.idle_partition_s 0): a caught-up partition never holds "
            "event time back, so a fault's tick runs once the engine has read everything "
            "sent so far and event time is tick_margin_s "
            f"({r['tick_margin_s']}s) past the tick's end: caught up, event time moves on with "
            "the wall time since the latest record, so a tick whose end the fault's second of "
            "data barely passes waits up to the margin; the floor is working through that "
            f"second of data (sent at once), then cut, publish and the reader's fetch "
            f"(fetch_max_wait {r['fetch_max_wait_s']}s); span/log signals also wait for their "
            f"{r['window_s']}s window"
        )
    return (
        f"split: waiting for event time (the data that completes the alert's tick sent) "
        f"{r['waiting_for_event_time_s_mean']}s on average, then engine + reader: p50 "
        f"{r['after_unblocked_p50_s']}s, p99 {r['after_unblocked_p99_s']}s; "
        f"floor: alerts are correlated in event-time ticks of {r['tick_s']}s that run once "
        f"every partition is {r['tick_margin_s']}s past the tick's end; metric points are "
        f"stamped at whole seconds, so an alert waits for the next second's data (one engine "
        f"batch: poll {r['poll_timeout_s']}s); span/log signals also wait for their "
        f"{r['window_s']}s window"
    )


def run(args: argparse.Namespace) -> int:
    with services(args.work_dir) as (broker, redis, work):
        result = asyncio.run(_measure(args, broker.bootstrap_servers, redis.url, work))
    r = result
    lines = [
        f"live stream: {r['rate_events_per_s']:,} events/s for {r['events']:,} events "
        f"(generated beforehand in {r['generate_s']}s), {r['faults']} faults",
        *r.pop("rows"),
        f"fault -> incident change on the incidents topic: p50 {r['latency_p50_s']}s, "
        f"p99 {r['latency_p99_s']}s (max {r['latency_max_s']}s, mean {r['latency_mean_s']}s; "
        f"{r['detected']}/{r['faults']} faults reached an incident; target p99 <= 1 s)",
        f"first alert per fault by signal: {r['first_alert_signals']}",
        _split_line(r),
        f"engine CPU while streaming: {r['engine_cpu_share']:.0%} of a core (near 100% the "
        f"engine lags and latency is queueing); load average {r['load_average_1m']} on "
        f"{os.cpu_count()} cores; sending one second took {r['send_s_p50']}s (max "
        f"{r['send_s_max']}s)",
    ]
    print_result(lines, result, args.json)
    return 0 if r["detected"] == r["faults"] else 1


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="correlator bench latency", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
