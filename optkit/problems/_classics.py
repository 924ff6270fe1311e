"""Classic test functions whose critical points are known in closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks as check
from ._problem import KnownPoint, Problem


def rosenbrock(*, dim: int = 2) -> Problem:
    """f(x) = Σᵢ₌₁ⁿ⁻¹ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², the banana valley (n = dim ≥ 2), in the
    chained n-D form of Moré, Garbow & Hillstrom (1981).

    ∂f/∂xᵢ = −400xᵢ(xᵢ₊₁ − xᵢ²) − 2(1 − xᵢ) [i < n] + 200(xᵢ − xᵢ₋₁²) [i > 1].
    Global minimum f = 0 at (1, …, 1); for n = 2 it is the only critical point (for
    4 ≤ n ≤ 7 there is also a local minimum near (−1, 1, …, 1), not listed). Start: the
    standard (−1.2, 1, −1.2, 1, …).
    """
    name = "rosenbrock"
    dim = check.integer(name, "dim", dim, minimum=2)

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, dim, name)
        head, tail = x[:-1], x[1:]
        return jnp.sum(100.0 * (tail - head**2) ** 2 + (1.0 - head) ** 2)

    start = np.where(np.arange(dim) % 2 == 0, -1.2, 1.0)
    points = (KnownPoint((1.0,) * dim, 0.0, "minimum", "global minimum"),)
    return Problem(name=name, fun=fun, dim=dim, start=check.point(start),
                   box=check.cube(dim, -2.0, 2.0), critical_points=points,
                   source="Rosenbrock (1960), Comput. J. 3:175",
                   params={"dim": dim})


def booth() -> Problem:
    """f(x, y) = (x + 2y − 7)² + (2x + y − 5)².

    A convex quadratic with Hessian [[10, 8], [8, 10]] (eigenvalues 2 and 18): its only
    critical point is the global minimum f = 0 at (1, 3), where both residuals vanish.
    """
    name = "booth"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return (x[0] + 2.0 * x[1] - 7.0) ** 2 + (2.0 * x[0] + x[1] - 5.0) ** 2

    points = (KnownPoint((1.0, 3.0), 0.0, "minimum", "global minimum"),)
    return Problem(name=name, fun=fun, dim=2, start=check.point([0.0, 0.0]),
                   box=check.cube(2, -10.0, 10.0), critical_points=points,
                   source="Booth function; Jamil & Yang (2013)", variables=("x", "y"))


def matyas() -> Problem:
    """f(x, y) = 0.26(x² + y²) − 0.48xy.

    A convex quadratic with Hessian [[0.52, −0.48], [−0.48, 0.52]] (eigenvalues 0.04 and 1,
    condition 25): the only critical point is the global minimum f = 0 at the origin.
    """
    name = "matyas"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return 0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1]

    points = (KnownPoint((0.0, 0.0), 0.0, "minimum", "global minimum"),)
    return Problem(name=name, fun=fun, dim=2, start=check.point([1.0, 2.0]),
                   box=check.cube(2, -10.0, 10.0), critical_points=points,
                   source="Matyas function; Jamil & Yang (2013)", variables=("x", "y"))


def quadratic(*, dim: int = 2, condition: float = 100.0) -> Problem:
    """f(x) = ½xᵀAx with A = diag(λ₁, …, λₙ), λ log-spaced from 1 to ``condition``.

    ∇f = Ax, ∇²f = A, condition number κ(A) = ``condition``: the only critical point is the
    minimum at 0. Gradient descent with the best constant step 2/(λ₁ + λₙ) contracts the error
    by (κ − 1)/(κ + 1) per step; Newton solves it in one. A 1-D quadratic has κ = 1.
    """
    name = "quadratic"
    dim = check.integer(name, "dim", dim)
    condition = check.real(name, "condition", condition, minimum=1.0)
    if dim == 1 and condition != 1.0:
        raise ValueError(f"problem {name!r}: parameter 'condition' must be 1 when dim = 1 "
                         f"(one eigenvalue), got {condition!r}")
    eigenvalues = np.geomspace(1.0, condition, dim)

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, dim, name)
        return 0.5 * jnp.sum(check.constant(eigenvalues, x) * x**2)

    points = (KnownPoint((0.0,) * dim, 0.0, "minimum", "global minimum"),)
    return Problem(name=name, fun=fun, dim=dim, start=check.point(np.ones(dim)),
                   box=check.cube(dim, -2.0, 2.0), critical_points=points,
                   source="diagonal quadratic with log-spaced eigenvalues 1 .. condition",
                   params={"dim": dim, "condition": condition})


def monkey_saddle() -> Problem:
    """f(x, y) = x³ − 3xy² = Re (x + iy)³.

    ∇f = (3x² − 3y², −6xy) vanishes only at the origin, where the Hessian
    [[6x, −6y], [−6y, −6x]] is zero: a degenerate critical point with three descending
    valleys (a "monkey" saddle), unbounded below.
    """
    name = "monkey_saddle"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return x[0] ** 3 - 3.0 * x[0] * x[1] ** 2

    points = (KnownPoint((0.0, 0.0), 0.0, "degenerate",
                         "three descending valleys: neither minimum nor maximum"),)
    return Problem(name=name, fun=fun, dim=2, start=check.point([1.0, 0.5]),
                   box=check.cube(2, -1.5, 1.5), critical_points=points,
                   source="monkey saddle x^3 - 3xy^2", variables=("x", "y"))
