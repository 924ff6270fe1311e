"""What the figures draw, independent of where it came from (a run directory or a Result)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import jit
from . import _style


@dataclasses.dataclass(frozen=True)
class Paths:
    """Recorded iterates of a batch of starts.

    ``x`` is [starts, rows, n]; ``value``/``grad_norm`` are [starts, rows]; row k of start i is
    iterate k and rows past ``num_steps[i]`` are padding. ``groups`` names each start's colour
    group: the end point's critical-point kind when known, else its status name. ``converged``
    marks starts that met the gradient tolerance (their end marker is a dot, others a cross).
    ``extras`` holds per-step series such as ``step_size`` and ``damping`` ([starts, rows]).
    ``recorded`` is False when only the start and end of each solve were saved (rows 0, 1).
    """

    x: np.ndarray
    value: np.ndarray
    grad_norm: np.ndarray
    num_steps: np.ndarray
    groups: np.ndarray
    converged: np.ndarray
    extras: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)
    recorded: bool = True

    @property
    def num_starts(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[2])

    @property
    def last_row(self) -> np.ndarray:
        """Row index of each start's final iterate (clipped to the recorded rows)."""
        return np.clip(self.num_steps, 0, self.x.shape[1] - 1).astype(int)

    @property
    def starts(self) -> np.ndarray:
        return self.x[:, 0, :]

    @property
    def ends(self) -> np.ndarray:
        return self.x[np.arange(self.num_starts), self.last_row, :]

    @property
    def end_values(self) -> np.ndarray:
        return self.value[np.arange(self.num_starts), self.last_row]

    def path(self, i: int) -> np.ndarray:
        """The real (non-padding, finite) iterates of start ``i``: [k, n]."""
        rows = self.x[i, : self.last_row[i] + 1]
        return rows[np.all(np.isfinite(rows), axis=1)]

    def forward_filled(self, series: np.ndarray) -> np.ndarray:
        """``series`` [starts, rows] with each start's padding replaced by its last real value."""
        rows = np.arange(series.shape[1])[None, :]
        index = np.minimum(rows, self.last_row[:, None])
        return np.take_along_axis(series, index, axis=1)

    def subsample(self, limit: int = _style.MAX_DRAWN) -> tuple[Paths, str]:
        """At most ``limit`` starts, chosen with a fixed seed, and a note for the title saying
        so (and whether only start and end were recorded; "" when neither applies)."""
        unrecorded = "" if self.recorded else "trajectories not recorded: start and end only"
        if self.num_starts <= limit:
            return self, unrecorded
        rng = np.random.default_rng(_style.SUBSAMPLE_SEED)
        keep = np.sort(rng.choice(self.num_starts, size=limit, replace=False))
        sub = dataclasses.replace(
            self,
            x=self.x[keep], value=self.value[keep], grad_norm=self.grad_norm[keep],
            num_steps=self.num_steps[keep], groups=self.groups[keep],
            converged=self.converged[keep],
            extras={k: v[keep] for k, v in self.extras.items()},
        )
        note = f"{limit} of {self.num_starts} starts drawn (random subsample)"
        return sub, " · ".join(filter(None, [note, unrecorded]))


@dataclasses.dataclass(frozen=True)
class Point:
    """A critical point to mark: location, value, kind and (optionally) the Hessian's
    eigenvalues (ascending) and eigenvectors (columns) there."""

    x: np.ndarray
    value: float
    kind: str
    eigenvalues: np.ndarray | None = None
    eigenvectors: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class Labels:
    """Names used in titles and axis labels."""

    problem: str = "f"
    solver: str = ""
    precision: str = ""
    variables: tuple[str, ...] = ()

    def detail(self, *extra: str) -> str:
        """"solver · precision · extra…" (the problem goes in the headline), empty parts left
        out."""
        parts = [self.solver, self.precision, *extra]
        return " · ".join(p for p in parts if p)

    def axis(self, i: int, dim: int) -> str:
        if len(self.variables) == dim:
            return self.variables[i]
        return ("x", "y")[i] if dim == 2 else f"x{i + 1}"


#: no names: figures fall back to "f", "x", "y".
NO_LABELS = Labels()


def status_name(code: int) -> str:
    from ..solvers import Status

    try:
        return Status(int(code)).name.lower()
    except ValueError:
        return f"status {int(code)}"


