"""Config errors: :class:`ConfigError` and the rendering of pydantic's errors as one line per
problem, ``key.path: message``, with a "did you mean" suggestion for unknown keys."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .._text import closest, one_line
from ._schema import PROBLEM_TAGS, RunConfig


class ConfigError(ValueError):
    """A config that cannot be run. ``str(err)`` has one line per problem
    (``key.path: message``); ``err.problems`` holds those lines."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


def yaml_one_line(err: BaseException | str) -> str:
    """A YAML error as ``problem (line L, column C)``; anything else folded onto one line."""
    if isinstance(err, yaml.MarkedYAMLError) and err.problem:
        mark = err.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"{err.problem}{where}"
    return one_line(err)


def _path(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def unknown_key(path: str, valid: Iterable[str], what: str = "unknown key") -> str:
    """``path: what; did you mean 'parent.close'?`` (or the list of valid keys)."""
    parent, _, key = path.rpartition(".")
    valid = sorted(set(valid))
    match = closest(key, valid)
    prefix = f"{parent}." if parent else ""
    if match:
        return f"{path}: {what}; did you mean '{prefix}{match}'?"
    return f"{path}: {what}; valid keys: {', '.join(valid)}"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    """The schema model that holds the keys at ``loc`` (a pydantic location with the tags of
    tagged unions still in it)."""
    model: type[BaseModel] | None = RunConfig
    pending_tags: dict[str, type[BaseModel]] = {}
    for part in loc:
        if pending_tags:
            model, pending_tags = pending_tags.get(str(part)), {}
            continue
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        candidates = _models_in(model.model_fields[part].annotation)
        if len(candidates) == 1:
            model = candidates[0]
        elif part == "problem":
            model, pending_tags = None, PROBLEM_TAGS
        else:
            return None
    return None if pending_tags else model


def _strip_tags(loc: Sequence[Any]) -> list[Any]:
    loc = list(loc)
    if len(loc) > 1 and loc[0] == "problem" and loc[1] in PROBLEM_TAGS:
        del loc[1]
    return loc


#: location parts pydantic adds for the branches of a union (``literal['all']``,
#: ``constrained-int``, ``list[constrained-int]``, ...): not keys the user wrote
_BRANCH = re.compile(r"^(literal|list|dict|tuple|set|union|tagged-union|nullable|function-\w+|"
                     r"constrained-\w+|is-instance|lax-or-strict|json-or-python|chain|default|"
                     r"int|float|str|bool|none|model)(\[.*\])?$")


def _fold_unions(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The errors of each branch of a union at one key (``devices: 'all' | int | list``)
    become one error at that key listing what each branch expected."""
    folded: dict[tuple[Any, ...], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for e in errors:
        branch = [i for i, part in enumerate(e["loc"])
                  if isinstance(part, str) and _BRANCH.match(part)]
        if not branch:
            out.append(e)
            continue
        loc = tuple(e["loc"][:branch[0]])
        inner = [part for part in e["loc"][branch[0]:]
                 if not (isinstance(part, str) and _BRANCH.match(part))]
        message = e["msg"].removeprefix("Value error, ")
        if inner:
            message = f"{message} at {_path(inner)}"
        if loc in folded:
            folded[loc]["msg"] += f"; or {message[:1].lower()}{message[1:]}"
            continue
        folded[loc] = {**e, "loc": loc, "type": "union", "msg": message}
        out.append(folded[loc])
    return out


def format_validation_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in _fold_unions(err.errors(include_url=False)):
        raw_loc, kind, value = e["loc"], e["type"], e.get("input")
        loc = _strip_tags(raw_loc)
        path = _path(loc) or "(top level)"
        if kind == "extra_forbidden":
            model = _model_at(raw_loc[:-1])
            valid = list(model.model_fields) if model is not None else []
            lines.append(unknown_key(path, valid))
        elif kind == "missing":
            lines.append(f"{path}: required key missing")
        elif kind in ("union_tag_not_found", "union_tag_invalid") and loc == ["problem"]:
            lines.append(_problem_shape_error(value))
        elif kind == "model_type" and isinstance(e.get("ctx"), dict):
            lines.append(f"{path}: expected a mapping, got {value!r}")
        else:
            message = e["msg"].removeprefix("Value error, ")
            shown = f" (got {value!r})" if _short_scalar(value) else ""
            lines.append(f"{path}: {message}{shown}")
    return list(dict.fromkeys(lines))


def _problem_shape_error(value: Any) -> str:
    kinds = "'name', 'expression' or 'function'"
    if not isinstance(value, dict):
        return f"problem: expected a mapping with one of {kinds}, got {value!r}"
    present = [k for k in PROBLEM_TAGS if k in value]
    if len(present) > 1:
        return f"problem: give exactly one of {kinds} (got {', '.join(map(repr, present))})"
    for key in value:
        if closest(str(key), PROBLEM_TAGS):
            return unknown_key(f"problem.{key}", list(PROBLEM_TAGS))
    return f"problem: needs one of {kinds}"


def _short_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, types.NoneType)) and len(repr(value)) <= 60

