"""Basin map: every start coloured by the critical point (or outcome) its solve reached."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _style
from ._data import NO_LABELS, Labels, Paths, Point, grid, outside, view_box
from .contour import field

#: an end belongs to a point when closer than this fraction of the box's diagonal (twice the
#: run's merge radius, optkit.runner.MERGE_FRACTION = 10⁻³, which grouped the ends into the
#: points of critical_points.json)
MATCH_FRACTION = 2e-3
#: legend rows at most; smaller basins are summed into one "other points" row
MAX_LEGEND_POINTS = 10
#: the map is drawn as an image when the starts fill a regular grid, else as square markers
#: whose total area covers about this fraction of the axes
SCATTER_FILL = 0.5


@dataclasses.dataclass(frozen=True)
class Basin:
    """One colour of the map: a point reached (``point`` set) or an outcome that is not a
    critical point (flat region, not critical, a solver status), with its starts' count."""

    name: str
    color: str
    count: int
    point: Point | None = None


def basins(
    paths: Paths, points: Sequence[Point], box: tuple[Sequence[float], Sequence[float]]
) -> tuple[np.ndarray, list[Basin]]:
    """Which basin each start belongs to: indices [starts] into the returned list.

    A start whose end is a critical point (its group is a critical kind, or "converged" when
    unclassified) belongs to the nearest of ``points`` within ``MATCH_FRACTION`` of the box's
    diagonal; such ends near no given point are grouped among themselves with the same
    radius (each group's lowest end standing for its point), so every end that reached a
    critical point has a colour of its own. Ends that are not critical points (flat region,
    not critical, a status such as max steps when unclassified) share one colour per group.
    Points take colours in order of kind (minima first) and value; the rest fixed greys.
    """
    lower, upper = (np.asarray(b, dtype=float) for b in box)
    radius = MATCH_FRACTION * float(np.linalg.norm(upper - lower))
    ends, values = paths.ends, paths.end_values
    groups = paths.groups.astype(str)
    reaches = np.array([_style.is_critical(g) and (g in _style.KIND_STYLE or g == "converged")
                        for g in groups], dtype=bool) & np.all(np.isfinite(ends), axis=1)
    targets = [p for p in points if _style.is_critical(p.kind)]
    owner = np.full(len(ends), -1)
    if targets and reaches.any():
        xs = np.stack([np.asarray(p.x, float).reshape(-1) for p in targets])
        distance = np.linalg.norm(ends[:, None, :] - xs[None], axis=-1)
        nearest = distance.argmin(axis=1)
        close = reaches & (distance[np.arange(len(ends)), nearest] <= radius)
        owner[close] = nearest[close]
    for i in np.flatnonzero(reaches & (owner < 0)):  # ends near no given point
        if owner[i] >= 0:
            continue
        group = np.flatnonzero(reaches & (owner < 0)
                               & (np.linalg.norm(ends - ends[i], axis=1) <= radius))
        best = group[np.nanargmin(values[group])] if np.isfinite(values[group]).any() else i
        kind = groups[best] if groups[best] in _style.KIND_STYLE else "converged"
        targets.append(Point(ends[best], float(values[best]), kind))
        owner[group] = len(targets) - 1
    counts = np.bincount(owner[owner >= 0], minlength=len(targets))
    kind_rank = {k: r for r, k in enumerate(_style.KIND_STYLE)}
    order = sorted((j for j in range(len(targets)) if counts[j]),
                   key=lambda j: (kind_rank.get(targets[j].kind, len(kind_rank)),
                                  targets[j].value if np.isfinite(targets[j].value) else np.inf))
    palette = _palette(len(order))
    finite = [abs(t.value) for t in targets if np.isfinite(t.value)]
    scale = max([1.0, *finite])
    result: list[Basin] = []
    index = np.full(len(ends), -1)
    for color, j in zip(palette, order, strict=True):
        index[owner == j] = len(result)
        result.append(Basin(_point_name(targets[j], scale), color, int(counts[j]),
                            targets[j]))
    for name in dict.fromkeys(groups[owner < 0]):
        mine = (owner < 0) & (groups == name)
        color = _style.BASIN_OTHER.get(name, _style.BASIN_UNFINISHED)
        index[mine] = len(result)
        what = (_style.kind_name(name) if name in _style.KIND_STYLE
                else f"stopped: {_style.kind_name(name)}")
        result.append(Basin(what, color, int(mine.sum())))
    return index, result


def _palette(n: int) -> list[str]:
    """``n`` distinguishable colours: Okabe–Ito for up to 7, matplotlib's tab10 for up to 10,
    else tab20 (cycled; the legend then names each point)."""
    if n <= len(_style.BASIN_COLORS):
        return list(_style.BASIN_COLORS[:n])
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [to_hex(cmap(k % cmap.N)) for k in range(n)]


def _point_name(p: Point, scale: float = 1.0) -> str:
    x = np.asarray(p.x, float).reshape(-1)
    at = ", ".join(_style.nice_number(v, max(1.0, float(np.abs(x).max()))) for v in x)
    kind = "converged" if p.kind == "converged" else _style.kind_name(p.kind)
    return f"{kind} ({at}), f = {_style.nice_number(p.value, scale)}"


