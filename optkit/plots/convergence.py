"""Convergence against step: f − f_ref (or f), ‖∇f‖ and, where recorded, step size and damping."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _style
from ._data import NO_LABELS, Labels, Paths

#: per-step series drawn in extra panels when the run recorded them, with their axis labels.
EXTRA_PANELS = {"step_size": "step size t", "damping": "damping μ"}
#: above this many steps, every line (or band) is thinned to about THIN_BINS bins of steps:
#: the bin's typical value drawn as the line and its lowest to highest as a light band, so
#: thousands of zig-zagging steps read as a trend with its spread, not a solid block of ink.
THIN_ABOVE = 600
THIN_BINS = 300
#: groups whose ends may be a minimum, so the lowest value among them can serve as f_best
MINIMUM_GROUPS = frozenset({"minimum", "degenerate", "converged"})


def reference(paths: Paths, f_star: float | None = None) -> tuple[float | None, str]:
    """The value to measure f against and its name, or (None, why not).

    - ``f_star`` ("f*"), the lowest known minimum, when given, finite and not above every
      recorded value by more than round-off (else the run found lower: a wrong f*);
    - else f_best, the lowest recorded value, when a start *ends* there having converged
      at a minimum (or, unclassified, converged) — a finite best this run actually reached;
    - else None: f keeps decreasing (log-sum-exp has no minimum) or the lowest value is a
      point where no start stopped, so "f − f_best" would plunge as if converging.
    """
    finite = paths.value[np.isfinite(paths.value)]
    if finite.size == 0:
        return None, "no finite value"
    f_low = float(finite.min())
    slack = 1e3 * np.finfo(float).eps * max(1.0, abs(f_low))
    if f_star is not None and np.isfinite(f_star) and f_star <= f_low + slack:
        return float(f_star), "f*"
    ends = paths.end_values
    settled = paths.converged & np.isin(paths.groups.astype(str), list(MINIMUM_GROUPS))
    settled &= np.isfinite(ends)
    if settled.any() and float(ends[settled].min()) <= f_low + slack:
        return f_low, "f_best"
    return None, "no minimum reached"


def convergence_figure(
    paths: Paths, labels: Labels = NO_LABELS, f_star: float | None = None
) -> Figure:
    """f(x_k) − f_ref and ‖∇f(x_k)‖ against step k on log axes, one line per start coloured by
    its group, or for more than ``_style.MAX_BAND_LINES`` starts each group's median and
    25–75 % band (a start that stopped is held at its final value).

    f_ref is chosen by :func:`reference`: ``f_star`` (the lowest known minimum) when given,
    else f_best when some start converged to the lowest value recorded; differences below
    ε·max(1, |f_ref|) are drawn at that floor. Without either, f itself is drawn on a symlog
    axis and the axis label says so. The step axis ends at the longest solve; runs of more
    than ``THIN_ABOVE`` steps are thinned to bins (median line, min–max band). Step size and
    damping get their own panels when recorded."""
    f_ref, ref_name = reference(paths, f_star)
    series: dict[str, np.ndarray] = {}
    if f_ref is not None:
        floor = np.finfo(float).eps * max(1.0, abs(f_ref))
        series[f"f − {ref_name}   (floor {floor:.0e})"] = np.maximum(paths.value - f_ref, floor)
    else:
        series[f"f   (symlog axis: {ref_name})"] = paths.value
    series["‖∇f‖"] = _floored(paths.grad_norm)
    for key, label in EXTRA_PANELS.items():
        extra = paths.extras.get(key)
        if extra is not None:
            extra = extra.copy()
            extra[:, 0] = np.nan  # row 0 is the start: no step led to it
            if np.any(np.isfinite(extra) & (extra != 0)):  # all-zero: nothing recorded
                series[label] = extra
    banded = paths.num_starts > _style.MAX_BAND_LINES
    last = int(paths.last_row.max()) if paths.num_starts else 0
    thinned = last + 1 > THIN_ABOVE
    # an even bin width: a step size alternating every other step (Barzilai–Borwein,
    # backtracking) puts as many of each in every bin, so the trend line does not wiggle
    width = 2 * int(np.ceil((last + 1) / (2 * THIN_BINS))) if thinned else 1
    with _style.style():
        fig = _style.new_figure(_style.WIDE_FIG_SIZE if len(series) <= 2 else (10.0, 7.2))
        axes = fig.subplots(1 if len(series) <= 2 else 2, 2, squeeze=False).ravel()
        for k, (ax, (name, data)) in enumerate(zip(axes, series.items(), strict=False)):
            data = data[:, : last + 1]
            if banded:
                _bands(ax, paths, paths.forward_filled(data), width)
            else:
                _lines(ax, paths, data, width)
            if k == 0 and f_ref is None:
                _symlog(ax, data)
            else:
                _scale(ax, data)
            ax.set_xlim(0, max(last, 1))
            ax.set_xlabel("step k")
            ax.set_ylabel(name)
            ax.grid(True, which="major", alpha=0.3)
        for ax in axes[len(series):]:
            ax.set_visible(False)
        count = f"{paths.num_starts} start{'s' * (paths.num_starts != 1)}"
        how = "median and quartiles per group" if banded else "one line per start"
        if thinned:
            how += f", thinned to bins of {width} steps"
        ref = (f"{ref_name} = {_style.nice_number(f_ref)}" if f_ref is not None
               else "no finite minimum known or reached: f itself")
        fig.suptitle(_style.title_text(f"{labels.problem}: convergence of {count} ({how})",
                                       labels.detail(ref), width=120),
                     fontsize=_style.RC["axes.titlesize"])
        fig.legend(handles=_legend(paths, banded, thinned), loc="outside lower center",
                   ncols=4, frameon=False)
    return fig


def _floored(data: np.ndarray) -> np.ndarray:
    """Exact zeros (a start that landed on the point) drawn at 1/10 of the smallest positive
    value so the series stays on a log axis."""
    positive = data[np.isfinite(data) & (data > 0)]
    if positive.size == 0:
        return data
    return np.where(data <= 0, 0.1 * positive.min(), data)


def thin(steps: np.ndarray, values: np.ndarray,
         width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reduce a series to bins of ``width`` consecutive steps (bin b holds the steps
    b·width … (b+1)·width − 1, the same bins for every line of a figure): each bin's middle
    step, its typical value, minimum and maximum. The typical value is the geometric mean
    when every value is positive (step sizes alternating between 10⁻³ and 10⁻¹ average to a
    steady 10⁻², where a median would jump between the two), else the median; non-finite
    values are skipped, empty bins dropped. The last finite value is appended at its own step
    so a line still ends where its solve ended."""
    ok = np.isfinite(values)
    steps, values = steps[ok], values[ok]
    if steps.size == 0:
        return (np.zeros(0),) * 4
    positive = bool((values > 0).all())
    bins = steps // max(width, 1)
    edges = np.flatnonzero(np.diff(bins)) + 1
    mid, typical, lo, hi = [], [], [], []
    for chunk_steps, chunk in zip(np.split(steps, edges), np.split(values, edges),
                                  strict=True):
        mid.append(0.5 * (chunk_steps[0] + chunk_steps[-1]))
        typical.append(np.exp(np.mean(np.log(chunk))) if positive else np.median(chunk))
        lo.append(chunk.min())
        hi.append(chunk.max())
    if steps[-1] > mid[-1]:
        mid.append(steps[-1])
        typical.append(values[-1])
        lo.append(values[-1])
        hi.append(values[-1])
    return np.asarray(mid, float), np.asarray(typical), np.asarray(lo), np.asarray(hi)


