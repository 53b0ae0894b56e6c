"""One validated Settings object, from a YAML file and ``CORRELATOR_*`` environment variables.

The environment is read here and nowhere else. Nested fields use ``__``:
``CORRELATOR_KAFKA__BOOTSTRAP_SERVERS=broker:9092``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from correlator.act.settings import ActSettings
from correlator.errors import ConfigError
from correlator.serve.settings import ServeSettings

__all__ = [
    "CorrelateSettings",
    "DetectSettings",
    "DetectorChoice",
    "KafkaSettings",
    "RedisSettings",
    "Settings",
    "TopicSettings",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TopicSettings(_Section):
    """Topic names; the defaults match the OpenTelemetry Collector's Kafka exporter."""

    spans: str = "otlp_spans"
    metrics: str = "otlp_metrics"
    logs: str = "otlp_logs"
    events: str = Field("events", description="JSON lines telemetry")
    alerts_in: str = Field("alertmanager", description="Alertmanager webhook JSON")
    incidents: str = "incidents"
    dead_letter: str = "correlator-dead-letter"
    partitions: int = Field(4, ge=1)

    def decoders(self) -> dict[str, str]:
        """Map each telemetry topic to the name of its decoder."""
        return {
            self.spans: "otlp_traces",
            self.metrics: "otlp_metrics",
            self.logs: "otlp_logs",
            self.events: "jsonlines",
            self.alerts_in: "alertmanager",
        }


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    group_id: str = "correlator"
    client_id: str = "correlator"
    max_batch: int = Field(
        1000,
        ge=1,
        description="Most records taken per getmany(). A batch runs to the end before the "
        "event loop sends the group heartbeat again, so a batch that takes longer than the "
        "session timeout (10 s) on a loaded host gets the member thrown out of its group; "
        "1,000 OTLP records (about 35,000 events) take well under a second, and larger "
        "batches cost no less CPU per event",
    )
    poll_timeout_ms: int = Field(200, ge=1)
    fetch_max_wait_ms: int = Field(
        100,
        ge=0,
        description="Longest the broker holds a fetch open when a partition has nothing new "
        "(aiokafka's default is 500): a live record waits up to this long before the engine "
        "sees it, so it bounds detection latency; an idle consumer sends 1000/this fetches a "
        "second",
    )
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    partition_assignor: Literal["roundrobin", "load-aware"] = Field(
        "roundrobin",
        description="How a consumer group splits partitions between its members: "
        "'roundrobin' (aiokafka's, by count) or 'load-aware' (by the bytes each partition "
        "brings a second, measured by its owner; the first split is by count (as is one while "
        "every partition is quiet), a member that has measured for load_window_s asks for one "
        "by weight). Every member of a group must use the same one",
    )
    load_window_s: float = Field(
        3.0,
        gt=0,
        description="load-aware: seconds a partition's arrivals are measured "
        "over, and the least time between two rebalances a member asks for",
    )
    load_threshold: float = Field(
        0.1,
        ge=0,
        description="load-aware: partitions stay with their owner while the busiest member "
        "is at most this fraction above the mean load",
    )
    load_recheck_s: float = Field(
        300.0,
        ge=0,
        description="load-aware: at most once this often, a member whose load moved more "
        "than load_threshold away from its planned share asks for a new split (0 = never)",
    )
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None


class RedisSettings(_Section):
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    key_prefix: str = "correlator:"


class DetectorChoice(_Section):
    """A detector kind from the registry and its parameters."""

    kind: str = "default"
    params: dict[str, Any] = Field(default_factory=dict)


def _default_detectors() -> dict[str, DetectorChoice]:
    return {
        "metric": DetectorChoice(kind="contextual"),
        "latency": DetectorChoice(
            kind="robust", params={"min_relative_change": 0.5, "two_sided": False}
        ),
        "error": DetectorChoice(kind="robust", params={"floor": 0.02, "two_sided": False}),
        "rate": DetectorChoice(kind="robust", params={"min_relative_change": 0.3}),
        "log": DetectorChoice(kind="robust", params={"floor": 0.1, "two_sided": False}),
    }


class DetectSettings(_Section):
    detectors: dict[str, DetectorChoice] = Field(
        default_factory=_default_detectors,
        description="Detector per signal group: metric, latency, error, rate, log",
    )
    threshold: float = Field(0.9, gt=0, le=1, description="Score at which a series alerts")
    clear_threshold: float = Field(0.5, ge=0, le=1, description="Score below which it clears")
    watch_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="A reading scoring at least this, but not alerting (below threshold, or "
        "not yet persistent), is a watch alert: it joins an incident whose cause lies below "
        "its service within correlate.window_s, never opens one, and explains nothing; "
        "None: off",
    )
    clear_after: int = Field(3, ge=1, description="Calm observations before an alert clears")
    warmup: int = Field(20, ge=0, description="Observations a series learns before it may alert")
    error_alpha: float | None = Field(
        0.01,
        gt=0,
        lt=1,
        description="An error ratio over a known number of requests alerts only when that "
        "many failures are at most this likely at the series' usual ratio (binomial tail): "
        "1 failure in 14 requests is no alert, 2 in 100 are; None: off",
    )
    error_floor: float = Field(
        0.001,
        ge=0,
        lt=1,
        description="The least usual error ratio error_alpha assumes (a series that never "
        "failed still fails now and then)",
    )
    window_s: float = Field(10.0, gt=0, description="Tumbling window for span and log signals")
    max_series: int = Field(200_000, ge=1, description="Active series cap; idle ones evicted")
    idle_ttl_s: float = Field(
        3600.0,
        gt=0,
        description="A series with no observation for this long (event time) is evicted "
        "from memory to its checkpoint; it is restored when it reports again",
    )
    checkpoint_every_s: float = Field(
        60.0,
        gt=0,
        description="Full snapshot interval: taken at the first moment after it with nothing "
        "left to fetch, and at twice it whatever the backlog",
    )
    new_template_alert_s: float = Field(
        300.0, gt=0, description="How long a first-seen log template alert stays firing"
    )
    idle_partition_s: float = Field(
        5.0,
        ge=0,
        description="A partition silent this long (wall time) with nothing left to fetch no "
        "longer holds event time back. 0: a caught-up partition never holds it back, as Kafka "
        "Streams does by default (max.task.idle.ms=0); lowest latency when live, but a "
        "partition whose producer lags the others by more than correlate.tick_margin_s then "
        "has its alerts correlated a tick late, which a replay would not do",
    )


