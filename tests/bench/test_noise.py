"""The noise bench through the whole engine (in-memory transport and store): alerts in →
incidents out, and no incident mixing two unrelated faults."""

from __future__ import annotations

import asyncio

from correlator.bench.noise import NoiseResult, measure
from correlator.config import Settings
from correlator.demo.scenario import Scenario


def _measure(scenario: Scenario) -> NoiseResult:
    settings = Settings.model_validate({"runbooks_dir": None})
    return asyncio.run(measure("test", scenario, settings))


def test_two_unrelated_faults_at_once_stay_two_incidents_each_ranked_first() -> None:
    result = _measure(Scenario(second_fault="catalog-cache"))
    assert result.mixed == 0
    tops = sorted(i.root_causes[0].entity for i in result.incidents if i.root_causes)
    assert tops == ["catalog-cache", "payments-db"]
    assert result.alerts > 20 * len(result.incidents)


def test_an_slo_alert_on_the_shared_caller_does_not_join_two_faults() -> None:
    result = _measure(Scenario(second_fault="catalog-cache", slo_alert_s=5))
    assert result.mixed == 0
    tops = sorted(i.root_causes[0].entity for i in result.incidents if i.root_causes)
    assert tops == ["catalog-cache", "payments-db"]
    # the SLO alert is in exactly one of them
    holding = [i for i in result.incidents if any(a.signal == "external_alert" for a in i.alerts)]
    assert len(holding) == 1
