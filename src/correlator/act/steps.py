"""Run one step: render its config, then dry-run it or run it with timeout and retries.

Two renderings are made of every step: the real one (secrets resolved) that the action
gets, and a masked one (secrets as ``***``) that goes into the audit record. Output and
error text are scrubbed of the secret values too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from correlator.act.actions.base import (
    ActionConfig,
    ActionDeps,
    ActionFailedError,
    ActionRefusedError,
    ActionRegistry,
    ActionSpec,
)
from correlator.act.records import StepPhase, StepRecord, StepStatus
from correlator.act.runbook import Step
from correlator.act.template import (
    MASK,
    MissingSecretError,
    TemplateError,
    compile_template,
    render_value,
    template_strings,
)
from correlator.errors import ConfigError

__all__ = ["StepRunner", "secret_values"]

log = logging.getLogger(__name__)


def secret_values(value: Any, environ: Mapping[str, str]) -> list[str]:
    """The values of every ``${ENV:NAME}`` used inside ``value`` that are set."""
    names = {
        name for _, text in template_strings(value) for name in compile_template(text).secret_names
    }
    return [environ[n] for n in sorted(names) if environ.get(n)]


class _Rendered:
    def __init__(self, config: ActionConfig | None, masked: dict[str, Any], note: str) -> None:
        self.config = config
        self.masked = masked
        self.note = note


class StepRunner:
    """Runs steps with the actions of ``registry`` and the side-effect ports of ``deps``."""

    def __init__(
        self, registry: ActionRegistry, deps: ActionDeps, environ: Mapping[str, str]
    ) -> None:
        self._registry = registry
        self._deps = deps
        self._environ = environ

    def _scrub(self, text: str, secrets: list[str]) -> str:
        for value in secrets:
            if len(value) >= 4:
                text = text.replace(value, MASK)
        return text[: self._deps.settings.max_output_bytes * 2]

    def _render(
        self,
        spec: ActionSpec[Any],
        step: Step,
        real_ctx: Mapping[str, Any],
        masked_ctx: Mapping[str, Any],
        dry_run: bool,
    ) -> _Rendered:
        masked_raw = render_value(step.with_, masked_ctx, self._environ, mask=True)
        try:
            masked = spec.config.model_validate(masked_raw).model_dump(mode="json")
        except ValidationError:
            masked = dict(masked_raw)
        try:
            real = render_value(step.with_, real_ctx, self._environ)
        except MissingSecretError as exc:
            if not dry_run:
                raise
            return _Rendered(None, masked, str(exc))
        return _Rendered(spec.config.model_validate(real), masked, "")

    async def run(
        self,
        step: Step,
        index: int,
        phase: StepPhase,
        real_ctx: Mapping[str, Any],
        masked_ctx: Mapping[str, Any],
        *,
        dry_run: bool,
    ) -> StepRecord:
        """Run (or dry-run) ``step``; the record says how it ended. Never raises for a step."""
        deps = self._deps
        record = StepRecord(
            index=index,
            name=step.name,
            action=step.action,
            phase=phase,
            started_at=deps.clock.now(),
        )
        secrets = secret_values(step.with_, self._environ)
        try:
            spec = self._registry.get(step.action)
            rendered = self._render(spec, step, real_ctx, masked_ctx, dry_run)
        except (ConfigError, TemplateError, ValidationError) as exc:
            record.status = StepStatus.FAILED
            record.error = self._scrub(f"cannot render step: {exc}", secrets)
            record.finished_at = deps.clock.now()
            return record
        record.rendered = rendered.masked
        if dry_run:
            await self._dry_run(spec, rendered, record, secrets)
        else:
            assert rendered.config is not None
            await self._attempts(spec, step, rendered.config, record, secrets)
        record.finished_at = deps.clock.now()
        return record

    async def _dry_run(
        self, spec: ActionSpec[Any], rendered: _Rendered, record: StepRecord, secrets: list[str]
    ) -> None:
        record.status = StepStatus.DRY_RUN
        record.output = "dry run: not executed"
        if rendered.note:
            record.error = rendered.note
        if rendered.config is None or spec.preflight is None:
            return
        try:
            record.rendered["preflight"] = spec.preflight(rendered.config, self._deps)
        except ActionFailedError as exc:
            record.status = StepStatus.REFUSED
            record.error = self._scrub(str(exc), secrets)

    async def _attempts(
        self,
        spec: ActionSpec[Any],
        step: Step,
        config: ActionConfig,
        record: StepRecord,
        secrets: list[str],
    ) -> None:
        deps = self._deps
        for attempt in range(1, step.retries + 2):
            record.attempts = attempt
            retriable = True
            try:
                async with asyncio.timeout(step.timeout_s):
                    output = await spec.run(config, deps)
            except TimeoutError:
                record.status = StepStatus.TIMED_OUT
                record.error = f"timed out after {step.timeout_s:g}s"
            except ActionRefusedError as exc:
                record.status, record.error, retriable = StepStatus.REFUSED, str(exc), False
            except ActionFailedError as exc:
                record.status, record.error = StepStatus.FAILED, str(exc)
                record.output = exc.output
                retriable = exc.retriable
            except Exception as exc:  # a plugin bug fails the step, not the worker
                log.exception("action %s raised", step.action)
                record.status, record.error, retriable = StepStatus.FAILED, repr(exc), False
            else:
                record.status, record.output, record.error = StepStatus.SUCCEEDED, output, None
            record.output = self._scrub(record.output, secrets)
            record.error = None if record.error is None else self._scrub(record.error, secrets)
            if record.status is StepStatus.SUCCEEDED or not retriable or attempt > step.retries:
                return
            delay = step.backoff(attempt)
            log.info(
                "step %s attempt %d failed (%s); retrying in %.1fs",
                step.name,
                attempt,
                record.error,
                delay,
            )
            await deps.sleep(delay)
