"""``optkit.plot``: the plotting API under its short name (re-exported from ``optkit.plots``)."""

from .plots import (
    Labels,
    Paths,
    Point,
    atlas_figure,
    contour_figure,
    convergence_figure,
    function_figure,
    paths_from_arrays,
    paths_from_result,
    plot_run,
    principal_plane,
    projection_figure,
    save,
    taylor_model,
    taylor_surface,
)

__all__ = [
    "Labels", "Paths", "Point", "atlas_figure", "contour_figure", "convergence_figure",
    "function_figure", "paths_from_arrays", "paths_from_result", "plot_run", "principal_plane",
    "projection_figure", "save", "taylor_model", "taylor_surface",
]
