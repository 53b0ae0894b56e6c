"""The public API is what __all__ says, and every name in it exists."""

from __future__ import annotations

import correlator


def test_every_exported_name_exists() -> None:
    missing = [name for name in correlator.__all__ if not hasattr(correlator, name)]
    assert missing == []


def test_no_private_or_duplicate_exports() -> None:
    assert len(set(correlator.__all__)) == len(correlator.__all__)
    assert not [n for n in correlator.__all__ if n.startswith("_")]
