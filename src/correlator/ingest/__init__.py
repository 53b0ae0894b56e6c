"""Ingest: topic records in, telemetry events out; bad records become dead letters."""

from correlator.ingest.decoders import Decoder, TelemetryEventType, decoder_for, decoder_names
from correlator.ingest.otlp_encode import (
    encode_logs,
    encode_logs_json,
    encode_metrics,
    encode_metrics_json,
    encode_spans,
    encode_spans_json,
)

__all__ = [
    "Decoder",
    "TelemetryEventType",
    "decoder_for",
    "decoder_names",
    "encode_logs",
    "encode_logs_json",
    "encode_metrics",
    "encode_metrics_json",
    "encode_spans",
    "encode_spans_json",
]
