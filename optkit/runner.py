"""Config → problem + solver → one batched, compiled solve → run directory.

``run`` solves every start of a config as one batched, compiled solve (vmap over the starts,
sharded over the local devices where there are several). Its programs are lowered and compiled
ahead of time, so the summary reports compile and solve seconds separately, and JAX's
persistent compilation cache makes a repeated run skip compilation.

Progress is a bar over the steps: the compiled loop runs in about ``PROGRESS_CHUNKS`` chunks of
steps and reports between them. Each chunk resumes the loop from its whole carry (solver
state, counters, trajectory buffers; ``optkit.solvers._api.BatchSolve``), so the result is
bit for bit that of ``minimize_batch`` run in one piece.
"""

from __future__ import annotations

import os
import platform as _platform
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from . import rundir
from ._devices import compilation_cache, select_devices
from .analysis.classify import KIND_LABELS
from .config import ConfigError, Resolved, RunConfig, resolve, resolve_file
from .solvers import Status
from .solvers._api import BatchSolve

#: per-start results are stored in summary.json for batches up to this size
PER_START_LIMIT = 100
#: end points closer than this fraction of the box diagonal count as one critical point
MERGE_FRACTION = 1e-3
#: a recorded trajectory larger than this is refused before anything is compiled
MAX_TRAJECTORY_BYTES = 4 * 2**30


class RunError(RuntimeError):
    """The solve itself failed (not the config); the CLI exits with status 1."""


def run(
    config: str | os.PathLike[str] | RunConfig | dict[str, Any],
    overrides: Iterable[str] = (),
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool = True,
) -> Path:
    """Run a config and write its run directory; return the directory's path.

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
    devices = select_devices(cfg.device)
    dtype = _dtype(cfg.precision)
    _check_trajectory_size(resolved, dtype)
    console = Console()

    with _run_directory(cfg, cfg.name or "run", "run") as path:
        with compilation_cache() as cache_dir, \
                _spinner(console, enabled=progress and not quiet) as status:
            outcome = _solve(resolved, devices, dtype, status)
        arrays = _arrays(outcome, record=cfg.record.trajectory)
        points = _distinct_critical_points(arrays, resolved) if "kind" in arrays else None
        summary = _summary(resolved, arrays, outcome, devices, points)
        summary["timings"]["total_seconds"] = time.perf_counter() - started
        summary["compilation_cache"] = None if cache_dir is None else str(cache_dir)
        rundir.write_npz(path / rundir.TRAJECTORIES_FILE, arrays)
        if points is not None:
            rundir.write_json(path / rundir.CRITICAL_POINTS_FILE,
                              _points_file(resolved, points, "run"))
        rundir.write_json(path / rundir.SUMMARY_FILE, summary)
    if not quiet:
        console.print(render_summary(rundir.to_jsonable(summary), path))
    return path


@contextmanager
def _run_directory(cfg: RunConfig, name: str, what: str) -> Iterator[Path]:
    """A new run directory holding the resolved config; marked complete when the block
    finishes, left marked incomplete (and reported as a RunError) when it fails."""
    path = rundir.create_run_dir(cfg.output.dir, name)
    rundir.write_yaml(path / rundir.CONFIG_FILE, cfg.to_data())
    try:
        yield path
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise RunError(f"{what} failed: {reason} (incomplete run directory: {path})") from err
    rundir.mark_complete(path)


def run_critical(
    config: str | os.PathLike[str] | RunConfig | dict[str, Any],
    overrides: Iterable[str] = (),
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool = True,
) -> Path:
    """The critical-point atlas of a config's problem (``optkit critical``): every critical
    point that ``find_critical_points`` finds in ``analysis.box`` (default: the problem's
    box), written as ``critical_points.json`` into a new run directory."""
    from .analysis.critical_points import find_critical_points

    started = time.perf_counter()
    resolved = _resolve(config, overrides, out)
    cfg = resolved.config
    devices = select_devices(cfg.device)
    dtype = _dtype(cfg.precision)
    console = Console()
    box = cfg.analysis.box
    assert box is not None
    lower, upper = (jnp.asarray(b, dtype) for b in (box.lower, box.upper))

    with _run_directory(cfg, f"{cfg.name}-critical", "critical-point search") as path:
        with compilation_cache() as cache_dir, \
                _spinner(console, enabled=progress and not quiet) as status, \
                jax.default_device(devices[0]):
            status(f"searching {cfg.analysis.num_starts} starts for critical points")
            t0 = time.perf_counter()
            found = find_critical_points(_typed(resolved.flat_fun, dtype), lower, upper,
                                         num_starts=cfg.analysis.num_starts,
                                         seed=cfg.analysis.seed)
            seconds = time.perf_counter() - t0
        points = [_point_dict(cp) for cp in found]
        _mark_known(points, resolved)
        summary = {
            **_header(resolved, devices, "critical"),
            "timings": {"search_seconds": seconds,
                        "total_seconds": time.perf_counter() - started},
            "compilation_cache": None if cache_dir is None else str(cache_dir),
            "box": {"lower": box.lower, "upper": box.upper},
            "num_starts": cfg.analysis.num_starts,
            "num_points": len(points),
            "kind_counts": _kind_counts([p["kind"] for p in points]),
        }
        rundir.write_json(path / rundir.CRITICAL_POINTS_FILE,
                          _points_file(resolved, points, "find_critical_points"))
        rundir.write_json(path / rundir.SUMMARY_FILE, summary)
    if not quiet:
        console.print(render_summary(rundir.to_jsonable(summary), path))
        console.print(render_points(rundir.to_jsonable(points)))
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


def _typed(fun: Any, dtype: np.dtype) -> Any:
    """f with its value in the run's precision (constants inside f may be float64)."""
    def typed(x: jax.Array) -> jax.Array:
        return jnp.asarray(fun(x)).astype(dtype)

    return typed


