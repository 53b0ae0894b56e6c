"""Crash safety: SIGKILL the engine at random points while a scenario streams; compare.

Two runs over the same known-fault scenario (the demo shop, ``payments-db`` slowing down),
each an engine child process (``python -m correlator.bench.perf_runner``, the engine of
``correlator run``) on its own topics and key prefix:

* reference: never interrupted;
* crashed: SIGKILLed ``--kills`` times at random moments after it starts consuming, and
  restarted each time with a new client id (a new group member: the coordinator has to
  fence the dead one); at kill ``--redis-kill-at`` Redis is SIGKILLed too and restarted on
  its AOF (``appendfsync always``).

With ``--stage detect`` the engine is split as ``correlator run --stage`` splits it: the
killed process is the detect member (checkpointing every few seconds, so kills land
inside open windows, which it writes with each commit), and one ``--stage correlate``
process runs throughout (Redis restarts under it; it starts again, as ``correlator run``
does after a retriable error).

Then the incidents topic (read from the start, latest version per id) and Redis are compared
with the reference: no incident id missing, none extra, same final version, status, services
and top root cause; every (id, version) of the reference published with the same contents
and none other; Redis's document equals the topic's last version; the same (id, version)
never published with different contents.

Each run also has a live runbook executor (``correlator act``, its own process, killed and
restarted with the engine) whose runbook calls a local HTTP recorder once per incident
change (``correlator.bench.crash_act``): no step may run twice, and every change's step
runs unless a kill cut it in flight (then it is marked interrupted, never repeated).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from correlator.bench.crash_act import (
    ActOutcome,
    CallRecorder,
    act_argv,
    act_sections,
    compare_act,
    wait_for_executions,
)
from correlator.bench.perf_env import print_result, settings_data
from correlator.config import Settings
from correlator.demo.incidents_topic import read_changes
from correlator.demo.produce import scenario_messages
from correlator.demo.scenario import Scenario
from correlator.model.incident import Incident, IncidentChange
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.store.incidents import IncidentRepository
from correlator.store.redis import RedisStateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink

__all__ = ["CrashOutcome", "add_arguments", "compare", "crash_case", "run"]

#: A split engine's detect member checkpoints this often (wall s) in the crash runs.
_MEMBER_CHECKPOINT_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kills", type=int, default=5, help="SIGKILLs of the engine")
    parser.add_argument("--redis-kill-at", type=int, default=2, help="kill Redis at this kill")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pace-s", type=float, default=0.06, help="wall s per simulated s")
    parser.add_argument("--work-dir", default="")
    parser.add_argument(
        "--stage",
        choices=("all", "detect"),
        default="all",
        help="all: kill the one engine; detect: kill the detect member of a split engine",
    )
    parser.add_argument("--json", action="store_true")


def small_scenario() -> Scenario:
    """The integration tests' fault: one incident, resolved, payments-db first."""
    return Scenario(normal_s=300, fault_s=120, recovery_s=420, requests_per_s=6)


@dataclass
class CrashOutcome:
    """What one run left behind."""

    changes: list[IncidentChange]
    stored: list[Incident]
    act: ActOutcome = field(default_factory=ActOutcome)
    kills: int = 0
    redis_restarts: int = 0
    elapsed_s: float = 0.0
    log: list[str] = field(default_factory=list)

    @property
    def latest(self) -> dict[str, IncidentChange]:
        out: dict[str, IncidentChange] = {}
        for change in self.changes:
            if change.incident_id not in out or change.version > out[change.incident_id].version:
                out[change.incident_id] = change
        return out


def _started(log: Path, offset: int) -> bool:
    return log.exists() and b"started" in log.read_bytes()[offset:]


async def crash_case(
    name: str,
    broker: EmbeddedBroker,
    redis: EmbeddedRedis,
    work: Path,
    *,
    kills: int,
    redis_kill_at: int = -1,
    seed: int = 1,
    pace_s: float = 0.03,
    scenario: Scenario | None = None,
    stage: str = "all",
) -> CrashOutcome:
    """Stream the scenario to an engine and an act worker process, killing both ``kills``
    times; read results. With ``stage="detect"`` the engine is split (``correlator run
    --stage``): the detect member is killed, the correlate process runs throughout."""
    with CallRecorder() as recorder:
        outcome = await _streamed(
            name, broker, redis, work, recorder, kills, redis_kill_at, seed, pace_s, scenario,
            stage,
        )  # fmt: skip
        outcome.act.calls.update(recorder.calls)
    return outcome


