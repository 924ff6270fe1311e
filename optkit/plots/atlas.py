"""Critical-point atlas: kinds, values and Hessian principal directions on the contour of f."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .._compile import jit
from . import _style
from ._data import NO_LABELS, Labels, Point, grid, view_box
from .contour import draw_field, draw_points, legend, lowest_in_view

#: half-length of a principal-direction arrow in pixels (less where points crowd).
ARROW_PX = 30.0
LABEL_FONT = 7.5


def hessian_eigen(fun: Callable[[Any], Any], xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues λ [m, n] (ascending) and unit eigenvectors [m, n, n] (columns) of ∇²f at
    each row of ``xs`` [m, n], in one vmapped call."""
    def eigen(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        hess = jax.hessian(fun)(x)
        return jnp.linalg.eigh(0.5 * (hess + hess.T))

    # one program (the symmetrising and eigh outside it were op-by-op compiles of their own)
    lam, vec = jit(jax.vmap(eigen))(np.asarray(xs, dtype=np.float64))
    return np.asarray(lam), np.asarray(vec)


def _eigen(fun: Callable[[Any], Any], xs: np.ndarray,
           points: Sequence[Point]) -> tuple[np.ndarray, np.ndarray]:
    """The points' saved Hessian eigen-decompositions where every point has one (a run
    saves them), else computed from f."""
    if all(p.eigenvalues is not None and p.eigenvectors is not None for p in points):
        return (np.stack([np.asarray(p.eigenvalues, float) for p in points]),
                np.stack([np.asarray(p.eigenvectors, float) for p in points]))
    return hessian_eigen(fun, xs)


def atlas_figure(
    fun: Callable[[Any], Any],
    box: tuple[Sequence[float], Sequence[float]],
    points: Sequence[Point],
    labels: Labels = NO_LABELS,
    *,
    points_label: str = _style.FOUND,
    known: Sequence[Point] = (),
    resolution: int = 200,
) -> Figure:
    """Contour of f with each critical point marked by kind, labelled with f there, and
    crossed by short double-headed arrows along the Hessian's eigenvectors: blue where f curves
    up (λ > 0), vermillion where it curves down (λ < 0), grey where λ ≈ 0.

    One vocabulary in every atlas: ``points`` are drawn filled when ``points_label`` is
    "found" (located by this run or search) and hollow when "known" (the problem's reference
    list); ``known`` adds the reference points, hollow and without arrows, so a found point
    on a known one shows as a filled marker in a ring. Points that are not critical points
    (kind "flat": an end on a numerically flat region, or "not_critical") get no arrows and
    are counted apart from the critical points in the title.
    """
    critical = [p for p in points if _style.is_critical(p.kind)]
    other = [p for p in points if not _style.is_critical(p.kind)]
    xs = np.array([p.x for p in critical], dtype=float).reshape(-1, 2)
    every = np.array([p.x for p in [*points, *known]], dtype=float).reshape(-1, 2)
    lower, upper = view_box(box, every)
    with _style.style():
        fig = _style.new_figure()
        ax = fig.add_subplot()
        floor = lowest_in_view(None, [*points, *known], lower, upper)
        draw_field(fig, ax, *grid(fun, lower, upper, resolution), floor=floor)
        handles = []
        if known:
            handles += draw_points(ax, [p.x for p in known], [p.kind for p in known],
                                   _style.KNOWN)
        handles += draw_points(ax, list(xs), [p.kind for p in critical], points_label)
        if other:
            handles += draw_points(ax, [p.x for p in other], [p.kind for p in other],
                                   points_label)
        ax.set_xlim(lower[0], upper[0])
        ax.set_ylim(lower[1], upper[1])
        ax.set_xlabel(labels.axis(0, 2))
        ax.set_ylabel(labels.axis(1, 2))
        counts = ", ".join(_count(sum(p.kind == k for p in critical), k)
                           for k in dict.fromkeys(p.kind for p in critical))
        apart = "; ".join(f"{sum(p.kind == k for p in other)} {_style.kind_name(k)} "
                          f"end{'s' * (sum(p.kind == k for p in other) != 1)}"
                          for k in dict.fromkeys(p.kind for p in other))
        summary = f"{counts or 'none'}{'; ' + apart if apart else ''}"
        source = "known" if points_label.startswith(_style.KNOWN) else "found"
        legend_note = ("filled: found by this run · hollow: known (the problem's reference list)"
                       if known else "")
        _style.title(ax, f"{labels.problem}: critical-point atlas ({summary} {source})",
                     labels.detail(legend_note))
        if len(xs):
            lam, vec = _eigen(fun, xs, critical)
            present = {_curvature(v, max(float(np.abs(row).max()), 1.0))
                       for row in lam for v in row}
            handles += [  # only the curvature colours some arrow has
                Line2D([], [], color=_style.CURVATURE_COLOR[s], lw=1.5, label=text)
                for s, text in (("positive", "Hessian eigenvector, λ > 0"),
                                ("negative", "Hessian eigenvector, λ < 0"),
                                ("zero", "Hessian eigenvector, λ ≈ 0"))
                if s in present
            ]
        legend(fig, handles)
        if len(xs):
            fig.draw_without_rendering()  # fixes the layout, so data → pixel maps are final
            _arrows_and_labels(fig, ax, xs, [p.value for p in critical], lam, vec)
    return fig


def _arrows_and_labels(fig: Figure, ax: Any, xs: np.ndarray, values: Sequence[float],
                       lam: np.ndarray, vec: np.ndarray) -> None:
    """Eigenvector arrows (shorter where points crowd: at most 0.45 of the distance to the
    nearest other point) and "f = …" labels placed where they overlap the fewest arrows,
    markers and other labels, in pixel space."""
    origin = ax.transData.transform(xs)
    per_unit = ax.transData.transform(np.eye(2)) - ax.transData.transform(np.zeros((2, 2)))
    jac = np.diag(per_unit)  # pixels per data unit along x and y (axes are not rotated)
    gaps = np.linalg.norm(origin[:, None] - origin[None], axis=-1) + np.diag(
        np.full(len(xs), np.inf))
    half_px = np.minimum(ARROW_PX, 0.45 * gaps.min(axis=1))
    segments = []  # arrows in pixels, for the label placement
    for i, x in enumerate(xs):
        scale = max(float(np.abs(lam[i]).max()), 1.0)
        for j in range(2):
            d = vec[i][:, j] * half_px[i] / np.linalg.norm(jac * vec[i][:, j])
            ax.annotate("", xy=x + d, xytext=x - d, zorder=5, arrowprops=dict(
                arrowstyle="<|-|>", color=_style.CURVATURE_COLOR[_curvature(lam[i][j], scale)],
                lw=1.5, mutation_scale=9, shrinkA=0, shrinkB=0)).set_in_layout(False)
            segments.append((origin[i] - jac * d, origin[i] + jac * d))
    font_px = LABEL_FONT * fig.dpi / 72.0
    placed: list[np.ndarray] = []
    lo_ax, hi_ax = ax.bbox.min, ax.bbox.max
    value_scale = max([1.0, *(abs(v) for v in values if np.isfinite(v))])
    for i, value in enumerate(values):
        text = f"f = {_style.nice_number(value, value_scale)}"
        size = np.array([0.62 * font_px * len(text) + 4.0, 1.4 * font_px])
        ends = [jac * vec[i][:, j] / np.linalg.norm(jac * vec[i][:, j]) for j in range(2)]
        directions = [ends[0] + ends[1], ends[0] - ends[1]]
        directions += [-d for d in directions]
        units = [d / np.linalg.norm(d) for d in directions]  # bisectors first, upper right first
        units = sorted(units, key=lambda u: -(u[0] + 0.9 * u[1])) + [
            np.array(d, float) for d in ((1, 0), (0, 1), (-1, 0), (0, -1))]
        best = None
        for rank, u in enumerate(units):
            anchor = origin[i] + (0.3 * half_px[i] + 6.0) * u
            corner = anchor - size * (u < 0)
            box = np.concatenate([corner, corner + size])
            clash = sum(_overlap(box, b) for b in placed)
            clash += sum(_hits(box, seg) for seg in segments)
            clash += sum(_overlap(box, np.concatenate([o - 8.0, o + 8.0])) for o in origin)
            clash += 3 * int((box[:2] < lo_ax).any() or (box[2:] > hi_ax).any())
            if best is None or (clash, rank) < best[:2]:
                best = (clash, rank, u, anchor, box)
        assert best is not None
        _, _, u, anchor, box = best
        placed.append(box)
        ax.annotate(text, xs[i], xytext=tuple((anchor - origin[i]) * 72.0 / fig.dpi),
                    textcoords="offset points", fontsize=LABEL_FONT, zorder=7,
                    ha="left" if u[0] >= 0 else "right", va="bottom" if u[1] >= 0 else "top",
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8),
                    ).set_in_layout(False)


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Do boxes (x0, y0, x1, y1) intersect?"""
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def _hits(box: np.ndarray, segment: tuple[np.ndarray, np.ndarray]) -> bool:
    """Does a segment pass through a box (tested at 9 points along it)?"""
    t = np.linspace(0.0, 1.0, 9)[:, None]
    pts = segment[0] + t * (segment[1] - segment[0])
    inside = (pts[:, 0] > box[0]) & (pts[:, 0] < box[2]) & (pts[:, 1] > box[1]) & (
        pts[:, 1] < box[3])
    return bool(inside.any())


def _count(n: int, kind: str) -> str:
    plural = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles"}
    return f"{n} {plural.get(kind, kind) if n != 1 else kind}".replace("_", " ")


def _curvature(lam: float, scale: float) -> str:
    """Sign of an eigenvalue, with |λ| ≤ 10⁻⁶·max|λ| counted as zero."""
    if abs(lam) <= 1e-6 * scale:
        return "zero"
    return "positive" if lam > 0 else "negative"
