"""3-D wireframe of f with its first- or second-order Taylor model at a point."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..analysis.taylor import taylor
from . import _style
from ._data import Labels, evaluate, grid


def taylor_model(
    fun: Callable[[Any], Any], x0: Sequence[float], order: int = 2
) -> Callable[[Any], Any]:
    """q(x) = f(x₀) + ∇f(x₀)·(x − x₀) [+ ½ (x − x₀)ᵀ ∇²f(x₀) (x − x₀) when order = 2]: the
    model of :func:`optkit.taylor` (the one Taylor implementation), jitted for plotting grids."""
    model = taylor(fun, jnp.asarray(x0, dtype=jnp.float64), order=order)
    return jax.jit(lambda x: model(x))  # the model holds arrays: not a hashable jit key


def quadratic_model(x0: Any, value: float, gradient: Any, hessian: Any) -> Callable[[Any], Any]:
    """q(x) = value + gradientᵀδ + ½ δᵀ·hessian·δ with δ = x − x₀, from saved derivatives
    (a user function's run saves them, so the figure needs no f)."""
    x0, g, h = (jnp.asarray(a, dtype=jnp.float64) for a in (x0, gradient, hessian))

    def model(x: Any) -> Any:
        d = jnp.asarray(x) - x0
        return value + g @ d + 0.5 * d @ h @ d

    return jax.jit(model)


def taylor_surface(
    fun: Callable[[Any], Any],
    x0: Sequence[float],
    box: tuple[Sequence[float], Sequence[float]],
    order: int = 2,
    out: str | Path | None = None,
    *,
    labels: Labels | None = None,
    resolution: int = 41,
    model: Callable[[Any], Any] | None = None,
) -> Figure:
    """Wireframes of f(x, y) and its Taylor model of ``order`` at ``x0`` over ``box``, with the
    point (x₀, f(x₀)) marked; the model is cut off where it leaves f's range by more than half
    that range, so the surface of f stays visible. ``model`` replaces the Taylor model computed
    from ``fun`` (e.g. one saved with a run). Saves to ``out`` (format from its suffix) when
    given; returns the figure."""
    lower = np.asarray(box[0], dtype=float)
    upper = np.asarray(box[1], dtype=float)
    point = np.asarray(x0, dtype=float).reshape(-1)
    if lower.shape != (2,) or upper.shape != (2,) or point.shape != (2,):
        raise ValueError(
            f"taylor_surface needs a 2-D point and box, got x0={point.tolist()}, "
            f"box=({lower.tolist()}, {upper.tolist()})"
        )
    labels = labels or Labels()
    model = model or taylor_model(fun, point, order)
    gx, gy, z = grid(fun, lower, upper, resolution)
    zq = evaluate(model, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    lo, hi = np.nanmin(z), np.nanmax(z)
    span = hi - lo if hi > lo else 1.0
    zq = np.where((zq >= lo - 0.5 * span) & (zq <= hi + 0.5 * span), zq, np.nan)
    f0 = float(evaluate(fun, point[None])[0])
    order_name = {1: "first", 2: "second"}[order]
    with _style.style():
        fig = _style.new_figure((7.0, 6.0))
        ax = fig.add_subplot(projection="3d")
        ax.plot_wireframe(gx, gy, z, rcount=30, ccount=30, color=_style.SURFACE_COLOR, lw=0.6)
        ax.plot_wireframe(gx, gy, zq, rcount=30, ccount=30, color=_style.MODEL_COLOR, lw=0.6)
        ax.scatter([point[0]], [point[1]], [f0], color=_style.BLACK, s=40, depthshade=False)
        ax.set_zlim(lo - 0.5 * span, hi + 0.5 * span)
        ax.set_xlabel(labels.axis(0, 2))
        ax.set_ylabel(labels.axis(1, 2))
        ax.set_zlabel("f")
        ax.view_init(elev=28, azim=-60)
        at = ", ".join(_style.nice_number(v) for v in point)
        _style.title(ax, f"{labels.problem}: {order_name}-order Taylor model at ({at})",
                     labels.detail())
        fig.legend(handles=[
            Line2D([], [], color=_style.SURFACE_COLOR, lw=1.5, label="f"),
            Line2D([], [], color=_style.MODEL_COLOR, lw=1.5,
                   label=f"Taylor model, order {order}"),
            Line2D([], [], ls="", marker="o", color=_style.BLACK, label=f"x₀ = ({at})"),
        ], loc="outside lower center", ncols=3, frameon=False)
    if out is not None:
        _style.save(fig, out)
    return fig
