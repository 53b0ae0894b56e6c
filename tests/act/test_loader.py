"""Runbook files: the shipped ones load; bad ones are reported by file, line and field."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from correlator.act import check_runbooks, load_runbooks
from correlator.act.actions.plugins import default_registry
from correlator.act.cli import add_arguments, run
from correlator.errors import ConfigError

GOOD = """\
name: good
match:
  root_cause: [payments-db]
steps:
  - name: hello
    action: command
    with:
      argv: [echo, "{{ root_cause }}"]
"""


def test_shipped_runbooks_are_valid(runbooks_dir: Path) -> None:
    assert check_runbooks(runbooks_dir, default_registry(plugins=False)) == []
    names = {rb.name for rb in load_runbooks(runbooks_dir, default_registry(plugins=False))}
    assert {"pagerduty", "opsgenie", "slack", "jira", "restart-on-db-latency"} <= names


def test_defaults_are_the_safe_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    [rb] = load_runbooks(tmp_path, default_registry(plugins=False))
    assert rb.dry_run is True
    assert rb.on_failure == "stop"
    assert [c.value for c in rb.match.changes] == ["opened", "reopened"]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        pytest.param(
            GOOD.replace("action: command", "action: shell"),
            6,
            "steps[0].action",
            "unknown action",
            id="unknown-action",
        ),
        pytest.param(
            GOOD.replace('argv: [echo, "{{ root_cause }}"]', "argv: echo"),
            8,
            "steps[0].with.argv",
            "valid list",
            id="action-config-type",
        ),
        pytest.param(
            GOOD.replace("{{ root_cause }}", "{{ root_cause | eval }}"),
            8,
            "steps[0].with.argv[1]",
            "unknown filter 'eval'",
            id="bad-template",
        ),
        pytest.param(
            GOOD.replace(
                "  root_cause: [payments-db]", "  root_cause: [payments-db]\n  colour: red"
            ),
            4,
            "match.colour",
            "Extra inputs are not permitted",
            id="unknown-match-field",
        ),
        pytest.param(
            GOOD + "on_failure: explode\n",
            9,
            "on_failure",
            "'stop', 'continue' or 'rollback'",
            id="bad-enum",
        ),
        pytest.param(
            GOOD.replace("    action: command\n", "    action: command\n    timeout_s: -1\n"),
            7,
            "steps[0].timeout_s",
            "greater than 0",
            id="negative-timeout",
        ),
        pytest.param(
            GOOD.replace("name: good", "name: Good Runbook!"),
            1,
            "name",
            "should match pattern",
            id="bad-name",
        ),
        pytest.param(
            GOOD + "name: again\n",
            9,
            "name",
            "duplicate key",
            id="duplicate-key",
        ),
        pytest.param("name: x\nsteps: [\n", 3, "", "invalid YAML", id="yaml-syntax"),
    ],
)
def test_problems_name_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    [problem] = check_runbooks(tmp_path, default_registry(plugins=False))
    assert (problem.file, problem.line, problem.field) == (path, line, field), str(problem)
    assert message in problem.message
    assert str(problem).startswith(f"{path}:{line}: ")


def test_load_runbooks_raises_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD.replace("action: command", "action: nope"))
    (tmp_path / "b.yaml").write_text("name: b\nsteps: []\n")
    with pytest.raises(ConfigError) as info:
        load_runbooks(tmp_path, default_registry(plugins=False))
    text = str(info.value)
    assert "a.yaml:6: steps[0].action" in text
    assert "b.yaml:2: steps" in text


def test_names_are_unique_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    [problem] = check_runbooks(tmp_path, default_registry(plugins=False))
    assert problem.field == "name"
    assert "also defined in" in problem.message


def _cli(folder: Path) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = io.StringIO()
    code = run(parser.parse_args(["check", str(folder)]), out=out)
    return code, out.getvalue()


def test_cli_check_reports_ok_and_problems(tmp_path: Path, runbooks_dir: Path) -> None:
    code, text = _cli(runbooks_dir)
    assert code == 0, text
    assert "ok" in text
    (tmp_path / "bad.yaml").write_text(GOOD.replace("action: command", "action: nope"))
    code, text = _cli(tmp_path)
    assert code == 1
    assert "bad.yaml:6: steps[0].action: unknown action" in text
