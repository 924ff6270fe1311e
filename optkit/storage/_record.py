"""Reading a run directory back as a typed :class:`RunRecord`.

Reading never imports or executes anything found in the directory: ``config.yaml`` is read
with ``yaml.safe_load`` and validated against the schema only (no resolution: no problem is
built, no user module imported), the arrays with ``numpy.load(allow_pickle=False)``. Every file
must be a regular file (a symlink to ``/dev/zero`` or a FIFO is refused before it is read) no
larger than its limit in :mod:`optkit._limits` (``OPTKIT_MAX_RUN_FILE_BYTES`` for JSON and
YAML, ``OPTKIT_MAX_NPZ_BYTES`` for npz); a document nested too deeply is a ``RunDirError``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from .. import _limits
from .._text import one_line
from ._files import (
    CONFIG_FILE,
    CRITICAL_POINTS_FILE,
    FORMAT_VERSION,
    INCOMPLETE,
    SUMMARY_FILE,
    SURFACE_FILE,
    TRAJECTORIES_FILE,
    RunDirError,
)


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A run directory read back.

    Attributes:
        path: the directory.
        config: the resolved config (``config.yaml``) as a dict.
        summary: ``summary.json`` as a dict.
        trajectories: the arrays of ``trajectories.npz`` (empty for ``optkit critical``).
        critical_points: the points of ``critical_points.json`` (dicts with ``x``, ``value``,
            ``kind``, ``eigenvalues``, ...) or None where the run wrote none.
        surface: the arrays of ``surface.npz`` (f sampled over the box) or None.
    """

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    trajectories: dict[str, np.ndarray]
    critical_points: list[dict[str, Any]] | None
    surface: dict[str, np.ndarray] | None = None

    @functools.cached_property
    def run_config(self) -> Any:
        """``config`` validated against the schema: an ``optkit.config.RunConfig`` (nothing
        resolved, nothing imported). ``RunDirError`` if config.yaml is not a valid config."""
        from ..config import RunConfig
        from ..config._errors import format_validation_errors

        try:
            return RunConfig.model_validate(self.config)
        except ValidationError as err:
            line = format_validation_errors(err)[0]
            raise RunDirError(f"{self.path / CONFIG_FILE}: not a valid run config "
                              f"({line})") from None

    @property
    def command(self) -> str:
        """"run" or "critical": which command wrote the directory."""
        return str(self.summary.get("command", "run"))

    @property
    def dim(self) -> int:
        """The number of scalar parameters of the run's problem."""
        if "x" in self.trajectories:
            return int(self.trajectories["x"].shape[-1])
        if self.critical_points:
            return len(self.critical_points[0]["x"])
        return int((self.summary.get("problem") or {}).get("dim", 0))

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """The resolved ``analysis.box`` (lower, upper), each of ``dim`` floats."""
        box = self.run_config.analysis.box
        if box is None:
            raise RunDirError(f"{self.path / CONFIG_FILE}: has no analysis.box")
        dim = self.dim
        return tuple(np.broadcast_to(np.asarray(b, dtype=float), (dim,)).copy()
                     for b in (box.lower, box.upper))  # type: ignore[return-value]


#: the old name of RunRecord
RunData = RunRecord


def load_run(path: str | os.PathLike[str]) -> RunRecord:
    """Read the run directory at ``path`` (never importing or running anything in it).

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
    trajectories = _read_npz(path / TRAJECTORIES_FILE) or {}
    critical_points = None
    cp_path = path / CRITICAL_POINTS_FILE
    if cp_path.exists():
        data = _read_json(cp_path)
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise RunDirError(f"{cp_path}: expected an object with a 'points' list")
        critical_points = data["points"]
    return RunRecord(path=path, config=config, summary=summary,
                     trajectories=trajectories, critical_points=critical_points,
                     surface=_read_npz(path / SURFACE_FILE))


def _read_npz(path: Path) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    try:
        _limits.check_regular(path, _limits.MAX_NPZ_BYTES)
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except _limits.FileRefused as err:
        raise RunDirError(f"{path}: {err}") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise RunDirError(f"{path}: cannot read ({_reason(err)})") from None


def _read_text(path: Path) -> str:
    """The text of a run-directory file: a regular file within OPTKIT_MAX_RUN_FILE_BYTES
    (never a device or FIFO, also through a symlink), decoded as UTF-8."""
    try:
        return _limits.read_file(path, _limits.MAX_RUN_FILE_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing") from None
    except _limits.FileRefused as err:
        raise RunDirError(f"{path}: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path}: cannot read ({_reason(err)})") from None


def _reason(err: BaseException) -> str:
    """An OSError's reason without its class name or errno (``Permission denied``)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text (byte {err.start})"
    return one_line(err)


def _read_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RunDirError(f"{path}: not valid JSON ({err.msg}, line {err.lineno}, column "
                          f"{err.colno})") from None
    except RecursionError:
        raise RunDirError(f"{path}: nested too deeply to be a run-directory file") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    from ..config import _yaml
    from ..config._errors import yaml_one_line

    text = _read_text(path)
    try:
        data = _yaml.load(text)
    except yaml.YAMLError as err:
        raise RunDirError(f"{path}: not valid YAML ({yaml_one_line(err)})") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: expected a mapping")
    return data
