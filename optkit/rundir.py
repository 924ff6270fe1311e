"""Run directories: written atomically, read back with :func:`load_run`.

Layout (DESIGN.md, section Run directory)::

    runs/<UTC timestamp>-<name>/
        config.yaml           the resolved config (every default filled)
        summary.json          versions, device, precision, timings, counts, best, per-start
        trajectories.npz      x [starts, steps+1, n], value, grad_norm [starts, steps+1],
                              num_steps, status [starts], ...
        critical_points.json  where the run classified or enumerated critical points

Every file is written to a temporary name in the same directory and renamed with
``os.replace`` (atomic on POSIX), so no file is ever seen half-written. The directory holds an
``INCOMPLETE`` marker from its creation until its last file is in place: a crash or Ctrl-C
leaves either a complete directory or one that says it is incomplete.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ._text import one_line

#: version of the run-directory format; readers refuse directories with a newer one
FORMAT_VERSION = 1
INCOMPLETE = "INCOMPLETE"
CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
TRAJECTORIES_FILE = "trajectories.npz"
CRITICAL_POINTS_FILE = "critical_points.json"


class RunDirError(ValueError):
    """A path that is not a readable, complete run directory (one-line message naming it)."""


def create_run_dir(parent: str | os.PathLike[str], name: str,
                   now: dt.datetime | None = None) -> Path:
    """Make ``parent/<UTC timestamp>-<name>/`` (suffix ``-2``, ``-3``, ... if taken) holding
    only the ``INCOMPLETE`` marker."""
    now = now or dt.datetime.now(dt.timezone.utc)
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "run"
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        path = parent / (f"{stamp}-{slug}" + (f"-{attempt}" if attempt > 1 else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        (path / INCOMPLETE).write_text("this run directory is being written or was interrupted\n")
        return path
    raise FileExistsError(f"{parent}: cannot find a free name for run {slug!r}")


def atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, flush it to disk and
    rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")


def write_yaml(path: Path, data: Any) -> None:
    write_text(path, yaml.safe_dump(data, sort_keys=False, default_flow_style=None))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    atomic_write(path, lambda f: np.savez(f, **arrays))


def mark_complete(path: Path) -> None:
    """Remove the ``INCOMPLETE`` marker: the directory is final."""
    (Path(path) / INCOMPLETE).unlink(missing_ok=True)


def to_jsonable(value: Any) -> Any:
    """numpy scalars/arrays → Python numbers/lists; non-finite floats → None (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclasses.dataclass(frozen=True)
class RunData:
    """A run directory read back.

    Attributes:
        path: the directory.
        config: the resolved config (``config.yaml``) as a dict.
        summary: ``summary.json`` as a dict.
        trajectories: the arrays of ``trajectories.npz`` (empty for ``optkit critical``).
        critical_points: the points of ``critical_points.json`` (dicts with ``x``, ``value``,
            ``kind``, ``eigenvalues``, ...) or None where the run wrote none.
    """

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    trajectories: dict[str, np.ndarray]
    critical_points: list[dict[str, Any]] | None


def load_run(path: str | os.PathLike[str]) -> RunData:
    """Read the run directory at ``path``.

    Raises:
        RunDirError: the path is missing, not a run directory, marked ``INCOMPLETE``, written
            by a newer optkit (``format_version`` above :data:`FORMAT_VERSION`) or damaged.
    """
    path = Path(path)
    if not path.exists():
        raise RunDirError(f"{path}: no such run directory")
    if not path.is_dir():
        raise RunDirError(f"{path}: not a directory")
    if (path / INCOMPLETE).exists():
        raise RunDirError(f"{path}: run directory is incomplete (the run was interrupted or is "
                          "still being written)")
    summary_path = path / SUMMARY_FILE
    if not summary_path.exists():
        raise RunDirError(f"{path}: not a run directory (no {SUMMARY_FILE})")
    summary = _read_json(summary_path)
    if not isinstance(summary, dict):
        raise RunDirError(f"{summary_path}: expected a JSON object")
    version = summary.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunDirError(f"{summary_path}: missing or invalid format_version")
    if version > FORMAT_VERSION:
        raise RunDirError(f"{path}: run directory format_version {version} is newer than this "
                          f"optkit reads ({FORMAT_VERSION}); upgrade optkit")
    config = _read_yaml(path / CONFIG_FILE)
    trajectories: dict[str, np.ndarray] = {}
    npz_path = path / TRAJECTORIES_FILE
    if npz_path.exists():
        try:
            with np.load(npz_path, allow_pickle=False) as npz:
                trajectories = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as err:
            raise RunDirError(f"{npz_path}: cannot read ({one_line(err)})") from None
    critical_points = None
    cp_path = path / CRITICAL_POINTS_FILE
    if cp_path.exists():
        data = _read_json(cp_path)
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise RunDirError(f"{cp_path}: expected an object with a 'points' list")
        critical_points = data["points"]
    return RunData(path=path, config=config, summary=summary, trajectories=trajectories,
                   critical_points=critical_points)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunDirError(f"{path}: cannot read ({one_line(err)})") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise RunDirError(f"{path}: cannot read ({one_line(err)})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a mapping")
    return data


