"""``plot_run``: every figure a saved run directory supports, written next to it."""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..storage import RunRecord
from . import _style
from ._data import Labels, Paths, Point, SampledFunction, paths_from_arrays
from .atlas import atlas_figure
from .basin import basin_figure
from .contour import contour_figure
from .convergence import convergence_figure
from .one_d import function_figure, scan_critical_points
from .projection import projection_figure
from .taylor import quadratic_model, taylor_figure

#: solver options worth naming in a title (the resolved config lists every default).
TITLE_OPTIONS = ("line_search", "regularization", "step_size", "initial_step")
REQUIRED_ARRAYS = ("x", "value", "grad_norm", "num_steps", "status")
#: a 2-variable run with at least this many starts also gets a basin map
BASIN_MIN_STARTS = 50


@dataclasses.dataclass(frozen=True)
class RunView:
    """A run directory as the figures need it."""

    path: Path
    fun: Callable[[Any], Any] | None
    dim: int
    box: tuple[np.ndarray, np.ndarray]
    labels: Labels
    paths: Paths | None
    known: tuple[Point, ...]
    found: tuple[Point, ...]
    critical_run: bool
    #: the second-order model saved with a user function's run: (x0, f, ∇f, ∇²f)
    taylor: tuple[np.ndarray, float, np.ndarray, np.ndarray] | None = None
    #: analysis.taylor_at: "best", "first" or a point
    taylor_at: str | list[float] = "best"
    #: surface.npz of a user function's run (f, and in 1 variable f′ and f″, sampled)
    surface: dict[str, np.ndarray] | None = None


def plot_run(
    path: str | os.PathLike[str],
    format: str = "png",
    out: str | os.PathLike[str] | None = None,
    taylor: bool = False,
) -> list[Path]:
    """Draw the figures a saved run supports into ``out`` (default ``RUN_DIR/plots/``) and
    return the written paths. Never re-solves: f is only evaluated on plotting grids.

    - 1 variable: ``function`` (f with the iterates and critical points) and ``convergence``;
    - 2 variables: ``trajectories`` (contour with every start's path), ``convergence``,
      ``atlas`` (the critical points found, with Hessian eigen-directions, and the problem's
      known ones) where any are found or known, and ``basin`` (every start coloured by the
      critical point it reached) when the run has at least ``BASIN_MIN_STARTS`` (50) starts;
    - more: ``convergence`` and ``projection`` (paths on the two leading principal directions);
    - an ``optkit critical`` run: its ``atlas`` (1 variable: ``function``);
    - ``taylor=True`` (1 or 2 variables): ``taylor``, f beside its second-order model at
      ``analysis.taylor_at`` (default: the end point, or found critical point, of lowest f).

    Raises:
        ValueError: a missing or incomplete run directory, an unknown ``format``, or a figure
            the run cannot support (one line, naming the path).
    """
    fmt = format.lower()
    if fmt not in _style.FORMATS:
        raise ValueError(f"format {format!r}: expected one of {', '.join(_style.FORMATS)}")
    view = load_view(path)
    figures = _critical_figures(view, taylor) if view.critical_run else _run_figures(view)
    if taylor and (view.dim not in (1, 2) or view.fun is None):
        # one figure cannot be drawn: say so once and draw the others
        warnings.warn(f"--taylor skipped: the Taylor figure needs a 1- or 2-variable problem "
                      f"whose function can be rebuilt (this one has {view.dim} variables)",
                      stacklevel=2)
    elif taylor:
        figures["taylor"] = _taylor(view)
    target = Path(out) if out is not None else view.path / "plots"
    return [_style.save(fig, target / f"{name}.{fmt}", fmt) for name, fig in figures.items()]


def _run_figures(view: RunView) -> dict[str, Figure]:
    """Figures of an ``optkit run`` directory (trajectories of a batch of starts)."""
    paths = view.paths
    assert paths is not None
    # one vocabulary: known points (the problem's reference list) hollow, found ones filled
    points, label = (view.known, _style.KNOWN) if view.known else (view.found, _style.FOUND)
    if view.dim == 1 and not view.known and view.fun is not None and not isinstance(
            view.fun, SampledFunction):
        points = tuple(scan_critical_points(view.fun, view.box[0][0], view.box[1][0]))
        label = "f′ = 0"
    figures: dict[str, Figure] = {}
    if view.dim == 1:
        figures["function"] = function_figure(view.fun, view.box, paths, points, view.labels,
                                              points_label=label)
    elif view.dim == 2:
        figures["trajectories"] = contour_figure(view.fun, view.box, paths, points,
                                                 view.labels, points_label=label)
    if paths.recorded:
        minima = [p.value for p in view.known if p.kind == "minimum"]
        figures["convergence"] = convergence_figure(paths, view.labels,
                                                    min(minima) if minima else None)
    if view.dim > 2:
        figures["projection"] = projection_figure(view.fun, paths, points, view.labels,
                                                  points_label=label)
    if view.dim == 2 and (view.found or view.known) and view.fun is not None:
        if view.found:
            figures["atlas"] = atlas_figure(view.fun, view.box, view.found, view.labels,
                                            known=view.known)
        else:
            figures["atlas"] = atlas_figure(view.fun, view.box, view.known, view.labels,
                                            points_label=_style.KNOWN)
    if view.dim == 2 and paths.num_starts >= BASIN_MIN_STARTS:
        figures["basin"] = basin_figure(view.fun, view.box, paths, view.found, view.labels)
    return figures


