"""f beside its first- or second-order Taylor model at a point, and the model's error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from .._compile import jit
from ..analysis._taylor import taylor
from . import _style
from ._data import Labels, evaluate, grid
from .contour import draw_field


def taylor_model(
    fun: Callable[[Any], Any], x0: Sequence[float], order: int = 2
) -> Callable[[Any], Any]:
    """q(x) = f(x₀) + ∇f(x₀)·(x − x₀) [+ ½ (x − x₀)ᵀ ∇²f(x₀) (x − x₀) when order = 2]: the
    model of :func:`optkit.taylor` (the one Taylor implementation), jitted for plotting grids."""
    model = taylor(fun, jnp.asarray(x0, dtype=jnp.float64), order=order)
    return jit(lambda x: model(x))  # the model holds arrays: not a hashable jit key


def quadratic_model(x0: Any, value: float, gradient: Any, hessian: Any) -> Callable[[Any], Any]:
    """q(x) = value + gradientᵀδ + ½ δᵀ·hessian·δ with δ = x − x₀, from saved derivatives
    (a user function's run saves them, so the figure needs no f)."""
    x0, g, h = (jnp.asarray(a, dtype=jnp.float64) for a in (x0, gradient, hessian))

    def model(x: Any) -> Any:
        d = jnp.asarray(x) - x0
        return value + g @ d + 0.5 * d @ h @ d

    return jit(model)


def taylor_figure(
    fun: Callable[[Any], Any],
    x0: Sequence[float],
    box: tuple[Sequence[float], Sequence[float]],
    order: int = 2,
    out: str | Path | None = None,
    *,
    labels: Labels | None = None,
    resolution: int = 161,
    model: Callable[[Any], Any] | None = None,
) -> Figure:
    """f beside its Taylor model q of ``order`` at ``x0`` over ``box``, and the model's error.

    Two variables: on the left f's filled contour with its level lines (solid blue) and q's
    lines at the *same* levels (dashed vermillion), so where the two families coincide the
    model is good and q is shown only within f's range (one shared clipping); on the right
    log₁₀|f − q| (filled bands only: level lines would trace every curve where f − q changes
    sign as a chain of tiny loops), which grows like ‖x − x₀‖^(order+1) near x₀. One
    variable: f and q as curves on one vertical range (f's over the interval) above |f − q|
    on a log axis. x₀ is
    marked in every panel. ``model`` replaces the model computed from ``fun`` (e.g. one saved
    with a run). The view is ``box``, or a box of its size centred on ``x0`` when ``x0`` lies
    outside it. Saves to ``out`` (format from its suffix) when given; returns the figure.

    Raises:
        ValueError: ``x0`` and ``box`` are not both 1- or 2-dimensional and of one size, or
            ``order`` is not 1 or 2.
    """
    lower = np.asarray(box[0], dtype=float).reshape(-1)
    upper = np.asarray(box[1], dtype=float).reshape(-1)
    point = np.asarray(x0, dtype=float).reshape(-1)
    if lower.shape != upper.shape or point.shape != lower.shape or point.size not in (1, 2):
        raise ValueError(
            f"taylor_figure needs a 1-D or 2-D point and box of one size, got "
            f"x0={point.tolist()}, box=({lower.tolist()}, {upper.tolist()})"
        )
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order!r}")
    labels = labels or Labels()
    model = model or taylor_model(fun, point, order)
    if np.any((point < lower) | (point > upper)):
        # x0 outside the box (a run that ran off downhill): the box's size, centred on x0
        half = 0.5 * (upper - lower)
        lower, upper = point - half, point + half
    f0 = float(evaluate(fun, point[None])[0])
    at = ", ".join(_style.nice_number(v) for v in point)
    order_name = {1: "first", 2: "second"}[order]
    headline = f"{labels.problem}: {order_name}-order Taylor model q at x₀ = ({at})"
    with _style.style():
        if point.size == 1:
            fig = _one_variable(fun, model, point, f0, lower, upper, labels, order,
                                max(resolution * 5, 400))
        else:
            fig = _two_variables(fun, model, point, f0, lower, upper, labels, order, resolution)
        fig.suptitle(_style.title_text(headline, labels.detail(), width=110),
                     fontsize=_style.RC["axes.titlesize"])
    if out is not None:
        _style.save(fig, out)
    return fig


#: the name of earlier releases (a 3-D wireframe then), kept for existing callers
taylor_surface = taylor_figure


def _error_floor(error: np.ndarray, f: np.ndarray) -> float:
    """Smallest error worth showing: round-off of f, ε·max|f| (exact model points, e.g. x₀
    itself, are drawn there instead of at log 0)."""
    finite = np.abs(f[np.isfinite(f)])
    return float(np.finfo(float).eps * max(1.0, finite.max() if finite.size else 1.0))