def paths_from_arrays(
    trajectories: Mapping[str, np.ndarray], kinds: Sequence[str] | None = None
) -> Paths:
    """Build :class:`Paths` from run-directory arrays (``x``, ``value``, ``grad_norm``,
    ``num_steps``, ``status`` and optional per-step extras such as ``step_size``)."""
    x = np.asarray(trajectories["x"], dtype=float)
    if x.ndim == 2:  # one iterate per start (trajectory not recorded)
        x = x[:, None, :]
    value = np.asarray(trajectories["value"], dtype=float).reshape(x.shape[:2])
    grad_norm = np.asarray(trajectories["grad_norm"], dtype=float).reshape(x.shape[:2])
    num_steps = np.asarray(trajectories["num_steps"]).astype(int).reshape(-1)
    status = np.asarray(trajectories["status"]).astype(int).reshape(-1)
    converged = status == 0
    if kinds is not None and len(kinds) == len(status):
        groups = np.asarray([str(k) for k in kinds], dtype=object)
    else:
        groups = np.asarray([status_name(s) for s in status], dtype=object)
    # per-start (not per-step) arrays of a run directory that could match [starts, rows]
    skip = {"x", "value", "grad_norm", "num_steps", "status", "kind", "eigenvalues", "index",
            "x_final", "value_final", "grad_norm_final", "num_evals", "trajectory_recorded"}
    extras = {
        k.removeprefix("aux_"): np.asarray(v, dtype=float)
        for k, v in trajectories.items()
        if k not in skip and np.shape(v) == x.shape[:2]
    }
    recorded = bool(np.asarray(trajectories.get("trajectory_recorded", True)))
    if recorded and len(num_steps):
        # a Result's buffers hold max_steps + 1 rows whatever the solves used: keep only the
        # rows some start reached, so every figure's step axis ends where the data ends
        used = int(min(x.shape[1], max(1, int(num_steps.max()) + 1)))
        x, value, grad_norm = x[:, :used], value[:, :used], grad_norm[:, :used]
        extras = {k: v[:, :used] for k, v in extras.items()}
    return Paths(x, value, grad_norm, num_steps, groups, converged, extras, recorded)


def paths_from_result(result: Any) -> Paths:
    """Build :class:`Paths` from a batched (or single) :class:`optkit.Result` with a trajectory."""
    traj = result.trajectory
    if traj is None:
        raise ValueError("the Result has no trajectory; solve with record=True to plot paths")
    single = np.ndim(result.status_code) == 0

    def batched(a: Any) -> Any:
        return jax.tree_util.tree_map(lambda v: np.asarray(v)[None], a) if single else a

    arrays: dict[str, Any] = {
        "x": _flatten_batched(batched(traj.x)),
        "value": np.asarray(batched(traj.value)),
        "grad_norm": np.asarray(batched(traj.grad_norm)),
        "num_steps": np.asarray(batched(result.num_steps)),
        "status": np.asarray(batched(result.status_code)),
        "step_size": np.asarray(batched(traj.step_size)),
    }
    for k, v in traj.aux.items():
        arrays[k] = np.asarray(batched(v))
    kinds = None
    if result.critical_point is not None:
        kinds = list(np.atleast_1d(result.critical_point.kind))
    return paths_from_arrays(arrays, kinds)


def _flatten_batched(x: Any) -> np.ndarray:
    leaves = jax.tree_util.tree_leaves(x)
    starts, rows = leaves[0].shape[:2]
    return np.concatenate([np.asarray(v).reshape(starts, rows, -1) for v in leaves], axis=2)


def evaluate(fun: Callable[[Any], Any], points: np.ndarray) -> np.ndarray:
    """f at each row of ``points`` [m, n] in one vmapped, jitted call (non-finite → NaN)."""
    values = jit(jax.vmap(fun))(jnp.asarray(points, dtype=jnp.float64))
    values = np.asarray(values, dtype=float).reshape(len(points))
    return np.where(np.isfinite(values), values, np.nan)