def _critical_figures(view: RunView, taylor: bool) -> dict[str, Figure]:
    """Figures of an ``optkit critical`` directory (critical points, no trajectories)."""
    if view.fun is not None and view.dim == 1:
        return {"function": function_figure(view.fun, view.box, None, view.found, view.labels,
                                             points_label=_style.FOUND)}
    if view.fun is not None and view.dim == 2:
        return {"atlas": atlas_figure(view.fun, view.box, view.found, view.labels,
                                      known=view.known)}
    if taylor:
        return {}
    raise ValueError(f"{view.path}: nothing to plot for a {view.dim}-variable critical-point "
                     "run (the atlas needs 1 or 2 variables and a function that can be rebuilt)")


def taylor_point(view: RunView) -> tuple[np.ndarray, str]:
    """Where ``plot --taylor`` expands f, from ``analysis.taylor_at``, and how to say it:
    "best" the end point (a critical run: the found point) of lowest finite f, "first" the
    first start (a critical run: the first found point), or the point given."""
    at = view.taylor_at
    if not isinstance(at, str):
        point = np.asarray(at, dtype=float).reshape(-1)
        if point.size != view.dim:
            raise ValueError(f"{view.path}: analysis.taylor_at has {point.size} numbers, the "
                             f"problem {view.dim} variables")
        return point, "analysis.taylor_at"
    if view.paths is not None:
        if at == "first":
            return view.paths.starts[0], "the first start"
        values = np.where(np.isfinite(view.paths.end_values), view.paths.end_values, np.inf)
        return view.paths.ends[int(np.argmin(values))], "the best end point"
    if view.found:
        if at == "first":
            return np.asarray(view.found[0].x, float), "the first point found"
        values = [p.value if np.isfinite(p.value) else np.inf for p in view.found]
        return np.asarray(view.found[int(np.argmin(values))].x, float), "the lowest point found"
    return 0.5 * (view.box[0] + view.box[1]), "the centre of the box"


def _taylor(view: RunView) -> Figure:
    if view.dim not in (1, 2) or view.fun is None:
        raise ValueError(f"{view.path}: the Taylor figure needs a 1- or 2-variable problem "
                         f"whose function can be rebuilt (this one has {view.dim})")
    labels = view.labels
    surface = view.surface or {}
    if isinstance(view.fun, SampledFunction) and view.dim == 1 and "curvature" in surface:
        # f, f′ and f″ were sampled with the run: the model at x0 from those samples
        x0, where = taylor_point(view)
        t = float(x0[0])
        xs = np.asarray(surface["x"], float)
        value, slope, curve = (float(np.interp(t, xs, np.asarray(surface[k], float)))
                               for k in ("value", "derivative", "curvature"))
        labels = dataclasses.replace(labels, solver=labels.detail(
            f"x₀: {where}", "f, f′, f″ from surface.npz samples"), precision="")
        return taylor_figure(view.fun, x0, view.box, labels=labels, model=quadratic_model(
            x0, value, np.array([slope]), np.array([[curve]])))
    if isinstance(view.fun, SampledFunction):
        if view.taylor is None:
            raise ValueError(f"{view.path}: no Taylor model was saved with this run")
        # a user function is not imported by plot: only the model saved at the first start
        x0, value, gradient, hessian = view.taylor
        labels = dataclasses.replace(labels, solver=labels.detail(
            "f from surface.npz, model saved at the first start"), precision="")
        return taylor_figure(view.fun, x0, view.box, labels=labels,
                             model=quadratic_model(x0, value, gradient, hessian))
    x0, where = taylor_point(view)
    labels = dataclasses.replace(labels, solver=labels.detail(f"x₀: {where}"), precision="")
    return taylor_figure(view.fun, x0, view.box, labels=labels)


