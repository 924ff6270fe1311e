"""One-variable problems: the graph of f with the iterates on it and the critical points."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from .._compile import jit
from . import _style
from ._data import NO_LABELS, Labels, Paths, Point, evaluate, view_box
from .contour import legend, path_legend

#: number the iterates when one start with at most this many steps is drawn.
MAX_NUMBERED_STEPS = 20
#: bisection steps refining a bracketed zero of f′ (each halves the bracket)
BISECTION_STEPS = 60


def scan_critical_points(
    fun: Callable[[Any], Any], lower: float, upper: float, num: int = 4001
) -> list[Point]:
    """Critical points of a one-variable f on [lower, upper]: the zeros of f′ bracketed by its
    sign changes on a grid of ``num`` points, refined by bisection, and classified by the sign
    of f″ there (minimum f″ > 0, maximum f″ < 0, degenerate |f″| ≤ 10⁻⁶·max(1, max|f″|)).
    Zeros where f′ does not change sign (e.g. x³ at 0) are missed unless they are grid
    points."""
    def f1(t: Any) -> Any:
        return fun(jnp.reshape(t, (1,)))

    d1 = jax.vmap(jax.grad(f1))
    d2 = jax.vmap(jax.grad(jax.grad(f1)))

    @jit
    def refine(a: Any, b: Any) -> Any:
        def halve(_: int, ab: Any) -> Any:
            a, b = ab
            m = 0.5 * (a + b)
            same = jnp.sign(d1(m)) == jnp.sign(d1(a))
            return jnp.where(same, m, a), jnp.where(same, b, m)

        a, b = jax.lax.fori_loop(0, BISECTION_STEPS, halve, (a, b))
        return 0.5 * (a + b)

    ts = np.linspace(lower, upper, num)
    g = np.asarray(jit(d1)(jnp.asarray(ts)))
    brackets = np.flatnonzero(g[:-1] * g[1:] < 0)
    roots = np.concatenate([ts[g == 0],
                            np.asarray(refine(jnp.asarray(ts[brackets]),
                                              jnp.asarray(ts[brackets + 1])))])
    if roots.size == 0:
        return []
    roots = np.sort(roots)
    curvature = np.asarray(jit(d2)(jnp.asarray(roots)))
    scale = max(1.0, float(np.nanmax(np.abs(np.asarray(jit(d2)(jnp.asarray(ts)))))))
    values = evaluate(fun, roots[:, None])
    kinds = np.where(np.abs(curvature) <= 1e-6 * scale, "degenerate",
                     np.where(curvature > 0, "minimum", "maximum"))
    return [Point(np.array([t]), float(v), str(k))
            for t, v, k in zip(roots, values, kinds, strict=True)]


def function_figure(
    fun: Callable[[Any], Any] | None,
    box: tuple[Sequence[float], Sequence[float]],
    paths: Paths | None = None,
    points: Sequence[Point] = (),
    labels: Labels = NO_LABELS,
    *,
    points_label: str = "known",
    resolution: int = 800,
) -> Figure:
    """Graph of f over the interval ``box`` with each start's iterates (x_k, f(x_k)) joined in
    order (start ○, end ● or ✕), and the critical points marked by kind."""
    drawn, note = (None, "") if paths is None else paths.subsample()
    extra = None if drawn is None else np.concatenate(
        [drawn.starts, *(drawn.path(i) for i in range(drawn.num_starts))])
    lower, upper = view_box(box, extra, reach=0.5)
    xs = np.linspace(lower[0], upper[0], resolution)
    fs = evaluate(fun, xs[:, None]) if fun is not None else np.full_like(xs, np.nan)
    with _style.style():
        fig = _style.new_figure((6.4, 4.8))
        ax = fig.add_subplot()
        ax.plot(xs, fs, color=_style.BLACK, lw=1.4, zorder=2)
        ax.set_xlim(lower[0], upper[0])
        handles: list[Any] = []
        left = 0
        if drawn is not None:
            for i in range(drawn.num_starts):
                _draw_start(ax, drawn, i, number=drawn.num_starts == 1)
            ends = drawn.ends[:, 0]
            shown = np.isfinite(ends) & (ends >= lower[0]) & (ends <= upper[0])
            left = _mark_exits(ax, drawn, lower[0], upper[0])
            handles += path_legend(drawn, end_shown=(drawn.converged & shown,
                                                     ~drawn.converged & shown), left=left)
            if left:
                note = " · ".join(filter(None, [note, f"{left} of {drawn.num_starts} drawn "
                                                      "paths end outside the view"]))
        hollow = points_label.startswith(_style.KNOWN)
        for kind in dict.fromkeys(p.kind for p in points):
            color, marker, size = _style.kind_style(kind)
            mine = [p for p in points if p.kind == kind]
            style = (dict(s=1.6 * size, facecolors="none", edgecolors=color, linewidths=2.0,
                          zorder=4.5) if hollow else
                     dict(s=size, c=color, edgecolors=_style.BLACK, linewidths=1.0, zorder=6))
            ax.scatter([p.x[0] for p in mine], [p.value for p in mine], marker=marker,
                       label=f"{_style.kind_name(kind)} ({points_label})", **style)
        handles += ax.get_legend_handles_labels()[0]
        _limit_y(ax, fs, drawn)
        name = labels.axis(0, 1)
        ax.set_xlabel(name)
        ax.set_ylabel(f"f({name})")
        ax.grid(True, alpha=0.3)
        if paths is None:
            headline = f"{labels.problem}: f and its critical points"
        else:
            count = f"{paths.num_starts} start{'s' * (paths.num_starts != 1)}"
            headline = f"{labels.problem}: f with the iterates of {count}"
        _style.title(ax, headline, labels.detail(note))
        legend(fig, handles)
    return fig


def _draw_start(ax: Any, paths: Paths, i: int, number: bool) -> None:
    end = paths.last_row[i] + 1
    xk, fk = paths.x[i, :end, 0], paths.value[i, :end]
    ok = np.isfinite(xk) & np.isfinite(fk)
    xk, fk = xk[ok], fk[ok]
    if xk.size == 0:
        return
    color = _style.group_color(paths.groups[i])
    if paths.recorded:  # otherwise only start and end are known: no made-up path between
        ax.plot(xk, fk, color=color, lw=0.9, alpha=0.7, marker="o", ms=3.5, zorder=3)
    ax.scatter(xk[:1], fk[:1], edgecolors=[color], **_style.START_MARKER)
    end_style = _style.END_MARKER if paths.converged[i] else _style.FAILED_END_MARKER
    ax.scatter(xk[-1:], fk[-1:], c=[color], **end_style)
    if number and paths.recorded and xk.size <= MAX_NUMBERED_STEPS + 1:
        # label k only where it does not sit on the previous label (converged tails pile up)
        gap = 0.02 * np.diff(ax.get_xlim())[0]
        last = -np.inf
        for k, (a, b) in enumerate(zip(xk, fk, strict=True)):
            if abs(a - last) < gap:
                continue
            last = a
            ax.annotate(str(k), (a, b), xytext=(4, 5), textcoords="offset points", fontsize=7,
                        color=color, zorder=7)


def _mark_exits(ax: Any, paths: Paths, lower: float, upper: float) -> int:
    """A triangle on the left or right edge, at the height of the last iterate inside the
    view, for each path whose end lies beyond the view; returns how many."""
    count = 0
    for i in range(paths.num_starts):
        end = paths.last_row[i] + 1
        xk, fk = paths.x[i, :end, 0], paths.value[i, :end]
        ok = np.isfinite(xk) & np.isfinite(fk)
        xk, fk = xk[ok], fk[ok]
        if xk.size == 0 or lower <= xk[-1] <= upper:
            continue
        inside = np.flatnonzero((xk >= lower) & (xk <= upper))
        if inside.size == 0:
            continue
        right = xk[-1] > upper
        ax.scatter([upper if right else lower], [fk[inside[-1]]], marker=">" if right else "<",
                   s=70, c=[_style.group_color(paths.groups[i])], edgecolors=_style.BLACK,
                   linewidths=0.8, zorder=8, clip_on=False)
        count += 1
    return count


def _limit_y(ax: Any, fs: np.ndarray, paths: Paths | None) -> None:
    """Vertical range of the graph over the view (of the iterates when f is unavailable),
    padded; iterates far above it are clipped."""
    finite = fs[np.isfinite(fs)]
    if finite.size == 0 and paths is not None:
        finite = paths.value[np.isfinite(paths.value)]
    if finite.size == 0:
        return
    lo, hi = float(finite.min()), float(finite.max())
    pad = 0.06 * (hi - lo if hi > lo else max(1.0, abs(hi)))
    ax.set_ylim(lo - pad, hi + pad)
