"""Run directories on disk: created with an ``INCOMPLETE`` marker, every file written atomically.

Layout (docs/run-directory.md has every file and npz key)::

    runs/<UTC timestamp>-<name>/
        config.yaml           the resolved config (every default filled)
        summary.json          versions, device, precision, timings, counts, best, per-start
        trajectories.npz      x [starts, steps+1, n], value, grad_norm [starts, steps+1],
                              num_steps, status [starts], ...
        critical_points.json  where the run classified or enumerated critical points
        surface.npz           f sampled over the box (1 and 2 variables), for the figures

Every file is written to a temporary name in the same directory and renamed with
``os.replace`` (atomic on POSIX), so no file is ever seen half-written. The directory holds an
``INCOMPLETE`` marker from its creation until its last file is in place: a crash or Ctrl-C
leaves either a complete directory or one that says it is incomplete.
"""

from __future__ import annotations

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

#: version of the run-directory format; readers refuse directories with a newer one
FORMAT_VERSION = 1
INCOMPLETE = "INCOMPLETE"
CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
TRAJECTORIES_FILE = "trajectories.npz"
CRITICAL_POINTS_FILE = "critical_points.json"
SURFACE_FILE = "surface.npz"


class RunDirError(ValueError):
    """A path that is not a readable, complete run directory (one-line message naming it)."""


def create_run_dir(parent: str | os.PathLike[str], name: str,
                   now: dt.datetime | None = None) -> Path:
    """Make ``parent/<UTC timestamp>-<name>/`` (suffix ``-2``, ``-3``, ... if taken) holding
    only the ``INCOMPLETE`` marker."""
    now = now or dt.datetime.now(dt.timezone.utc)
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    slug = safe_name(name)
    parent = Path(parent)
    if parent.exists() and not parent.is_dir():
        raise RunDirError(f"{parent}: is a file, not a directory for run directories "
                          "(--out or output.dir)")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirError(f"{parent}: cannot create the directory for run directories "
                          f"({err.strerror or err})") from None
    for attempt in range(1, 1000):
        path = parent / (f"{stamp}-{slug}" + (f"-{attempt}" if attempt > 1 else ""))
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            raise RunDirError(f"{path}: cannot create the run directory "
                              f"({err.strerror or err})") from None
        (path / INCOMPLETE).write_text("this run directory is being written or was interrupted\n")
        return path
    raise FileExistsError(f"{parent}: cannot find a free name for run {slug!r}")


#: longest name part of a run directory (file systems allow 255 bytes; the time stamp and
#: suffixes such as ``-critical-2`` need the rest)
MAX_NAME = 100


def safe_name(name: str, limit: int = MAX_NAME) -> str:
    """``name`` as a file-name part: characters other than letters, digits, ``._-`` become
    ``_``; a name longer than ``limit`` is cut and ends in 8 hex digits of its hash, so long
    names that differ only at the end stay distinct."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-") or "run"
    if len(slug) <= limit:
        return slug
    import hashlib

    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug[:limit - 9].rstrip('._-')}-{digest}"


def atomic_write(path: Path, write: Callable[[io.BufferedWriter], None]) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, flush it to disk and
    rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; a run's files follow the umask like any other file
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