def _two_variables(fun: Callable[[Any], Any], model: Callable[[Any], Any], point: np.ndarray,
                   f0: float, lower: np.ndarray, upper: np.ndarray, labels: Labels, order: int,
                   resolution: int) -> Figure:
    gx, gy, z = grid(fun, lower, upper, resolution)
    zq = evaluate(model, np.stack([gx.ravel(), gy.ravel()], axis=1)).reshape(gx.shape)
    fig = _style.new_figure((11.0, 5.0))
    left, right = fig.subplots(1, 2)
    drawn = draw_field(fig, left, gx, gy, z, lines=False)
    if drawn is not None:
        shown, levels, log = drawn
        levels = levels[::2]  # every other level: two families of lines stay apart
        lo, hi = float(levels[0]), float(levels[-1])
        finite = np.isfinite(shown)
        if log:  # the same monotone map for q: shown = log₁₀(f − c), c = f_min − δ
            c = float(np.nanmedian((z - 10.0**shown)[finite]))
            with np.errstate(invalid="ignore", divide="ignore"):
                shown_q = np.log10(np.where(zq > c, zq - c, np.nan))
        else:
            shown_q = zq
        # q only within f's range: the shared clipping (its other lines are not drawn at all)
        shown_q = np.where((shown_q >= lo) & (shown_q <= hi), shown_q, np.nan)
        left.contour(gx, gy, shown, levels=levels, colors=_style.SURFACE_COLOR,
                     linewidths=0.9, zorder=2, negative_linestyles="solid")
        if np.isfinite(shown_q).any():
            left.contour(gx, gy, shown_q, levels=levels, colors=_style.MODEL_COLOR,
                         linewidths=1.2, linestyles="dashed", zorder=3)
    error = np.abs(z - zq)
    floor = _error_floor(error, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_error = np.log10(np.maximum(error, floor))
    if np.isfinite(log_error).any():
        lo, hi = float(np.nanmin(log_error)), float(np.nanmax(log_error))
        levels = np.linspace(lo, hi if hi > lo else lo + 1.0, 15)
        image = right.contourf(gx, gy, log_error, levels=levels, cmap="cividis", zorder=0)
        bar = fig.colorbar(image, ax=right, shrink=0.9, pad=0.02)
        bar.set_label(f"|f − q|, log scale   (floor {floor:.0e})")
        ticks = MaxNLocator(6, integer=True).tick_values(lo, hi)
        ticks = ticks[(ticks >= lo) & (ticks <= hi)]
        bar.set_ticks(ticks, labels=[f"$10^{{{int(t)}}}$" for t in ticks])
        bar.ax.tick_params(labelsize=8)
    for ax, what in ((left, "f (solid) and q (dashed) at the same levels"),
                     (right, "model error |f − q|")):
        ax.scatter([point[0]], [point[1]], marker="*", s=160, c=_style.YELLOW,
                   edgecolors=_style.BLACK, linewidths=1.0, zorder=6)
        ax.set_xlim(lower[0], upper[0])
        ax.set_ylim(lower[1], upper[1])
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(6))
        ax.set_xlabel(labels.axis(0, 2))
        ax.set_ylabel(labels.axis(1, 2))
        ax.set_title(what)
    fig.legend(handles=[
        Line2D([], [], color=_style.SURFACE_COLOR, lw=1.5, label="f, level lines"),
        Line2D([], [], color=_style.MODEL_COLOR, lw=1.5, ls="--",
               label=f"q (order {order}), same levels, within f's range"),
        Line2D([], [], ls="", marker="*", ms=12, mfc=_style.YELLOW, mec=_style.BLACK,
               label=f"x₀, f(x₀) = {_style.nice_number(f0)}"),
    ], loc="outside lower center", ncols=3, frameon=False)
    return fig


def _one_variable(fun: Callable[[Any], Any], model: Callable[[Any], Any], point: np.ndarray,
                  f0: float, lower: np.ndarray, upper: np.ndarray, labels: Labels, order: int,
                  resolution: int) -> Figure:
    xs = np.linspace(lower[0], upper[0], resolution)
    fs = evaluate(fun, xs[:, None])
    qs = evaluate(model, xs[:, None])
    fig = _style.new_figure((6.4, 6.4))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    name = labels.axis(0, 1)
    top.plot(xs, fs, color=_style.SURFACE_COLOR, lw=1.6, label="f", zorder=2)
    top.plot(xs, qs, color=_style.MODEL_COLOR, lw=1.4, ls="--", zorder=3,
             label=f"q (order {order}), clipped to f's range")
    top.scatter([point[0]], [f0], marker="*", s=160, c=_style.YELLOW, edgecolors=_style.BLACK,
                linewidths=1.0, zorder=6, label=f"x₀, f(x₀) = {_style.nice_number(f0)}")
    finite = fs[np.isfinite(fs)]
    if finite.size:  # one vertical range for both: f's (the shared clipping)
        lo, hi = float(finite.min()), float(finite.max())
        pad = 0.06 * (hi - lo if hi > lo else max(1.0, abs(hi)))
        top.set_ylim(lo - pad, hi + pad)
    top.set_ylabel(f"f({name})")
    top.grid(True, alpha=0.3)
    error = np.abs(fs - qs)
    floor = _error_floor(error, fs)
    bottom.plot(xs, np.maximum(error, floor), color=_style.BLACK, lw=1.2)
    bottom.axvline(point[0], color=_style.GREY, lw=0.8, ls=":")
    bottom.set_yscale("log")
    bottom.set_ylabel(f"|f − q|  (floor {floor:.0e})")
    bottom.set_xlabel(name)
    bottom.grid(True, alpha=0.3)
    top.set_xlim(lower[0], upper[0])
    fig.legend(handles=top.get_legend_handles_labels()[0], loc="outside lower center",
               ncols=3, frameon=False)
    return fig
