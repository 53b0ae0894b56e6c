"""A service whose partition moves between detect members keeps its log templates.

Real broker and Redis. Member A reads every partition, then B joins the consumer group and
takes one service's partitions inside a window. B started before A gave them up, with no
template of that service: it must still number the service's templates as A did, report
none of them as new, and count every line of the window the move cut in two.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from tests.pipeline.conftest import (
    PARTITION,
    SHAPES,
    hand_over,
    new_templates,
    shape_lines,
    stage_settings,
)

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_logs_json
from correlator.model.message import RawMessage
from correlator.model.observation import Observation, Signal
from correlator.runtime import EmbeddedBroker, EmbeddedRedis

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECONDS = 60


def _settings(broker: EmbeddedBroker, redis: EmbeddedRedis, name: str) -> Settings:
    # no checkpoint but the first and those of the rebalance: B, which starts between
    # them, finds no template that A mined; topics without data stop holding event
    # time back after a second, so A emits its first window before B joins
    detect = {"checkpoint_every_s": 3600, "idle_partition_s": 1.0}
    return stage_settings(broker, redis, name, detect=detect)


def _records(settings: Settings, start_s: int, stop_s: int) -> list[RawMessage]:
    """One logs record per service and second, a line of each of its message shapes."""
    return [
        RawMessage(
            settings.topics.logs,
            encode_logs_json(shape_lines(service, t)),
            key=service.encode(),
            partition=partition,
        )
        for t in range(start_s, stop_s)
        for service, partition in PARTITION.items()
    ]


def _lines_by_series(observations: list[Observation], service: str) -> dict[str, float]:
    """Lines counted under each of ``service``'s template series."""
    lines: dict[str, float] = defaultdict(float)
    for o in observations:
        if o.signal is Signal.LOG_TEMPLATE_RATE and o.service == service:
            lines[o.series] += o.value * o.window_s
    return dict(lines)


async def test_a_moved_service_keeps_its_template_ids_and_reports_no_template_again(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str
) -> None:
    settings = _settings(broker, redis_server, unique)
    run = await hand_over(
        settings,
        _records(settings, 0, 25),
        _records(settings, 25, SECONDS),
        ready=lambda seen_a: all(_lines_by_series(seen_a, service) for service in PARTITION),
        ready_what="A emitted a window of each service",
    )
    seen_a, seen_b = run.seen_a, run.seen_b

    [moved] = [s for s, p in PARTITION.items() if (settings.topics.logs, p) in run.owned_by_b]
    assert len(new_templates(seen_a, moved)) == len(SHAPES[moved]), "A saw each template first"
    assert new_templates(seen_b, moved) == []
    ids_of_a = set(_lines_by_series(run.before, moved))
    assert ids_of_a and set(_lines_by_series(seen_b, moved)) == ids_of_a
    assert _lines_by_series(seen_a + seen_b, moved) == dict.fromkeys(ids_of_a, float(SECONDS))