async def _streamed(
    name: str,
    broker: EmbeddedBroker,
    redis: EmbeddedRedis,
    work: Path,
    recorder: CallRecorder,
    kills: int,
    redis_kill_at: int,
    seed: int,
    pace_s: float,
    scenario: Scenario | None,
    stage: str,
) -> CrashOutcome:
    data = settings_data(broker.bootstrap_servers, redis.url, name, 2)
    if stage == "detect":  # checkpoints (windows, offsets) every few seconds, kills between
        data["detect"] = {"checkpoint_every_s": _MEMBER_CHECKPOINT_S}
    data.update(act_sections(name, work, recorder.url))
    settings = Settings.model_validate(data)
    config = work / f"{name}.yaml"
    config.write_text(_yaml(data))
    done = work / f"{name}.done"
    log = work / f"{name}.log"
    topics = settings.topics
    await ensure_topics(
        settings.kafka, [*topics.decoders(), topics.incidents, topics.dead_letter], 2
    )
    rng = random.Random(seed)
    outcome = CrashOutcome([], [])
    started = time.monotonic()

    async def produce() -> None:
        async with KafkaSink(settings.kafka) as sink:
            for second in scenario_messages(scenario or small_scenario(), topics):
                await sink.send(second)
                await asyncio.sleep(pace_s)
        done.touch()

    producer = asyncio.create_task(produce())
    detected = work / f"{name}.detected"  # the correlate process stops after the member
    correlate = None
    if stage == "detect":
        with (work / f"{name}-correlate.log").open("ab") as out:
            correlate = await asyncio.create_subprocess_exec(
                *_runner(config, detected, "correlate"), stdout=out, stderr=subprocess.STDOUT
            )
    for attempt in range(kills + 1):
        offset = log.stat().st_size if log.exists() else 0
        env = {**os.environ, "CORRELATOR_KAFKA__CLIENT_ID": f"{name}-member-{attempt}"}
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(
                *_runner(config, done, stage), stdout=out, stderr=subprocess.STDOUT, env=env
            )
        with (work / f"{name}-act.log").open("ab") as out:
            act = await asyncio.create_subprocess_exec(
                *act_argv(config), stdout=out, stderr=subprocess.STDOUT, env=env
            )
        if attempt == kills:
            await proc.wait()
            break
        for _ in range(2400):  # until it has its first batch (at most ~2 min)
            if _started(log, offset) or proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(rng.uniform(0.2, 3.0))
        if proc.returncode is not None:  # it finished the stream before the kill
            outcome.log.append(f"engine finished before kill {attempt + 1}")
            break
        for child in (proc, act):
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGKILL)
            await child.wait()
        outcome.kills += 1
        outcome.log.append(f"kill {attempt + 1} at +{time.monotonic() - started:.1f}s")
        if attempt == redis_kill_at:
            redis.process.kill()
            redis.start()
            outcome.redis_restarts += 1
            outcome.log[-1] += " (and Redis, restarted on its AOF)"
    await producer
    if correlate is not None:
        detected.touch()
        await correlate.wait()
    outcome.changes = await read_changes(settings.kafka, topics.incidents, f"{name}-check")
    async with RedisStateStore(redis.url, settings.redis.key_prefix) as store:
        outcome.stored = await IncidentRepository(store).recent(limit=10_000)
        versions = [(c.incident_id, c.version) for c in outcome.changes]
        outcome.act.executions = await wait_for_executions(store, versions)
    with contextlib.suppress(ProcessLookupError):
        act.send_signal(signal.SIGTERM)
    await act.wait()
    outcome.elapsed_s = time.monotonic() - started
    return outcome


def _runner(config: Path, done: Path, stage: str) -> list[str]:
    """The argv of an engine process (``--stage`` ``stage``) that stops once ``done`` exists."""
    argv = [sys.executable, "-m", "correlator.bench.perf_runner", "--config", str(config)]
    return [*argv, "--done-file", str(done), "--stage", stage]


def _yaml(data: dict[str, Any]) -> str:
    import json

    import yaml

    return str(yaml.safe_dump(json.loads(json.dumps(data, default=str))))


def compare(reference: CrashOutcome, crashed: CrashOutcome) -> list[str]:
    """Every difference a consumer could see; empty when the crashes changed nothing."""
    problems: list[str] = []
    ref, got = reference.latest, crashed.latest
    for missing in sorted(ref.keys() - got.keys()):
        problems.append(f"incident {missing} lost")
    for extra in sorted(got.keys() - ref.keys()):
        problems.append(f"incident {extra} duplicated/extra")
    for iid in sorted(ref.keys() & got.keys()):
        a, b = ref[iid].incident, got[iid].incident
        top_a = a.root_causes[0].entity if a.root_causes else None
        top_b = b.root_causes[0].entity if b.root_causes else None
        if (a.version, a.status, sorted(a.services), top_a) != (
            b.version,
            b.status,
            sorted(b.services),
            top_b,
        ):
            problems.append(
                f"incident {iid}: reference v{a.version} {a.status} {top_a} {sorted(a.services)}"
                f" vs crashed v{b.version} {b.status} {top_b} {sorted(b.services)}"
            )
    problems.extend(_version_differences(reference, crashed))
    problems.extend(compare_act(reference.act, crashed.act))
    for label, outcome in (("reference", reference), ("crashed", crashed)):
        stored = {i.incident_id: i.version for i in outcome.stored}
        topic = {iid: c.version for iid, c in outcome.latest.items()}
        if stored != topic:
            problems.append(f"{label}: Redis {stored} != incidents topic {topic}")
        seen: dict[tuple[str, int], str] = {}
        for change in outcome.changes:
            body = change.incident.model_dump_json()
            key = (change.incident_id, change.version)
            if seen.setdefault(key, body) != body:
                problems.append(f"{label}: {key} published twice with different contents")
    return problems


