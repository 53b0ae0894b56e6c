"""Decoders by name, each with a pydantic config model that validates its options.

Built-in names: ``otlp_traces``, ``otlp_metrics``, ``otlp_logs``, ``jsonlines``,
``alertmanager`` (the names ``TopicSettings.decoders()`` maps topics to).

>>> decoder_for("otlp_traces", max_message_bytes=1_048_576).max_message_bytes
1048576
>>> decoder_for("protobuf")
Traceback (most recent call last):
...
correlator.errors.ConfigError: unknown decoder 'protobuf'; known decoders: alertmanager, \
jsonlines, otlp_logs, otlp_metrics, otlp_traces
>>> decoder_for("jsonlines", max_message_bytes=0)
Traceback (most recent call last):
...
correlator.errors.ConfigError: decoder 'jsonlines': max_message_bytes: Input should be \
greater than or equal to 1
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from correlator.errors import ConfigError
from correlator.ingest.decoders.alertmanager import DEFAULT_SERVICE_FALLBACKS, AlertmanagerDecoder
from correlator.ingest.decoders.base import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Decoder,
    describe_validation_error,
)
from correlator.ingest.decoders.jsonlines import JsonLinesDecoder
from correlator.ingest.decoders.otlp import OtlpLogsDecoder, OtlpMetricsDecoder, OtlpTracesDecoder

__all__ = [
    "AlertmanagerConfig",
    "DecoderConfig",
    "DecoderSpec",
    "decoder_for",
    "decoder_names",
    "decoder_spec",
    "register_decoder",
]

ConfigT = TypeVar("ConfigT", bound="DecoderConfig")


class DecoderConfig(BaseModel):
    """Options every decoder takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_message_bytes: int = Field(
        DEFAULT_MAX_MESSAGE_BYTES, ge=1, description="Larger messages are dead-lettered"
    )


class AlertmanagerConfig(DecoderConfig):
    """Options of the ``alertmanager`` decoder."""

    service_label: str = Field("service", min_length=1, description="Label naming the service")
    service_fallbacks: tuple[str, ...] = Field(
        DEFAULT_SERVICE_FALLBACKS, description="Labels copied into service_label if it is unset"
    )


@dataclass(frozen=True)
class DecoderSpec(Generic[ConfigT]):
    """A registered decoder: its name, config model and constructor."""

    name: str
    description: str
    config_type: type[ConfigT]
    build: Callable[[ConfigT], Decoder]

    def create(self, options: dict[str, Any]) -> Decoder:
        """Validate ``options`` against the config model and build the decoder."""
        try:
            config = self.config_type.model_validate(options)
        except ValidationError as exc:
            raise ConfigError(f"decoder {self.name!r}: {describe_validation_error(exc)}") from None
        return self.build(config)


_REGISTRY: dict[str, DecoderSpec[Any]] = {}


def register_decoder(spec: DecoderSpec[Any]) -> None:
    """Add a decoder under ``spec.name``; a name can be registered once."""
    if spec.name in _REGISTRY:
        raise ConfigError(f"decoder {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec


def decoder_names() -> list[str]:
    """The registered decoder names, sorted."""
    return sorted(_REGISTRY)


def decoder_spec(name: str) -> DecoderSpec[Any]:
    """The spec registered as ``name``, or ConfigError listing the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(decoder_names())
        raise ConfigError(f"unknown decoder {name!r}; known decoders: {known}") from None


def decoder_for(name: str, /, **options: Any) -> Decoder:
    """Build the decoder registered as ``name`` with ``options`` (see its config model)."""
    return decoder_spec(name).create(options)


def _register_builtins() -> None:
    register_decoder(
        DecoderSpec(
            "otlp_traces",
            "OTLP ExportTraceServiceRequest, protobuf or JSON, to spans",
            DecoderConfig,
            lambda c: OtlpTracesDecoder(max_message_bytes=c.max_message_bytes),
        )
    )
    register_decoder(
        DecoderSpec(
            "otlp_metrics",
            "OTLP ExportMetricsServiceRequest, protobuf or JSON, to metric points",
            DecoderConfig,
            lambda c: OtlpMetricsDecoder(max_message_bytes=c.max_message_bytes),
        )
    )
    register_decoder(
        DecoderSpec(
            "otlp_logs",
            "OTLP ExportLogsServiceRequest, protobuf or JSON, to log records",
            DecoderConfig,
            lambda c: OtlpLogsDecoder(max_message_bytes=c.max_message_bytes),
        )
    )
    register_decoder(
        DecoderSpec(
            "jsonlines",
            "newline-separated JSON events with a 'kind' field",
            DecoderConfig,
            lambda c: JsonLinesDecoder(max_message_bytes=c.max_message_bytes),
        )
    )
    register_decoder(
        DecoderSpec(
            "alertmanager",
            "Alertmanager webhook body or a bare list of Prometheus alerts",
            AlertmanagerConfig,
            lambda c: AlertmanagerDecoder(
                max_message_bytes=c.max_message_bytes,
                service_label=c.service_label,
                service_fallbacks=c.service_fallbacks,
            ),
        )
    )


_register_builtins()
