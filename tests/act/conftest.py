"""Fixtures for the act stage: incident changes, a local HTTP server, an executor kit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from correlator.act.actions.base import ActionDeps, ActionRegistry
from correlator.act.actions.plugins import default_registry
from correlator.act.executor import Executor
from correlator.act.loader import load_runbook_file
from correlator.act.runbook import Runbook
from correlator.act.settings import ActSettings
from correlator.clock import FakeClock
from correlator.model.alert import Alert, Severity
from correlator.model.incident import ChangeKind, Incident, IncidentChange, RootCause
from correlator.model.observation import Signal
from correlator.store.memory import MemoryStateStore
from correlator.transport.memory import MemorySink

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO_ROOT / "runbooks"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_change(
    change: str = "opened",
    *,
    version: int = 1,
    incident_id: str = "inc-1",
    root: str | None = "payments-db",
    services: tuple[str, ...] = ("checkout", "payments", "payments-db"),
    severity: str = "critical",
    signal: str = "latency_p99",
    labels: dict[str, str] | None = None,
    alert_labels: dict[str, str] | None = None,
    summary: str = "p99 latency 900ms (expected 60ms)",
    title: str = "payments-db latency, checkout errors",
    status: str | None = None,
) -> IncidentChange:
    """One IncidentChange as the publish stage would emit it."""
    kind = ChangeKind(change)
    alert = Alert(
        fingerprint="fp-1",
        service=services[-1] if services else "svc",
        entity=root or "svc",
        signal=Signal(signal),
        severity=Severity(severity),
        summary=summary,
        starts_at=T0,
        last_seen_at=T0,
        labels=alert_labels or {},
    )
    incident = Incident(
        incident_id=incident_id,
        version=version,
        status=status or ("resolved" if kind is ChangeKind.RESOLVED else "open"),
        title=title,
        services=list(services),
        alerts=[alert],
        root_causes=[RootCause(entity=root, score=0.9, signals=[signal])] if root else [],
        opened_at=T0,
        updated_at=T0 + timedelta(minutes=version),
        resolved_at=T0 + timedelta(minutes=version) if kind is ChangeKind.RESOLVED else None,
        labels=labels or {},
    )
    return IncidentChange(change=kind, incident_id=incident_id, version=version, incident=incident)


@pytest.fixture
def change() -> Callable[..., IncidentChange]:
    return make_change


def runbook(text: str, tmp_path: Path, registry: ActionRegistry | None = None) -> Runbook:
    """A runbook parsed from YAML text through the real loader."""
    path = tmp_path / "rb.yaml"
    path.write_text(text)
    found, problems = load_runbook_file(path, registry or default_registry(plugins=False))
    assert not problems, [str(p) for p in problems]
    assert found is not None
    return found


@pytest.fixture
def parse(tmp_path: Path) -> Callable[..., Runbook]:
    """Parse runbook YAML text through the real loader."""

    def parse_text(text: str, registry: ActionRegistry | None = None) -> Runbook:
        return runbook(text, tmp_path, registry)

    return parse_text


def _shipped(name: str) -> Runbook:
    found, problems = load_runbook_file(RUNBOOKS / f"{name}.yaml", default_registry(plugins=False))
    assert not problems and found is not None
    return found


@pytest.fixture
def runbooks_dir() -> Path:
    """The repository's runbooks/ folder."""
    return RUNBOOKS


@pytest.fixture
def shipped() -> Callable[[str], Runbook]:
    """Load one of the shipped runbooks by name."""
    return _shipped


# --- local HTTP server ----------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class LocalHttp:
    """Records every request; answers from ``replies`` (per path, in order) or 200 {}."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    replies: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    delay_s: float = 0.0

    def reply(self, path: str, *answers: tuple[int, Any]) -> None:
        self.replies.setdefault(path, []).extend(answers)


def _handler(state: LocalHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.requests.append(Request(self.command, self.path, headers, body))
            if state.delay_s:
                time.sleep(state.delay_s)
            queue = state.replies.get(self.path.split("?")[0], [])
            status, payload = queue.pop(0) if queue else (200, {})
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def http_server() -> Iterator[LocalHttp]:
    state = LocalHttp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- executor kit ---------------------------------------------------------------------


@dataclass
class Kit:
    """An executor on the memory store and sink, a fake clock and recorded sleeps."""

    store: MemoryStateStore
    sink: MemorySink
    clock: FakeClock
    http: httpx.AsyncClient
    sleeps: list[float]
    environ: dict[str, str]
    registry: ActionRegistry

    def settings(self, **overrides: Any) -> ActSettings:
        base: dict[str, Any] = {"dry_run": False, "default_cooldown_s": 0}
        return ActSettings(**{**base, **overrides})

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))

    def executor(self, runbooks: list[Runbook], **settings: Any) -> Executor:
        deps = ActionDeps(
            settings=self.settings(**settings),
            http=self.http,
            sink=self.sink,
            clock=self.clock,
            sleep=self.sleep,
        )
        return Executor(runbooks, self.store, self.registry, deps, environ=self.environ)

    def published(self) -> list[dict[str, Any]]:
        return [json.loads(m.value or b"") for m in self.sink.topics["runbook-executions"]]


@pytest.fixture(scope="session")
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    """One client for the session (building its TLS context takes a noticeable while)."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def kit(http_client: httpx.AsyncClient) -> Kit:
    return Kit(
        store=MemoryStateStore(),
        sink=MemorySink(),
        clock=FakeClock(T0),
        http=http_client,
        sleeps=[],
        environ={},
        registry=default_registry(plugins=False),
    )
