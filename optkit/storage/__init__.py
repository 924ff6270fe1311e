"""Run directories: created with an ``INCOMPLETE`` marker, written atomically, read back as a
typed :class:`RunRecord` without importing anything found in them.

docs/run-directory.md describes every file and every npz key.
"""

from ._arrays import surface_arrays, trajectory_arrays
from ._checkpoint import (
    CHECKPOINT_FILE,
    CheckpointError,
    config_hash,
    read_checkpoint,
    verify_layout,
    write_checkpoint,
)
from ._files import (
    CONFIG_FILE,
    CRITICAL_POINTS_FILE,
    FORMAT_VERSION,
    INCOMPLETE,
    SUMMARY_FILE,
    SURFACE_FILE,
    TRAJECTORIES_FILE,
    RunDirError,
    atomic_write,
    create_run_dir,
    mark_complete,
    to_jsonable,
    write_json,
    write_npz,
    write_text,
    write_yaml,
)
from ._record import RunData, RunRecord, load_run

__all__ = [
    "CHECKPOINT_FILE", "CheckpointError", "config_hash", "read_checkpoint", "verify_layout",
    "write_checkpoint",
    "CONFIG_FILE", "CRITICAL_POINTS_FILE", "FORMAT_VERSION", "INCOMPLETE", "SUMMARY_FILE",
    "SURFACE_FILE", "TRAJECTORIES_FILE", "RunData", "RunDirError", "RunRecord", "atomic_write",
    "create_run_dir", "load_run", "mark_complete", "surface_arrays", "to_jsonable",
    "trajectory_arrays", "write_json", "write_npz", "write_text", "write_yaml",
]
