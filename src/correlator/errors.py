"""The correlator error tree.

Every error the engine raises on purpose derives from :class:`CorrelatorError`. The
``retriable`` flag on a class tells the consumer loop what to do with the message that
caused it: retry the batch (the cause is outside the message, such as a broker or Redis
outage) or send the message to the dead-letter topic (the message itself is bad).

::

    CorrelatorError
    ├── ConfigError                 bad settings, topology or runbook file (not retriable)
    ├── DecodeError                 a message could not be decoded (dead-lettered)
    │   └── MessageTooLargeError    a message exceeds ``max_message_bytes``
    ├── ValidationFailedError       decoded, but fails the event model (dead-lettered)
    ├── TransportError              broker unreachable or a produce/commit failed (retriable)
    ├── StoreError                  Redis unreachable or a write failed (retriable)
    ├── ServiceStartError           an embedded broker or Redis could not be started
    ├── DetectorError               a detector could not be built or restored
    └── RunbookError                a runbook step failed or was refused
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorrelatorError",
    "DecodeError",
    "DetectorError",
    "MessageTooLargeError",
    "RunbookError",
    "ServiceStartError",
    "StoreError",
    "TransportError",
    "ValidationFailedError",
]


class CorrelatorError(Exception):
    """Base of every error correlator raises on purpose."""

    retriable: bool = False


class ConfigError(CorrelatorError):
    """A settings, topology or runbook file is invalid; the message names file and field."""


class DecodeError(CorrelatorError):
    """A telemetry message could not be decoded; it goes to the dead-letter topic."""


class MessageTooLargeError(DecodeError):
    """A telemetry message is larger than the configured ``max_message_bytes``."""


class ValidationFailedError(CorrelatorError):
    """A decoded message does not fit the event model; it goes to the dead-letter topic."""


class TransportError(CorrelatorError):
    """The broker could not be reached, or a produce or commit failed."""

    retriable = True


class StoreError(CorrelatorError):
    """The state store (Redis) could not be reached or a write failed."""

    retriable = True


class ServiceStartError(CorrelatorError):
    """A service (the embedded broker or Redis, or the engine itself) could not start."""


class DetectorError(CorrelatorError):
    """A detector could not be built from config or restored from a checkpoint."""


class RunbookError(CorrelatorError):
    """A runbook step failed, timed out, or was refused by a safety rule."""
