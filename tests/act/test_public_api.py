"""The act package's public API is what ``__all__`` says."""

from __future__ import annotations

import correlator.act as act
import correlator.act.actions as actions


def test_all_names_exist_and_are_sorted() -> None:
    for module in (act, actions):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_entry_points_for_the_other_stages() -> None:
    for name in (
        "ActSettings",
        "Approvals",
        "AuditLog",
        "check_runbooks",
        "load_runbooks",
        "run_worker",
        "set_kill_switch",
    ):
        assert name in act.__all__
