"""Figures from run directories and Results: contours with trajectories, convergence, 1-D
graphs, principal-direction projections, critical-point atlases, basin maps and Taylor
models.

Headless (figures are :class:`matplotlib.figure.Figure` objects rendered with Agg, no pyplot)
and deterministic (fixed subsampling seed, no timestamps in saved files). Styling lives in
``_style``. Plots never call a solver; they only evaluate f on plotting grids.
"""

from ._data import Labels, Paths, Point, SampledFunction, paths_from_arrays, paths_from_result
from ._run import plot_run
from ._style import save
from .atlas import atlas_figure
from .basin import basin_figure, basins
from .contour import contour_figure
from .convergence import convergence_figure
from .one_d import function_figure
from .projection import principal_plane, projection_figure
from .taylor import quadratic_model, taylor_figure, taylor_model, taylor_surface

__all__ = [
    "Labels", "Paths", "Point", "SampledFunction", "atlas_figure", "basin_figure", "basins",
    "contour_figure",
    "convergence_figure", "function_figure", "paths_from_arrays", "paths_from_result",
    "plot_run", "principal_plane",
    "projection_figure", "quadratic_model", "save", "taylor_figure", "taylor_model",
    "taylor_surface",
]
