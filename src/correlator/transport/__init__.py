"""Ports to the message bus: a Source yields batches, a Sink takes them."""

from correlator.transport.base import Sink, Source
from correlator.transport.memory import MemorySink, MemorySource

__all__ = ["MemorySink", "MemorySource", "Sink", "Source"]
