"""The arrays of a run directory: ``trajectories.npz`` packed from a batched Result, and
``surface.npz``, f sampled where the figures need it.

``surface.npz`` exists so that figures of a run whose f is user code can be drawn without
importing that code: it is sampled when the run is made (the run already trusts the code) and
read back as plain arrays. Built-in problems and expressions are rebuilt safely instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import jit

#: samples per axis of surface.npz: a 1-D curve, a 2-D grid
CURVE_SAMPLES = 4001
GRID_SAMPLES = 201
#: the sampled box reaches this many box widths beyond each side (figures may widen the view
#: to include iterates up to half a box width outside)
SURFACE_REACH = 0.5


def trajectory_arrays(result: Any, x0s: np.ndarray, value0: np.ndarray,
                      grad_norm0: np.ndarray, record: bool) -> dict[str, np.ndarray]:
    """The contents of trajectories.npz. With a recorded trajectory, rows 0 … num_steps of
    each start are its iterates (trimmed to the longest run); without one, row 0 is the start
    and row 1 the end point. docs/run-directory.md lists every key with shape and dtype."""
    n = len(x0s)
    num_steps = np.asarray(result.num_steps)
    arrays: dict[str, np.ndarray] = {}
    traj = result.trajectory
    recorded = bool(record and traj is not None)
    if recorded:
        rows = int(num_steps.max(initial=0)) + 1
        arrays["x"] = np.asarray(traj.x)[:, :rows].reshape(n, rows, -1)
        arrays["value"] = np.asarray(traj.value)[:, :rows]
        arrays["grad_norm"] = np.asarray(traj.grad_norm)[:, :rows]
        arrays["step_size"] = np.asarray(traj.step_size)[:, :rows]
        for name, values in traj.aux.items():
            arrays[f"aux_{name}"] = np.asarray(values)[:, :rows]
    else:
        x_end = np.asarray(result.x).reshape(n, -1)
        arrays["x"] = np.stack([x0s, x_end], axis=1)
        arrays["value"] = np.stack([value0, np.asarray(result.value)], axis=1)
        arrays["grad_norm"] = np.stack([grad_norm0, np.asarray(result.grad_norm)], axis=1)
    arrays["trajectory_recorded"] = np.asarray(recorded)
    arrays["num_steps"] = num_steps.astype(np.int32)
    arrays["num_evals"] = np.asarray(result.num_evals).astype(np.int32)
    arrays["status"] = np.asarray(result.status_code).astype(np.int32)
    arrays["x_final"] = np.asarray(result.x).reshape(n, -1)
    arrays["value_final"] = np.asarray(result.value)
    arrays["grad_norm_final"] = np.asarray(result.grad_norm)
    cp = result.critical_point
    if cp is not None:
        arrays["kind"] = np.asarray(cp.kind_code).astype(np.int32)
        arrays["eigenvalues"] = np.asarray(cp.eigenvalues)
        arrays["index"] = np.asarray(cp.index).astype(np.int32)
        arrays["distance"] = np.asarray(cp.distance)
        if cp.active is not None:  # a bounded solve: the KKT point's active set
            arrays["active"] = np.asarray(cp.active).astype(np.int8)
            arrays["multipliers"] = np.asarray(cp.multipliers)
    return arrays


def surface_arrays(fun: Callable[[Any], Any], lower: np.ndarray, upper: np.ndarray,
                   taylor_at: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """f sampled over the box widened by :data:`SURFACE_REACH` on each side (float64).

    1 variable: ``x`` [4001], ``value``, ``derivative`` (f′) and ``curvature`` (f″) there.
    2 variables: ``x`` [201], ``y`` [201], ``value`` [201, 201] with ``value[i, j] =
    f(x[j], y[i])``; with ``taylor_at`` also ``taylor_x0`` [2], ``taylor_value``,
    ``taylor_gradient`` [2] and ``taylor_hessian`` [2, 2] (the second-order model there).
    Non-finite values are stored as NaN.
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    width = upper - lower
    lo, hi = lower - SURFACE_REACH * width, upper + SURFACE_REACH * width
    f = jit(jax.vmap(fun))
    if lower.size == 1:
        xs = np.linspace(lo[0], hi[0], CURVE_SAMPLES)

        def f1(t: Any) -> Any:
            return fun(jnp.reshape(t, (1,)))

        d1 = jit(jax.vmap(jax.grad(f1)))
        d2 = jit(jax.vmap(jax.grad(jax.grad(f1))))
        return {"x": xs, "value": _finite(f(jnp.asarray(xs[:, None]))),
                "derivative": _finite(d1(jnp.asarray(xs))),
                "curvature": _finite(d2(jnp.asarray(xs)))}
    xs = np.linspace(lo[0], hi[0], GRID_SAMPLES)
    ys = np.linspace(lo[1], hi[1], GRID_SAMPLES)
    gx, gy = np.meshgrid(xs, ys)
    points = jnp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1))
    arrays = {"x": xs, "y": ys, "value": _finite(f(points)).reshape(gx.shape)}
    if taylor_at is not None:
        x0 = jnp.asarray(taylor_at, dtype=jnp.float64)
        arrays.update(taylor_x0=np.asarray(x0), taylor_value=_finite(fun(x0)),
                      taylor_gradient=_finite(jax.grad(fun)(x0)),
                      taylor_hessian=_finite(jax.hessian(fun)(x0)))
    return arrays


def _finite(values: Any) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values), values, np.nan)
