"""checkpoint.npz: the whole carry of an unfinished solve, for ``optkit resume``.

A checkpoint holds the leaves of the driver's loop carry (solver state, counters, status,
trajectory buffers; ``optkit.solvers.BatchSolve``) as host arrays, in the order of
``jax.tree_util.tree_leaves``, plus:

* ``steps``: the step count the solve had reached (the next chunk resumes from there);
* ``config_hash``: SHA-256 of the run's resolved config (``output`` excluded), so a
  checkpoint is never resumed under a config.yaml that was edited after it was written;
* ``jax_version`` / ``optkit_version``: bit-for-bit resumption needs the same compiler;
* ``checksum``: SHA-256 over every leaf's dtype, shape and bytes, in order.

It is written atomically (``_files.atomic_write``), read with ``allow_pickle=False`` and
verified before use (:func:`read_checkpoint`): every mismatch is a one-line
:class:`CheckpointError`. A checkpoint with ``steps = -1`` and no leaves records a run that
was interrupted before its solve began: resuming it starts the solve from the beginning.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._text import one_line
from ._files import RunDirError, atomic_write

CHECKPOINT_FILE = "checkpoint.npz"
#: ``steps`` of a checkpoint written before the solve began (no carry yet)
NOT_STARTED = -1
_META = ("steps", "config_hash", "checksum", "jax_version", "optkit_version", "num_leaves")


class CheckpointError(RunDirError):
    """A checkpoint that is missing, damaged or does not belong to the run (one line)."""


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the resolved config as canonical JSON, without ``output`` (where runs go and
    how often they checkpoint do not change the solve)."""
    data = {k: v for k, v in config.items() if k != "output"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def leaves_checksum(leaves: Sequence[np.ndarray]) -> str:
    """SHA-256 over each leaf's dtype, shape and bytes (C order), in order."""
    digest = hashlib.sha256()
    for leaf in leaves:
        leaf = np.ascontiguousarray(leaf)
        digest.update(f"{leaf.dtype.str}{leaf.shape};".encode())
        digest.update(leaf.tobytes())
    return digest.hexdigest()


def _versions() -> tuple[str, str]:
    import jax

    from .. import __version__

    return jax.__version__, __version__


def write_checkpoint(path: Path, leaves: Sequence[Any], steps: int, cfg_hash: str) -> None:
    """Write ``leaves`` (host arrays) reached at ``steps`` atomically to ``path``."""
    host = [np.asarray(leaf) for leaf in leaves]
    jax_version, optkit_version = _versions()
    arrays = {f"leaf_{i}": leaf for i, leaf in enumerate(host)}
    arrays.update(steps=np.asarray(steps, np.int64), config_hash=np.asarray(cfg_hash),
                  checksum=np.asarray(leaves_checksum(host)),
                  jax_version=np.asarray(jax_version), optkit_version=np.asarray(optkit_version),
                  num_leaves=np.asarray(len(host), np.int64))
    atomic_write(Path(path), lambda f: np.savez(f, **arrays))


def read_checkpoint(path: Path, cfg_hash: str,
                    expected: Sequence[tuple[tuple[int, ...], Any]] | None = None
                    ) -> tuple[list[np.ndarray], int]:
    """The verified ``(leaves, steps)`` of the checkpoint at ``path``.

    Args:
        path: the checkpoint file.
        cfg_hash: :func:`config_hash` of the config the run will be resumed with.
        expected: ``(shape, dtype)`` of every leaf of the carry the compiled solve takes
            (checked unless the checkpoint was written before the solve began).

    Raises:
        CheckpointError: missing or unreadable file, a config, version, leaf count, shape,
            dtype or checksum that does not match.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint (the run cannot be resumed; start it "
                              "again with optkit run)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{path}: damaged checkpoint ({one_line(err)})") from None
    missing = [k for k in _META if k not in data]
    if missing:
        raise CheckpointError(f"{path}: damaged checkpoint (missing {', '.join(missing)})")
    try:
        steps, count = int(data["steps"]), int(data["num_leaves"])
        saved_hash, checksum = str(data["config_hash"]), str(data["checksum"])
        saved_versions = (str(data["jax_version"]), str(data["optkit_version"]))
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: damaged checkpoint (bad metadata)") from None
    if saved_hash != cfg_hash:
        raise CheckpointError(f"{path}: the checkpoint belongs to another config (config.yaml "
                              "was changed after the run was interrupted)")
    if saved_versions != _versions():
        raise CheckpointError(
            f"{path}: written by jax {saved_versions[0]} / optkit {saved_versions[1]}, this is "
            f"jax {_versions()[0]} / optkit {_versions()[1]}; a resumed solve would not be bit "
            "for bit the same: start it again with optkit run")
    leaves = [data.get(f"leaf_{i}") for i in range(count)]
    if any(leaf is None for leaf in leaves) or len(data) != len(_META) + count:
        raise CheckpointError(f"{path}: damaged checkpoint (expected {count} arrays)")
    if leaves_checksum(leaves) != checksum:  # type: ignore[arg-type]
        raise CheckpointError(f"{path}: damaged checkpoint (checksum mismatch)")
    if steps == NOT_STARTED:
        if count:
            raise CheckpointError(f"{path}: damaged checkpoint (arrays before the solve began)")
        return [], steps
    if steps < 0:
        raise CheckpointError(f"{path}: damaged checkpoint (steps {steps})")
    if expected is not None:
        verify_layout(path, leaves, expected)  # type: ignore[arg-type]
    return leaves, steps  # type: ignore[return-value]


def verify_layout(path: Path, leaves: Sequence[np.ndarray],
                  expected: Sequence[tuple[tuple[int, ...], Any]]) -> None:
    """Raise :class:`CheckpointError` unless ``leaves`` have the ``(shape, dtype)`` of
    ``expected`` (the carry of the compiled solve), one by one."""
    if len(expected) != len(leaves):
        raise CheckpointError(f"{path}: the checkpoint has {len(leaves)} arrays, the solve's "
                              f"state {len(expected)}")
    for i, (leaf, (shape, dtype)) in enumerate(zip(leaves, expected, strict=True)):
        if tuple(leaf.shape) != tuple(shape) or leaf.dtype != np.dtype(dtype):
            raise CheckpointError(
                f"{path}: array {i} is {leaf.dtype}{list(leaf.shape)}, the solve's state "
                f"needs {np.dtype(dtype)}{list(shape)}")
