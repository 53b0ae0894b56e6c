"""``correlator runbooks ...``: check runbook files, and show what a runbook would do.

The main CLI wires these in::

    runbooks = sub.add_parser("runbooks", help="check runbook files")
    act_cli.add_arguments(runbooks)
    ...
    return act_cli.run(args)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from correlator.act.actions.plugins import default_registry
from correlator.act.loader import check_runbooks

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``check DIR`` sub-command to ``parser``."""
    sub = parser.add_subparsers(dest="runbooks_command", required=True)
    check = sub.add_parser("check", help="validate every runbook file in a folder")
    check.add_argument("dir", type=Path, nargs="?", default=Path("runbooks"))


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the chosen sub-command; 0 when the runbooks are valid, 1 when not."""
    out = out or sys.stdout
    if args.runbooks_command != "check":
        print(f"unknown runbooks command {args.runbooks_command!r}", file=out)
        return 2
    folder: Path = args.dir
    problems = check_runbooks(folder, default_registry())
    for problem in problems:
        print(problem, file=out)
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    if problems:
        print(f"{len(problems)} problem(s) in {folder}", file=out)
        return 1
    print(f"{len(files)} runbook(s) in {folder}: ok", file=out)
    return 0
