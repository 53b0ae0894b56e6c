"""The NAB benchmark runner: NAB-format result files, scores, and a JSON last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from correlator.bench import nab
from correlator.bench.nab_data import load_series, read_score_column, result_path

NAB_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nab"

needs_nab = pytest.mark.skipif(
    not (NAB_ROOT / "labels" / "combined_windows.json").is_file(),
    reason=f"NAB data folder not found at {NAB_ROOT}",
)


@needs_nab
def test_run_detector_gives_one_score_per_row_and_a_checkpoint_size() -> None:
    series = load_series(NAB_ROOT, ["realKnownCause/nyc_taxi.csv", "realTraffic/speed_7578.csv"])
    result = nab.run_detector(series, "default", {}, processes=1)
    assert {k: len(v) for k, v in result.scores.items()} == {
        "realKnownCause/nyc_taxi.csv": 10320,
        "realTraffic/speed_7578.csv": 1127,
    }
    assert all(((s >= 0) & (s <= 1)).all() for s in result.scores.values())
    assert 0 < result.bytes_per_series < 50_000
    assert result.observations == 10320 + 1127


@needs_nab
@pytest.mark.slow
def test_bench_nab_writes_nab_results_and_prints_json_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = nab.main(["--data", str(NAB_ROOT), "--out", str(tmp_path), "--json"])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) == {
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
        "observations_per_s",
        "bytes_per_series",
    }
    assert summary["standard"] > 60  # regression guard; the report prints the real figure
    path = result_path(tmp_path, "correlator", "realKnownCause/nyc_taxi.csv")
    assert path.read_text().splitlines()[0] == "timestamp,value,anomaly_score"
    assert len(read_score_column(path)) == 10320


def test_missing_data_folder_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert nab.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert "NAB data not found" in capsys.readouterr().out


@needs_nab
def test_throughput_is_counted_in_process_cpu_time_not_wall_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a CPU clock that advances one second per reading, whatever the wall clock does
    readings = iter(range(1000))
    monkeypatch.setattr(nab.time, "process_time", lambda: float(next(readings)))
    monkeypatch.setattr(nab.time, "perf_counter", lambda: 0.0)
    series = load_series(NAB_ROOT, ["realTraffic/speed_7578.csv", "realTraffic/TravelTime_451.csv"])
    result = nab.run_detector(series, "contextual", {}, processes=1)
    assert result.seconds == 2.0  # one CPU-second per file: start and end reading
    assert result.observations_per_s == (1127 + 2162) / 2.0
