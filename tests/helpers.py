"""Helpers shared by the test modules (import them as ``from tests.helpers import ...``).

Test functions with their critical points in closed form, the repository's paths, and the
``jit`` the tests compile their own programs with.

The critical points of Himmelblau's function have no closed form; they are refined here by
Newton's method on the hand-written gradient and Hessian (numpy only, independent of optkit)
from the published four-digit coordinates, and checked to ‖∇f‖ ≤ 1e-12.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np

import optkit  # noqa: F401  (enables float64 before any array below is made)
from optkit._compile import jit as _optkit_jit

#: ``jax.jit`` with the compiler options optkit's own programs use (``optkit/_compile.py``:
#: XLA:CPU's classic emitters, half the compile time). Tests compile their checks with it;
#: tests whose subject is optkit inside a user's ``jax.jit`` (test_compile, the LAPACK order
#: of user-compiled programs, errors raised under a user's jit) keep ``jax.jit``. Numerics do
#: not depend on the choice beyond the last bits.
jit = _optkit_jit

#: the repository root, and the folders the tests read from it
ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
EXPERIMENTS = ROOT / "experiments"


def load_experiment(name: str) -> ModuleType:
    """Import experiments/<name>.py as a module (experiments/ is not a package), once: later
    calls return the same module."""
    key = f"experiments_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EXPERIMENTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


def ravel_numpy(tree) -> np.ndarray:
    """The flat vector of ``jax.flatten_util.ravel_pytree(tree)``, in numpy (no compiled
    program per shape)."""
    return np.concatenate([np.ravel(leaf) for leaf in jax.tree_util.tree_leaves(tree)])

def rosenbrock(x):
    """(1 − x)² + 100 (y − x²)²: one minimum, (1, 1), in a curved valley."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def himmelblau(x):
    """(x² + y − 11)² + (x + y² − 7)²: 4 minima (f = 0), 4 saddles, 1 maximum."""
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def quartic_saddle(x):
    """x⁴/4 − x²/2 + y²/2: saddle at (0, 0), minima at (±1, 0) with f = −1/4."""
    return x[0] ** 4 / 4 - x[0] ** 2 / 2 + x[1] ** 2 / 2


def mexican_hat(x):
    """−r² + r⁴/4 with r² = x² + y²: maximum at 0, a ring of minima r² = 2 with f = −1."""
    r2 = jnp.sum(x**2)
    return -r2 + r2**2 / 4


def himmelblau_grad(p: np.ndarray) -> np.ndarray:
    x, y = p
    a, b = x * x + y - 11, x + y * y - 7
    return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])


def himmelblau_hessian(p: np.ndarray) -> np.ndarray:
    x, y = p
    a, b = x * x + y - 11, x + y * y - 7
    return np.array([[4 * a + 8 * x * x + 2, 4 * (x + y)], [4 * (x + y), 4 * b + 8 * y * y + 2]])


_HIMMELBLAU_APPROX = {
    "minimum": [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)],
    "saddle": [(0.086678, 2.884255), (-3.073026, -0.081353), (3.385154, 0.073852),
               (-0.127961, -1.953715)],
    "maximum": [(-0.270845, -0.923039)],
}


@functools.cache
def himmelblau_points() -> dict[str, np.ndarray]:
    """Himmelblau's 9 critical points by kind, each refined to ‖∇f‖ ≤ 1e-12."""
    points = {}
    for kind, approx in _HIMMELBLAU_APPROX.items():
        refined = []
        for p in approx:
            p = np.array(p, dtype=np.float64)
            for _ in range(20):
                p = p - np.linalg.solve(himmelblau_hessian(p), himmelblau_grad(p))
            assert np.linalg.norm(himmelblau_grad(p)) <= 1e-12, (kind, p)
            refined.append(p)
        points[kind] = np.array(refined)
    return points


def distance_to_nearest(x: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each row of x [..., n], the distance to the nearest row of points [m, n]."""
    x = np.asarray(x)
    return np.min(np.linalg.norm(x[..., None, :] - points, axis=-1), axis=-1)
