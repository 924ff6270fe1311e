"""Config → problem + solver → one batched, compiled solve → run directory.

``run`` solves every start of a config as one batched, compiled solve (vmap over the starts,
sharded over the local devices where there are several). Its programs are lowered and compiled
ahead of time, so the summary reports compile and solve seconds separately, and JAX's
persistent compilation cache makes a repeated run skip compilation.

Progress is a bar over the steps: the compiled loop runs in about ``PROGRESS_CHUNKS`` chunks of
steps and reports between them. Each chunk resumes the loop from its whole carry (solver
state, counters, trajectory buffers; ``optkit.solvers.BatchSolve``), so the result is
bit for bit that of ``minimize_batch`` run in one piece.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console

from .. import storage
from .._devices import compilation_cache, select_devices
from ..config import (
    ConfigError,
    FunctionProblem,
    NamedProblem,
    Resolved,
    RunConfig,
    resolve,
    resolve_file,
)
from ..problems._registry import BUILT_IN
from ..solvers import BatchSolve
from ._distributed import gather, is_lead, local_block
from ._report import RunProgress, progress_display, render_points, render_summary
from ._summary import (
    distinct_critical_points,
    header,
    kind_counts,
    mark_known,
    point_dict,
    points_file,
    run_summary,
)

#: a recorded trajectory larger than this is refused before anything is compiled
MAX_TRAJECTORY_BYTES = 4 * 2**30
#: figures draw f for problems of at most this many variables
SURFACE_MAX_DIM = 2


class RunError(RuntimeError):
    """The solve itself failed (not the config); the CLI exits with status 1."""


def run(
    config: str | os.PathLike[str] | RunConfig | dict[str, Any],
    overrides: Iterable[str] = (),
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool = True,
) -> Path | None:
    """Run a config and write its run directory; return the directory's path.

    Under JAX's multi-controller runtime (``jax.process_count() > 1``) every process solves
    its block of the starts; process 0 writes the directory and returns its path, the others
    return None.

    Args:
        config: a YAML file, a dict with the same content, or a :class:`RunConfig`.
        overrides: ``"KEY=VALUE"`` strings (VALUE is YAML), e.g. ``"stop.max_steps=50"``.
        out: parent directory of the run directory (replaces ``output.dir``).
        quiet: print nothing (the command line then prints only the path).
        progress: show the phase, a bar over the steps and the elapsed time on a terminal.

    Raises:
        ConfigError: the config, its overrides or its device request are invalid.
        RunError: the solve failed; the run directory is left marked ``INCOMPLETE``.
    """
    started = time.perf_counter()
    resolved = _resolve(config, overrides, out)
    cfg = resolved.config
    devices = select_devices(cfg.device, cfg.devices)
    dtype = _dtype(cfg.precision)
    _check_trajectory_size(resolved, dtype)
    _check_device_memory(resolved, devices, dtype)
    console = Console()

    lead = is_lead()
    with _run_directory(cfg, cfg.name or "run", "run", lead) as path:
        with compilation_cache() as cache_dir, \
                progress_display(console, enabled=progress and not quiet and lead) as status:
            outcome = _solve(resolved, devices, dtype, status)
        if path is None:  # another process writes the run directory
            return None
        arrays = storage.trajectory_arrays(outcome["result"], outcome["x0s"], outcome["value0"],
                                           outcome["grad_norm0"], cfg.record.trajectory)
        points = distinct_critical_points(arrays, resolved) if "kind" in arrays else None
        summary = run_summary(resolved, arrays, outcome, devices, points)
        summary["timings"]["total_seconds"] = time.perf_counter() - started
        summary["compilation_cache"] = None if cache_dir is None else str(cache_dir)
        storage.write_npz(path / storage.TRAJECTORIES_FILE, arrays)
        if points is not None:
            _add_eigenvectors(points, resolved, dtype)
            storage.write_json(path / storage.CRITICAL_POINTS_FILE,
                               points_file(resolved, points, "run"))
        _write_surface(path, resolved, taylor_at=resolved.starts[0])
        storage.write_json(path / storage.SUMMARY_FILE, summary)
    if not quiet:
        console.print(render_summary(storage.to_jsonable(summary), path))
    return path


@contextmanager
def _run_directory(cfg: RunConfig, name: str, what: str, lead: bool = True
                   ) -> Iterator[Path | None]:
    """A new run directory holding the resolved config; marked complete when the block
    finishes, left marked incomplete (and reported as a RunError) when it fails. Only the
    lead process of a distributed run makes one (the others get None)."""
    if not lead:
        yield None
        return
    path = storage.create_run_dir(cfg.output.dir, name)
    storage.write_yaml(path / storage.CONFIG_FILE, cfg.to_data())
    try:
        yield path
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        if "RESOURCE_EXHAUSTED" in reason:  # XLA's out-of-memory, whatever the device
            reason = ("the batch does not fit in device memory; use fewer starts, more "
                      "devices, record.trajectory=false or a lower stop.max_steps")
        raise RunError(f"{what} failed: {reason} (incomplete run directory: {path})") from err
    storage.mark_complete(path)


def run_critical(
    config: str | os.PathLike[str] | RunConfig | dict[str, Any],
    overrides: Iterable[str] = (),
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool = True,
) -> Path | None:
    """The critical-point atlas of a config's problem (``optkit critical``): every critical
    point that ``find_critical_points`` finds in ``analysis.box`` (default: the problem's
    box), written as ``critical_points.json`` into a new run directory."""
    from ..analysis import find_critical_points

    started = time.perf_counter()
    resolved = _resolve(config, overrides, out)
    if not is_lead():  # a distributed job searches on process 0 alone
        return None
    cfg = resolved.config
    devices = select_devices(cfg.device, cfg.devices)
    dtype = _dtype(cfg.precision)
    console = Console()
    box = cfg.analysis.box
    assert box is not None
    lower, upper = (jnp.asarray(b, dtype) for b in (box.lower, box.upper))

    with _run_directory(cfg, f"{cfg.name}-critical", "critical-point search") as path:
        with compilation_cache() as cache_dir, \
                progress_display(console, enabled=progress and not quiet) as status, \
                jax.default_device(devices[0]):
            status(f"searching {cfg.analysis.num_starts} starts for critical points")
            t0 = time.perf_counter()
            found = find_critical_points(_typed(resolved.flat_fun, dtype), lower, upper,
                                         num_starts=cfg.analysis.num_starts,
                                         seed=cfg.analysis.seed, devices=devices)
            seconds = time.perf_counter() - t0
        points = [point_dict(cp) for cp in found]
        mark_known(points, resolved)
        _add_eigenvectors(points, resolved, dtype)
        summary = {
            **header(resolved, devices, "critical"),
            "timings": {"search_seconds": seconds,
                        "total_seconds": time.perf_counter() - started},
            "compilation_cache": None if cache_dir is None else str(cache_dir),
            "box": {"lower": box.lower, "upper": box.upper},
            "num_starts": cfg.analysis.num_starts,
            "num_points": len(points),
            "kind_counts": kind_counts([p["kind"] for p in points]),
        }
        storage.write_json(path / storage.CRITICAL_POINTS_FILE,
                           points_file(resolved, points, "find_critical_points"))
        _write_surface(path, resolved, taylor_at=None)
        storage.write_json(path / storage.SUMMARY_FILE, summary)
    if not quiet:
        console.print(render_summary(storage.to_jsonable(summary), path))
        console.print(render_points(storage.to_jsonable(points)))
    return path


# ------------------------------------------------------------------------------ solving


def _resolve(config: Any, overrides: Iterable[str], out: Any) -> Resolved:
    out = None if out is None else str(out)
    if isinstance(config, (RunConfig, dict)):
        return resolve(config, overrides, out)
    return resolve_file(config, overrides, out)


def _dtype(precision: str) -> np.dtype:
    """The run's dtype; float64 needs JAX's 64-bit mode, switched on here (before the run
    creates any array) where ``OPTKIT_ENABLE_X64=0`` left it off."""
    if precision == "float64" and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return np.dtype(precision)


def _check_trajectory_size(resolved: Resolved, dtype: np.dtype) -> None:
    """Refuse a recorded trajectory that would not fit in memory: starts × (max_steps + 1)
    rows of x plus value, grad_norm, step size and up to three solver extras."""
    cfg = resolved.config
    if not cfg.record.trajectory:
        return
    starts, dim = resolved.starts.shape
    assert cfg.stop.max_steps is not None
    size = starts * (cfg.stop.max_steps + 1) * (dim + 6) * dtype.itemsize
    if size > MAX_TRAJECTORY_BYTES:
        raise ConfigError([
            f"record.trajectory: {starts} starts x {cfg.stop.max_steps + 1} steps would record "
            f"{size / 2**30:.1f} GiB (limit {MAX_TRAJECTORY_BYTES / 2**30:.0f} GiB); set "
            "record.trajectory=false or lower stop.max_steps"])


#: the carry may take at most this fraction of a device's memory (the step's temporaries, the
#: compiled program and the gathered result need the rest)
MEMORY_FRACTION = 0.4


def device_memory(device: jax.Device) -> int | None:
    """Bytes of memory a device can give a program: the accelerator's limit, or the host's
    physical memory for a CPU device (None where neither is known)."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_device_memory(resolved: Resolved, devices: list[jax.Device], dtype: np.dtype) -> None:
    """Refuse, before compiling, a batch whose carry (every start's solver state, counters
    and trajectory buffers, split over the devices) would not fit in device memory."""
    cfg = resolved.config
    stop = cfg.stop
    probe = BatchSolve(_typed(resolved.flat_fun, dtype), np.asarray(resolved.starts[:1], dtype),
                       cfg.solver.method, devices=devices[:1], grad_tol=stop.grad_tol,
                       max_steps=stop.max_steps, record=cfg.record.trajectory,
                       **cfg.solver.options)
    starts = len(resolved.starts)
    per_device = probe.carry_bytes() * -(-starts // (len(devices) * jax.process_count()))
    limit = device_memory(devices[0])
    if limit is not None and per_device > MEMORY_FRACTION * limit:
        raise ConfigError([
            f"start: {starts} starts need about {per_device / 2**30:.2f} GiB of "
            f"{devices[0].platform} memory per device for the solve's state, more than "
            f"{MEMORY_FRACTION:.0%} of the {limit / 2**30:.1f} GiB a device has; use fewer "
            "starts, more devices (devices: all), record.trajectory=false or a lower "
            "stop.max_steps"])


def _typed(fun: Any, dtype: np.dtype) -> Any:
    """f with its value in the run's precision (constants inside f may be float64)."""
    def typed(x: jax.Array) -> jax.Array:
        return jnp.asarray(fun(x)).astype(dtype)

    return typed


#: the solve is run in about this many chunks of steps, with progress reported in between
PROGRESS_CHUNKS = 20


def _solve(resolved: Resolved, devices: list[jax.Device], dtype: np.dtype,
           status: RunProgress) -> dict[str, Any]:
    cfg = resolved.config
    fun = _typed(resolved.flat_fun, dtype)
    all_starts = np.asarray(resolved.starts, dtype)
    x0s = local_block(all_starts) if jax.process_count() > 1 else all_starts
    stop, record = cfg.stop, cfg.record.trajectory
    keywords = dict(grad_tol=stop.grad_tol, x_tol=stop.x_tol, f_tol=stop.f_tol,
                    max_steps=stop.max_steps, record=record, classify=cfg.analysis.classify,
                    **cfg.solver.options)

    with jax.default_device(devices[0]):
        status(f"compiling the solve of {len(x0s)} start(s)")
        t0 = time.perf_counter()
        solve = BatchSolve(fun, x0s, cfg.solver.method, devices=devices, **keywords)
        compile_seconds = solve.compile()
        t1 = time.perf_counter()
        status(f"solving {len(x0s)} start(s) with {cfg.solver.method}")
        chunk = max(1, -(-stop.max_steps // PROGRESS_CHUNKS))
        result = solve.run(chunk, lambda done, running: status.steps(done, stop.max_steps,
                                                                      running))
        result = jax.block_until_ready(result)
        t2 = time.perf_counter()
        value0, grad0 = jax.vmap(jax.value_and_grad(fun))(jnp.asarray(x0s))
    result, value0, grad0 = jax.device_get((result, value0, grad0))
    if jax.process_count() > 1:
        result, value0, grad0 = gather((result, value0, grad0), len(all_starts))
    return {"result": result, "x0s": all_starts, "value0": value0,
            "grad_norm0": np.linalg.norm(grad0, axis=-1),
            "trace_seconds": (t1 - t0) - compile_seconds, "compile_seconds": compile_seconds,
            "solve_seconds": t2 - t1}


def _add_eigenvectors(points: list[dict[str, Any]], resolved: Resolved, dtype: np.dtype) -> None:
    """For 1 and 2 variables, each point's Hessian eigenvectors (columns, eigenvalues
    ascending): the atlas draws them without evaluating f again."""
    if not points or resolved.problem.dim > SURFACE_MAX_DIM:
        return
    xs = jnp.asarray(np.stack([np.ravel(p["x"]) for p in points]), dtype)
    hess = jax.jit(jax.vmap(jax.hessian(_typed(resolved.flat_fun, dtype))))(xs)
    _, vectors = np.linalg.eigh(0.5 * (np.asarray(hess) + np.swapaxes(np.asarray(hess), 1, 2)))
    for point, vec in zip(points, vectors, strict=True):
        point["eigenvectors"] = vec


def _write_surface(path: Path, resolved: Resolved, taylor_at: np.ndarray | None) -> None:
    """surface.npz for a problem of 1 or 2 variables that is user code (``problem.function``,
    or a problem registered by a module in ``imports``): what the figures need from f,
    sampled now, so that plotting never imports the user's code. Built-in problems and
    expressions are rebuilt safely at plotting time instead."""
    cfg = resolved.config
    user_code = isinstance(cfg.problem, FunctionProblem) or (
        isinstance(cfg.problem, NamedProblem) and cfg.problem.name not in BUILT_IN)
    if not user_code or resolved.problem.dim > SURFACE_MAX_DIM:
        return
    box = resolved.config.analysis.box
    assert box is not None
    arrays = storage.surface_arrays(_typed(resolved.flat_fun, np.dtype("float64")),
                                    np.asarray(box.lower), np.asarray(box.upper),
                                    taylor_at if resolved.problem.dim == 2 else None)
    storage.write_npz(path / storage.SURFACE_FILE, arrays)
