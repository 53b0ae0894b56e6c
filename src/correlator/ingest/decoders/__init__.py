"""Decoders: one raw topic record in, telemetry events out (or a dead-letter error)."""

from correlator.ingest.decoders.alertmanager import AlertmanagerDecoder
from correlator.ingest.decoders.base import (
    DEFAULT_MAX_MESSAGE_BYTES,
    Decoder,
    TelemetryEventType,
)
from correlator.ingest.decoders.jsonlines import JsonLinesDecoder
from correlator.ingest.decoders.otlp import OtlpLogsDecoder, OtlpMetricsDecoder, OtlpTracesDecoder
from correlator.ingest.decoders.registry import (
    AlertmanagerConfig,
    DecoderConfig,
    DecoderSpec,
    decoder_for,
    decoder_names,
    register_decoder,
)

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "AlertmanagerConfig",
    "AlertmanagerDecoder",
    "Decoder",
    "DecoderConfig",
    "DecoderSpec",
    "JsonLinesDecoder",
    "OtlpLogsDecoder",
    "OtlpMetricsDecoder",
    "OtlpTracesDecoder",
    "TelemetryEventType",
    "decoder_for",
    "decoder_names",
    "register_decoder",
]
