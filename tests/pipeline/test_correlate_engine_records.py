"""The correlate stage's engine (``run --stage correlate``) on bad ``alerts`` topic records."""

from __future__ import annotations

from correlator.config import Settings
from correlator.model.message import RawMessage
from correlator.pipeline import build_engine
from correlator.stages import CorrelateEngine, alerts_topic, detection_message, timed_partitions
from correlator.store import MemoryStateStore
from correlator.testing import T0, alert
from correlator.transport import MemorySink
from correlator.transport.memory import MemorySource


async def test_a_bad_record_is_dead_lettered_and_the_good_ones_still_correlate() -> None:
    settings = Settings.model_validate({"runbooks_dir": None})
    topic = alerts_topic(settings.topics)
    start = T0.timestamp()
    partitions = timed_partitions(settings)
    good = detection_message(topic, [alert("db", 0)], [], start, partitions)
    later = detection_message(topic, [], [], start + 30, partitions)
    records = [
        RawMessage(topic, good.value, good.key, 0, 0),
        RawMessage(topic, b'{"alerts": [{"service": 3}]}', None, 0, 1),
        RawMessage(topic, b"\xff not json", None, 0, 2),
        RawMessage(topic, later.value, later.key, 0, 3),
    ]
    sink = MemorySink()
    engine = build_engine(
        settings,
        source=MemorySource([records]),
        sink=sink,
        store=MemoryStateStore(),
        scope="correlate",
        engine_class=CorrelateEngine,
    )
    await engine.start()
    await engine.step(0)

    dead = sink.topics[settings.topics.dead_letter]
    assert [m.header("x-correlator-source-offset") for m in dead] == [b"1", b"2"]
    assert all(
        b"not a detect stage record" in (m.header("x-correlator-error") or b"") for m in dead
    )
    assert [m.value for m in dead] == [records[1].value, records[2].value]
    assert engine.stats.dead_lettered == 2
    opened = sink.topics[settings.topics.incidents]
    assert len(opened) == 1, "the good record around the bad ones opened its incident"
    assert engine.positions[(topic, 0)] == 4, "every record counted as consumed"
    await engine.stop()
