"""The ``check`` and ``wait`` actions: an HTTP condition, once or polled until it holds.

The condition is a status in ``expect_status`` and, when ``json_path`` is given, the value
at that path of the JSON response (``data.result[0].value[1]`` for a Prometheus query)
compared with ``equals`` / ``above`` / ``below``. ``wait`` polls every ``interval_s``
until the condition holds or ``within_s`` passes (on the injected clock).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from correlator.act.actions.base import ActionConfig, ActionDeps, ActionFailedError, ActionSpec
from correlator.act.actions.http import check_url, send_request
from correlator.act.template import MISSING, TemplateError, lookup, parse_path

__all__ = ["CHECK", "WAIT", "CheckConfig", "WaitConfig"]


class CheckConfig(ActionConfig):
    method: Literal["GET", "POST"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    expect_status: list[int] = Field(default_factory=lambda: [200])
    json_path: str | None = Field(None, description="Path into the JSON response")
    equals: Any = Field(None, description="The value must equal this")
    above: float | None = Field(None, description="The value must be greater than this")
    below: float | None = Field(None, description="The value must be less than this")

    @field_validator("json_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value:
            try:
                parse_path(value)
            except TemplateError as exc:
                raise ValueError(str(exc)) from exc
        return value


class WaitConfig(CheckConfig):
    interval_s: float = Field(5.0, gt=0)
    within_s: float = Field(60.0, gt=0, description="Give up after this long")


def _holds(config: CheckConfig, status: int, text: str) -> tuple[bool, str]:
    if status not in config.expect_status:
        return False, f"status {status}"
    if config.json_path is None:
        return True, f"status {status}"
    try:
        value = lookup(json.loads(text), parse_path(config.json_path))
    except ValueError:
        return False, "response is not JSON"
    if value is MISSING:
        return False, f"{config.json_path} absent"
    seen = f"{config.json_path} = {value!r}"
    try:
        if config.equals is not None and value != config.equals:
            return False, seen
        if config.above is not None and not float(value) > config.above:
            return False, seen
        if config.below is not None and not float(value) < config.below:
            return False, seen
    except (TypeError, ValueError):
        return False, f"{seen} is not a number"
    return True, seen


async def _check_once(config: CheckConfig, deps: ActionDeps) -> tuple[bool, str]:
    response = await send_request(deps, config.method, config.url, config.headers, config.body)
    return _holds(config, response.status_code, response.text)


async def _run_check(config: CheckConfig, deps: ActionDeps) -> str:
    ok, seen = await _check_once(config, deps)
    if not ok:
        raise ActionFailedError(f"condition does not hold: {seen}")
    return f"condition holds: {seen}"


async def _run_wait(config: WaitConfig, deps: ActionDeps) -> str:
    deadline = deps.clock.monotonic() + config.within_s
    polls = 0
    while True:
        polls += 1
        try:
            ok, seen = await _check_once(config, deps)
        except ActionFailedError as exc:
            if not exc.retriable:
                raise
            ok, seen = False, str(exc)
        if ok:
            return f"condition holds after {polls} poll(s): {seen}"
        if deps.clock.monotonic() + config.interval_s > deadline:
            raise ActionFailedError(
                f"condition did not hold within {config.within_s:g}s ({polls} polls): {seen}"
            )
        await deps.sleep(config.interval_s)


def _preflight(config: CheckConfig, deps: ActionDeps) -> dict[str, Any]:
    check_url(config.url)
    return {}


CHECK: ActionSpec[CheckConfig] = ActionSpec(
    "check", CheckConfig, _run_check, _preflight, "Fail unless an HTTP condition holds now"
)
WAIT: ActionSpec[WaitConfig] = ActionSpec(
    "wait", WaitConfig, _run_wait, _preflight, "Poll an HTTP condition until it holds"
)
