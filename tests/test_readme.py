"""The README stays true: its API examples are the tested ones, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from correlator.cli import main

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_readme_api_examples_are_the_tested_document() -> None:
    """tests/demo/test_api_examples.py runs docs/api-examples.md; the README holds a copy."""
    doc = (REPO / "docs" / "api-examples.md").read_text()
    body = doc.split("\n", 2)[2]  # without the document's own heading and blank line
    found = re.search(
        r"<!-- api-examples:start[^\n]*-->\n(.*?)<!-- api-examples:end -->", README, re.S
    )
    assert found, "README lost its api-examples markers"
    assert found.group(1) == body, "README's API examples differ from docs/api-examples.md"


def _readme_commands() -> list[list[str]]:
    """``correlator X [Y]`` named in the README's tables, as argv prefixes."""
    commands = set()
    for line in README.splitlines():
        if not line.startswith("|"):
            continue
        for found in re.findall(r"`correlator ([^`]*)`", line):
            words = found.split()[:2]
            argv = [w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)]
            commands.add(tuple(argv))
    return [list(c) for c in sorted(commands)]


@pytest.mark.parametrize("argv", _readme_commands(), ids=" ".join)
def test_every_command_in_the_readme_tables_exists(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    assert "usage: correlator" in capsys.readouterr().out


def test_the_readme_tables_name_the_benchmarks() -> None:
    names = {argv[1] for argv in _readme_commands() if argv[0] == "bench" and len(argv) > 1}
    assert {"nab", "loghub", "petshop", "noise", "throughput", "latency", "memory"} <= names
    assert {"scaleout", "crash"} <= names
