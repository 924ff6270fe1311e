"""Every colour, marker, size and rcParam the figures use, in one place.

Colours come from the Okabe–Ito palette (distinguishable under the common colour-vision
deficiencies); the contour background is a light grey ramp so the saturated trajectory colours
stay readable on it. Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot,
no global figure registry, no GUI backend) and saved with timestamps stripped so that the same
run gives the same bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

# Okabe & Ito (2008), "Color Universal Design".
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#7F7F7F"

#: per critical-point kind: colour, marker, marker size (points²), legend label.
KIND_STYLE: dict[str, tuple[str, str, float]] = {
    "minimum": (BLUE, "o", 90.0),
    "maximum": (VERMILLION, "^", 100.0),
    "saddle": (ORANGE, "X", 100.0),
    "degenerate": (PURPLE, "s", 80.0),
    "not_critical": (BLACK, "P", 80.0),
    "flat": (GREY, "D", 60.0),
}

#: kinds that are not critical points: never counted, listed or given Hessian arrows as one.
#: "flat" is an end point on a numerically flat region (gradient and Hessian negligible).
NON_CRITICAL_KINDS = frozenset({"not_critical", "flat"})

#: the two sources of marked points, one vocabulary for every figure: a *known* point comes
#: from the problem's reference list (drawn hollow), a *found* one from this run or search
#: (drawn filled); a found point on a known one shows as a filled marker inside a ring.
KNOWN, FOUND = "known", "found"

#: per solver status name (optkit.Status member names, lower case): colour.
STATUS_COLOR: dict[str, str] = {
    "converged": GREEN,
    "max_steps": ORANGE,
    "nonfinite": VERMILLION,
    "line_search_failed": PURPLE,
    "small_step": SKY_BLUE,
    "small_decrease": BLUE,
    "diverged": BLACK,
}

#: Hessian principal directions in the atlas: up-curving (λ > 0) and down-curving (λ < 0).
CURVATURE_COLOR = {"positive": BLUE, "negative": VERMILLION, "zero": GREY}

#: contour background: white → mid grey (low values light), with darker level lines.
CONTOUR_CMAP = LinearSegmentedColormap.from_list("optkit_grey", ["#FFFFFF", "#A3A3A3"])
CONTOUR_LINE_COLOR = "#5A5A5A"
NUM_LEVELS = 24

#: Taylor figures: f and its model.
SURFACE_COLOR = BLUE
MODEL_COLOR = VERMILLION

#: basin map: one colour per critical point reached (cycled), then fixed colours for ends
#: that reached none. Okabe–Ito without black and grey, which mark the other categories.
BASIN_COLORS = (BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, YELLOW)
BASIN_OTHER = {"flat": "#C8C8C8", "not_critical": "#4D4D4D"}
BASIN_UNFINISHED = "#8C8C8C"  # any status other than converged

FIG_SIZE = (6.4, 5.4)  # inches; at DPI this is 704 × 594 px
WIDE_FIG_SIZE = (10.0, 4.2)
DPI = 110
MAX_DRAWN = 200  # trajectories drawn at most; larger batches are subsampled
MAX_BAND_LINES = 50  # above this many starts, convergence plots draw quantile bands
SUBSAMPLE_SEED = 0
PATH_WIDTH = 1.3
PATH_ALPHA = 0.85
START_MARKER = dict(marker="o", s=22, facecolors="white", linewidths=1.1, zorder=4)
# ends sit above the marked critical points (zorder 6), so a point never hides an end
END_MARKER = dict(marker="o", s=26, linewidths=0.6, edgecolors=BLACK, zorder=7)
FAILED_END_MARKER = dict(marker="x", s=40, linewidths=1.6, zorder=7)

RC: dict[str, Any] = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "legend.framealpha": 0.9,
    "axes.grid": False,
    "image.cmap": "cividis",
    "svg.hashsalt": "optkit",  # stable element ids in SVG output
    "svg.fonttype": "path",
    "pdf.compression": 6,
    "path.simplify": True,
}

#: savefig metadata per format that drops creation dates (byte-stable output).
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
}
FORMATS = tuple(_METADATA)


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply the optkit rcParams for the duration of a figure's construction and save."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(size: tuple[float, float] = FIG_SIZE) -> Figure:
    """A pyplot-free figure (Agg-rendered on save, garbage-collected like any object)."""
    return Figure(figsize=size, dpi=DPI, layout="constrained")


def save(fig: Figure, path: str | Path, fmt: str | None = None) -> Path:
    """Write ``fig`` to ``path`` (format from ``fmt`` or the suffix) without timestamps."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "png").lower()
    if fmt not in _METADATA:
        raise ValueError(f"unsupported image format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(path, format=fmt, dpi=DPI, metadata=_METADATA[fmt])
    return path


def kind_style(kind: str) -> tuple[str, str, float]:
    return KIND_STYLE.get(kind, KIND_STYLE["not_critical"])


def kind_name(kind: str) -> str:
    """A kind or status as a reader says it: "not critical", "flat region", "max steps"."""
    return "flat region" if kind == "flat" else str(kind).replace("_", " ")


def is_critical(kind: str) -> bool:
    """Whether a point of this kind is a critical point (flat-region ends are not)."""
    return kind not in NON_CRITICAL_KINDS


def group_color(group: str) -> str:
    """Colour of a trajectory group: a critical-point kind or a solver status name."""
    if group in KIND_STYLE:
        return KIND_STYLE[group][0]
    return STATUS_COLOR.get(group, GREY)


def title(ax: Any, headline: str, *details: str, width: int = 78) -> None:
    """Axes title: what is plotted, then the details (solver, precision, notes) joined with
    " · " and wrapped at part boundaries to lines of about ``width`` characters."""
    ax.set_title(title_text(headline, *details, width=width))


def title_text(headline: str, *details: str, width: int = 78) -> str:
    lines = [headline]
    current = ""
    for part in (p for d in details for p in d.split(" · ") if p):
        if current and len(current) + 3 + len(part) > width:
            lines.append(current)
            current = part
        else:
            current = f"{current} · {part}" if current else part
    if current:
        lines.append(current)
    return "\n".join(lines)


def nice_number(value: float, scale: float = 0.0) -> str:
    """Compact value label (3 significant digits, no "-0"); values below 10⁻⁹·``scale`` (round-off
    around an exact zero, e.g. 7.9e-31 at a minimum with f = 0) print as "0"."""
    if not np.isfinite(value):
        return str(value)
    if abs(value) <= 1e-9 * abs(scale):
        return "0"
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text
