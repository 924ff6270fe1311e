"""n > 2: trajectories projected onto their two leading principal directions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from . import _style
from ._data import NO_LABELS, Labels, Paths, Point, evaluate
from .contour import draw_field, draw_paths, draw_points, legend


def principal_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre c (mean of ``points`` [m, n]), the two leading principal directions V [2, n]
    (right singular vectors of the centred points, sign fixed so the largest entry of each is
    positive) and the fraction of variance each explains."""
    n = points.shape[1]
    centre = points.mean(axis=0)
    centred = points - centre
    if len(points) < 2 or not np.any(centred):
        return centre, np.eye(2, n), np.zeros(2)
    _, sing, vt = np.linalg.svd(centred, full_matrices=False)
    if vt.shape[0] < 2:  # one point's worth of rank: complete with any orthogonal direction
        other = np.eye(n)[np.argmin(np.abs(vt[0]))]
        other = other - (other @ vt[0]) * vt[0]
        vt = np.vstack([vt[0], other / np.linalg.norm(other)])
        sing = np.append(sing, 0.0)
    signs = np.sign(vt[np.arange(2), np.argmax(np.abs(vt[:2]), axis=1)])
    var = sing**2
    return centre, vt[:2] * signs[:, None], var[:2] / var.sum()


def projection_figure(
    fun: Callable[[Any], Any] | None,
    paths: Paths,
    points: Sequence[Point] = (),
    labels: Labels = NO_LABELS,
    *,
    points_label: str = "known",
    resolution: int = 120,
) -> Figure:
    """Paths x_k ↦ V(x_k − c) in the plane of the two leading principal directions of all
    drawn iterates, over the contour of f restricted to that plane (c + a v₁ + b v₂), with the
    critical points' projections marked (they may lie off the plane)."""
    drawn, note = paths.subsample()
    iterates = [drawn.path(i) for i in range(drawn.num_starts)]
    stacked = np.concatenate([p for p in iterates if len(p)] or [np.zeros((1, paths.dim))])
    centre, plane, share = principal_plane(stacked)
    coords = [(p - centre) @ plane.T for p in iterates]
    flat = np.concatenate([c for c in coords if len(c)] or [np.zeros((1, 2))])
    lo, hi = flat.min(axis=0), flat.max(axis=0)
    pad = 0.08 * np.maximum(hi - lo, 1e-3 * max(1.0, float(np.abs(flat).max())))
    lo, hi = lo - pad, hi + pad
    with _style.style():
        fig = _style.new_figure()
        ax = fig.add_subplot()
        if fun is not None:
            a, b = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                               np.linspace(lo[1], hi[1], resolution))
            x = centre + a.reshape(-1, 1) * plane[0] + b.reshape(-1, 1) * plane[1]
            draw_field(fig, ax, a, b, evaluate(fun, x).reshape(a.shape))
        handles = draw_paths(ax, coords, drawn)
        handles += draw_points(ax, [(p.x - centre) @ plane.T for p in points],
                               [p.kind for p in points], f"{points_label}, projected")
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel(f"principal direction 1 ({100 * share[0]:.0f} % of variance)")
        ax.set_ylabel(f"principal direction 2 ({100 * share[1]:.0f} % of variance)")
        count = f"{paths.num_starts} start{'s' * (paths.num_starts != 1)}"
        _style.title(
            ax,
            f"{labels.problem}: {count} projected onto\nthe two leading principal directions",
            labels.detail(note, "contour: f on that plane through the mean iterate"),
        )
        legend(fig, handles)
    return fig
