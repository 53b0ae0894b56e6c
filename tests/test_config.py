"""Settings from YAML and the environment, with errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlator.config import load_settings
from correlator.errors import ConfigError


def test_defaults_match_the_collector_kafka_exporter() -> None:
    settings = load_settings(environ={})
    assert (settings.topics.spans, settings.topics.metrics, settings.topics.logs) == (
        "otlp_spans",
        "otlp_metrics",
        "otlp_logs",
    )


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("kafka:\n  bootstrap_servers: file:9092\n  group_id: from-file\n")
    env = {"CORRELATOR_KAFKA__BOOTSTRAP_SERVERS": "env:9092"}
    settings = load_settings(path, environ=env)
    assert settings.kafka.bootstrap_servers == "env:9092"
    assert settings.kafka.group_id == "from-file"


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("topics:\n  incidents: my-incidents\n")
    settings = load_settings(environ={"CORRELATOR_CONFIG": str(path)})
    assert settings.topics.incidents == "my-incidents"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("detect:\n  threshold: 7\n", "detect.threshold", id="out-of-range"),
        pytest.param("kafka:\n  bootstrap: x\n", "kafka.bootstrap", id="unknown-field"),
        pytest.param("- a\n- b\n", "top level must be a mapping", id="not-a-mapping"),
        pytest.param("kafka: [\n", "not", id="bad-yaml"),
        pytest.param("correlate:\n  tick_s: 0\n", "correlate.tick_s", id="zero-tick"),
        pytest.param(
            "correlate:\n  tick_margin_s: -1\n", "correlate.tick_margin_s", id="negative-margin"
        ),
    ],
)
def test_bad_settings_name_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert expected in str(caught.value)
    assert "bad.yaml" in str(caught.value)


def test_secrets_are_not_shown() -> None:
    settings = load_settings(environ={"CORRELATOR_REDIS__URL": "redis://:hunter2@db:6379/0"})
    assert "hunter2" not in repr(settings)
    assert settings.redis.url.get_secret_value().endswith("@db:6379/0")


def test_the_shipped_example_config_is_valid() -> None:
    repo = Path(__file__).resolve().parents[1]
    settings = load_settings(repo / "config" / "correlator.example.yaml", environ={})
    assert settings.correlate.topology_dir == Path("topology")


def test_correlation_ticks_are_settings() -> None:
    settings = load_settings(
        environ={"CORRELATOR_CORRELATE__TICK_S": "0.25", "CORRELATOR_CORRELATE__TICK_MARGIN_S": "0"}
    )
    assert (settings.correlate.tick_s, settings.correlate.tick_margin_s) == (0.25, 0.0)
