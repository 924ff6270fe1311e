"""The one check every registry (methods, line searches, problems) makes of a new entry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def check_new_entry(kind: str, name: Any, factory: Any, registry: Mapping[str, Any],
                    replace: bool) -> None:
    """``name`` is an identifier, ``factory`` is callable, and ``name`` is new unless
    ``replace``; otherwise one-line ``ValueError``/``TypeError`` naming the ``kind``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{kind} name must be an identifier, got {name!r}")
    if not callable(factory):
        raise TypeError(f"{kind} {name!r}: factory must be callable, got {factory!r}")
    if name in registry and not replace:
        raise ValueError(f"{kind} {name!r} is already registered (pass replace=True)")
