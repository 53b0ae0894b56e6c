"""The ``correlator`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from correlator.config import KafkaSettings, Settings, load_settings
from correlator.errors import CorrelatorError, ServiceStartError
from correlator.model.message import RawMessage

if TYPE_CHECKING:
    from correlator.correlate.rules import SilenceLoader
    from correlator.demo.run import DemoResult
    from correlator.pipeline import Engine

__all__ = ["main"]

log = logging.getLogger("correlator")


def _demo(args: argparse.Namespace) -> int:
    from correlator.demo.run import run_demo
    from correlator.demo.serve import DemoServe, serve_demo, with_demo_token

    topology = Path(args.topology) if args.topology else None
    runbooks = Path(args.runbooks) if args.runbooks else None
    serve = DemoServe(args.host, args.port, args.token) if args.serve else None
    if serve is not None:
        serve.check()  # before the demo runs, not after
    codes: list[int] = []

    def report_then_serve(settings: Settings, result: DemoResult) -> None:
        codes.append(_demo_report(result, runbooks is not None, Path(args.out)))
        if serve is not None:
            from correlator.demo.report import render_serve_banner

            print(render_serve_banner(serve.base_url, serve.token), flush=True)
            serve_demo(with_demo_token(settings, serve))
            print("API stopped; stopping the demo's broker and Redis")

    run_demo(Path(args.work_dir), topology, runbooks, then=report_then_serve)
    return codes[0]


def _demo_report(result: DemoResult, with_runbooks: bool, out: Path) -> int:
    """Print the demo's incidents and figures; 0 when the injected fault is ranked first."""
    from correlator.demo.report import render_executions, render_incidents

    print(render_incidents(result.incidents))
    if with_runbooks:
        print("Runbooks the act worker ran for these incidents (dry-run: nothing was executed):")
        print(render_executions(result.executions))
    first = result.incidents[0] if result.incidents else None
    top = first.root_causes[0].entity if first and first.root_causes else None
    print(
        f"{result.records_sent} records streamed ({result.events} telemetry events), "
        f"{result.dead_lettered} dead-lettered, {result.alerts} alerts -> "
        f"{len(result.incidents)} incident(s), {result.changes_on_topic} change events on the "
        f"incidents topic, {len(result.stored)} in Redis, {len(result.executions)} runbook "
        f"executions; {result.elapsed_s:.1f}s"
    )
    print(f"injected fault: {result.root_cause}; top-ranked root cause: {top}")
    out.write_text(json.dumps([i.model_dump(mode="json") for i in result.incidents], indent=2))
    print(f"incidents written to {out}")
    return 0 if top == result.root_cause else 1


def _stop_on_signals() -> asyncio.Event:
    """An event SIGINT or SIGTERM sets, on the running loop (for a clean stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _act(args: argparse.Namespace) -> int:
    from correlator.act import run_worker

    settings = load_settings(Path(args.config) if args.config else None)

    async def work() -> None:
        await run_worker(settings, stop=_stop_on_signals())

    asyncio.run(work())
    return 0


async def _run_engine(args: argparse.Namespace) -> int:
    """Run the engine until SIGINT/SIGTERM.

    A failure to start the first time is fatal (:class:`ServiceStartError`, exit code 2)
    with everything started so far closed; once the engine has run, it restarts after
    retriable errors (crash-only: state comes back from Redis and committed offsets).
    """
    settings = load_settings(Path(args.config) if args.config else None)
    stop = _stop_on_signals()
    backoff = 1.0
    ran = False
    while not stop.is_set():
        try:
            engine, silences = await _started_engine(settings, args.stage)
            ran = True
            await _engine_until(engine, silences, settings, stop, args.api, args.host, args.port)
            backoff = 1.0
        except CorrelatorError as exc:
            if not (ran and (exc.retriable or isinstance(exc, ServiceStartError))):
                raise
            log.warning("engine stopped: %s; restarting in %.0fs", exc, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 60.0)
    return 0


async def _started_engine(settings: Settings, stage: str = "all") -> tuple[Engine, SilenceLoader]:
    """Create the topics, build the engine of ``stage`` and start it; also its silence loader.

    On any failure every port already started (Redis, producer, consumer) is stopped and
    :class:`ServiceStartError` says what to check; a bad topology stays a ``ConfigError``.
    """
    from correlator.correlate.rules import SilenceLoader, SilenceRepository
    from correlator.stages import build_stage_engine, ensure_stage_topics
    from correlator.transport.admin import ensure_topics

    topics = settings.topics
    hint = (
        f"check that Kafka answers at {settings.kafka.bootstrap_servers} (kafka.*) and Redis "
        "at redis.url, then run again"
    )
    try:
        await ensure_topics(
            settings.kafka,
            [*topics.decoders(), topics.incidents, topics.dead_letter],
            topics.partitions,
        )
        if stage != "all":
            await ensure_stage_topics(settings)
    except CorrelatorError as exc:
        raise ServiceStartError(f"engine could not start: {exc}; {hint}") from exc
    engine = build_stage_engine(settings, stage)
    # before start: the silences the stage holds now are the rules file's, kept on reloads
    silences = SilenceLoader(SilenceRepository(engine.store), configured=engine.correlate.silences)
    try:
        await engine.start()
    except BaseException as exc:
        await _close_ports(engine)
        if isinstance(exc, CorrelatorError) and not exc.retriable:
            raise  # bad saved state or settings: its message says what to do
        if isinstance(exc, Exception):
            raise ServiceStartError(f"engine could not start: {exc}; {hint}") from exc
        raise
    log.info("engine started topics=%s", ",".join(topics.decoders()))
    return engine, silences


async def _close_ports(engine: Engine) -> None:
    """Stop the engine's source, sink and store, whichever of them started."""
    for port in (engine.source, engine.sink, engine.store):
        try:
            await port.stop()
        except Exception:
            log.debug("closing %s after a failed start", type(port).__name__, exc_info=True)