class _Progress:
    """What the run reports while it works: a phase line, then a bar over the solve's steps."""

    def __init__(self, bar: Progress | None) -> None:
        self.bar = bar
        self.task = None if bar is None else bar.add_task("starting", total=None)

    def __call__(self, description: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=description)

    def steps(self, done: int, total: int, running: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=total if running == 0 else done, total=total,
                            description=f"solving: {running} start(s) running")


@contextmanager
def _spinner(console: Console, enabled: bool) -> Iterator[_Progress]:
    """Progress on stderr (phase, bar over the steps, elapsed time) when stdout and stderr are
    a terminal, so that a redirected summary stays clean."""
    if not enabled or not console.is_terminal or not Console(stderr=True).is_terminal:
        yield _Progress(None)
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        yield _Progress(bar)


#: the solve is run in about this many chunks of steps, with progress reported in between
PROGRESS_CHUNKS = 20


def _solve(resolved: Resolved, devices: list[jax.Device], dtype: np.dtype,
           status: _Progress) -> dict[str, Any]:
    cfg = resolved.config
    fun = _typed(resolved.flat_fun, dtype)
    x0s = np.asarray(resolved.starts, dtype)
    stop, record = cfg.stop, cfg.record.trajectory
    keywords = dict(grad_tol=stop.grad_tol, x_tol=stop.x_tol, f_tol=stop.f_tol,
                    max_steps=stop.max_steps, record=record, classify=cfg.analysis.classify,
                    **cfg.solver.options)

    with jax.default_device(devices[0]):
        status(f"compiling the solve of {len(x0s)} start(s)")
        t0 = time.perf_counter()
        solve = BatchSolve(fun, x0s, cfg.solver.method, **keywords)
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
    return {"result": result, "x0s": x0s, "value0": value0,
            "grad_norm0": np.linalg.norm(grad0, axis=-1),
            "trace_seconds": (t1 - t0) - compile_seconds, "compile_seconds": compile_seconds,
            "solve_seconds": t2 - t1}


