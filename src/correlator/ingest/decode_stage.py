"""DecodeStage: raw topic records in, telemetry events and dead letters out.

Spans come out as :class:`~correlator.model.telemetry.SpanRow` when their decoder can make
them (a :class:`RowDecoder`, such as OTLP traces): the normalizer reads nothing else of a
span, and a row costs a fraction of a full :class:`SpanRecord`. Every other event is the
decoder's own.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from correlator.errors import CorrelatorError, DecodeError
from correlator.ingest.dead_letter import dead_letter_for
from correlator.ingest.decoders.base import Decoder, TelemetryEventType
from correlator.model.message import RawMessage
from correlator.model.telemetry import AlertEvent, SpanRecord, SpanRow

__all__ = ["DecodeStage", "Decoded", "Event", "RowDecoder", "TimedDecoder", "event_time"]

log = logging.getLogger(__name__)

Event = TelemetryEventType | SpanRow
"""What the decode stage hands the normalizer: an event, or a span as a row."""

_Decode = Callable[[RawMessage], tuple[Sequence[Event], float]]


@dataclass
class Decoded:
    """What a batch of records decoded into."""

    events: list[Event] = field(default_factory=list)
    dead_letters: list[RawMessage] = field(default_factory=list)
    consumed: Counter[str] = field(default_factory=Counter)
    high_ts: dict[tuple[str, int], float] = field(default_factory=dict)


@runtime_checkable
class TimedDecoder(Decoder, Protocol):
    """A decoder that also says when its latest event happened, from the raw times it read."""

    def decode_timed(self, message: RawMessage) -> tuple[list[TelemetryEventType], float]:
        """``decode``, plus the latest :func:`event_time` of the events (0.0 if none)."""
        ...


@runtime_checkable
class RowDecoder(Decoder, Protocol):
    """A span decoder that can also give its spans as rows, with their latest time."""

    def decode_rows(self, message: RawMessage) -> tuple[list[SpanRow], float]:
        """``decode`` as :meth:`SpanRow.of` of each span, plus their latest end (unix s)."""
        ...


class DecodeStage:
    """Decodes each record with the decoder of its topic; bad records become dead letters."""

    def __init__(self, decoders: Mapping[str, Decoder], dead_letter_topic: str) -> None:
        self._decoders = dict(decoders)
        self._decode: dict[str, _Decode] = {
            topic: _timed(decoder) for topic, decoder in decoders.items()
        }
        self._dead_letter_topic = dead_letter_topic

    def process(self, batch: Sequence[RawMessage]) -> Decoded:
        out = Decoded()
        events, high_ts, decoders = out.events, out.high_ts, self._decode
        counts: dict[str, int] = {}
        for message in batch:
            topic = message.topic
            counts[topic] = counts.get(topic, 0) + 1
            decode = decoders.get(topic)
            try:
                if decode is None:
                    raise DecodeError(f"no decoder is configured for topic {topic!r}")
                decoded, latest = decode(message)
            except CorrelatorError as exc:
                self._dead_letter(out, message, exc)
                continue
            if decoded:
                events.extend(decoded)
                key = (topic, message.partition)
                if latest > high_ts.get(key, latest - 1.0):
                    high_ts[key] = latest
        out.consumed.update(counts)
        return out

    def _dead_letter(self, out: Decoded, message: RawMessage, exc: CorrelatorError) -> None:
        log.warning(
            "dead-lettered topic=%s partition=%d offset=%d error=%s",
            message.topic,
            message.partition,
            message.offset,
            exc,
        )
        out.dead_letters.append(dead_letter_for(message, exc, self._dead_letter_topic))


def _timed(decoder: Decoder) -> _Decode:
    if isinstance(decoder, RowDecoder):
        return decoder.decode_rows
    if isinstance(decoder, TimedDecoder):
        return decoder.decode_timed

    def decode_timed(message: RawMessage) -> tuple[list[TelemetryEventType], float]:
        events = decoder.decode(message)
        return events, max((event_time(e) for e in events), default=0.0)

    return decode_timed


def event_time(event: TelemetryEventType) -> float:
    """Unix seconds at which ``event`` happened (a span: when it ended)."""
    if isinstance(event, SpanRecord):
        return event.start_at.timestamp() + event.duration_ms / 1000.0
    if isinstance(event, AlertEvent):
        return event.starts_at.timestamp()
    return event.observed_at.timestamp()
