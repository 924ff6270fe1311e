"""Config → problem + solver → one batched, compiled solve → run directory.

``_run`` orchestrates (resolve, pick devices, solve, write), ``_summary`` builds the
summary and critical-point records, ``_report`` shows progress and tables, ``_devices``
picks devices and JAX's compilation cache.
"""

from .._devices import available_platforms, compilation_cache, select_devices
from ._report import render_points, render_summary, show
from ._run import MAX_TRAJECTORY_BYTES, RunError, RunInterrupted, resume, run, run_critical
from ._summary import MERGE_FRACTION, PER_START_LIMIT

__all__ = [
    "MAX_TRAJECTORY_BYTES", "MERGE_FRACTION", "PER_START_LIMIT", "RunError", "RunInterrupted",
    "resume",
    "available_platforms", "compilation_cache", "render_points", "render_summary", "run",
    "run_critical", "select_devices", "show",
]
