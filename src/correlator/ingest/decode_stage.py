"""DecodeStage: raw topic records in, telemetry events and dead letters out."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from correlator.errors import CorrelatorError, DecodeError
from correlator.ingest.dead_letter import dead_letter_for
from correlator.ingest.decoders.base import Decoder, TelemetryEventType
from correlator.model.message import RawMessage
from correlator.model.telemetry import AlertEvent, SpanRecord

__all__ = ["DecodeStage", "Decoded", "event_time"]

log = logging.getLogger(__name__)


@dataclass
class Decoded:
    """What a batch of records decoded into."""

    events: list[TelemetryEventType] = field(default_factory=list)
    dead_letters: list[RawMessage] = field(default_factory=list)
    consumed: Counter[str] = field(default_factory=Counter)
    high_ts: dict[tuple[str, int], float] = field(default_factory=dict)


class DecodeStage:
    """Decodes each record with the decoder of its topic; bad records become dead letters."""

    def __init__(self, decoders: Mapping[str, Decoder], dead_letter_topic: str) -> None:
        self._decoders = dict(decoders)
        self._dead_letter_topic = dead_letter_topic

    def process(self, batch: Sequence[RawMessage]) -> Decoded:
        out = Decoded()
        for message in batch:
            out.consumed[message.topic] += 1
            decoder = self._decoders.get(message.topic)
            try:
                if decoder is None:
                    raise DecodeError(f"no decoder is configured for topic {message.topic!r}")
                events = decoder.decode(message)
            except CorrelatorError as exc:
                log.warning(
                    "dead-lettered topic=%s partition=%d offset=%d error=%s",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                out.dead_letters.append(dead_letter_for(message, exc, self._dead_letter_topic))
                continue
            out.events.extend(events)
            if events:
                key = (message.topic, message.partition)
                latest = max(event_time(e) for e in events)
                out.high_ts[key] = max(out.high_ts.get(key, latest), latest)
        return out


def event_time(event: TelemetryEventType) -> float:
    """Unix seconds at which ``event`` happened (a span: when it ended)."""
    if isinstance(event, SpanRecord):
        return event.start_at.timestamp() + event.duration_ms / 1000.0
    if isinstance(event, AlertEvent):
        return event.starts_at.timestamp()
    return event.observed_at.timestamp()
