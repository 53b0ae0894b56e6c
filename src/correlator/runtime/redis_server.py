"""An embedded redis-server (Debian's package) on a free loopback port."""

from __future__ import annotations

import shutil
from pathlib import Path

from correlator.errors import ServiceStartError
from correlator.runtime.ports import free_port
from correlator.runtime.process import ManagedProcess

__all__ = ["EmbeddedRedis"]


class EmbeddedRedis:
    """redis-server on 127.0.0.1, data in ``data_dir``; AOF on when ``persistent``."""

    def __init__(self, data_dir: Path, port: int | None = None, persistent: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceStartError(
                "redis-server is not installed: run `apt-get install redis-server` "
                "(make demo/test do this for you), or point redis.url at a running Redis"
            )
        self.port = port or free_port()
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if persistent else "no",
            "--appendfsync",
            "always",
            "--protected-mode",
            "yes",
        ]
        self.process = ManagedProcess("redis-server", argv, self.port, data_dir / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process.start()

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