def grid(
    fun: Callable[[Any], Any], lower: Sequence[float], upper: Sequence[float], num: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates X, Y [num, num] and f(X, Y) on a regular grid over the 2-D box."""
    xs = np.linspace(lower[0], upper[0], num)
    ys = np.linspace(lower[1], upper[1], num)
    gx, gy = np.meshgrid(xs, ys)
    z = evaluate(fun, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    return gx, gy, z


def view_box(
    box: tuple[Sequence[float], Sequence[float]], extra: np.ndarray | None = None,
    reach: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The plotting box grown to include ``extra`` points [m, n] lying within ``reach`` box
    widths of it (points further out, e.g. a diverging start, are left outside the view:
    figures mark where paths leave it, see :func:`exits`)."""
    lower = np.asarray(box[0], dtype=float)
    upper = np.asarray(box[1], dtype=float)
    if extra is None or len(extra) == 0:
        return lower, upper
    width = upper - lower
    pts = np.asarray(extra, dtype=float)
    near = np.all(np.isfinite(pts), axis=1) & np.all(
        (pts >= lower - reach * width) & (pts <= upper + reach * width), axis=1
    )
    if not near.any():
        return lower, upper
    lo = np.minimum(lower, pts[near].min(axis=0))
    hi = np.maximum(upper, pts[near].max(axis=0))
    pad = 0.04 * (hi - lo) * ((lo < lower) | (hi > upper))
    return lo - pad, hi + pad


def outside(points: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` [m, n] lie outside the box (non-finite rows count as outside)."""
    pts = np.asarray(points, dtype=float).reshape(len(points), -1)
    inside = np.all(np.isfinite(pts), axis=1) & np.all((pts >= lower) & (pts <= upper), axis=1)
    return ~inside


def exits(
    coords: Sequence[np.ndarray], lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where paths that end outside the view [lower, upper] (2-D) last cross its edge.

    For each path (``coords[i]`` is [k, 2], start first) whose end lies outside, the point
    where the segment from its last iterate inside the view to the next one meets the edge
    (the segment clipped by Liang–Barsky), and that segment's unit direction. Returns the
    indices of those paths [e], the edge points [e, 2] and the directions [e, 2]; a path that
    is never inside the view has no edge point and is left out.
    """
    which, where, heading = [], [], []
    for i, c in enumerate(coords):
        if len(c) < 2 or not outside(c[-1:], lower, upper)[0]:
            continue
        inside = np.flatnonzero(~outside(c, lower, upper))
        if inside.size == 0:
            continue
        k = int(inside[-1])
        a = c[k]
        b = c[k + 1]
        if not np.all(np.isfinite(b)):
            continue
        d = b - a
        # largest t in [0, 1] with a + t d inside: the first wall the segment reaches
        t = 1.0
        for axis in range(2):
            if d[axis] > 0:
                t = min(t, (upper[axis] - a[axis]) / d[axis])
            elif d[axis] < 0:
                t = min(t, (lower[axis] - a[axis]) / d[axis])
        which.append(i)
        where.append(a + max(t, 0.0) * d)
        heading.append(d / max(float(np.linalg.norm(d)), 1e-300))
    return (np.asarray(which, dtype=int), np.asarray(where, float).reshape(-1, 2),
            np.asarray(heading, float).reshape(-1, 2))


@dataclasses.dataclass(frozen=True, eq=False)
class SampledFunction:
    """f known only by samples on a regular grid (a run's surface.npz): evaluated by linear
    (1 variable) or bilinear (2 variables) interpolation, NaN outside the samples. It stands in
    for a user function in figures, so that plotting never imports user code; derivatives of
    it are not f's (figures use the saved eigenvectors and Taylor model instead)."""

    axes: tuple[np.ndarray, ...]
    values: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SampledFunction:
        axes = (arrays["x"],) if "y" not in arrays else (arrays["x"], arrays["y"])
        return cls(tuple(np.asarray(a, float) for a in axes), np.asarray(arrays["value"], float))

    def __call__(self, point: Any) -> Any:
        point = jnp.reshape(jnp.asarray(point), (-1,))
        weights_and_cells = [_cell(jnp.asarray(axis), point[i]) for i, axis in
                             enumerate(self.axes)]
        values = jnp.asarray(self.values)
        if len(self.axes) == 1:
            (i, w, inside), = weights_and_cells
            value = (1 - w) * values[i] + w * values[i + 1]
        else:
            (i, wx, in_x), (j, wy, in_y) = weights_and_cells
            inside = in_x & in_y
            value = ((1 - wy) * ((1 - wx) * values[j, i] + wx * values[j, i + 1])
                     + wy * ((1 - wx) * values[j + 1, i] + wx * values[j + 1, i + 1]))
        return jnp.where(inside, value, jnp.nan)


def _cell(axis: Any, t: Any) -> tuple[Any, Any, Any]:
    """Index i of the grid cell [axis[i], axis[i+1]] holding t, the weight of axis[i+1], and
    whether t lies within the axis at all."""
    step = (axis[-1] - axis[0]) / (axis.size - 1)
    position = (t - axis[0]) / step
    i = jnp.clip(jnp.floor(position).astype(jnp.int32), 0, axis.size - 2)
    inside = (t >= axis[0]) & (t <= axis[-1])
    return i, position - i, inside
