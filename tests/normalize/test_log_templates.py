"""LogTemplateMiner: ids, first sighting, generalisation, persistence, bounds."""

from __future__ import annotations

import json

import pytest

from correlator.errors import CorrelatorError
from correlator.normalize.log_templates import (
    LogTemplateConfig,
    LogTemplateMiner,
    LogTemplateStateError,
    TemplateMatch,
)


def test_lines_of_one_shape_share_a_template_id() -> None:
    miner = LogTemplateMiner()
    matches = [
        miner.add(f"Received block blk_{n} of size {n * 7} from /10.0.0.{n}") for n in range(1, 6)
    ]
    assert len({m.template_id for m in matches}) == 1
    assert matches[-1].template == "Received block <*> of size <*> from <*>"
    assert miner.template_count == 1


def test_a_new_shape_is_new_exactly_once() -> None:
    miner = LogTemplateMiner()
    miner.add("Received block blk_1 of size 10 from /10.0.0.1")
    first = miner.add("Deleting block blk_2 file /data/dfs/blk_2")
    again = miner.add("Deleting block blk_3 file /data/dfs/blk_3")
    assert first.is_new
    assert not again.is_new
    assert again.template_id == first.template_id
    assert miner.template_count == 2


def test_generalising_a_template_keeps_its_id_and_is_not_new() -> None:
    miner = LogTemplateMiner()
    first = miner.add("worker alpha7 finished job")
    second = miner.add("worker beta9 finished job")
    assert first.template == "worker alpha7 finished job"
    assert second.template == "worker <*> finished job"
    assert second.template_id == first.template_id
    assert not second.is_new


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("[instance: 1] VM Started (Lifecycle Event)", "[instance: 2] VM Paused (Lifecycle Event)"),
        ("Link ok", "Link error"),
        ("getRecentTasks: num=20", "getRecentTasks: flags=62"),
    ],
    ids=["word-in-middle", "last-word", "key-differs"],
)
def test_different_words_are_different_templates(first: str, second: str) -> None:
    miner = LogTemplateMiner()
    assert miner.add(first).template_id != miner.add(second).template_id


def test_values_that_look_like_words_still_merge() -> None:
    miner = LogTemplateMiner()
    a = miner.add("keyguard down true canceled false")
    b = miner.add("keyguard down false canceled true")
    c = miner.add("stored 93.0 B, free 317.1 KB")
    d = miner.add("stored 5.2 KB, free 1.1 MB")
    assert a.template_id == b.template_id
    assert c.template_id == d.template_id


def test_params_are_extracted_on_request() -> None:
    miner = LogTemplateMiner()
    miner.add("user 17 logged in from 10.0.0.1")
    match = miner.add("user 42 logged in from 10.0.0.2", with_params=True)
    assert match.params == ("42", "10.0.0.2")
    assert miner.add("user 43 logged in from 10.0.0.3").params is None


def test_persistence_round_trip_keeps_ids_and_keeps_matching() -> None:
    miner = LogTemplateMiner()
    ids = {
        miner.add("connected to 10.0.0.1 port 80").template_id,
        miner.add("disk /dev/sda1 is 91% full").template_id,
    }
    before = miner.templates()

    restored = LogTemplateMiner.from_bytes(miner.to_bytes())

    assert restored.templates() == before
    assert restored.template_count == 2
    again = restored.add("connected to 10.0.0.9 port 443")
    assert again.template_id in ids
    assert not again.is_new
    fresh = restored.add("shutting down now")
    assert fresh.is_new
    assert fresh.template_id not in ids  # the id counter survives, ids are never reused


def test_max_clusters_bounds_the_miner() -> None:
    miner = LogTemplateMiner(LogTemplateConfig(max_clusters=3))
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
    for word in words:
        miner.add(f"event {word} happened here")
        assert miner.template_count <= 3
    assert miner.template_count == 3


def test_restored_miner_evicts_the_least_recently_used_template() -> None:
    miner = LogTemplateMiner(LogTemplateConfig(max_clusters=2))
    hot = miner.add("event alpha happened")
    miner.add("event bravo happened")
    miner.add("event alpha happened")  # alpha is now the most recently used

    restored = LogTemplateMiner.from_bytes(miner.to_bytes(), LogTemplateConfig(max_clusters=2))
    restored.add("event charlie happened")  # evicts bravo, not alpha

    again = restored.add("event alpha happened")
    assert again.template_id == hot.template_id
    assert not again.is_new


def test_restoring_under_another_config_is_refused() -> None:
    data = LogTemplateMiner().to_bytes()
    with pytest.raises(LogTemplateStateError, match="configuration it was saved under"):
        LogTemplateMiner.from_bytes(data, LogTemplateConfig(sim_threshold=0.9))


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b'{"version": 1}', b'{"version":1,"config":"x","drain3":"!!","recency":[]}'],
    ids=["empty", "not-json", "missing-fields", "bad-base64"],
)
def test_unreadable_state_is_a_correlator_error(data: bytes) -> None:
    with pytest.raises(CorrelatorError):
        LogTemplateMiner.from_bytes(data)


def test_corrupt_drain_state_is_a_correlator_error() -> None:
    config = LogTemplateConfig()
    envelope = {
        "version": 1,
        "config": config.fingerprint(),
        "drain3": "bm90IHpsaWI=",
        "recency": [],
    }
    with pytest.raises(LogTemplateStateError, match="corrupt"):
        LogTemplateMiner.from_bytes(json.dumps(envelope).encode(), config)


def test_template_match_is_frozen() -> None:
    match = TemplateMatch(template_id="1", template="a <*>", is_new=True)
    with pytest.raises(AttributeError):
        match.is_new = False  # type: ignore[misc]


def _corpus() -> list[str]:
    lines = []
    for n in range(300):
        lines.append(f"handled request in {n % 37 / 10:.1f} ms")
        lines.append(f"call to svc-{n % 5:03d} failed: 503")
        lines.append(f"worker {['alpha', 'beta', 'gamma'][n % 3]}{n % 4} finished job")
        lines.append(f"Received block blk_{n % 11} of size {n % 7} from /10.0.0.{n % 13}")
        lines.append(f"user {n % 9} logged {'in' if n % 2 else 'out'}")
    return lines


@pytest.mark.parametrize("max_clusters", [5000, 3], ids=["roomy", "evicting"])
def test_repeated_lines_match_as_without_the_line_cache(max_clusters: int) -> None:
    config = LogTemplateConfig(max_clusters=max_clusters)
    cached, plain = LogTemplateMiner(config), LogTemplateMiner(config, cache_size=0)
    for line in _corpus():
        assert cached.add(line, with_params=True) == plain.add(line, with_params=True), line
    assert cached.templates() == plain.templates()
    assert cached.to_bytes() == plain.to_bytes()


def test_a_full_line_cache_starts_over_and_still_matches() -> None:
    cached, plain = LogTemplateMiner(cache_size=4), LogTemplateMiner(cache_size=0)
    for line in _corpus()[:200]:
        assert cached.add(line) == plain.add(line)
    assert len(cached._by_line) <= 4