def _arrays(outcome: dict[str, Any], record: bool) -> dict[str, np.ndarray]:
    """The contents of trajectories.npz. With a recorded trajectory, rows 0 … num_steps of
    each start are its iterates (trimmed to the longest run); without one, row 0 is the start
    and row 1 the end point."""
    res = outcome["result"]
    num_steps = np.asarray(res.num_steps)
    arrays: dict[str, np.ndarray] = {}
    traj = res.trajectory
    if record and traj is not None:
        rows = int(num_steps.max(initial=0)) + 1
        n = len(outcome["x0s"])
        arrays["x"] = np.asarray(traj.x)[:, :rows].reshape(n, rows, -1)
        arrays["value"] = np.asarray(traj.value)[:, :rows]
        arrays["grad_norm"] = np.asarray(traj.grad_norm)[:, :rows]
        arrays["step_size"] = np.asarray(traj.step_size)[:, :rows]
        for name, values in traj.aux.items():
            arrays[f"aux_{name}"] = np.asarray(values)[:, :rows]
    else:
        x_end = np.asarray(res.x).reshape(len(outcome["x0s"]), -1)
        arrays["x"] = np.stack([outcome["x0s"], x_end], axis=1)
        arrays["value"] = np.stack([outcome["value0"], np.asarray(res.value)], axis=1)
        arrays["grad_norm"] = np.stack([outcome["grad_norm0"], np.asarray(res.grad_norm)], axis=1)
    arrays["trajectory_recorded"] = np.asarray(bool(record and traj is not None))
    arrays["num_steps"] = num_steps.astype(np.int32)
    arrays["num_evals"] = np.asarray(res.num_evals).astype(np.int32)
    arrays["status"] = np.asarray(res.status_code).astype(np.int32)
    arrays["x_final"] = np.asarray(res.x).reshape(len(outcome["x0s"]), -1)
    arrays["value_final"] = np.asarray(res.value)
    arrays["grad_norm_final"] = np.asarray(res.grad_norm)
    cp = res.critical_point
    if cp is not None:
        arrays["kind"] = np.asarray(cp.kind_code).astype(np.int32)
        arrays["eigenvalues"] = np.asarray(cp.eigenvalues)
        arrays["index"] = np.asarray(cp.index).astype(np.int32)
    return arrays


# ------------------------------------------------------------------------------ summaries


def _header(resolved: Resolved, devices: list[jax.Device], command: str) -> dict[str, Any]:
    from . import __version__

    cfg, problem = resolved.config, resolved.problem
    return {
        "format_version": rundir.FORMAT_VERSION,
        "command": command,
        "name": cfg.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "optkit_version": __version__,
        "jax_version": jax.__version__,
        "python_version": _platform.python_version(),
        "device": {"platform": devices[0].platform, "count": len(devices),
                   "kind": getattr(devices[0], "device_kind", devices[0].platform)},
        "precision": cfg.precision,
        "problem": {"name": problem.name, "dim": problem.dim, "source": problem.source},
        "method": cfg.solver.method,
        "solver_options": cfg.solver.options,
    }


