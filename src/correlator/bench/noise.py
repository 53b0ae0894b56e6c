"""``python -m correlator.bench.noise``: alerts in → incidents out on the demo scenario.

Runs the whole engine (decode → normalize → detect → correlate → rank → publish) over the
in-memory transport and store, once with the demo's single fault, once with an unrelated
second fault at the same time (``Scenario(second_fault=...)``), and once more with an
Alertmanager SLO alert on frontend, the caller both faults reach, early in the faults
(``Scenario(slo_alert_s=...)``). It prints the compression ratio (alerts per incident) and
how many incidents mix the two faults (must be 0). A fault's services are the root and its
callers (the services its slowness reaches).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from correlator.config import Settings
from correlator.demo.produce import scenario_messages
from correlator.demo.scenario import CALLS, Scenario
from correlator.model.incident import Incident
from correlator.pipeline import build_engine
from correlator.store import MemoryStateStore
from correlator.transport import MemorySink
from correlator.transport.memory import MemorySource

__all__ = ["NoiseResult", "add_arguments", "affected", "main", "measure", "run"]


@dataclass(frozen=True)
class NoiseResult:
    label: str
    alerts: int
    incidents: list[Incident]
    mixed: int
    top1_ok: int

    @property
    def ratio(self) -> float:
        return self.alerts / len(self.incidents) if self.incidents else float("inf")


def affected(root: str) -> set[str]:
    """``root`` and every service that calls it, directly or not."""
    found, frontier = {root}, [root]
    while frontier:
        callee = frontier.pop()
        for caller, calls in CALLS.items():
            if caller not in found and any(c == callee for c, _ in calls):
                found.add(caller)
                frontier.append(caller)
    return found


async def measure(label: str, scenario: Scenario, settings: Settings) -> NoiseResult:
    engine = build_engine(
        settings,
        source=MemorySource([]),
        sink=MemorySink(),
        store=MemoryStateStore(),
        keep_published=True,
    )
    await engine.start()
    for batch in scenario_messages(scenario, settings.topics):
        await engine.process(batch)
    await engine.flush()
    latest: dict[str, Incident] = {}
    for change in engine.stats.published:
        latest[change.incident_id] = change.incident
    incidents = list(latest.values())
    roots = [scenario.root_cause] + ([scenario.second_fault] if scenario.second_fault else [])
    # services only one fault reaches: holding some of each means two faults in one incident
    only = {r: affected(r).difference(*(affected(o) for o in roots if o != r)) for r in roots}
    mixed = 0
    top1 = 0
    for incident in incidents:
        holds = {r for r in roots if only[r] & set(incident.services)}
        mixed += len(holds) > 1
        top1 += bool(incident.root_causes) and incident.root_causes[0].entity in roots
    return NoiseResult(label, engine.stats.alerts, incidents, mixed, top1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--second-fault", default="catalog-cache", help="service of the unrelated second fault"
    )
    parser.add_argument(
        "--slo-alert-s",
        type=int,
        default=5,
        help="the third run's Alertmanager SLO alert on frontend (which both faults reach) "
        "fires this many seconds after the faults start",
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings.model_validate({"runbooks_dir": None})
    runs = [
        ("one fault (payments-db)", Scenario()),
        (
            f"two faults (payments-db + {args.second_fault})",
            Scenario(second_fault=args.second_fault),
        ),
        (
            f"two faults and an SLO alert on their shared caller frontend {args.slo_alert_s}s in",
            Scenario(second_fault=args.second_fault, slo_alert_s=args.slo_alert_s),
        ),
    ]
    for label, scenario in runs:
        result = asyncio.run(measure(label, scenario, settings))
        services = "; ".join(
            f"[{', '.join(sorted(i.services))}] top="
            + (i.root_causes[0].entity if i.root_causes else "-")
            for i in result.incidents
        )
        print(
            f"{label}: {result.alerts} alerts in -> {len(result.incidents)} incidents out"
            f" (compression {result.ratio:.1f}); incidents mixing both faults: {result.mixed};"
            f" {services}",
            file=sys.stdout,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="correlator bench noise", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