async def _engine_until(
    engine: Engine,
    silences: SilenceLoader,
    settings: Settings,
    stop: asyncio.Event,
    with_api: bool = False,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Step a started engine until ``stop`` is set (serving the API too with ``with_api``);
    stop the engine (and the API) on the way out, whatever the reason.

    Before each batch, silences added or deleted in the store (``/silences``) are picked
    up: one Redis GET of their version while nothing changed.
    """
    from correlator.serve.cli import bind_socket

    api: Any = None
    api_task: asyncio.Task[None] | None = None
    try:
        if with_api:
            # bound first, so a port in use stops the start (exit 2) instead of the API
            # silently missing while the engine runs
            host = host or settings.serve.host
            port = port if port is not None else settings.serve.port
            listening = bind_socket(host, port, "serve.port or --port")
            try:
                api = _api_server(settings, engine, host, port)
            except BaseException:
                listening.close()
                raise
            api_task = asyncio.create_task(api.serve(sockets=[listening]))
        while not stop.is_set():
            await silences.refresh(engine.correlate.silences, engine.clock.now())
            await engine.step()
    finally:
        if api is not None and api_task is not None:
            api.should_exit = True
            await api_task
        await engine.stop()


def _api_server(settings: Settings, engine: Engine, host: str, port: int) -> Any:
    """A uvicorn server for the API in this event loop, showing the engine's live state."""
    from correlator.serve.cli import build_app, uvicorn_server

    app = build_app(
        settings, topology_provider=lambda: engine.topology, stats_provider=lambda: engine.stats
    )
    return uvicorn_server(app, host, port)


def _replay(args: argparse.Namespace) -> int:
    settings = load_settings(Path(args.config) if args.config else None)
    topic = args.topic or settings.topics.events
    lines = Path(args.file).read_bytes().splitlines()
    records = [RawMessage(topic, line, partition=-1) for line in lines if line.strip()]
    return asyncio.run(_send_records(settings.kafka, records, topic, args.file))


async def _send_records(
    kafka: KafkaSettings, records: list[RawMessage], topic: str, source: str
) -> int:
    from correlator.transport.kafka import KafkaSink

    async with KafkaSink(kafka) as sink:
        for start in range(0, len(records), 1000):
            await sink.send(records[start : start + 1000])
    print(f"published {len(records)} records from {source} to {topic}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="correlator",
        description="Streaming AIOps event correlation: telemetry topics in, "
        "explained incidents out.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    from correlator.demo.serve import DEMO_TOKEN

    demo = sub.add_parser(
        "demo",
        help="run the bundled scenario through an embedded broker and Redis and print incidents",
        description="Starts the embedded Tansu broker and a Redis server, streams a simulated "
        "shop's telemetry with one injected fault as OTLP, runs the engine on it and prints the "
        "incidents it published with their ranked root causes.",
    )
    demo.add_argument("--work-dir", default=".run/demo", help="where service logs and data go")
    demo.add_argument(
        "--topology", default="topology", help="declared topology folder ('' for none)"
    )
    demo.add_argument("--runbooks", default="runbooks", help="runbook folder ('' for none)")
    demo.add_argument("--out", default="demo-incidents.json", help="file for the incidents as JSON")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep serving the incident API over the demo's data until Ctrl-C "
        "(examples: docs/api-examples.md)",
    )
    demo.add_argument("--host", default="127.0.0.1", help="API listen address with --serve")
    demo.add_argument("--port", type=int, default=8080, help="API listen port with --serve")
    demo.add_argument(
        "--token",
        default=DEMO_TOKEN,
        help="bearer token (read, write, approve) of the API with --serve; 16+ characters",
    )
    demo.set_defaults(func=_demo)

    run = sub.add_parser(
        "run",
        help="run the engine against Kafka and Redis from config",
        description="Consumes the telemetry topics, publishes incident changes and keeps state "
        "in Redis. Config from --config (YAML) or CORRELATOR_CONFIG, overridden by CORRELATOR_* "
        "environment variables (nested with __, e.g. CORRELATOR_KAFKA__BOOTSTRAP_SERVERS).",
    )
    run.add_argument("--config", help="settings YAML file")
    run.add_argument("--api", action="store_true", help="also serve the incident API (serve.*)")
    run.add_argument("--host", help="API listen address (default serve.host)")
    run.add_argument("--port", type=int, help="API listen port (default serve.port)")
    from correlator.stages import STAGES

    run.add_argument(
        "--stage",
        choices=STAGES,
        default="all",
        help="all: the whole engine in one process (default); detect: telemetry -> alerts "
        "topic (run several in one consumer group); correlate: alerts topic -> incidents "
        "(one process)",
    )
    run.set_defaults(func=lambda a: asyncio.run(_run_engine(a)))

    from correlator.serve import cli as serve_cli

    serve = sub.add_parser(
        "serve",
        help="run the incident API and web view over Redis and Kafka",
        description="The HTTP API (OpenAPI at /docs), Alertmanager-compatible /api/v2/alerts, "
        "/metrics and the web view at /ui. Tokens and scopes come from serve.tokens.",
    )
    serve_cli.add_arguments(serve)
    serve.set_defaults(func=serve_cli.run)

    replay = sub.add_parser(
        "replay",
        help="publish a recorded telemetry file (one record per line) into a topic",
        description="Each non-empty line of FILE becomes one record (JSON lines or Alertmanager "
        "JSON), sent to --topic (default: the events topic).",
    )
    replay.add_argument("file")
    replay.add_argument("--topic")
    replay.add_argument("--config", help="settings YAML file")
    replay.set_defaults(func=_replay)

    act = sub.add_parser(
        "act",
        help="run the runbook executor on the incidents topic (its own consumer group)",
        description="Matches every incident change against runbooks/*.yaml and runs the "
        "matching steps: dry-run unless act.dry_run is false and the runbook says so too.",
    )
    act.add_argument("--config", help="settings YAML file")
    act.set_defaults(func=_act)

    from correlator.act import cli as act_cli

    runbooks = sub.add_parser(
        "runbooks",
        help="validate runbook files",
        description="`correlator runbooks check [DIR]` validates every runbook and prints "
        "file:line: field: problem for each error.",
    )
    act_cli.add_arguments(runbooks)
    runbooks.set_defaults(func=act_cli.run)

    from correlator.correlate import cli as topology_cli

    topo = sub.add_parser(
        "topology",
        help="print the topology graph, each edge with its source",
        description="Services from the topology folder and every edge marked declared, "
        "learned or both (with call counts).",
    )
    topology_cli.add_arguments(topo)
    topo.set_defaults(func=topology_cli.run)

    bench = sub.add_parser("bench", help="benchmarks that print their numbers")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    from correlator.bench import (
        crash,
        latency,
        loghub,
        memory,
        nab,
        noise,
        petshop,
        scaleout,
        throughput,
    )

    benches: dict[str, tuple[Any, str]] = {
        "nab": (nab, "metric detector on the Numenta Anomaly Benchmark, NAB-scored"),
        "loghub": (loghub, "log template mining accuracy (GA/PA) on Loghub-2k"),
        "petshop": (petshop, "root-cause ranking top-1/top-3 and specificity on PetShop"),
        "noise": (noise, "alerts in -> incidents out on the demo scenario, 1 and 2 faults"),
        "throughput": (throughput, "engine events/s against a bare aiokafka consumer"),
        "latency": (latency, "produce -> incident change p50/p99 at half the maximum rate"),
        "memory": (memory, "RSS and bytes per series at 10k/100k/1M series, with the cap"),
        "scaleout": (scaleout, "1 vs 2 detect processes in one group: speed-up, same incidents"),
        "crash": (crash, "SIGKILL the engine, Redis and members; compare with a clean run"),
    }
    for name, (module, summary) in benches.items():
        bench_parser = bench_sub.add_parser(name, help=summary, description=summary)
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``correlator`` command."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        return int(args.func(args))
    except CorrelatorError as exc:
        print(f"correlator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