def _bodies(outcome: CrashOutcome) -> dict[tuple[str, int], dict[str, Any]]:
    return {(c.incident_id, c.version): c.model_dump(mode="json") for c in outcome.changes}


def _version_differences(reference: CrashOutcome, crashed: CrashOutcome) -> list[str]:
    """Every (id, version) the reference published must be published identically."""
    ref, got = _bodies(reference), _bodies(crashed)
    problems = [f"{iid} v{v} never published" for iid, v in sorted(ref.keys() - got.keys())]
    problems += [f"{iid} v{v} not in the reference" for iid, v in sorted(got.keys() - ref.keys())]
    for key in sorted(ref.keys() & got.keys()):
        fields = sorted(f for f in ref[key] if ref[key][f] != got[key].get(f))
        fields += sorted(
            f"incident.{f}"
            for f in ref[key]["incident"]
            if ref[key]["incident"][f] != got[key]["incident"].get(f)
        )
        if fields:
            problems.append(f"{key[0]} v{key[1]} differs from the reference in {fields}")
    return problems


async def _both(args: argparse.Namespace, root: Path) -> tuple[CrashOutcome, CrashOutcome]:
    with (
        EmbeddedBroker(root / "broker") as broker,
        EmbeddedRedis(root / "redis", persistent=True) as redis,
    ):
        reference = await crash_case(
            "ref", broker, redis, root, kills=0, pace_s=args.pace_s, stage=args.stage
        )
        crashed = await crash_case(
            "crash",
            broker,
            redis,
            root,
            kills=args.kills,
            redis_kill_at=args.redis_kill_at,
            seed=args.seed,
            pace_s=args.pace_s,
            stage=args.stage,
        )
    return reference, crashed


def run(args: argparse.Namespace) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="correlator-crash-") as tmp:
        root = Path(args.work_dir) if args.work_dir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        reference, crashed = asyncio.run(_both(args, root))
    problems = compare(reference, crashed)
    repeats = len(crashed.changes) - len({(c.incident_id, c.version) for c in crashed.changes})
    lines = [
        f"reference: {len(reference.latest)} incident(s), {len(reference.changes)} change "
        f"events, {reference.elapsed_s:.0f}s",
        *[f"  {line}" for line in crashed.log],
        f"crashed:   {len(crashed.latest)} incident(s), {len(crashed.changes)} change events "
        f"({repeats} re-sent (id, version) repeats, identical), {crashed.kills} engine SIGKILLs, "
        f"{crashed.redis_restarts} Redis restart(s), {crashed.elapsed_s:.0f}s",
        *[
            f"  {c.incident_id} v{c.version} {c.incident.status.value} top="
            f"{c.incident.root_causes[0].entity if c.incident.root_causes else None}"
            for c in crashed.latest.values()
        ],
        *[
            f"runbook ({label}): {len(o.act.executions)} executions, "
            f"{sum(o.act.calls.values())} step calls, {len(o.act.interrupted)} interrupted "
            f"by a kill, {sum(n > 1 for n in o.act.calls.values())} steps run twice"
            for label, o in (("reference", reference), ("crashed", crashed))
        ],
        "result: " + ("identical to the uninterrupted run" if not problems else "DIFFERS"),
        *[f"  {p}" for p in problems],
    ]
    result = {
        "kills": crashed.kills,
        "redis_restarts": crashed.redis_restarts,
        "incidents_reference": len(reference.latest),
        "incidents_crashed": len(crashed.latest),
        "repeats": repeats,
        "runbook_executions": len(crashed.act.executions),
        "runbook_steps_run_twice": sum(n > 1 for n in crashed.act.calls.values()),
        "runbook_interrupted": len(crashed.act.interrupted),
        "problems": problems,
    }
    print_result(lines, result, args.json)
    return 1 if problems else 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="correlator bench crash", description=__doc__)
    add_arguments(_parser)
    raise SystemExit(run(_parser.parse_args()))
