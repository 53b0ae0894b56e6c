"""Silences, inhibition and flapping: alerts recorded with a reason, no incident opened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from correlator.config import CorrelateSettings
from correlator.correlate.rules import (
    InhibitRule,
    Matcher,
    Rules,
    Silence,
    SilenceRepository,
    load_rules,
)
from correlator.correlate.stage import CorrelateStage, SuppressReason
from correlator.correlate.topology import TopologyGraph
from correlator.errors import ConfigError
from correlator.model.alert import AlertStatus
from correlator.model.observation import Signal
from correlator.store.memory import MemoryStateStore
from correlator.testing import SHOP_CALLS, T0, alert, graph_of


@pytest.fixture
def shop() -> TopologyGraph:
    return graph_of(SHOP_CALLS)


def stage(shop: TopologyGraph, rules: Rules | None = None, **overrides: float) -> CorrelateStage:
    settings = CorrelateSettings.model_validate({"topology_dir": None, **overrides})
    return CorrelateStage(settings, shop, rules)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("service=db", {"service": "db"}, True),
        ("service=db", {"service": "db2"}, False),
        ("service!=db", {"service": "web"}, True),
        ("signal=~latency_.*", {"signal": "latency_p99"}, True),
        ("signal=~latency", {"signal": "latency_p99"}, False),  # anchored, as Alertmanager
        ("signal!~error.*", {"signal": "latency_p99"}, True),
        ('team="payments"', {"team": "payments"}, True),
        ("team=", {}, True),  # a missing label is the empty string
    ],
    ids=["eq", "eq-miss", "neq", "regex", "regex-anchored", "not-regex", "quoted", "empty"],
)
def test_matchers(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


def test_bad_matcher_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "inhibit_rules:\n  - source_matchers: ['service db']\n    target_matchers: []\n"
    )
    with pytest.raises(ConfigError, match=r"rules\.yaml.*source_matchers"):
        load_rules(path)


def test_rules_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        """
silences:
  - id: db-maintenance
    matchers: ["service=db", "signal=~latency_.*"]
    starts_at: 2026-01-01T11:00:00Z
    ends_at: 2026-01-01T13:00:00Z
    comment: index rebuild
inhibit_rules:
  - source_matchers: ["service=db"]
    target_matchers: ["signal=~latency_.*"]
    target_depends_on_source: true
"""
    )
    rules = load_rules(path)
    assert rules.silences[0].matchers[1].type.value == "=~"
    assert rules.inhibit_rules[0].target_depends_on_source


def silence(**kw: object) -> Silence:
    values: dict[str, object] = {
        "id": "maint",
        "matchers": ["service=db"],
        "starts_at": T0 - timedelta(minutes=5),
        "ends_at": T0 + timedelta(minutes=30),
    }
    values.update(kw)
    return Silence.model_validate(values)


def test_silenced_alert_is_recorded_and_opens_no_incident(shop: TopologyGraph) -> None:
    correlate = stage(shop, Rules(silences=[silence()]))
    changes = correlate.process([alert("db", 0), alert("index", 0)], T0)
    assert [c.incident.services for c in changes] == [["index"]]
    [kept] = correlate.suppressed.values()
    assert (kept.alert.service, kept.reason, kept.by) == ("db", SuppressReason.SILENCED, "maint")


def test_silence_applies_only_inside_its_window(shop: TopologyGraph) -> None:
    correlate = stage(shop, Rules(silences=[silence()]))
    changes = correlate.process([alert("db", 3600)], T0 + timedelta(hours=1))
    assert [c.incident.services for c in changes] == [["db"]]
    assert not correlate.suppressed


async def test_silences_in_the_store_are_loaded_by_the_stage(shop: TopologyGraph) -> None:
    store = MemoryStateStore()
    repo = SilenceRepository(store)
    await repo.put(silence())
    await repo.put(silence(id="old", ends_at=T0 - timedelta(minutes=1)))
    correlate = stage(shop)
    correlate.add_silences(await repo.current(T0))
    assert set(correlate.silences) == {"maint"}
    assert correlate.process([alert("db", 0)], T0) == []


async def test_prune_deletes_only_silences_ended_longer_ago_than_the_retention() -> None:
    store = MemoryStateStore()
    repo = SilenceRepository(store, retention_s=3600.0)
    await repo.put(silence(id="live"))
    ago = T0 - timedelta(hours=3)
    await repo.put(silence(id="recent", starts_at=ago, ends_at=T0 - timedelta(minutes=30)))
    await repo.put(silence(id="stale", starts_at=ago, ends_at=T0 - timedelta(hours=2)))
    assert await repo.prune(T0) == 1
    assert await repo.get("stale") is None
    assert await store.index_size(SilenceRepository.INDEX) == 2
    kept = await repo.current(T0 - timedelta(days=1))
    assert {s.id for s in kept} == {"live", "recent"}
    assert await repo.prune(T0) == 0


def inhibit(**kw: object) -> Rules:
    rule: dict[str, object] = {
        "source_matchers": ["service=db"],
        "target_matchers": ["signal=~latency_.*"],
    }
    rule.update(kw)
    return Rules(inhibit_rules=[InhibitRule.model_validate(rule)])


def test_root_cause_inhibits_downstream_symptoms(shop: TopologyGraph) -> None:
    correlate = stage(shop, inhibit(target_depends_on_source=True))
    correlate.process([alert("db", 0, Signal.ERROR_RATIO)], T0)
    changes = correlate.process(
        [alert("payments", 20), alert("web", 30), alert("index", 30)], T0 + timedelta(seconds=30)
    )
    # payments and web call db: muted; index does not: it opens its own incident
    assert sorted(c.incident.services[0] for c in changes) == ["index"]
    muted = {s.alert.service: s for s in correlate.suppressed.values()}
    assert set(muted) == {"payments", "web"}
    assert all(s.reason is SuppressReason.INHIBITED for s in muted.values())


def test_inhibition_needs_equal_labels_and_a_firing_source(shop: TopologyGraph) -> None:
    correlate = stage(shop, inhibit(equal=["entity"]))
    correlate.process([alert("db", 0, Signal.ERROR_RATIO)], T0)
    # different entity: the equal label differs, so not inhibited
    [change] = correlate.process([alert("payments", 10)], T0 + timedelta(seconds=10))
    assert "payments" in change.incident.services
    assert not correlate.suppressed


def test_an_alert_does_not_inhibit_itself(shop: TopologyGraph) -> None:
    correlate = stage(shop, inhibit())
    [change] = correlate.process([alert("db", 0)], T0)
    assert change.incident.services == ["db"]


def test_flapping_alert_is_marked_instead_of_spawning_incidents(shop: TopologyGraph) -> None:
    correlate = stage(
        shop, resolve_after_s=60, reopen_grace_s=0, flap_max_transitions=4, flap_window_s=3600
    )
    opened: set[str] = set()
    for k in range(8):
        t = 200 * k
        for a in (
            alert("db", t, last_s=t),
            alert("db", t, status=AlertStatus.RESOLVED, last_s=t + 30),
        ):
            for change in correlate.process([a], a.last_seen_at):
                opened.add(change.incident.incident_id)
            correlate.process([], a.last_seen_at + timedelta(seconds=120))
    flapping = [s for s in correlate.suppressed.values() if s.reason is SuppressReason.FLAPPING]
    assert flapping and flapping[0].alert.labels["flapping"] == "true"
    assert len(opened) <= 3  # the first episodes only, then it is marked
