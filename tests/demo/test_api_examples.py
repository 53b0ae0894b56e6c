"""Every curl example of docs/api-examples.md, run against the app `correlator demo --serve` runs.

The demo's scenario (shortened) goes through the engine on the session broker and Redis,
then the examples are parsed from the document and sent, in order, to ``demo_app`` over
those services: a changed example or endpoint fails here instead of in a reader's terminal.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from correlator.config import Settings
from correlator.demo.run import demo_settings, run_scenario
from correlator.demo.scenario import Scenario
from correlator.demo.serve import DEMO_TOKEN, DemoServe, demo_server, with_demo_token
from correlator.runtime import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "api-examples.md"
_VAR = re.compile(r"\$(\w+)")
_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)
_SHELL_VAR = re.compile(r"^(\w+)=\$\((.*)\)$")


@dataclass
class Example:
    """One curl command of the document, as a request."""

    line: str
    method: str = "GET"
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    data: str | None = None
    capture: str | None = None  # VAR=$(curl ... | python3 -c CODE): the variable set
    pipe: list[str] = field(default_factory=list)  # the command after the pipe


def parse_doc(text: str) -> tuple[dict[str, str], list[Example | Shell]]:
    """The exported variables, and the curl commands and other ``VAR=$(...)``, in order."""
    exported: dict[str, str] = {}
    examples: list[Example | Shell] = []
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            if line.startswith("export "):
                exported.update(part.split("=", 1) for part in shlex.split(line)[1:])
            elif "curl " in line:
                examples.append(parse_curl(line))
            elif found := _SHELL_VAR.match(line):
                examples.append(Shell(line, found.group(1), found.group(2)))
            else:
                assert not line.strip(), f"the test does not know how to run: {line}"
    return exported, examples


@dataclass
class Shell:
    """``VAR=$(command)`` without curl (such as a date): run by bash."""

    line: str
    name: str
    command: str


def parse_curl(line: str) -> Example:
    words = shlex.split(line)
    example = Example(line)
    if words[0].endswith("=$(curl"):
        example.capture = words[0].split("=", 1)[0]
        bar = words.index("|")
        words, example.pipe = words[:bar], words[bar + 1 :]
        example.pipe[-1] = example.pipe[-1].removesuffix(")")
    else:
        assert words[0] == "curl", line
    args = iter(words[1:])
    for word in args:
        if word == "-X":
            example.method = next(args)
        elif word == "-H":
            name, value = next(args).split(":", 1)
            example.headers[name.strip()] = value.strip()
        elif word == "-d":
            example.data = next(args)
        elif word == "-o":
            next(args)
        elif word.startswith("-"):
            assert word == "-s", f"unknown curl option {word} in: {line}"
        else:
            example.url = word
    return example


def expand(text: str, env: dict[str, str]) -> str:
    return _VAR.sub(lambda m: env[m.group(1)], text)


Check = Callable[[httpx.Response, dict[str, str]], object]  # response, variables
EXPECTED: dict[tuple[str, str], tuple[int, Check]] = {
    ("GET", "/incidents"): (
        200,
        lambda r, _: (
            r.json()["items"] and all("payments-db" in i["services"] for i in r.json()["items"])
        ),
    ),
    ("GET", "/incidents/{ID}"): (
        200,
        # the shape the document promises; ranking quality is tests/pipeline's business
        lambda r, env: (
            r.json()["incident_id"] == env["ID"]
            and "payments-db" in r.json()["services"]
            and r.json()["root_causes"][0]["evidence"]
            and r.json()["timeline"]
        ),
    ),
    ("POST", "/incidents/{ID}/reopen"): (
        200,
        lambda r, _: r.json()["incident"]["status"] == "open",
    ),
    ("POST", "/incidents/{ID}/ack"): (
        200,
        lambda r, _: r.json()["incident"]["acknowledged_by"] == "demo",
    ),
    ("POST", "/incidents/{ID}/comments"): (200, lambda r, _: r.json()["action"] == "commented"),
    ("GET", "/topology.svg"): (
        200,
        lambda r, _: (
            r.headers["content-type"].startswith("image/svg+xml") and "payments-db" in r.text
        ),
    ),
    ("GET", "/metrics"): (200, lambda r, _: "correlator_open_incidents 1.0" in r.text),
    ("POST", "/api/v2/alerts"): (
        200,
        lambda r, env: r.json() == {"accepted": 1, "topic": env["ALERTS_TOPIC"]},
    ),
    ("GET", "/executions"): (
        200,
        lambda r, env: r.json() and {e["incident_id"] for e in r.json()} == {env["ID"]},
    ),
    ("POST", "/silences"): (
        201,
        lambda r, _: (
            r.json()["state"] == "active"
            and r.json()["matchers"] == ["service=payments-db", "signal=~latency_.*"]
        ),
    ),
    ("GET", "/silences"): (200, lambda r, env: [s["id"] for s in r.json()] == [env["SILENCE"]]),
    ("DELETE", "/silences/{SILENCE}"): (204, lambda r, _: r.content == b""),
}


def test_the_document_names_the_demo_defaults() -> None:
    exported, examples = parse_doc(DOC.read_text())
    assert exported == {"API": DemoServe().base_url, "TOKEN": DEMO_TOKEN}
    assert examples


async def test_every_documented_example_works_against_the_served_demo(settings: Settings) -> None:
    demo = demo_settings(
        settings.kafka.bootstrap_servers,
        settings.redis.url.get_secret_value(),
        REPO / "topology",
        REPO / "runbooks",
    )
    demo = demo.model_copy(
        update={"kafka": settings.kafka, "redis": settings.redis, "topics": settings.topics}
    )
    result = await run_scenario(
        demo, Scenario(normal_s=300, fault_s=120, recovery_s=420, requests_per_s=6)
    )
    assert result.incidents and result.executions
    serve = DemoServe(port=free_port())
    server = demo_server(with_demo_token(demo, serve))  # what `correlator demo --serve` runs
    serving = asyncio.create_task(server.serve())
    _, examples = parse_doc(DOC.read_text())
    env = {"API": serve.base_url, "TOKEN": DEMO_TOKEN, "ALERTS_TOPIC": settings.topics.alerts_in}
    try:
        await _started(server, serving)
        async with httpx.AsyncClient(timeout=30) as client:
            await _run_examples(client, examples, env)
    finally:
        server.should_exit = True
        await serving


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    """Wait until uvicorn listens (it sets ``started``), failing if it exits instead."""
    while not server.started:
        assert not serving.done(), "the demo's API did not start"
        await asyncio.sleep(0.05)


async def _run_examples(
    client: httpx.AsyncClient, examples: list[Example | Shell], env: dict[str, str]
) -> None:
    """Send each example in order; check its status and key field."""
    seen: set[tuple[str, str]] = set()
    captured: list[str] = []
    for example in examples:
        if isinstance(example, Shell):
            env[example.name] = await _pipe(["bash", "-c", example.command], "")
            continue
        url = httpx.URL(expand(example.url, env))
        headers = {k: expand(v, env) for k, v in example.headers.items()}
        data = expand(example.data, env) if example.data is not None else None
        response = await client.request(example.method, url, headers=headers, content=data)
        path = url.path
        for name in captured:
            path = path.replace(env[name], "{" + name + "}")
        key = (example.method, path)
        assert key in EXPECTED, f"no expectation for {key}: add one for {example.line}"
        status, check = EXPECTED[key]
        assert response.status_code == status, (example.line, response.text[:500])
        assert check(response, env), (example.line, response.text[:500])
        seen.add(key)
        if example.capture is not None:
            env[example.capture] = await _pipe(example.pipe, response.text)
            captured.append(example.capture)
    assert seen == set(EXPECTED), f"examples missing from {DOC.name}: {set(EXPECTED) - seen}"


async def _pipe(argv: list[str], text: str) -> str:
    """Run the document's own command after the pipe (``python3 -c ...``) on ``text``."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate(text.encode())
    assert proc.returncode == 0, argv
    return out.decode().strip()
