"""Reading a config: YAML file → plain dict, then ``KEY=VALUE`` overrides applied in order.

VALUE is parsed like the file, with ``yaml.safe_load`` (no tags that build objects) under the
budgets of ``_yaml`` (alias expansion, depth, duplicate keys); the value at the dotted KEY is
replaced whole and missing parent mappings are created. The file is read only if it is a
regular file within :data:`optkit._limits.MAX_CONFIG_BYTES` (never ``/dev/zero`` or a FIFO,
also through a symlink).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .. import _limits
from .._text import one_line
from . import _yaml
from ._errors import ConfigError, yaml_one_line
from ._schema import STOP_KEYS


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The YAML mapping in ``path`` (an empty file is an empty mapping)."""
    path = Path(path)
    try:
        text = _limits.read_file(path, _limits.MAX_CONFIG_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file"]) from None
    except _limits.FileRefused as err:
        raise ConfigError([f"{path}: config file {err}"]) from None
    except UnicodeDecodeError as err:
        raise ConfigError([f"{path}: not a UTF-8 text file (byte {err.start})"]) from None
    except OSError as err:
        reason = err.strerror or one_line(err)
        raise ConfigError([f"{path}: cannot read config file ({reason})"]) from None
    try:
        data = _yaml.load(text)
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: invalid YAML: {yaml_one_line(err)}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of config keys at the top level, "
                           f"got {type(data).__name__}"])
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"stop.max_steps=50"`` → (["stop", "max_steps"], 50); VALUE is YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or not key or any(not p for p in parts):
        raise ValueError(f"override {text!r}: expected KEY=VALUE with a dotted KEY, "
                         "e.g. stop.max_steps=50")
    if len(raw) > _limits.MAX_CONFIG_BYTES.value:
        raise ValueError(f"override {key}: VALUE is {len(raw):,} characters, more than the "
                         f"limit ({_limits.MAX_CONFIG_BYTES.knob()})")
    try:
        value = _yaml.load(raw)
    except yaml.YAMLError as err:
        raise ValueError(f"override {key}: VALUE is not valid YAML: {yaml_one_line(err)}") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``KEY=VALUE`` applied in order: the value at KEY is
    replaced whole; missing parent mappings are created. ``solver.max_steps`` (and the other
    stopping keys) address ``stop.max_steps``, where the config keeps them."""
    try:
        data = _deep_copy(data)
    except RecursionError:
        raise ConfigError(["the config is nested too deeply"]) from None
    problems = []
    for text in overrides:
        try:
            parts, value = parse_override(text)
        except ValueError as err:
            problems.append(str(err))
            continue
        if len(parts) == 2 and parts[0] == "solver" and parts[1] in STOP_KEYS:
            parts = ["stop", parts[1]]
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                problems.append(f"override {'.'.join(parts)}: {where} is "
                                f"{type(child).__name__}, not a mapping")
                break
            node = child
        else:
            node[parts[-1]] = value
    if problems:
        raise ConfigError(problems)
    return data


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data
