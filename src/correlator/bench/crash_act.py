"""The runbook executor's side of the crash benchmark: is any runbook step run twice?

A live (not dry-run) runbook, ``crash-page``, runs for every incident change; its one step
POSTs the incident id and version to a local HTTP recorder. The act worker
(``correlator act``, its own process) is SIGKILLed and restarted together with the engine,
so a step that ran, but whose execution was not yet recorded or whose change was not yet
committed when the worker died, would show as a second call for the same version.

A step cut by the kill while in flight is marked ``interrupted`` on resume and not run
again (at most once): its version then has no call, and its execution ends ``failed``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from correlator.act.records import (
    ExecutionRecord,
    ExecutionStatus,
    StepStatus,
    execution_id_for,
)
from correlator.store.base import StateStore

__all__ = [
    "RUNBOOK_NAME",
    "ActOutcome",
    "CallRecorder",
    "act_argv",
    "act_sections",
    "compare_act",
    "wait_for_executions",
]

RUNBOOK_NAME = "crash-page"

_RUNBOOK = """\
name: {name}
description: Crash benchmark probe; one HTTP call per incident change
match: {{changes: [opened, updated, reopened, resolved]}}
dry_run: false
cooldown_s: 0
steps:
  - name: page
    action: http
    with:
      url: "{url}/page"
      body: {{incident: "{{{{ incident_id }}}}", version: "{{{{ version }}}}"}}
"""

#: An (incident id, version) pair.
Version = tuple[str, int]


class CallRecorder:
    """A local HTTP server counting the runbook's calls per incident version."""

    def __init__(self) -> None:
        self.calls: Counter[Version] = Counter()
        lock = threading.Lock()
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    calls[(str(body["incident"]), int(body["version"]))] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> CallRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def act_sections(name: str, work: Path, url: str) -> dict[str, Any]:
    """Settings sections for a live act worker of run ``name`` (writes its runbook)."""
    folder = work / f"{name}-runbooks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{RUNBOOK_NAME}.yaml").write_text(_RUNBOOK.format(name=RUNBOOK_NAME, url=url))
    return {
        "act": {
            "dry_run": False,
            "group_id": f"{name}-act",
            "executions_topic": f"{name}-executions",
            "poll_s": 0.5,
        },
        "runbooks_dir": str(folder),
    }


def act_argv(config: Path) -> list[str]:
    """The act worker process: ``correlator act --config CONFIG``."""
    return [sys.executable, "-m", "correlator.cli", "act", "--config", str(config)]


async def wait_for_executions(
    store: StateStore, versions: Iterable[Version], timeout_s: float = 120.0
) -> dict[Version, ExecutionRecord | None]:
    """Each version's execution record, once all have ended (or ``timeout_s`` passed)."""
    wanted = sorted(set(versions))
    keys = [f"execution:{execution_id_for(RUNBOOK_NAME, i, v)}" for i, v in wanted]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        blobs = await store.get_many(keys)
        found = {
            version: None if blob is None else ExecutionRecord.model_validate_json(blob)
            for version, blob in zip(wanted, blobs, strict=True)
        }
        ended = all(r is not None and r.status.terminal for r in found.values())
        if ended or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.5)


@dataclass
class ActOutcome:
    """What the act worker did in one run."""

    calls: Counter[Version] = field(default_factory=Counter)
    executions: dict[Version, ExecutionRecord | None] = field(default_factory=dict)

    @property
    def interrupted(self) -> list[Version]:
        """Versions whose step a kill cut in flight (marked interrupted, not run again)."""
        return sorted(
            version
            for version, record in self.executions.items()
            if record is not None and any(s.status is StepStatus.INTERRUPTED for s in record.steps)
        )


def _unfinished(label: str, outcome: ActOutcome, allowed: Iterable[Version]) -> list[str]:
    ok = set(allowed)
    return [
        f"{label}: execution for {i} v{v} is {record.status.value if record else 'missing'}"
        for (i, v), record in sorted(outcome.executions.items())
        if (record is None or record.status is not ExecutionStatus.SUCCEEDED) and (i, v) not in ok
    ]


def compare_act(reference: ActOutcome, crashed: ActOutcome) -> list[str]:
    """Steps run twice, executions lost or unfinished; empty when the kills changed nothing.

    Only the crashed run may have interrupted executions; each of its other versions must
    have run its step exactly once, as the reference did.
    """
    problems = [
        f"{label}: runbook step for {i} v{v} ran {n} times"
        for label, outcome in (("reference", reference), ("crashed", crashed))
        for (i, v), n in sorted(outcome.calls.items())
        if n > 1
    ]
    problems += _unfinished("reference", reference, ())
    problems += _unfinished("crashed", crashed, crashed.interrupted)
    expected = set(reference.executions) - set(crashed.interrupted)
    problems += [
        f"crashed: runbook step for {i} v{v} never ran"
        for i, v in sorted(expected - set(crashed.calls))
    ]
    return problems
