"""An engine process for the crash and scale-out benchmarks.

The same engine as ``correlator run`` (Kafka source, Kafka sink, Redis store), plus: it prints
``started`` once its first batch is in and ``consumed N`` as it goes, and it exits by itself
(after a final flush) once ``--done-file`` exists, nothing has arrived for ``--idle-exit-s`` and
its partitions have no records left to read (a rebalance can leave a member idle for a while
with records still waiting). As ``correlator run`` does, it starts the engine again after a
retriable error (a Redis restart under a correlate process that was not killed with it).

    python -m correlator.bench.perf_runner --config engine.yaml --done-file produced.flag
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from correlator.bench.perf_env import create_topics, new_engine
from correlator.config import Settings, load_settings
from correlator.errors import CorrelatorError, TransportError
from correlator.stages import STAGES, build_stage_engine, ensure_stage_topics
from correlator.transport.kafka import KafkaSource

__all__ = ["main"]

_RESTART_S = 1.0


async def _run(
    config: Path,
    done_file: Path,
    idle_exit_s: float,
    stage: str = "all",
    start_file: Path | None = None,
) -> int:
    """Run the engine of ``stage``; like ``correlator run``, start it again after a
    retriable error (a Redis or broker outage): its state comes back from the store and
    the committed offsets."""
    settings = load_settings(config)
    await create_topics(settings)
    if stage != "all":
        await ensure_stage_topics(settings)
    while True:
        try:
            return await _serve(settings, done_file, idle_exit_s, stage, start_file)
        except CorrelatorError as exc:
            if not exc.retriable:
                raise
            print(f"engine stopped: {exc}; restarting", flush=True)
            await asyncio.sleep(_RESTART_S)


async def _serve(
    settings: Settings, done_file: Path, idle_exit_s: float, stage: str, start_file: Path | None
) -> int:
    engine = new_engine(settings) if stage == "all" else build_stage_engine(settings, stage)
    assigned = _Assignments()
    hooks = getattr(engine.source, "on_assign", None)
    if isinstance(hooks, list):
        hooks.append(assigned.record)
    await engine.start()
    if start_file is not None:
        await _appears(start_file)  # in the group (assigned, heartbeating), not reading yet
    seen, idle_since, reported = 0, time.monotonic(), 0.0
    first = last = 0.0
    try:
        while True:
            got = await engine.step()
            now = time.monotonic()
            if got:
                if not seen:
                    print("started", flush=True)
                    first = time.time()
                last = time.time()
                seen += got
                idle_since = now
            if now - reported > 1.0:
                print(f"consumed {seen}", flush=True)
                reported = now
            idle = now - idle_since
            if (
                _exists(done_file)
                and idle > idle_exit_s
                and await assigned.drained(engine.source, 3 * idle_exit_s)
            ):
                break
        await engine.flush()
        late = (engine.normalize.spans.late, engine.normalize.logs.late, engine.ticks.late)
        print(f"finished {seen} first={first:.3f} last={last:.3f} late={late}", flush=True)
    finally:
        await engine.stop()
    return 0


class _Assignments:
    """Prints each assignment and tells whether the member has read all it owns."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    async def record(self, partitions: set[tuple[str, int]]) -> None:
        self.at = time.monotonic()
        print(f"assigned {len(partitions)}", flush=True)

    async def drained(self, source: object, unowned_s: float) -> bool:
        """No records left in the partitions owned; owning none counts only after
        ``unowned_s`` without an assignment (a member between two owns none for a while)."""
        if not isinstance(source, KafkaSource):
            return True
        if not source.assignment() and time.monotonic() - self.at < unowned_s:
            return False
        try:
            return await source.lag() == 0  # None (not fetched yet) is not drained
        except TransportError:
            return False


def _exists(path: Path) -> bool:
    return path.exists()


async def _appears(path: Path) -> None:
    """Return once ``path`` exists (another process creates it: polled)."""
    while not _exists(path):  # noqa: ASYNC110 (a file of another process: no Event to await)
        await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m correlator.bench.perf_runner")
    parser.add_argument("--config", required=True)
    parser.add_argument("--done-file", required=True)
    parser.add_argument("--idle-exit-s", type=float, default=6.0)
    parser.add_argument("--stage", choices=STAGES, default="all")
    parser.add_argument("--start-file", help="join the group, then read only once it exists")
    args = parser.parse_args(argv)
    start = Path(args.start_file) if args.start_file else None
    done = Path(args.done_file)
    return asyncio.run(_run(Path(args.config), done, args.idle_exit_s, args.stage, start))


if __name__ == "__main__":
    sys.exit(main())
