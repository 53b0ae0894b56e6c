"""Scale-out: the same load through 1 and then 2 detect processes in one consumer group.

Each run has an embedded broker and Redis of its own, with the same topic names and key
prefix (as the two set-ups would share one deployment's topics; log template series keys
name their topic and partition, so other names would make other keys): one
``--stage correlate`` process and ``N`` ``--stage detect`` processes
(``python -m correlator.bench.perf_runner``, the engine of ``correlator run --stage``). Once
the detect members have split the telemetry partitions, the generated fleet (with one
fault, so there is an incident to compare) is produced as fast as the broker takes it,
and then the members start reading (``--start-file``): the producer, a Python process
too, would otherwise take one of the two cores while they work, and a deployment's
producers are not on its engine's machine. The rate is records (and events) per second
over the detect group, from its first batch to its last; the speed-up is the 2-member
rate over the 1-member rate, the median over ``--pairs`` alternated pairs (this box's
noise moves one run by ±20%). A member exits once it has been idle for a few seconds and
it has nothing left to read. The incidents topic of the 2-member run is then compared
with the 1-member run's: same ids, final versions, status, services and top root cause.

The speed-up is bounded by how the keys split: telemetry is keyed by service, and with the
default round-robin assignor and the same even partition count on every topic, two members
split the services by the parity of their key hash whatever that count is; for the default
fleet the larger half carries about 56% of the events, so 1.77x at best.

``--assignor load-aware`` (``kafka.partition_assignor``) splits by measured bytes a second
instead, once the members have measured them: the first split is still by count, and
with the whole load produced before the members read there are no arrivals to measure,
so here it splits as round robin does. Partitions it moves mid-load lose no record (a
partition taken over from a slower member lags: ``correlator.normalize.windows``).

    python -m correlator.bench.scaleout            # or: correlator bench scaleout
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from correlator.bench.crash import CrashOutcome, compare
from correlator.bench.load import Fault, Load, LoadRecord
from correlator.bench.perf_env import (
    add_load_arguments,
    create_topics,
    load_from_args,
    print_result,
    produce,
    services,
    settings_data,
    spawn,
)
from correlator.config import Settings
from correlator.demo.incidents_topic import read_changes
from correlator.stages import ensure_stage_topics

__all__ = ["ScaleRun", "add_arguments", "run"]

_FINISHED = re.compile(rb"finished (\d+) first=([\d.]+) last=([\d.]+)")
_ASSIGNED = re.compile(rb"assigned (\d+)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_load_arguments(parser, seconds=300)
    parser.add_argument("--members", type=int, default=2, help="detect processes to compare")
    parser.add_argument(
        "--pairs", type=int, default=3, help="1-member and N-member runs, alternated (median)"
    )
    parser.add_argument(
        "--assignor",
        choices=["roundrobin", "load-aware"],
        default="roundrobin",
        help="kafka.partition_assignor of the detect group (load-aware moves partitions "
        "mid-load; see the module docstring)",
    )


@dataclasses.dataclass
class ScaleRun:
    """One run: how fast its detect group went and what it published."""

    members: int
    records: int
    events: int
    seconds: float
    outcome: CrashOutcome
    shares: list[float] = dataclasses.field(default_factory=list)  # records, per member

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _with_fault(load: Load) -> Load:
    """The load with one mid-tree service slow and failing after warm-up."""
    at = max(220.0, load.seconds * 0.7)
    service = load.name(max(0, load.services // 2 - 1))
    load.faults = [Fault(service, at, max(30.0, load.seconds - at - 20.0))]
    return load


def _spawn(
    config: Path, done: Path, log: Path, stage: str, start: Path | None = None
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "correlator.bench.perf_runner", "--config", str(config)]
    argv += ["--done-file", str(done), "--stage", stage, "--idle-exit-s", "4"]
    if start is not None:
        argv += ["--start-file", str(start)]
    return spawn(argv, log)


async def _split(logs: list[Path], total: int, limit_s: float = 90.0) -> None:
    """Wait until every member's latest assignment is non-empty and they add up to ``total``."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        latest = [_ASSIGNED.findall(p.read_bytes()) if p.exists() else [] for p in logs]
        if all(latest) and sum(int(a[-1]) for a in latest) == total:
            await asyncio.sleep(1.0)  # let a trailing rebalance show up
            again = [_ASSIGNED.findall(p.read_bytes()) for p in logs]
            if [len(a) for a in again] == [len(a) for a in latest]:
                return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"detect members did not split {total} partitions in {limit_s:.0f}s")


