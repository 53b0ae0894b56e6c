"""Embedded services for the demo and tests: the Tansu broker and a Redis server."""

from correlator.runtime.broker import EmbeddedBroker
from correlator.runtime.ports import free_port
from correlator.runtime.redis_server import EmbeddedRedis

__all__ = ["EmbeddedBroker", "EmbeddedRedis", "free_port"]
