"""Readiness probes that need no client library."""

from __future__ import annotations

import asyncio
import contextlib

from correlator.serve.context import Check

__all__ = ["tcp_check"]


def tcp_check(bootstrap_servers: str, timeout_s: float = 1.0) -> Check:
    """A probe that is True when any ``host:port`` of ``bootstrap_servers`` accepts TCP.

    >>> probe = tcp_check("127.0.0.1:1")
    >>> asyncio.run(probe())
    False
    """
    targets = []
    for item in bootstrap_servers.split(","):
        host, _, port = item.strip().rpartition(":")
        if host and port.isdigit():
            targets.append((host.strip("[]"), int(port)))

    async def probe() -> bool:
        for host, port in targets:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
            except (OSError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False

    return probe