async def _one(
    members: int,
    bootstrap: str,
    redis_url: str,
    work: Path,
    seconds: list[list[LoadRecord]],
    partitions: int,
    assignor: str,
    pair: int = 0,
) -> ScaleRun:
    name = f"so{members}-{pair}"  # its files; topics and keys are the same in every run
    data = settings_data(
        bootstrap, redis_url, "so", partitions, kafka={"partition_assignor": assignor}
    )
    settings = Settings.model_validate(data)
    await create_topics(settings)
    await ensure_stage_topics(settings)
    config, done = work / f"{name}.yaml", work / f"{name}.done"
    config.write_text(yaml.safe_dump(json.loads(json.dumps(data, default=str))))
    detected = work / f"{name}.detected"  # the correlate process stops after the members
    logs = [work / f"{name}-detect-{i}.log" for i in range(members)]
    start = work / f"{name}.start"  # the members read once the load is all produced
    procs = [_spawn(config, done, log, "detect", start) for log in logs]
    procs.append(_spawn(config, detected, work / f"{name}-correlate.log", "correlate"))
    try:
        await _split(logs, len(settings.topics.decoders()) * partitions)
        rename = {
            default: getattr(settings.topics, field)
            for field, default in (("spans", "otlp_spans"), ("metrics", "otlp_metrics"),
                                   ("logs", "otlp_logs"))
        }  # fmt: skip
        retargeted = [
            [dataclasses.replace(r, message=dataclasses.replace(
                r.message, topic=rename.get(r.message.topic, r.message.topic))) for r in second]
            for second in seconds
        ]  # fmt: skip
        produced = await produce(settings, retargeted)
        start.touch()
        done.touch()
        for proc in procs[:-1]:
            await asyncio.to_thread(proc.wait, 900)
        detected.touch()
        await asyncio.to_thread(procs[-1].wait, 900)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    spans = [_FINISHED.search(p.read_bytes()) for p in logs]
    if not all(spans):
        raise RuntimeError(f"a detect member did not finish; see {work}")
    first = min(float(m.group(2)) for m in spans if m)
    last = max(float(m.group(3)) for m in spans if m)
    records = sum(int(m.group(1)) for m in spans if m)
    changes = await read_changes(settings.kafka, settings.topics.incidents, f"{name}-check")
    with (work / f"{name}-incidents.jsonl").open("w") as out:
        out.writelines(c.model_dump_json() + "\n" for c in changes)
    shares = [round(int(m.group(1)) / records, 3) if records and m else 0.0 for m in spans]
    outcome = CrashOutcome(changes, [])
    return ScaleRun(members, records, produced.events, last - first, outcome, shares)


async def _pairs(args: argparse.Namespace) -> list[tuple[ScaleRun, ScaleRun]]:
    """``--pairs`` runs of 1 then ``--members`` members on the same generated load."""
    load = _with_fault(load_from_args(args))
    from correlator.config import TopicSettings

    seconds = list(load.messages(TopicSettings()))
    pairs: list[tuple[ScaleRun, ScaleRun]] = []
    for pair in range(args.pairs):
        runs: list[ScaleRun] = []
        for members in (1, args.members):
            with services(args.work_dir) as (broker, redis, root):
                runs.append(
                    await _one(
                        members,
                        broker.bootstrap_servers,
                        redis.url,
                        root,
                        seconds,
                        args.partitions,
                        args.assignor,
                        pair,
                    )
                )
        pairs.append((runs[0], runs[1]))
    return pairs


def run(args: argparse.Namespace) -> int:
    pairs = asyncio.run(_pairs(args))
    reference = pairs[0][0].outcome
    problems = sorted(
        {
            p
            for single, several in pairs
            for outcome in (single.outcome, several.outcome)
            for p in compare(reference, outcome)
            if "Redis" not in p
        }
    )
    speedups = [b.events_per_s / a.events_per_s if a.events_per_s else 0.0 for a, b in pairs]
    speedup = statistics.median(speedups)
    members = pairs[0][1].members
    lines = [
        f"pair {i + 1}: 1 detect process {a.events_per_s:,.0f} events/s ({a.seconds:.1f}s), "
        f"{b.members} detect processes {b.events_per_s:,.0f} events/s ({b.seconds:.1f}s): "
        f"{s:.2f}x; records per member " + " / ".join(f"{x:.0%}" for x in b.shares)
        for i, ((a, b), s) in enumerate(zip(pairs, speedups, strict=True))
    ]
    lines += [
        f"{pairs[0][0].records} records, {len(reference.latest)} incident(s), "
        f"assignor {args.assignor}",
        f"speed-up: {speedup:.2f}x, median of {len(pairs)} pair(s) (target >= 1.7x on 2 cores)",
        "incidents: "
        + ("identical in every run" if not problems else "DIFFER")
        + "".join(f"\n  {p}" for p in problems),
    ]
    result: dict[str, Any] = {
        "assignor": args.assignor,
        "members": members,
        "events_per_s_1": round(statistics.median(a.events_per_s for a, _ in pairs)),
        f"events_per_s_{members}": round(statistics.median(b.events_per_s for _, b in pairs)),
        "speedup": round(speedup, 3),
        "speedups": [round(x, 3) for x in speedups],
        "shares": pairs[0][1].shares,
        "incidents": len(reference.latest),
        "incidents_identical": not problems,
        "problems": problems,
    }
    print_result(lines, result, args.json)
    return 0 if not problems else 1


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="correlator bench scaleout", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
