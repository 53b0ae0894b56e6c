"""The decoder registry, the public API, and what every decoder must do with bad bytes."""

from __future__ import annotations

import random

import pytest

import correlator.ingest as ingest
import correlator.ingest.decoders as decoders
from correlator.errors import ConfigError, CorrelatorError, DecodeError, MessageTooLargeError
from correlator.ingest.decoders import DecoderSpec, decoder_for, decoder_names
from correlator.ingest.decoders.registry import DecoderConfig, register_decoder
from correlator.model.message import RawMessage

NAMES = ["alertmanager", "jsonlines", "otlp_logs", "otlp_metrics", "otlp_traces"]


def test_builtin_names() -> None:
    assert decoder_names() == NAMES


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ConfigError, match="unknown decoder 'otlp'; known decoders: alertmanager"):
        decoder_for("otlp")


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        pytest.param(
            "otlp_traces",
            {"max_message_bytes": -1},
            "max_message_bytes: Input should",
            id="negative-size",
        ),
        pytest.param(
            "jsonlines",
            {"service_label": "x"},
            "service_label: Extra inputs",
            id="option-of-another-decoder",
        ),
        pytest.param(
            "alertmanager", {"service_fallbacks": "job"}, "service_fallbacks", id="wrong-type"
        ),
    ],
)
def test_bad_options_are_config_errors(name: str, options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        decoder_for(name, **options)


def test_a_name_registers_once() -> None:
    spec = DecoderSpec("jsonlines", "dup", DecoderConfig, lambda c: decoder_for("jsonlines"))
    with pytest.raises(ConfigError, match="already registered"):
        register_decoder(spec)


@pytest.mark.parametrize("module", [decoders, ingest], ids=lambda m: m.__name__)
def test_public_api_is_exported(module: object) -> None:
    exported = module.__all__  # type: ignore[attr-defined]
    assert sorted(exported) == sorted(set(exported))
    for name in exported:
        assert hasattr(module, name), name


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(None, DecodeError, id="tombstone"),
        pytest.param(b"", DecodeError, id="empty"),
        pytest.param(b"{" * 2000, MessageTooLargeError, id="oversized"),
    ],
)
def test_every_decoder_rejects_empty_and_oversized(
    name: str, value: bytes | None, error: type[Exception]
) -> None:
    with pytest.raises(error, match=f"^{name}: "):
        decoder_for(name, max_message_bytes=1024).decode(RawMessage("t", value))


@pytest.mark.parametrize("name", NAMES)
def test_garbage_only_raises_correlator_errors(name: str) -> None:
    """The decode stage only catches CorrelatorError: nothing else may escape."""
    rng = random.Random(7)
    decoder = decoder_for(name)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))) for _ in range(300)]
    samples += [b"{" + s for s in samples[:100]] + [b"[" + s for s in samples[:50]]
    samples += [b"[[[[" * 5000, b'{"a":' * 3000, b"null", b"1e999", b'{"alerts": null}']
    for sample in samples:
        try:
            result = decoder.decode(RawMessage("t", sample))
        except CorrelatorError:
            continue
        assert isinstance(result, list)