def _lines(ax: Any, paths: Paths, data: np.ndarray, width: int) -> None:
    steps = np.arange(data.shape[1])
    for i in range(paths.num_starts):
        end = paths.last_row[i] + 1
        color = _style.group_color(paths.groups[i])
        if width > 1:
            mid, typical, lo, hi = thin(steps[:end], data[i, :end], width)
            ax.fill_between(mid, lo, hi, color=color, alpha=0.18, lw=0)
            ax.plot(mid, typical, color=color, lw=1.2, alpha=_style.PATH_ALPHA)
        else:
            ax.plot(steps[:end], data[i, :end], color=color, lw=1.0, alpha=_style.PATH_ALPHA)


def _bands(ax: Any, paths: Paths, data: np.ndarray, width: int) -> None:
    """Per group: the median over its starts and the band between the quartiles (per bin of
    steps when thinned: the typical median, the lowest and the highest quartile)."""
    steps = np.arange(data.shape[1])
    for name in np.unique(paths.groups.astype(str)):
        rows = data[paths.groups.astype(str) == name]
        finite = np.isfinite(rows).any(axis=0)
        q = np.full((3, data.shape[1]), np.nan)
        q[:, finite] = np.nanquantile(rows[:, finite], [0.25, 0.5, 0.75], axis=0)
        color = _style.group_color(name)
        if width > 1:
            mid, med, _, _ = thin(steps, q[1], width)
            lo = thin(steps, q[0], width)[2]
            hi = thin(steps, q[2], width)[3]
            ax.fill_between(mid, lo, hi, color=color, alpha=0.22, lw=0)
            ax.plot(mid, med, color=color, lw=1.6)
        else:
            ax.fill_between(steps, q[0], q[2], color=color, alpha=0.22, lw=0)
            ax.plot(steps, q[1], color=color, lw=1.6)


def _scale(ax: Any, data: np.ndarray) -> None:
    """Log scale for positive series; symlog when a series touches zero (undamped steps)."""
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return
    if (finite > 0).all():
        ax.set_yscale("log")
    elif (finite >= 0).all() and (finite > 0).any():
        ax.set_yscale("symlog", linthresh=float(finite[finite > 0].min()))


def _symlog(ax: Any, data: np.ndarray) -> None:
    """Symlog axis for f itself (any sign): linear within ±linthresh, logarithmic beyond, with
    linthresh the power of ten at or below max(smallest nonzero |f|, 10⁻³·max|f|), so values
    near zero neither stretch the axis over a dozen empty decades nor crowd its ticks."""
    magnitude = np.abs(data[np.isfinite(data)])
    nonzero = magnitude[magnitude > 0]
    if nonzero.size == 0:
        return
    threshold = max(float(nonzero.min()), 1e-3 * float(nonzero.max()))
    ax.set_yscale("symlog", linthresh=10.0 ** np.floor(np.log10(threshold)))


def _legend(paths: Paths, banded: bool, thinned: bool) -> list:
    names, counts = np.unique(paths.groups.astype(str), return_counts=True)
    what = "median of " if banded else ""
    handles: list = [
        Line2D([], [], color=_style.group_color(n), lw=2,
               label=f"{_style.kind_name(n)} ({what}{c})")
        for n, c in zip(names, counts, strict=True)
    ]
    if banded:
        what = "25–75 % of each group" + (", lowest to highest per bin" if thinned else "")
        handles.append(Patch(color=_style.GREY, alpha=0.35, label=what))
    elif thinned:
        handles.append(Patch(color=_style.GREY, alpha=0.3,
                             label="lowest to highest per bin (line: its typical value)"))
    return handles
