"""Protobuf whose length byte reads as '{' must not be taken for JSON."""

from __future__ import annotations

from correlator.ingest.decoders.registry import decoder_for
from correlator.ingest.otlp_encode import encode_spans
from correlator.model import RawMessage
from correlator.testing import span


def test_protobuf_with_a_brace_length_byte_is_decoded_as_protobuf() -> None:
    spans = [span("svc", 1.0, 5.0)]
    value = encode_spans(spans)
    pad = 0
    while value[1] != ord("{"):  # grow the resource block until its length byte is 0x7B
        pad += 1
        spans = [span("s" * (1 + pad), 1.0, 5.0)]
        value = encode_spans(spans)
        assert pad < 200, "could not build the ambiguous request"
    assert value[:2] == b"\n{"
    [decoded] = decoder_for("otlp_traces").decode(RawMessage("otlp_spans", value))
    assert decoded.service == spans[0].service
