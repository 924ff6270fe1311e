"""How we step: descent directions × line searches, presets, the method registry and the
single driver loop. See docs/architecture.md for how to add a method or a line search."""

from ._api import OptimizationError, gradient_descent, minimize, minimize_batch, newton
from ._base import Solver, StepInfo
from ._batch import BatchSolve
from ._bfgs import BFGS
from ._descent import Descent, DescentSolver, Direction, LineSearchSolver, steepest_direction
from ._gradient_descent import GradientDescent
from ._least_squares import (
    GaussNewton,
    LeastSquaresResult,
    LevenbergMarquardt,
    SumOfSquares,
    least_squares,
)
from ._linesearch import (
    Backtracking,
    LineSearch,
    NoLineSearch,
    Trial,
    Wolfe,
    line_search_names,
    register_line_search,
)
from ._newton import Newton
from ._newton_cg import NewtonCG
from ._optax import Optax
from ._registry import (
    METHODS,
    Method,
    Option,
    default_grad_tol,
    default_max_steps,
    get_method,
    make_solver,
    method_names,
    register_method,
)
from ._result import HESSIAN_MAX_SIZE, Result, Trajectory
from ._status import Status
from ._trust_region import TrustRegion

__all__ = [
    "BFGS", "GaussNewton", "LeastSquaresResult", "LevenbergMarquardt", "SumOfSquares",
    "least_squares",
    "HESSIAN_MAX_SIZE", "METHODS", "Backtracking", "BatchSolve", "Descent", "DescentSolver",
    "Direction",
    "GradientDescent", "LineSearch", "LineSearchSolver", "Method", "Newton", "NewtonCG",
    "NoLineSearch", "OptimizationError", "Optax", "Option", "Result", "Solver", "Status",
    "StepInfo", "Trajectory", "Trial", "TrustRegion", "Wolfe", "default_grad_tol",
    "default_max_steps", "get_method", "gradient_descent", "line_search_names", "make_solver",
    "method_names", "minimize", "minimize_batch", "newton", "register_line_search",
    "register_method", "steepest_direction",
]