def _summary(resolved: Resolved, arrays: dict[str, np.ndarray], outcome: dict[str, Any],
             devices: list[jax.Device], points: list[dict[str, Any]] | None) -> dict[str, Any]:
    status = arrays["status"]
    x, value = arrays["x_final"], arrays["value_final"]
    grad_norm, num_steps = arrays["grad_norm_final"], arrays["num_steps"]
    kinds = [KIND_LABELS[k] for k in arrays["kind"]] if "kind" in arrays else None
    finite = np.isfinite(value)
    best = int(np.argmin(np.where(finite, value, np.inf))) if finite.any() else 0
    summary = {
        **_header(resolved, devices, "run"),
        "timings": {"trace_seconds": outcome["trace_seconds"],
                    "compile_seconds": outcome["compile_seconds"],
                    "solve_seconds": outcome["solve_seconds"]},
        "num_starts": len(status),
        "status_counts": {s.name: int(np.sum(status == s)) for s in Status},
        "kind_counts": _kind_counts(kinds) if kinds is not None else None,
        "num_critical_points": None if points is None else len(points),
        "steps": {"min": int(num_steps.min()), "median": float(np.median(num_steps)),
                  "max": int(num_steps.max()), "total_evals": int(arrays["num_evals"].sum())},
        "trajectory_recorded": bool(arrays["trajectory_recorded"]),
        "best": {
            "index": best, "x": x[best], "value": value[best], "grad_norm": grad_norm[best],
            "num_steps": int(num_steps[best]), "status": Status(int(status[best])).name,
            "kind": None if kinds is None else kinds[best],
        },
    }
    if len(status) <= PER_START_LIMIT:
        summary["starts"] = [
            {"start": outcome["x0s"][i], "x": x[i], "value": value[i],
             "grad_norm": grad_norm[i], "num_steps": int(num_steps[i]),
             "num_evals": int(arrays["num_evals"][i]), "status": Status(int(status[i])).name,
             "kind": None if kinds is None else kinds[i]}
            for i in range(len(status))
        ]
    return summary


def _kind_counts(kinds: Iterable[str]) -> dict[str, int]:
    kinds = list(kinds)
    return {label: kinds.count(label) for label in KIND_LABELS}


def _merge_radius(resolved: Resolved) -> float:
    box = resolved.config.analysis.box
    assert box is not None
    return MERGE_FRACTION * float(np.linalg.norm(np.subtract(box.upper, box.lower)))


def _distinct_critical_points(arrays: dict[str, np.ndarray],
                              resolved: Resolved) -> list[dict[str, Any]]:
    """The run's end points that are critical (kind ≠ not_critical), merged where closer than
    :data:`MERGE_FRACTION` of the box diagonal; each keeps its best-resolved member (smallest
    gradient norm) and ``count``, the number of starts that ended there. Sorted by value."""
    critical = np.flatnonzero(arrays["kind"] != KIND_LABELS.index("not_critical"))
    x = arrays["x_final"]
    radius = _merge_radius(resolved)
    points = []
    remaining = critical
    while remaining.size:
        with np.errstate(over="ignore", invalid="ignore"):  # end points may be ~1e300 apart
            distance = np.linalg.norm(x[remaining] - x[remaining[0]], axis=-1)
        close = distance <= radius
        close[0] = True
        members, remaining = remaining[close], remaining[~close]
        rep = members[np.argmin(arrays["grad_norm_final"][members])]
        points.append({
            "x": x[rep], "value": arrays["value_final"][rep],
            "grad_norm": arrays["grad_norm_final"][rep],
            "kind": KIND_LABELS[arrays["kind"][rep]], "index": int(arrays["index"][rep]),
            "eigenvalues": arrays["eigenvalues"][rep], "count": len(members),
        })
    points.sort(key=lambda p: float(p["value"]))
    _mark_known(points, resolved)
    return points


def _point_dict(cp: Any) -> dict[str, Any]:
    return {"x": np.ravel(np.asarray(cp.x)), "value": np.asarray(cp.value),
            "grad_norm": np.asarray(cp.grad_norm), "kind": str(cp.kind),
            "index": int(cp.index), "eigenvalues": np.asarray(cp.eigenvalues)}


def _mark_known(points: list[dict[str, Any]], resolved: Resolved) -> None:
    """Set ``known`` to the kind of the problem's known critical point within the merge
    radius of each point (None where the problem lists none there)."""
    radius = _merge_radius(resolved)
    known = resolved.problem.critical_points
    for point in points:
        point["known"] = None
        for k in known:
            if np.linalg.norm(np.subtract(point["x"], k.x)) <= radius:
                point["known"] = k.kind
                break


