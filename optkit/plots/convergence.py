"""Convergence against step: f − f_best, ‖∇f‖ and, where recorded, step size and damping."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _style
from ._data import NO_LABELS, Labels, Paths

#: per-step series drawn in extra panels when the run recorded them, with their axis labels.
EXTRA_PANELS = {"step_size": "step size t", "damping": "damping μ"}


def convergence_figure(
    paths: Paths, labels: Labels = NO_LABELS, f_star: float | None = None
) -> Figure:
    """f(x_k) − f_ref and ‖∇f(x_k)‖ against step k on log axes, one line per start coloured by
    its group, or for more than ``_style.MAX_BAND_LINES`` starts each group's median and
    25–75 % band (a start that stopped is held at its final value). f_ref is ``f_star`` (the
    lowest known minimum value) when given, else f_best, the lowest value any start recorded;
    differences below ε·max(1, |f_ref|) are drawn at that floor. Step size and damping get
    their own panels when recorded."""
    finite = paths.value[np.isfinite(paths.value)]
    f_best = float(finite.min()) if finite.size else 0.0
    known = f_star is not None and np.isfinite(f_star) and f_star <= f_best
    f_ref = float(f_star) if known else f_best
    ref_name = "f*" if known else "f_best"
    floor = np.finfo(float).eps * max(1.0, abs(f_ref))
    series = {
        f"f − {ref_name}   (floor {floor:.0e})": np.maximum(paths.value - f_ref, floor),
        "‖∇f‖": _floored(paths.grad_norm),
    }
    for key, label in EXTRA_PANELS.items():
        extra = paths.extras.get(key)
        if extra is not None:
            extra = extra.copy()
            extra[:, 0] = np.nan  # row 0 is the start: no step led to it
            if np.any(np.isfinite(extra) & (extra != 0)):  # all-zero: nothing recorded
                series[label] = extra
    banded = paths.num_starts > _style.MAX_BAND_LINES
    with _style.style():
        fig = _style.new_figure(_style.WIDE_FIG_SIZE if len(series) <= 2 else (10.0, 7.2))
        axes = fig.subplots(1 if len(series) <= 2 else 2, 2, squeeze=False).ravel()
        for ax, (name, data) in zip(axes, series.items(), strict=False):
            if banded:
                _bands(ax, paths, paths.forward_filled(data))
            else:
                _lines(ax, paths, data)
            _scale(ax, data)
            ax.set_xlabel("step k")
            ax.set_ylabel(name)
            ax.grid(True, which="major", alpha=0.3)
        for ax in axes[len(series):]:
            ax.set_visible(False)
        count = f"{paths.num_starts} start{'s' * (paths.num_starts != 1)}"
        how = "median and quartiles per group" if banded else "one line per start"
        ref = f"{ref_name} = {_style.nice_number(f_ref)}"
        fig.suptitle(_style.title_text(f"{labels.problem}: convergence of {count} ({how})",
                                       labels.detail(ref), width=120),
                     fontsize=_style.RC["axes.titlesize"])
        fig.legend(handles=_legend(paths, banded), loc="outside lower center",
                   ncols=4, frameon=False)
    return fig


def _floored(data: np.ndarray) -> np.ndarray:
    """Exact zeros (a start that landed on the point) drawn at 1/10 of the smallest positive
    value so the series stays on a log axis."""
    positive = data[np.isfinite(data) & (data > 0)]
    if positive.size == 0:
        return data
    return np.where(data <= 0, 0.1 * positive.min(), data)


def _lines(ax, paths: Paths, data: np.ndarray) -> None:
    steps = np.arange(data.shape[1])
    for i in range(paths.num_starts):
        end = paths.last_row[i] + 1
        ax.plot(steps[:end], data[i, :end], color=_style.group_color(paths.groups[i]),
                lw=1.0, alpha=_style.PATH_ALPHA)


def _bands(ax, paths: Paths, data: np.ndarray) -> None:
    """Per group: the median over its starts and the band between the quartiles."""
    steps = np.arange(data.shape[1])
    for name in np.unique(paths.groups.astype(str)):
        rows = data[paths.groups.astype(str) == name]
        finite = np.isfinite(rows).any(axis=0)
        q = np.full((3, data.shape[1]), np.nan)
        q[:, finite] = np.nanquantile(rows[:, finite], [0.25, 0.5, 0.75], axis=0)
        color = _style.group_color(name)
        ax.fill_between(steps, q[0], q[2], color=color, alpha=0.22, lw=0)
        ax.plot(steps, q[1], color=color, lw=1.6)


def _scale(ax, data: np.ndarray) -> None:
    """Log scale for positive series; symlog when a series touches zero (undamped steps)."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return
    if (finite > 0).all():
        ax.set_yscale("log")
    elif (finite >= 0).all() and (finite > 0).any():
        ax.set_yscale("symlog", linthresh=float(finite[finite > 0].min()))


def _legend(paths: Paths, banded: bool) -> list:
    names, counts = np.unique(paths.groups.astype(str), return_counts=True)
    what = "median of " if banded else ""
    handles: list = [
        Line2D([], [], color=_style.group_color(n), lw=2,
               label=f"{n.replace('_', ' ')} ({what}{c})")
        for n, c in zip(names, counts, strict=True)
    ]
    if banded:
        handles.append(Patch(color=_style.GREY, alpha=0.35, label="25–75 % of each group"))
    return handles
