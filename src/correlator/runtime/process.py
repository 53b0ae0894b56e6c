"""A child process that is started, waited on a port, and stopped for sure."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path

from correlator.errors import ServiceStartError
from correlator.runtime.ports import wait_for_port

__all__ = ["ManagedProcess"]


class ManagedProcess:
    """Runs ``argv``, waits for ``port`` to listen, and terminates it on ``stop``."""

    def __init__(self, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            except OSError as exc:
                raise ServiceStartError(
                    f"cannot start {self.name} ({self.argv[0]}): {exc}"
                ) from exc
        if not wait_for_port(self.port, timeout_s):
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise ServiceStartError(
                f"{self.name} did not listen on 127.0.0.1:{self.port} within {timeout_s}s; "
                f"its log ({self.log_path}) ends with:\n{tail}"
            )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the process (for crash tests)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGKILL)
            self._proc.wait(timeout=10)

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=5)
        self._proc = None