def basin_figure(
    fun: Callable[[Any], Any] | None,
    box: tuple[Sequence[float], Sequence[float]],
    paths: Paths,
    points: Sequence[Point] = (),
    labels: Labels = NO_LABELS,
    *,
    resolution: int = 160,
) -> Figure:
    """Basin map of a 2-variable multistart run: each start drawn at its position in the
    colour of the critical point its solve ended at (:func:`basins`), over level lines of f;
    the points themselves marked by kind in their basin's colour. Starts that ended on no
    critical point (flat region, not critical, or a solver status when unclassified) are
    grey. Starts on a regular grid are drawn as an image of cells, others as squares.

    ``points`` are the critical points to match (a run's critical_points.json; flat-region
    ends are never among them); ends near none are grouped by themselves.
    """
    if paths.dim != 2:
        raise ValueError(f"basin_figure needs a 2-variable run, got {paths.dim} variables")
    index, kinds = basins(paths, points, box)
    starts = paths.starts
    marked = [b.point for b in kinds if b.point is not None]
    lower, upper = view_box(box, np.concatenate(
        [starts, *(np.asarray(p.x, float).reshape(1, 2) for p in marked)]), reach=0.5)
    colors = np.array([to_rgb(b.color) for b in kinds]).reshape(-1, 3)
    with _style.style():
        fig = _style.new_figure()
        ax = fig.add_subplot()
        cells = _grid_cells(starts)
        if cells is not None:
            xs, ys, order = cells
            image = colors[index[order]].reshape(len(ys), len(xs), 3)
            dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) if len(xs) > 1 else 1.0
            dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1) if len(ys) > 1 else 1.0
            ax.imshow(image, origin="lower", interpolation="nearest", aspect="auto",
                      extent=(xs[0] - dx / 2, xs[-1] + dx / 2, ys[0] - dy / 2, ys[-1] + dy / 2),
                      zorder=0)
        else:
            ax.scatter(starts[:, 0], starts[:, 1], marker="s", s=_square_size(fig, len(starts)),
                       c=colors[index], linewidths=0, zorder=0)
        if fun is not None:
            gx, gy, z = grid(fun, lower, upper, resolution)
            shown, _, _ = field(z)
            if np.isfinite(shown).any() and np.nanmax(shown) > np.nanmin(shown):
                ax.contour(gx, gy, shown, levels=np.linspace(np.nanmin(shown), np.nanmax(shown),
                                                             _style.NUM_LEVELS // 2 + 1),
                           colors=_style.BLACK, linewidths=0.35, alpha=0.35, zorder=1,
                           negative_linestyles="solid")
        handles: list[Any] = []
        shown_points = 0
        for basin in sorted(kinds, key=lambda b: -b.count):
            p = basin.point
            if p is None:
                handles.append(Patch(color=basin.color,
                                     label=f"{basin.name}: {_starts(basin.count)}"))
                continue
            _, marker, size = _style.kind_style(p.kind if p.kind != "converged" else "minimum")
            x = np.asarray(p.x, float).reshape(2)
            off = bool(outside(x[None], lower, upper)[0])
            if not off:  # a white halo sets the marker off from its own basin's colour
                ax.scatter([x[0]], [x[1]], s=3.2 * size, marker=marker, c="white",
                           linewidths=0, zorder=5)
                ax.scatter([x[0]], [x[1]], s=1.3 * size, marker=marker, c=[basin.color],
                           edgecolors=_style.BLACK, linewidths=1.4, zorder=6)
            shown_points += 1
            if shown_points <= MAX_LEGEND_POINTS:
                handles.append(Line2D([], [], ls="", marker=marker, ms=9, mfc=basin.color,
                                      mec=_style.BLACK, mew=1.2,
                                      label=f"{basin.name}: {_starts(basin.count)}"
                                            + (" (outside the view)" if off else "")))
        rest = sorted((b for b in kinds if b.point is not None),
                      key=lambda b: -b.count)[MAX_LEGEND_POINTS:]
        more = (f"{len(rest)} more point{'s' * (len(rest) != 1)} "
                f"({sum(b.count for b in rest)} starts) not in the legend") if rest else ""
        ax.set_xlim(lower[0], upper[0])
        ax.set_ylim(lower[1], upper[1])
        ax.set_xlabel(labels.axis(0, 2))
        ax.set_ylabel(labels.axis(1, 2))
        reached = sum(b.point is not None for b in kinds)
        count = f"{paths.num_starts} start{'s' * (paths.num_starts != 1)}"
        _style.title(ax, f"{labels.problem}: basin map of {count} "
                         f"({reached} critical point{'s' * (reached != 1)} reached)",
                     labels.detail("each start coloured by the point its solve ended at",
                                   more))
        if handles:  # two columns unless a label would not fit in half the width
            wide = max(len(h.get_label()) for h in handles) > 50
            fig.legend(handles=handles, loc="outside lower center", ncols=1 if wide else 2,
                       frameon=False)
    return fig


def _starts(count: int) -> str:
    return f"{count} start{'s' * (count != 1)}"


def _grid_cells(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The axes of a full regular grid the starts fill (each (x, y) once), and the order of
    the starts that lists them row by row (y outer); None when the starts are scattered."""
    if len(starts) < 4:
        return None
    xs, ix = np.unique(starts[:, 0], return_inverse=True)
    ys, iy = np.unique(starts[:, 1], return_inverse=True)
    if len(xs) * len(ys) != len(starts) or len(xs) < 2 or len(ys) < 2:
        return None
    flat = iy * len(xs) + ix
    if len(np.unique(flat)) != len(starts):
        return None
    for axis in (xs, ys):
        steps = np.diff(axis)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=0.0):
            return None
    order = np.empty(len(starts), dtype=int)
    order[flat] = np.arange(len(starts))
    return xs, ys, order


def _square_size(fig: Figure, count: int) -> float:
    """Marker area (points²) so that ``count`` squares cover about SCATTER_FILL of the axes."""
    width, height = fig.get_size_inches()
    area = 0.55 * width * height * 72.0**2  # the axes' share of the figure, in points²
    return float(np.clip(SCATTER_FILL * area / max(count, 1), 4.0, 150.0))
