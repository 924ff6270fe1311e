"""How we step: descent directions × step rules, presets, and the single driver loop."""

from ._api import (
    METHODS,
    OptimizationError,
    gradient_descent,
    make_solver,
    minimize,
    minimize_batch,
    newton,
)
from ._base import Solver, StepInfo
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import Backtracking, NoLineSearch
from ._result import Result, Trajectory
from ._status import Status
from .bfgs import BFGS
from .gradient_descent import GradientDescent
from .newton import Newton
from .optax_solver import Optax

__all__ = [
    "BFGS", "METHODS", "Backtracking", "Descent", "Direction", "GradientDescent",
    "LineSearchSolver", "Newton", "NoLineSearch", "OptimizationError", "Optax", "Result",
    "Solver", "Status", "StepInfo", "Trajectory", "gradient_descent", "make_solver", "minimize",
    "minimize_batch", "newton",
]
