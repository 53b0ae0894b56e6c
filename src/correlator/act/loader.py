"""Load and check runbook files; every problem names its file, line and field.

The YAML is composed into nodes first (keeping each node's line) and only then turned
into data, so a pydantic error location such as ``("steps", 0, "with", "url")`` can be
walked back through the nodes to the line that holds the failing field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from correlator.act.actions.base import ActionRegistry
from correlator.act.actions.plugins import default_registry
from correlator.act.runbook import Runbook, Step
from correlator.act.template import TemplateError, compile_template, template_strings
from correlator.errors import ConfigError

__all__ = ["Problem", "check_runbooks", "load_runbook_file", "load_runbooks"]

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one runbook file."""

    file: Path
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


def _field(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the deepest node along ``loc``."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            return line
        node = child
        line = node.start_mark.line + 1
    return line


def _duplicate_keys(node: yaml.Node, loc: Loc = ()) -> list[tuple[Loc, int]]:
    out: list[tuple[Loc, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                out.append(((*loc, name), key.start_mark.line + 1))
            seen.add(name)
            out += _duplicate_keys(value, (*loc, name))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out += _duplicate_keys(item, (*loc, i))
    return out


class _Checker:
    def __init__(self, path: Path, root: yaml.Node | None) -> None:
        self.path = path
        self.root = root
        self.problems: list[Problem] = []

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.path, _line_of(self.root, loc), _field(loc), message))

    def validation(self, exc: ValidationError, prefix: Loc = ()) -> None:
        for err in exc.errors():
            self.add((*prefix, *err["loc"]), err["msg"])

    def templates(self, value: Any, loc: Loc) -> None:
        for where, text in template_strings(value, loc):
            try:
                compile_template(text)
            except TemplateError as exc:
                self.add(where, str(exc))

    def steps(self, steps: Sequence[Step], key: str, registry: ActionRegistry) -> None:
        for i, step in enumerate(steps):
            if step.action not in registry:
                self.add((key, i, "action"), f"unknown action; registered: {', '.join(registry)}")
                continue
            try:
                registry.get(step.action).config.model_validate(step.with_)
            except ValidationError as exc:
                self.validation(exc, (key, i, "with"))
            self.templates(step.with_, (key, i, "with"))


def _compose(path: Path) -> tuple[yaml.Node | None, list[Problem]]:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), []
    except OSError as exc:
        return None, [Problem(path, None, "", f"cannot read: {exc}")]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return None, [Problem(path, line, "", f"invalid YAML: {exc.problem}")]
    except yaml.YAMLError as exc:
        return None, [Problem(path, None, "", f"invalid YAML: {exc}")]


def load_runbook_file(
    path: Path, registry: ActionRegistry | None = None
) -> tuple[Runbook | None, list[Problem]]:
    """Parse and validate one file: the runbook (None if invalid) and its problems."""
    registry = registry or default_registry()
    root, problems = _compose(path)
    if problems:
        return None, problems
    check = _Checker(path, root)
    for loc, line in _duplicate_keys(root) if root is not None else []:
        check.problems.append(Problem(path, line, _field(loc), "duplicate key"))
    data = yaml.SafeLoader(" ").construct_document(root) if root is not None else None
    if not isinstance(data, dict):
        check.add((), "a runbook file must be a mapping (name, match, steps...)")
        return None, check.problems
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        check.validation(exc)
        return None, check.problems
    check.templates(runbook.parameters, ("parameters",))
    if runbook.target is not None:
        check.templates(runbook.target, ("target",))
    check.steps(runbook.steps, "steps", registry)
    check.steps(runbook.rollback, "rollback", registry)
    names = [s.name for s in (*runbook.steps, *runbook.rollback)]
    for i, step in enumerate(runbook.steps):
        if names.count(step.name) > 1:
            check.add(("steps", i, "name"), f"step name {step.name!r} is used twice")
    return (None if check.problems else runbook), check.problems


def _files(folder: Path) -> list[Path]:
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def check_runbooks(folder: Path, registry: ActionRegistry | None = None) -> list[Problem]:
    """Every problem in the runbook files of ``folder`` (empty when all are valid)."""
    registry = registry or default_registry()
    if not folder.is_dir():
        return [Problem(folder, None, "", "not a directory")]
    problems: list[Problem] = []
    seen: dict[str, Path] = {}
    for path in _files(folder):
        runbook, found = load_runbook_file(path, registry)
        problems += found
        if runbook is None:
            continue
        if runbook.name in seen:
            problems.append(
                Problem(
                    path, None, "name", f"{runbook.name!r} is also defined in {seen[runbook.name]}"
                )
            )
        seen[runbook.name] = path
    return problems


def load_runbooks(folder: Path, registry: ActionRegistry | None = None) -> list[Runbook]:
    """Load every runbook of ``folder``; raise :class:`ConfigError` listing all problems."""
    registry = registry or default_registry()
    problems = check_runbooks(folder, registry)
    if problems:
        listing = "\n  ".join(str(p) for p in problems)
        raise ConfigError(f"invalid runbooks in {folder}:\n  {listing}")
    runbooks: list[Runbook] = []
    for path in _files(folder):
        runbook, _ = load_runbook_file(path, registry)
        if runbook is not None:
            runbooks.append(runbook)
    return runbooks