def load_view(path: str | os.PathLike[str]) -> RunView:
    """Read a run directory (a typed :class:`~optkit.storage.RunRecord`) and gather what the
    figures need. Never imports or runs code found in the directory: f is rebuilt only for a
    built-in problem or an expression; a user function's figures use its saved surface.npz."""
    from ..storage import load_run

    run = load_run(path)  # RunDirError (a ValueError) for missing/incomplete directories
    critical_run = run.command == "critical"
    paths = None
    if not critical_run:
        missing = [k for k in REQUIRED_ARRAYS if k not in run.trajectories]
        if missing:
            raise ValueError(f"{run.path}: incomplete run directory (trajectories.npz lacks "
                             f"{', '.join(missing)})")
        kinds = None
        if "kind" in run.trajectories:
            from ..analysis._classify import kind_label

            kinds = list(np.atleast_1d(kind_label(run.trajectories["kind"])))
        paths = paths_from_arrays(run.trajectories, kinds)
    elif not run.critical_points:
        raise ValueError(f"{run.path}: incomplete run directory (no critical points saved)")
    problem, fun = _rebuild(run)
    dim = run.dim
    known = tuple(
        Point(np.asarray(k.x, dtype=float), float(k.value), k.kind)
        for k in getattr(problem, "critical_points", ())
    )
    found = tuple(
        Point(np.asarray(p["x"], dtype=float).reshape(-1), _float(p.get("value")),
              str(p.get("kind", "not_critical")),
              None if p.get("eigenvalues") is None else np.asarray(p["eigenvalues"], float),
              None if p.get("eigenvectors") is None else np.asarray(p["eigenvectors"], float))
        for p in run.critical_points or ()
    )
    return RunView(run.path, fun, dim, run.box, _labels(run, problem, dim), paths,
                   known, found, critical_run, _saved_taylor(run),
                   run.run_config.analysis.taylor_at, run.surface)


def _rebuild(run: RunRecord) -> tuple[Any, Callable[[Any], Any] | None]:
    """The problem and flat-vector f of a saved run, built without running any code from the
    directory: a built-in problem or an expression is rebuilt; a user function is replaced by
    its sampled surface.npz where there is one ((None, None) otherwise: figures omit f)."""
    from ..config import ConfigError, build_problem

    try:
        problem = build_problem(run.run_config.problem, allow_user_code=False)
    except (ConfigError, ValueError):
        surface = SampledFunction.from_arrays(run.surface) if run.surface else None
        return None, surface
    return problem, _flat(problem)


def _flat(problem: Any) -> Callable[[Any], Any]:
    """f of a flat vector (a pytree problem unravels it first)."""
    if np.ndim(problem.start) == 1 and not isinstance(problem.start, (dict, list, tuple)):
        return problem.fun

    def flat_fun(z: Any) -> Any:
        return problem.fun(problem.unravel(z))

    return flat_fun


def _saved_taylor(run: RunRecord) -> tuple[np.ndarray, float, np.ndarray, np.ndarray] | None:
    s = run.surface
    if not s or "taylor_x0" not in s:
        return None
    return (s["taylor_x0"], float(s["taylor_value"]), s["taylor_gradient"], s["taylor_hessian"])


def _labels(run: RunRecord, problem: Any, dim: int) -> Labels:
    """Titles and axis names from the typed run config (a problem shown as it was given)."""
    from ..config import ExpressionProblem, FunctionProblem, NamedProblem

    config = run.run_config
    spec = config.problem
    variables: tuple[str, ...] = tuple(getattr(problem, "variables", ()) or ())
    if isinstance(spec, ExpressionProblem):  # shown, not parsed: ** → ^, * → · read better
        name = "f = " + spec.expression.replace("**", "^").replace("*", "·")
        variables = tuple(spec.variables)
    else:
        if isinstance(spec, FunctionProblem):  # saved absolute: the file's name is enough
            module, _, attribute = spec.function.rpartition(":")
            name = f"{Path(module).name}:{attribute}" if module else spec.function
        else:
            name = spec.name
        if dim > 2 or isinstance(spec, FunctionProblem) or (
                isinstance(spec, NamedProblem) and "dim" in spec.params):
            name += f" (n = {dim})"
    options = config.solver.options
    shown = ", ".join(f"{k}={options[k]}" for k in TITLE_OPTIONS if k in options)
    method = config.solver.method
    if run.command == "critical":
        method, shown = "critical-point search", ""
    return Labels(
        problem=name,
        solver=f"{method} ({shown})" if shown else method,
        precision=config.precision,
        variables=variables,
    )


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)