def _points_file(resolved: Resolved, points: list[dict[str, Any]], method: str) -> dict[str, Any]:
    return {"format_version": rundir.FORMAT_VERSION, "problem": resolved.problem.name,
            "method": method, "merge_radius": _merge_radius(resolved), "points": points}


# ------------------------------------------------------------------------------ rendering


def _fmt(value: Any, digits: int = 6) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        shown = ", ".join(_fmt(v, digits) for v in value[:6])
        return f"[{shown}{', …' if len(value) > 6 else ''}]"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _counts(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    return ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "none"


def render_summary(summary: dict[str, Any], path: Path | str | None = None) -> Table:
    """The summary table of a run (``optkit run`` and ``optkit show``)."""
    table = Table(title=f"optkit {summary.get('command', 'run')}: {summary.get('name')}",
                  show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", overflow="fold")
    problem, device = summary.get("problem", {}), summary.get("device", {})
    timings = summary.get("timings", {})
    if path is not None:
        table.add_row("run directory", str(path))
    table.add_row("problem", f"{problem.get('name')} (dim {problem.get('dim')})")
    if summary.get("command") == "critical":
        table.add_row("box", f"{_fmt(summary['box']['lower'])} … {_fmt(summary['box']['upper'])}")
        table.add_row("search starts", str(summary.get("num_starts")))
        table.add_row("critical points", str(summary.get("num_points")))
    else:
        options = summary.get("solver_options") or {}
        detail = ", ".join(f"{k}={v}" for k, v in options.items())
        table.add_row("method", summary.get("method", "-") + (f" ({detail})" if detail else ""))
        table.add_row("starts", str(summary.get("num_starts")))
        table.add_row("status", _counts(summary.get("status_counts")))
    table.add_row("critical-point kinds", _counts(summary.get("kind_counts")))
    best = summary.get("best")
    if best:
        table.add_row("best value", _fmt(best.get("value"), 12))
        table.add_row("best x", _fmt(best.get("x")))
        kind = best.get("kind") or "unclassified"
        table.add_row("best", f"{best.get('status')}, {kind}, {best.get('num_steps')} steps, "
                              f"‖∇f‖ {_fmt(best.get('grad_norm'), 3)}")
        steps = summary.get("steps", {})
        table.add_row("steps (min/median/max)",
                      f"{steps.get('min')} / {_fmt(steps.get('median'))} / {steps.get('max')}")
    table.add_row("device", f"{device.get('platform')} × {device.get('count')}, "
                            f"{summary.get('precision')}")
    seconds = ", ".join(f"{k.removesuffix('_seconds')} {v:.3f} s" for k, v in timings.items()
                        if isinstance(v, (int, float)))
    table.add_row("time", seconds or "-")
    return table


def render_points(points: list[dict[str, Any]], limit: int = 20) -> Table:
    """A table of critical points: x, value, kind, eigenvalues (and count / known kind)."""
    table = Table(title="critical points", title_justify="left")
    columns = ["x", "value", "kind", "eigenvalues"]
    columns += [c for c in ("count", "known") if any(p.get(c) is not None for p in points)]
    for name in columns:
        table.add_column(name, overflow="fold")
    digits = {"x": 5, "value": 8, "eigenvalues": 3}
    for p in points[:limit]:
        table.add_row(*(_fmt(p.get(c), digits.get(c, 6)) for c in columns))
    if len(points) > limit:
        table.caption = f"{len(points) - limit} more in critical_points.json"
    return table


def show(path: str | os.PathLike[str], console: Console | None = None) -> None:
    """Print the summary (and critical points) of a saved run."""
    data = rundir.load_run(path)
    console = console or Console()
    items: list[Any] = [render_summary(data.summary, data.path)]
    if data.critical_points:
        items.append(render_points(data.critical_points))
    console.print(Group(*items))
