"""One-line messages: the "did you mean" suggestion and exceptions folded onto one line.

Every error optkit shows a user is one line naming the problem; these two helpers are the only
places that shape such lines, so the wording is the same from the library, the config and the
command line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def suggestion(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'close'?)`` for the closest of ``choices`` to ``word``, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def closest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest of ``choices`` to ``word``, or None if none is close enough."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=cutoff)
    return close[0] if close else None


def one_line(err: BaseException | str, with_type: bool = False) -> str:
    """``err``'s message with its whitespace folded onto one line (its type name where the
    message is empty; prefixed by it with ``with_type``)."""
    text = " ".join(str(err).split())
    if isinstance(err, BaseException) and (with_type or not text):
        name = type(err).__name__
        return f"{name}: {text}" if text else name
    return text
