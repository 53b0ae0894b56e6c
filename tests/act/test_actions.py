"""Each action type on its own: http, kafka, command, check, wait, and plugins."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import httpx
import pytest

from correlator.act.actions.base import (
    ActionConfig,
    ActionDeps,
    ActionFailedError,
    ActionRefusedError,
    ActionRegistry,
    ActionSpec,
)
from correlator.act.actions.command import COMMAND, CommandConfig
from correlator.act.actions.http import HTTP, HttpConfig
from correlator.act.actions.kafka import KAFKA, KafkaConfig
from correlator.act.actions.plugins import default_registry, load_plugins, register_action
from correlator.act.actions.wait import CHECK, WAIT, CheckConfig, WaitConfig
from correlator.act.settings import ActSettings
from correlator.clock import FakeClock
from correlator.errors import ConfigError
from correlator.transport.memory import MemorySink

ECHO = "/bin/echo" if Path("/bin/echo").exists() else "/usr/bin/echo"


@pytest.fixture
def deps(http_client: httpx.AsyncClient) -> ActionDeps:
    clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))

    async def sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    return ActionDeps(
        settings=ActSettings(command_allowlist=["echo", "sleep", "env", "pwd", "seq"]),
        http=http_client,
        sink=MemorySink(),
        clock=clock,
        sleep=sleep,
    )


# --- http ----------------------------------------------------------------------------


async def test_http_sends_method_headers_and_json(deps: ActionDeps, http_server: Any) -> None:
    http_server.reply("/hook", (201, {"id": "42"}))
    config = HttpConfig(
        method="put",
        url=f"{http_server.url}/hook",
        headers={"X-Token": "t"},
        body={"a": [1, 2]},
    )
    output = await HTTP.run(config, deps)
    assert output == '201 {"id": "42"}'
    [req] = http_server.requests
    assert (req.method, req.path, req.body) == ("PUT", "/hook", {"a": [1, 2]})
    assert req.headers["x-token"] == "t"
    assert req.headers["content-type"] == "application/json"


@pytest.mark.parametrize(("status", "retriable"), [(500, True), (429, True), (400, False)])
async def test_http_error_statuses(
    deps: ActionDeps, http_server: Any, status: int, retriable: bool
) -> None:
    http_server.reply("/x", (status, {"error": "no"}))
    with pytest.raises(ActionFailedError) as info:
        await HTTP.run(HttpConfig(url=f"{http_server.url}/x"), deps)
    assert info.value.retriable is retriable
    assert str(status) in info.value.output


async def test_http_expect_status_and_refuses_other_schemes(
    deps: ActionDeps, http_server: Any
) -> None:
    http_server.reply("/gone", (404, {}))
    await HTTP.run(HttpConfig(url=f"{http_server.url}/gone", expect_status=[404]), deps)
    with pytest.raises(ActionFailedError, match="not an http"):
        await HTTP.run(HttpConfig(url="file:///etc/passwd"), deps)


async def test_http_connection_refused_is_retriable(deps: ActionDeps) -> None:
    with pytest.raises(ActionFailedError) as info:
        await HTTP.run(HttpConfig(url="http://127.0.0.1:9/"), deps)
    assert info.value.retriable


# --- kafka ---------------------------------------------------------------------------


async def test_kafka_publishes_one_json_message_through_the_sink(deps: ActionDeps) -> None:
    config = KafkaConfig(
        topic="commands", key="payments-db", value={"op": "restart"}, headers={"by": "act"}
    )
    assert await KAFKA.run(config, deps) == "published 1 message to commands"
    assert isinstance(deps.sink, MemorySink)
    [msg] = deps.sink.topics["commands"]
    assert (msg.key, json.loads(msg.value or b"")) == (b"payments-db", {"op": "restart"})
    assert msg.headers == (("by", b"act"),)


# --- command -------------------------------------------------------------------------


async def test_command_runs_argv_and_captures_output(deps: ActionDeps) -> None:
    assert await COMMAND.run(CommandConfig(argv=["echo", "hello", "world"]), deps) == (
        "hello world\n"
    )


@pytest.mark.parametrize(
    "evil",
    [
        "; rm -rf /",
        "$(reboot)",
        "`touch /tmp/pwned`",
        "a && echo INJECTED",
        "x | cat /etc/passwd",
        "'quoted' \"double\" > /tmp/out",
    ],
)
async def test_shell_metacharacters_are_one_literal_argument(deps: ActionDeps, evil: str) -> None:
    output = await COMMAND.run(CommandConfig(argv=["echo", evil]), deps)
    assert output == evil + "\n"


async def test_command_outside_allowlist_is_refused(deps: ActionDeps) -> None:
    for argv in (["rm", "-rf", "/nonexistent"], ["/bin/sh", "-c", "echo hi"], ["sh"]):
        with pytest.raises(ActionRefusedError, match=r"not in act\.command_allowlist"):
            await COMMAND.run(CommandConfig(argv=argv), deps)


async def test_command_absolute_path_must_be_listed_exactly(deps: ActionDeps) -> None:
    deps.settings = ActSettings(command_allowlist=[ECHO])
    assert await COMMAND.run(CommandConfig(argv=[ECHO, "ok"]), deps) == "ok\n"
    with pytest.raises(ActionRefusedError):
        await COMMAND.run(CommandConfig(argv=["echo", "ok"]), deps)


async def test_command_environment_is_only_path_and_step_env(
    deps: ActionDeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOULD_NOT_LEAK", "1")
    output = await COMMAND.run(CommandConfig(argv=["env"], env={"MODE": "dry"}), deps)
    assert sorted(output.split()) == sorted([f"PATH={deps.settings.command_path}", "MODE=dry"])


async def test_command_cwd_is_a_fresh_directory_by_default(
    deps: ActionDeps, tmp_path: Path
) -> None:
    scratch = (await COMMAND.run(CommandConfig(argv=["pwd"]), deps)).strip()
    assert "correlator-act-" in scratch
    assert not await asyncio.to_thread(Path(scratch).exists)
    assert (await COMMAND.run(CommandConfig(argv=["pwd"], cwd=str(tmp_path)), deps)).strip() == (
        str(tmp_path)
    )


async def test_command_output_is_truncated(deps: ActionDeps) -> None:
    deps.settings = ActSettings(command_allowlist=["seq"], max_output_bytes=256)
    output = await COMMAND.run(CommandConfig(argv=["seq", "100000"]), deps)
    assert output.startswith("1\n2\n3\n")
    assert output.endswith("more bytes]")
    assert len(output) < 300


async def test_command_failure_carries_exit_code_and_output(deps: ActionDeps) -> None:
    with pytest.raises(ActionFailedError, match="exited with 1") as info:
        await COMMAND.run(CommandConfig(argv=["sleep", "not-a-number"]), deps)
    assert "invalid" in info.value.output


# --- check / wait --------------------------------------------------------------------


async def test_check_reads_a_json_field(deps: ActionDeps, http_server: Any) -> None:
    http_server.reply("/q", (200, {"data": {"result": [{"value": [1, "0.42"]}]}}))
    http_server.reply("/q", (200, {"data": {"result": [{"value": [1, "0.42"]}]}}))
    config = CheckConfig(url=f"{http_server.url}/q", json_path="data.result[0].value[1]", below=0.5)
    assert "holds" in await CHECK.run(config, deps)
    with pytest.raises(ActionFailedError, match="does not hold"):
        await CHECK.run(config.model_copy(update={"below": 0.1}), deps)


async def test_wait_polls_until_the_condition_holds(deps: ActionDeps, http_server: Any) -> None:
    http_server.reply(
        "/ready",
        (503, {}),
        (200, {"status": "starting"}),
        (200, {"status": "ready"}),
    )
    config = WaitConfig(
        url=f"{http_server.url}/ready", json_path="status", equals="ready", interval_s=2
    )
    output = await WAIT.run(config, deps)
    assert "after 3 poll(s)" in output
    assert len(http_server.requests) == 3
    assert deps.clock.monotonic() == 4.0  # two waits of 2 s on the injected clock


async def test_wait_gives_up_after_within_s(deps: ActionDeps, http_server: Any) -> None:
    config = WaitConfig(
        url=f"{http_server.url}/never", json_path="ok", equals=True, interval_s=5, within_s=20
    )
    with pytest.raises(ActionFailedError, match="did not hold within 20s"):
        await WAIT.run(config, deps)
    assert len(http_server.requests) == 5  # at 0, 5, 10, 15 and 20 s


# --- registry and plugins ------------------------------------------------------------


class EchoConfig(ActionConfig):
    text: str


async def _echo(config: EchoConfig, deps: ActionDeps) -> str:
    return config.text.upper()


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    registry = ActionRegistry()
    spec = ActionSpec("shout", EchoConfig, _echo)
    registry.register(spec)
    with pytest.raises(ConfigError, match="already registered"):
        registry.register(spec)
    with pytest.raises(ConfigError, match="unknown action 'nope'; registered: shout"):
        registry.get("nope")


def test_register_action_adds_to_default_registries() -> None:
    spec = ActionSpec("shout-test", EchoConfig, _echo)
    register_action(spec)
    assert "shout-test" in default_registry(plugins=False)
    with pytest.raises(ConfigError):
        register_action(spec)


def _plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    name = f"act_plugin_{abs(hash(body)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


async def test_entry_point_plugins_are_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deps: ActionDeps
) -> None:
    module = _plugin_module(
        tmp_path,
        monkeypatch,
        """
        from correlator.act.actions.base import ActionConfig, ActionSpec

        class Config(ActionConfig):
            replicas: int

        async def run(config, deps):
            return f"scaled to {config.replicas}"

        SCALE = ActionSpec("scale", Config, run)
        """,
    )
    eps = [EntryPoint("scale", f"{module}:SCALE", "correlator.actions")]
    registry = ActionRegistry()
    assert load_plugins(registry, lambda group: eps if group == "correlator.actions" else []) == [
        "scale"
    ]
    spec = registry.get("scale")
    assert await spec.run(spec.config.model_validate({"replicas": 3}), deps) == "scaled to 3"


def test_entry_point_that_is_not_a_spec_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _plugin_module(tmp_path, monkeypatch, "NOT_A_SPEC = 42\n")
    eps = [EntryPoint("bad", f"{module}:NOT_A_SPEC", "correlator.actions")]
    with pytest.raises(ConfigError, match="is a int, not an ActionSpec"):
        load_plugins(ActionRegistry(), lambda group: eps)
