"""Package attributes that load their module on first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``homes[name]`` and returns its ``name``.

    A package's ``__init__`` sets ``__getattr__ = lazy_attributes(__name__, {...})`` so
    importing one light submodule (its settings) does not pull in the heavy ones.

    >>> getattr_ = lazy_attributes("pkg", {"dumps": "json"})
    >>> getattr_("dumps").__name__
    'dumps'
    >>> getattr_("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute 'loads'
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return __getattr__
