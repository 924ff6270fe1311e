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
from ._data import NO_LABELS, Labels, Paths, Point, exits, grid, outside, view_box

#: draw a dot at every iterate when the drawn paths hold at most this many points in total.
MAX_ITERATE_DOTS = 3000


def contour_figure(
    fun: Callable[[Any], Any] | None,
    box: tuple[Sequence[float], Sequence[float]],
    paths: Paths | None = None,
    points: Sequence[Point] = (),
    labels: Labels = NO_LABELS,
    *,
    points_label: str = _style.KNOWN,
    resolution: int = 200,
) -> Figure:
    """Contour of f over ``box`` with every start's path (start ○, end ● or ✕ if it did not
    converge) coloured by its group, and critical ``points`` marked by kind (hollow when
    ``points_label`` is "known", filled when "found").

    The view grows from ``box`` to hold every iterate within half a box width of it; a path
    that ends further out is marked by a triangle where it last crosses the edge, pointing
    the way it went, and the title counts them. Levels are logarithmic, in
    log₁₀(f − f_min + δ), when f spans decades over the view (see :func:`field`); more than
    ``_style.MAX_DRAWN`` paths are subsampled and the title says so.
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
            coords = [drawn.path(i) for i in range(drawn.num_starts)]
            handles += draw_paths(ax, coords, drawn, view=(lower, upper))
            note = " · ".join(filter(None, [note, left_note(coords, lower, upper)]))
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


def left_note(coords: Sequence[np.ndarray], lower: np.ndarray, upper: np.ndarray) -> str:
    """"k of m drawn paths end outside the view" for a title ("" when none does)."""
    ends = np.array([c[-1] for c in coords if len(c)]).reshape(-1, 2)
    left = int(outside(ends, lower, upper).sum())
    if not left:
        return ""
    return f"{left} of {len(ends)} drawn paths end outside the view (▶ where each left)"


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
    floor: float | None = None, lines: bool = True,
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """Filled contour plus (with ``lines``) level lines of f (or log f, see :func:`field`) and
    a colour bar. Returns what was contoured, its levels and whether it is logarithmic (None
    when f is nowhere finite)."""
    shown, label, log = field(z, floor)
    if not np.isfinite(shown).any():
        return None
    lo, hi = np.nanmin(shown), np.nanmax(shown)
    if hi <= lo:
        hi = lo + 1.0
    levels = np.linspace(lo, hi, _style.NUM_LEVELS + 1)
    filled = ax.contourf(gx, gy, shown, levels=levels, cmap=_style.CONTOUR_CMAP, zorder=0)
    if lines:
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
    return shown, levels, log


def _by_kind(paths: Paths) -> bool:
    return any(g in _style.KIND_STYLE for g in paths.groups)


def draw_paths(
    ax: Any, coords: Sequence[np.ndarray], paths: Paths,
    view: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Any]:
    """Draw one polyline per start in 2-D ``coords`` (each [k, 2]) with start/end markers
    coloured by ``paths.groups``; return legend handles for what is visible.

    With ``view`` = (lower, upper), the axes' limits: a path whose end lies outside gets a
    triangle on the edge where it last left the view, pointing the way it went; the legend
    lists an end marker only when such an end lies inside the view.
    """
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
    shown = np.ones(len(ends), dtype=bool)
    left = np.zeros(0, dtype=int)
    if view is not None:
        lower, upper = (np.asarray(v, dtype=float) for v in view)
        shown = ~outside(ends, lower, upper)
        left, where, heading = exits(coords, lower, upper)
        if len(left):
            # triangle markers are rotated in pixel space: scale the data direction by the
            # axes' pixels per data unit (the layout is not final yet; the figure's size
            # gives the aspect closely enough for a pointer)
            width, height = ax.figure.get_size_inches()
            per_unit = np.array([width, height]) / np.maximum(upper - lower, 1e-300)
            angles = np.degrees(np.arctan2(heading[:, 1] * per_unit[1],
                                           heading[:, 0] * per_unit[0])) - 90.0
            for k, i in enumerate(left):
                ax.scatter(where[k, 0], where[k, 1], marker=(3, 0, angles[k]), s=70,
                           c=[colors[i]], edgecolors=_style.BLACK, linewidths=0.8, zorder=8,
                           clip_on=False)
    return path_legend(paths, end_shown=(ok & shown, ~ok & shown), left=len(left))


def path_legend(
    paths: Paths, end_shown: tuple[np.ndarray, np.ndarray] | None = None, left: int = 0
) -> list[Any]:
    """Legend handles: one line per group (with its count), then the start and end markers
    that are visible (``end_shown`` = which converged / not converged ends lie in the view;
    all by default) and, when ``left`` paths leave the view, the edge triangle."""
    handles: list[Any] = []
    names, counts = np.unique(paths.groups.astype(str), return_counts=True)
    prefix = "ends at " if _by_kind(paths) else ""
    for name, count in zip(names, counts, strict=True):
        handles.append(Line2D([], [], color=_style.group_color(name), lw=2,
                              label=f"{prefix}{_style.kind_name(name)} ({count})"))
    handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec=_style.BLACK,
                          label="start"))
    if end_shown is None:
        end_shown = (paths.converged, ~paths.converged)
    if np.any(end_shown[0]):
        handles.append(Line2D([], [], ls="", marker="o", color=_style.GREY, mec=_style.BLACK,
                              label="end (converged)"))
    if np.any(end_shown[1]):
        handles.append(Line2D([], [], ls="", marker="x", color=_style.BLACK, mew=1.6,
                              label="end (not converged)"))
    if left:
        handles.append(Line2D([], [], ls="", marker=(3, 0, -90), color=_style.GREY,
                              mec=_style.BLACK, label=f"left the view, end outside ({left})"))
    return handles


def draw_points(
    ax: Any, xs: Sequence[np.ndarray], kinds: Sequence[str], label: str = _style.KNOWN
) -> list[Any]:
    """Mark points (2-D coordinates) by kind; return one legend handle per kind. ``label``
    "known" (or anything starting so) draws hollow markers in the kind's colour, under the
    paths' end markers; any other source draws filled ones."""
    handles = []
    hollow = label.startswith(_style.KNOWN)
    for kind in dict.fromkeys(kinds):
        color, marker, size = _style.kind_style(kind)
        pts = np.array([x for x, k in zip(xs, kinds, strict=True) if k == kind]).reshape(-1, 2)
        if hollow:
            ax.scatter(pts[:, 0], pts[:, 1], s=1.6 * size, marker=marker, facecolors="none",
                       edgecolors=color, linewidths=2.0, zorder=4.5)
            handles.append(Line2D([], [], ls="", marker=marker, ms=9, mfc="none", mec=color,
                                  mew=2.0, label=f"{_style.kind_name(kind)} ({label})"))
        else:
            ax.scatter(pts[:, 0], pts[:, 1], s=size, marker=marker, c=color,
                       edgecolors=_style.BLACK, linewidths=1.0, zorder=6)
            handles.append(Line2D([], [], ls="", marker=marker, ms=8, color=color,
                                  mec=_style.BLACK, label=f"{_style.kind_name(kind)} ({label})"))
    return handles


def legend(fig: Figure, handles: Sequence[Any]) -> None:
    """Legend below the axes (outside, so it never hides a path)."""
    if handles:
        fig.legend(handles=list(handles), loc="outside lower center",
                   ncols=min(3, len(handles)), frameon=False)
