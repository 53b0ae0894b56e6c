"""Alertmanager webhook payloads and bare Prometheus alert lists to :class:`AlertEvent`.

Two shapes are accepted per message:

- the webhook body Alertmanager POSTs to receivers (``version`` ``"4"``):
  ``{"receiver", "status", "alerts": [{"status", "labels", "annotations", "startsAt",
  "endsAt", "generatorURL", "fingerprint"}], "groupLabels", ...}``;
- a bare JSON list of alerts, as Prometheus sends to ``POST /api/v2/alerts``
  (no ``status`` or ``fingerprint``).

Rules:

- ``service``: if the alert has no non-empty ``service`` label, it gets one copied from
  the first non-empty fallback label (``job``, ``app``, ``instance``), else
  ``unknown_service``; downstream reads the service from ``labels["service"]``.
- ``endsAt`` equal to Alertmanager's zero time ``0001-01-01T00:00:00Z`` means not set.
- A missing ``status`` (bare list) is ``resolved`` if ``endsAt`` is at or before the
  Kafka record's timestamp and ``firing`` otherwise: Prometheus marks a resolved alert
  by sending it with ``endsAt`` in the past.
- A missing or zero ``startsAt`` falls back to the Kafka record's timestamp, as
  Alertmanager uses its receive time.
- Times are converted to UTC; the upstream ``fingerprint`` is kept as
  ``source_fingerprint``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from correlator.errors import ValidationFailedError
from correlator.ingest.decoders.base import (
    DEFAULT_MAX_MESSAGE_BYTES,
    TelemetryEventType,
    checked_value,
    describe_validation_error,
)
from correlator.ingest.decoders.otlp_common import UNKNOWN_SERVICE, loads_json
from correlator.model.message import RawMessage
from correlator.model.telemetry import AlertEvent

__all__ = ["DEFAULT_SERVICE_FALLBACKS", "AlertmanagerDecoder"]

DEFAULT_SERVICE_FALLBACKS = ("job", "app", "instance")


def _unset_if_zero(at: datetime | None) -> datetime | None:
    """Alertmanager writes Go's zero time for "not set"; make times UTC."""
    if at is None or at.year == 1:
        return None
    return at.astimezone(UTC)


_Time = Annotated[datetime | None, AfterValidator(_unset_if_zero)]


class _IncomingAlert(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: _Time = None  # field names are the wire names
    endsAt: _Time = None
    generatorURL: str = ""
    fingerprint: str = ""


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    version: Literal["4"] = "4"
    alerts: list[_IncomingAlert]


_WEBHOOK = TypeAdapter(_Webhook)
_ALERT_LIST = TypeAdapter(list[_IncomingAlert])


class AlertmanagerDecoder:
    """Alertmanager webhook JSON, or a bare list of alerts, to :class:`AlertEvent`."""

    name = "alertmanager"

    def __init__(
        self,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        service_label: str = "service",
        service_fallbacks: tuple[str, ...] = DEFAULT_SERVICE_FALLBACKS,
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.service_label = service_label
        self.service_fallbacks = service_fallbacks

    def decode(self, message: RawMessage) -> list[TelemetryEventType]:
        """Decode one payload into alert events, or raise naming the bad field."""
        value = checked_value(message, self.max_message_bytes, self.name)
        payload = loads_json(value, self.name)
        alerts, prefix = self._incoming(payload)
        received = (
            datetime.fromtimestamp(message.timestamp_ms / 1000, UTC)
            if message.timestamp_ms > 0
            else None
        )
        return [
            self._event(alert, received, f"{prefix}[{index}]") for index, alert in enumerate(alerts)
        ]

    def _incoming(self, payload: Any) -> tuple[list[_IncomingAlert], str]:
        try:
            if isinstance(payload, list):
                return _ALERT_LIST.validate_python(payload), ""
            if isinstance(payload, dict):
                return _WEBHOOK.validate_python(payload).alerts, "alerts"
        except ValidationError as exc:
            raise ValidationFailedError(f"{self.name}: {describe_validation_error(exc)}") from None
        raise ValidationFailedError(
            f"{self.name}: expected a webhook object or a list of alerts, "
            f"got {type(payload).__name__}"
        )

    def _event(self, alert: _IncomingAlert, received: datetime | None, where: str) -> AlertEvent:
        starts_at = alert.startsAt or received
        if starts_at is None:
            raise ValidationFailedError(
                f"{self.name}: {where}.startsAt: missing, and the Kafka record has no timestamp"
            )
        status = alert.status
        if status is None:
            ended = alert.endsAt is not None and received is not None and alert.endsAt <= received
            status = "resolved" if ended else "firing"
        return AlertEvent.model_construct(
            status=status,
            labels=self._with_service(alert.labels),
            annotations=dict(alert.annotations),
            starts_at=starts_at,
            ends_at=alert.endsAt,
            generator_url=alert.generatorURL,
            source_fingerprint=alert.fingerprint,
        )

    def _with_service(self, labels: dict[str, str]) -> dict[str, str]:
        if labels.get(self.service_label):
            return dict(labels)
        service = next(
            (labels[key] for key in self.service_fallbacks if labels.get(key)), UNKNOWN_SERVICE
        )
        return {**labels, self.service_label: service}
