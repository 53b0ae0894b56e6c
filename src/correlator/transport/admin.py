"""Topic administration (create the topics the engine reads and writes)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from correlator.config import KafkaSettings
from correlator.errors import TransportError

__all__ = ["ensure_topics"]


async def ensure_topics(settings: KafkaSettings, topics: Iterable[str], partitions: int) -> None:
    """Create any of ``topics`` that do not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(t, partitions, 1) for t in missing])
    except KafkaError as exc:
        raise TransportError(
            f"cannot create topics on {settings.bootstrap_servers}: {exc}"
        ) from exc
    finally:
        await admin.close()
