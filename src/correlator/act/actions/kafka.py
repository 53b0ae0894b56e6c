"""The ``kafka`` action: publish one JSON command message through the Sink port."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from correlator.act.actions.base import ActionConfig, ActionDeps, ActionFailedError, ActionSpec
from correlator.errors import TransportError
from correlator.model.message import RawMessage

__all__ = ["KAFKA", "KafkaConfig"]


class KafkaConfig(ActionConfig):
    topic: str = Field(min_length=1)
    key: str | None = Field(None, description="Record key (default: none)")
    value: Any = Field(description="The message, sent as JSON")
    headers: dict[str, str] = Field(default_factory=dict)


async def _run(config: KafkaConfig, deps: ActionDeps) -> str:
    if deps.sink is None:
        raise ActionFailedError("no sink configured for the kafka action", retriable=False)
    message = RawMessage(
        topic=config.topic,
        key=None if config.key is None else config.key.encode(),
        value=json.dumps(config.value, sort_keys=True).encode(),
        partition=-1,
        headers=tuple((k, v.encode()) for k, v in config.headers.items()),
    )
    try:
        await deps.sink.send([message])
    except TransportError as exc:
        raise ActionFailedError(f"publish to {config.topic} failed: {exc}") from exc
    return f"published 1 message to {config.topic}"


KAFKA: ActionSpec[KafkaConfig] = ActionSpec(
    "kafka", KafkaConfig, _run, None, "Publish one JSON command message to a topic"
)
