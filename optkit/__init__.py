"""optkit: gradient descent, Newton's method and the calculus under them, on JAX.

Importing optkit turns on JAX's 64-bit mode (``jax_enable_x64``), so Python floats and lists
become float64 arrays; float32 inputs stay float32. Set ``OPTKIT_ENABLE_X64=0`` before the
import to leave JAX's default alone.
"""

from ._startup import quiet_interrupts_while_loading as _quiet

_quiet()

import os as _os  # noqa: E402
from importlib.metadata import version as _version  # noqa: E402

import jax as _jax  # noqa: E402

if _os.environ.get("OPTKIT_ENABLE_X64", "1") != "0":
    _jax.config.update("jax_enable_x64", True)

from . import problems  # noqa: E402
from .analysis import (  # noqa: E402
    CriticalPoint,
    DerivativeReport,
    Kind,
    TaylorComparison,
    TaylorModel,
    check_derivatives,
    classify,
    find_critical_points,
    taylor,
    taylor_error,
)
from .runner import run  # noqa: E402
from .solvers import (  # noqa: E402
    BFGS,
    Backtracking,
    BatchSolve,
    Descent,
    DescentSolver,
    Direction,
    GaussNewton,
    GradientDescent,
    LeastSquaresResult,
    LevenbergMarquardt,
    LineSearch,
    Newton,
    NewtonCG,
    NoLineSearch,
    Optax,
    OptimizationError,
    Result,
    Solver,
    Status,
    SumOfSquares,
    Trajectory,
    TrustRegion,
    Wolfe,
    gradient_descent,
    least_squares,
    method_names,
    minimize,
    minimize_batch,
    newton,
    register_line_search,
    register_method,
)
from .solvers._validation import ToleranceWarning  # noqa: E402
from .storage import load_run  # noqa: E402

__version__ = _version("optkit")


def __getattr__(name: str):  # noqa: ANN202
    # plotting pulls in matplotlib: import it on first use, not with optkit
    if name in ("plot", "plots", "plot_run"):
        import importlib

        module = importlib.import_module(f".{'plots' if name == 'plot_run' else name}", __name__)
        return module.plot_run if name == "plot_run" else module
    raise AttributeError(f"module 'optkit' has no attribute {name!r}")

__all__ = [
    "BFGS", "Backtracking", "BatchSolve", "CriticalPoint", "Descent", "DescentSolver",
    "DerivativeReport", "Direction", "GaussNewton", "GradientDescent", "LeastSquaresResult",
    "LevenbergMarquardt", "SumOfSquares", "least_squares", "Kind", "LineSearch", "Newton",
    "NewtonCG", "NoLineSearch", "OptimizationError", "Optax", "Result", "Solver", "Status",
    "TaylorComparison", "TaylorModel", "Trajectory", "TrustRegion", "Wolfe", "__version__",
    "check_derivatives", "classify", "find_critical_points", "gradient_descent", "load_run",
    "method_names", "minimize", "minimize_batch", "newton", "plot_run", "problems",
    "register_line_search", "register_method", "run", "taylor", "taylor_error",
    "ToleranceWarning",
]