#: Identifying labels of an external alert: what it is and where; annotations, values and
#: volatile labels (pod, replica, timestamps) are left out so their churn is one alert.
DEFAULT_EXTERNAL_FINGERPRINT_LABELS = (
    "alertname",
    "service",
    "job",
    "namespace",
    "cluster",
    "instance",
    "severity",
)


class CorrelateSettings(_Section):
    window_s: float = Field(300.0, gt=0, description="Alerts this close in time may group")
    max_hops: int = Field(3, ge=0, description="Topology distance within which alerts group")
    direction_aware: bool = Field(
        True,
        description="Count hops along call edges only (a caller's symptom joins its callee's "
        "cause; siblings of one caller stay apart); false: any undirected path",
    )
    resolve_after_s: float = Field(
        300.0, gt=0, description="Quiet time before an incident resolves"
    )
    reopen_grace_s: float = Field(600.0, ge=0)
    flap_max_transitions: int = Field(
        6,
        ge=2,
        description="Fire/resolve transitions of one alert within flap_window_s "
        "beyond which it is marked flapping and opens no incident",
    )
    flap_window_s: float = Field(1800.0, gt=0)
    open_min_alerts: int = Field(
        1,
        ge=1,
        description="Distinct alerts (fingerprints) a new incident gathers before it is "
        "published; until then it groups alerts unseen, and vanishes if it resolves first "
        "(corroboration: one lone anomalous series opens nothing; an external alert "
        "needs none); 1: at once",
    )
    sample_prior: float = Field(
        100.0,
        ge=0,
        description="Requests at which a measured value (an error ratio, a percentile) counts "
        "half as evidence (n / (n + prior)) when root causes are ranked and an SLO alert's "
        "causes are weighed; 0: in full",
    )
    learned_edge_max_age_s: float | None = Field(
        3600.0, gt=0, description="Learned-only topology edges unseen this long are dropped"
    )
    rules_file: Path | None = Field(None, description="Silences and inhibit rules (YAML)")
    fingerprint_labels: list[str] = Field(default_factory=lambda: ["service", "entity", "signal"])
    external_fingerprint_labels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EXTERNAL_FINGERPRINT_LABELS),
        min_length=1,
        description="Labels whose values identify an external (Alertmanager) alert, like "
        "Alertmanager's group_by or Keep's fingerprint fields; labels an alert lacks are "
        "skipped; ['...'] uses every label",
    )
    topology_dir: Path | None = Path("topology")
    learn_topology: bool = True
    tick_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="Event-time tick (seconds): alerts are correlated in ticks of this length, "
        "in order, so batch boundaries and restarts never change an incident",
    )
    tick_margin_s: float = Field(
        0.5,
        ge=0,
        le=60,
        description="A tick runs once every telemetry partition's event time is this far past "
        "its end: the disorder tolerated within a partition. An alert waits about "
        "tick_s + tick_margin_s of event time (and the next data after it) to be correlated",
    )


class Settings(_Section):
    """Everything the engine needs, validated once at start."""

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    detect: DetectSettings = Field(default_factory=DetectSettings)
    correlate: CorrelateSettings = Field(default_factory=CorrelateSettings)
    runbooks_dir: Path | None = Path("runbooks")
    serve: ServeSettings = Field(default_factory=ServeSettings)
    act: ActSettings = Field(default_factory=ActSettings)


def _env_overrides(environ: Mapping[str, str], prefix: str = "CORRELATOR_") -> dict[str, Any]:
    """Turn ``CORRELATOR_A__B=v`` into ``{"a": {"b": "v"}}``.

    >>> _env_overrides({"CORRELATOR_KAFKA__GROUP_ID": "g1", "HOME": "/root"})
    {'kafka': {'group_id': 'g1'}}
    """
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(prefix) or name == prefix + "CONFIG":
            continue
        path = name[len(prefix) :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (YAML, optional) overlaid with the environment.

    ``CORRELATOR_CONFIG`` names the file when ``path`` is None.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get("CORRELATOR_CONFIG"):
        path = Path(env["CORRELATOR_CONFIG"])
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        data = loaded
    data = _merge(data, _env_overrides(env))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        where = f"{path}" if path else "environment"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings in {where}: {problems}") from exc
