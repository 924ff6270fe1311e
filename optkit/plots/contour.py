"""Filled contour of f over a 2-D box with the trajectories and critical points drawn on it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from . import _style
from ._data import NO_LABELS, Labels, Paths, Point, grid, view_box

#: draw a dot at every iterate when the drawn paths hold at most this many points in total.
MAX_ITERATE_DOTS = 3000


def contour_figure(
    fun: Callable[[Any], Any] | None,
    box: tuple[Sequence[float], Sequence[float]],
    paths: Paths | None = None,
    points: Sequence[Point] = (),
    labels: Labels = NO_LABELS,
    *,
    points_label: str = "known",
    resolution: int = 200,
) -> Figure:
    """Contour of f over ``box`` with every start's path (start ○, end ● or ✕ if it did not
    converge) coloured by its group, and critical ``points`` marked by kind.

    Levels are logarithmic, in log₁₀(f − f_min + δ), when f spans decades over the box
    (see :func:`field`); more than ``_style.MAX_DRAWN`` paths are subsampled and the title says so.
    """
    note = ""
    drawn = None
    if paths is not None:
        drawn, note = paths.subsample()
    extra = None if drawn is None else np.concatenate(
        [drawn.starts, *(drawn.path(i) for i in range(drawn.num_starts))])
    lower, upper = view_box(box, extra, reach=0.5)
    with _style.style():
        fig = _style.new_figure()
        ax = fig.add_subplot()
        if fun is not None:
            floor = lowest_in_view(paths, points, lower, upper)
            draw_field(fig, ax, *grid(fun, lower, upper, resolution), floor=floor)
        handles: list[Any] = []
        if drawn is not None:
            handles += draw_paths(ax, [drawn.path(i) for i in range(drawn.num_starts)], drawn)
        handles += draw_points(ax, [p.x for p in points], [p.kind for p in points], points_label)
        ax.set_xlim(lower[0], upper[0])
        ax.set_ylim(lower[1], upper[1])
        ax.set_xlabel(labels.axis(0, 2))
        ax.set_ylabel(labels.axis(1, 2))
        if paths is None:
            headline = f"{labels.problem}: contour of f"
        else:
            grouped = "end-point kind" if _by_kind(paths) else "final status"
            count = f"{paths.num_starts} start{'s' * (paths.num_starts != 1)}"
            headline = f"{labels.problem}: {count}, coloured by {grouped}"
        _style.title(ax, headline, labels.detail(note))
        legend(fig, handles)
    return fig


def lowest_in_view(
    paths: Paths | None, points: Sequence[Point], lower: np.ndarray, upper: np.ndarray
) -> float | None:
    """Lowest f at a path end or critical point inside the view (the grid may miss the exact
    minimum; ends far outside, e.g. of a run diverging to −∞, must not set the colour scale)."""
    xs = [p.x for p in points]
    values = [p.value for p in points]
    if paths is not None:
        xs += list(paths.ends)
        values += list(paths.end_values)
    inside = [v for x, v in zip(xs, values, strict=True)
              if np.isfinite(v) and np.all((x >= lower) & (x <= upper))]
    return min(inside) if inside else None


def field(z: np.ndarray, floor: float | None = None) -> tuple[np.ndarray, str, bool]:
    """The quantity to contour, its colour-bar label and whether it is logarithmic.

    f itself, unless f spans decades over the grid — its range exceeds 10× the median height
    above the minimum, so linear levels would lump the whole valley into one band (Rosenbrock)
    — in which case log₁₀(f − f_min + δ) with δ = max(10⁻⁶ (f_max − f_min), the 0.2 % quantile
    of f − f_min on the grid): the quantile keeps the innermost level rings around a minimum
    wider than a few grid cells, where they would otherwise pile up into a dark dot.
    """
    finite = z[np.isfinite(z)]
    if finite.size == 0:
        return z, "f", False
    f_min = float(finite.min()) if floor is None else min(float(finite.min()), floor)
    height = finite - f_min
    span = float(height.max())
    median = float(np.median(height))
    if span <= 0.0 or span <= 10.0 * median:
        return z, "f", False
    delta = max(1e-6 * span, float(np.quantile(height, 0.002)))
    label = f"f − f_min + δ (log scale),  f_min = {_style.nice_number(f_min)}, δ = {delta:.0e}"
    return np.log10(z - f_min + delta), label, True


def draw_field(
    fig: Figure, ax: Any, gx: np.ndarray, gy: np.ndarray, z: np.ndarray,
    floor: float | None = None,
) -> None:
    """Filled contour plus level lines of f (or log f, see :func:`field`) and a colour bar."""
    shown, label, log = field(z, floor)
    if not np.isfinite(shown).any():
        return
    lo, hi = np.nanmin(shown), np.nanmax(shown)
    if hi <= lo:
        hi = lo + 1.0
    levels = np.linspace(lo, hi, _style.NUM_LEVELS + 1)
    filled = ax.contourf(gx, gy, shown, levels=levels, cmap=_style.CONTOUR_CMAP, zorder=0)
    ax.contour(gx, gy, shown, levels=levels, colors=_style.CONTOUR_LINE_COLOR,
               linewidths=0.35, alpha=0.6, zorder=1, negative_linestyles="solid")
    bar = fig.colorbar(filled, ax=ax, shrink=0.9, pad=0.02)
    bar.set_label(label)
    decades = np.arange(np.ceil(lo), np.floor(hi) + 1)
    if log and len(decades) >= 2:  # ticks at whole decades, labelled as powers of ten
        bar.set_ticks(decades, labels=[f"$10^{{{int(d)}}}$" for d in decades])
    elif log:
        ticks = MaxNLocator(5).tick_values(lo, hi)
        ticks = ticks[(ticks >= lo) & (ticks <= hi)]
        bar.set_ticks(ticks, labels=[f"{10.0**t:.2g}" for t in ticks])
    else:
        ticks = MaxNLocator(6).tick_values(lo, hi)
        bar.set_ticks(ticks[(ticks >= lo) & (ticks <= hi)])
    bar.ax.tick_params(labelsize=8)


def _by_kind(paths: Paths) -> bool:
    return any(g in _style.KIND_STYLE for g in paths.groups)


def draw_paths(ax: Any, coords: Sequence[np.ndarray], paths: Paths) -> list[Any]:
    """Draw one polyline per start in 2-D ``coords`` (each [k, 2]) with start/end markers
    coloured by ``paths.groups``; return legend handles."""
    colors = np.array([_style.group_color(g) for g in paths.groups], dtype=object)
    has = np.array([len(c) > 0 for c in coords], dtype=bool)
    if paths.recorded:  # otherwise only start and end are known: no made-up line between
        long = [i for i, c in enumerate(coords) if len(c) > 1]
        ax.add_collection(LineCollection(
            [coords[i] for i in long], colors=list(colors[long]), linewidths=_style.PATH_WIDTH,
            alpha=_style.PATH_ALPHA, zorder=3, capstyle="round", joinstyle="round"))
        if sum(len(c) for c in coords) <= MAX_ITERATE_DOTS:
            for c, color in zip(coords, colors, strict=True):
                ax.scatter(c[1:-1, 0], c[1:-1, 1], s=7, color=color, zorder=3, linewidths=0)
    starts = np.array([c[0] for c, h in zip(coords, has, strict=True) if h]).reshape(-1, 2)
    ends = np.array([c[-1] for c, h in zip(coords, has, strict=True) if h]).reshape(-1, 2)
    col = colors[has]
    ok = np.asarray(paths.converged)[has]
    ax.scatter(starts[:, 0], starts[:, 1], edgecolors=list(col), **_style.START_MARKER)
    if ok.any():
        ax.scatter(ends[ok, 0], ends[ok, 1], c=list(col[ok]), **_style.END_MARKER)
    if (~ok).any():
        ax.scatter(ends[~ok, 0], ends[~ok, 1], c=list(col[~ok]), **_style.FAILED_END_MARKER)
    return path_legend(paths)


def path_legend(paths: Paths) -> list[Any]:
    """Legend handles: one line per group (with its count), then the start/end markers."""
    handles: list[Any] = []
    names, counts = np.unique(paths.groups.astype(str), return_counts=True)
    prefix = "ends at " if _by_kind(paths) else ""
    for name, count in zip(names, counts, strict=True):
        handles.append(Line2D([], [], color=_style.group_color(name), lw=2,
                              label=f"{prefix}{name.replace('_', ' ')} ({count})"))
    handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec=_style.BLACK,
                          label="start"))
    if paths.converged.any():
        handles.append(Line2D([], [], ls="", marker="o", color=_style.GREY, mec=_style.BLACK,
                              label="end (converged)"))
    if (~paths.converged).any():
        handles.append(Line2D([], [], ls="", marker="x", color=_style.BLACK, mew=1.6,
                              label="end (not converged)"))
    return handles


def draw_points(
    ax: Any, xs: Sequence[np.ndarray], kinds: Sequence[str], label: str = "known"
) -> list[Any]:
    """Mark critical points (2-D coordinates) by kind; return one legend handle per kind."""
    handles = []
    for kind in dict.fromkeys(kinds):
        color, marker, size = _style.kind_style(kind)
        pts = np.array([x for x, k in zip(xs, kinds, strict=True) if k == kind]).reshape(-1, 2)
        ax.scatter(pts[:, 0], pts[:, 1], s=size, marker=marker, c=color,
                   edgecolors=_style.BLACK, linewidths=1.0, zorder=6)
        handles.append(Line2D([], [], ls="", marker=marker, ms=8, color=color,
                              mec=_style.BLACK, label=f"{kind.replace('_', ' ')} ({label})"))
    return handles


def legend(fig: Figure, handles: Sequence[Any]) -> None:
    """Legend below the axes (outside, so it never hides a path)."""
    if handles:
        fig.legend(handles=list(handles), loc="outside lower center",
                   ncols=min(3, len(handles)), frameon=False)
