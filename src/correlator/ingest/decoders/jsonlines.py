r"""JSON lines: our own event shapes, one JSON object per line, validated by the event models.

A message holds one object or several separated by newlines (blank lines are skipped).
Each object's ``kind`` (``metric``, ``span``, ``log`` or ``alert``) picks its model in
:mod:`correlator.model.telemetry`; unknown fields are rejected and times must carry a
zone (ISO 8601 with offset, or unix seconds).

>>> import json
>>> from correlator.model.message import RawMessage
>>> lines = [
...     {"kind": "metric", "name": "queue.depth", "service": "orders", "value": 12,
...      "observed_at": "2024-05-01T12:00:00Z", "labels": {"queue": "emails"}},
...     {"kind": "log", "service": "orders", "observed_at": 1714564800,
...      "severity": "ERROR", "body": "payment timed out"},
...     {"kind": "span", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
...      "span_id": "00f067aa0ba902b7", "service": "orders", "name": "GET /orders",
...      "span_kind": "server", "start_at": "2024-05-01T12:00:00.250Z", "duration_ms": 31.5},
...     {"kind": "alert", "labels": {"alertname": "QueueBacklog", "service": "orders"},
...      "starts_at": "2024-05-01T11:58:00Z"},
... ]
>>> body = "\n".join(json.dumps(line) for line in lines).encode()
>>> [event.kind for event in JsonLinesDecoder().decode(RawMessage("events", body))]
['metric', 'log', 'span', 'alert']
>>> JsonLinesDecoder().decode(RawMessage("events", body.replace(b"31.5", b'"abc"')))
Traceback (most recent call last):
...
correlator.errors.ValidationFailedError: jsonlines: line 3 (kind=span): duration_ms: Input should...
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from correlator.errors import DecodeError, ValidationFailedError
from correlator.ingest.decoders.base import (
    DEFAULT_MAX_MESSAGE_BYTES,
    TelemetryEventType,
    checked_value,
    field_path,
)
from correlator.ingest.decoders.otlp_common import loads_json
from correlator.model.message import RawMessage
from correlator.model.telemetry import TelemetryEvent

__all__ = ["JsonLinesDecoder"]

_EVENTS: TypeAdapter[list[TelemetryEventType]] = TypeAdapter(list[TelemetryEvent])
_MAX_REPORTED = 5


class JsonLinesDecoder:
    """Newline-separated JSON objects, each a telemetry event with a ``kind``."""

    name = "jsonlines"

    def __init__(self, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes

    def decode(self, message: RawMessage) -> list[TelemetryEventType]:
        """Decode every line, or raise for the first bad line (naming it)."""
        value = checked_value(message, self.max_message_bytes, self.name)
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(
                f"{self.name}: not valid UTF-8 at byte {exc.start}: {exc.reason}"
            ) from None
        objects: list[Any] = []
        line_numbers: list[int] = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            obj = loads_json(line, self.name, where=f"line {number}: ")
            if not isinstance(obj, dict):
                raise ValidationFailedError(
                    f"{self.name}: line {number}: expected a JSON object with a 'kind', "
                    f"got {type(obj).__name__}"
                )
            objects.append(obj)
            line_numbers.append(number)
        if not objects:
            raise DecodeError(f"{self.name}: only blank lines")
        try:
            return _EVENTS.validate_python(objects)
        except ValidationError as exc:
            raise ValidationFailedError(f"{self.name}: {_describe(exc, line_numbers)}") from None


def _describe(exc: ValidationError, line_numbers: list[int]) -> str:
    items = []
    errors = exc.errors(include_url=False, include_input=False)
    for err in errors[:_MAX_REPORTED]:
        index, *rest = err["loc"]
        line = line_numbers[index] if isinstance(index, int) else index
        if rest and rest[0] in ("metric", "span", "log", "alert"):
            where = f"line {line} (kind={rest[0]})"
            rest = rest[1:]
        else:
            where = f"line {line}"
        field = f" {field_path(rest)}:" if rest else ""
        items.append(f"{where}:{field} {err['msg']}")
    if len(errors) > _MAX_REPORTED:
        items.append(f"and {len(errors) - _MAX_REPORTED} more")
    return "; ".join(items)
