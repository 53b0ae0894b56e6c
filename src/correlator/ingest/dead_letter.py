"""Dead letters: a message that cannot be used, with the reason, kept on its own topic."""

from __future__ import annotations

from correlator.errors import CorrelatorError
from correlator.model.message import RawMessage

__all__ = ["DEAD_LETTER_HEADERS", "dead_letter_for"]

DEAD_LETTER_HEADERS = (
    "x-correlator-source-topic",
    "x-correlator-source-partition",
    "x-correlator-source-offset",
    "x-correlator-error-type",
    "x-correlator-error",
)


def dead_letter_for(message: RawMessage, error: CorrelatorError, topic: str) -> RawMessage:
    """Wrap the original bytes of ``message`` with where it came from and why it failed.

    >>> from correlator.errors import DecodeError
    >>> bad = RawMessage("otlp_spans", b"\\x0a", offset=9)
    >>> dl = dead_letter_for(bad, DecodeError("cut"), "dlq")
    >>> dl.topic, dl.value, dl.header("x-correlator-source-offset"), dl.header("x-correlator-error")
    ('dlq', b'\\n', b'9', b'cut')
    """
    reason = str(error)[:2000].encode()
    headers = (
        *message.headers,
        ("x-correlator-source-topic", message.topic.encode()),
        ("x-correlator-source-partition", str(message.partition).encode()),
        ("x-correlator-source-offset", str(message.offset).encode()),
        ("x-correlator-error-type", type(error).__name__.encode()),
        ("x-correlator-error", reason),
    )
    return RawMessage(
        topic=topic, value=message.value, key=message.key, partition=-1, headers=headers
    )
