"""The worked examples of the multivariable-calculus chapter optkit grew from."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks as check
from ._problem import KnownPoint, Problem

CHAPTER = "chapter"


def log_sum_exp() -> Problem:
    """f(x, y) = log(eˣ + eʸ), the smooth maximum.

    ∇f = softmax(x, y) has positive entries summing to 1, so it never vanishes: no critical
    points. f is convex with ∇²f = diag(p) − ppᵀ (p = softmax), singular along (1, 1).
    Evaluated as logaddexp, which does not overflow for large arguments.
    """
    name = "log_sum_exp"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return jnp.logaddexp(x[0], x[1])

    return Problem(name=name, fun=fun, dim=2, start=check.point([1.0, -1.0]),
                   box=check.cube(2, -2.0, 2.0), source=f"{CHAPTER}: log(e^x + e^y)",
                   variables=("x", "y"))


def quartic() -> Problem:
    """f(x) = 3x⁴ − 4x³ − 12x², one variable.

    f′(x) = 12x³ − 12x² − 24x = 12x(x + 1)(x − 2) and f″(x) = 36x² − 24x − 24:
    x = −1: f = −5, f″ = 36 (local minimum); x = 0: f = 0, f″ = −24 (local maximum);
    x = 2: f = −32, f″ = 72 (global minimum).
    """
    name = "quartic"

    def fun(x: jax.Array) -> jax.Array:
        t = check.vector(x, 1, name)[0]
        return 3.0 * t**4 - 4.0 * t**3 - 12.0 * t**2

    points = (
        KnownPoint((-1.0,), -5.0, "minimum", "local minimum"),
        KnownPoint((0.0,), 0.0, "maximum", "local maximum"),
        KnownPoint((2.0,), -32.0, "minimum", "global minimum"),
    )
    return Problem(name=name, fun=fun, dim=1, start=check.point([0.5]),
                   box=((-2.0,), (3.0,)), critical_points=points,
                   source=f"{CHAPTER}: 3x^4 - 4x^3 - 12x^2", variables=("x",))


def gaussian_bump() -> Problem:
    """f(x, y) = x·e^(−x²−y²).

    ∇f = e^(−x²−y²)·(1 − 2x², −2xy) vanishes only at (±1/√2, 0), where
    ∇²f = diag(−4x, −2x)·e^(−1/2): a minimum at x = −1/√2 (value −e^(−1/2)/√2) and a maximum
    at x = +1/√2 (value +e^(−1/2)/√2).
    """
    name = "gaussian_bump"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return x[0] * jnp.exp(-x[0] ** 2 - x[1] ** 2)

    a = math.sqrt(0.5)
    peak = math.exp(-0.5) * a
    points = (
        KnownPoint((-a, 0.0), -peak, "minimum", "global minimum"),
        KnownPoint((a, 0.0), peak, "maximum", "global maximum"),
    )
    return Problem(name=name, fun=fun, dim=2, start=check.point([-0.5, 0.5]),
                   box=check.cube(2, -2.0, 2.0), critical_points=points,
                   source=f"{CHAPTER}: x exp(-x^2 - y^2)", variables=("x", "y"))


def composed() -> Problem:
    """The chapter's chain-rule example f(w, x, y, z) = (u + v)² with u = (a + b)²,
    v = (a − b)², a = (w + x + y + z)², b = (w + x − y − z)².

    With s = w + x + y + z and t = w + x − y − z: u + v = 2(a² + b²), so f = 4(s⁴ + t⁴)².
    ∂f/∂s = 32s³(s⁴ + t⁴) and ∂f/∂t = 32t³(s⁴ + t⁴) vanish together only at s = t = 0: the
    plane w + x = 0, y + z = 0 is the set of critical points, all global minima with f = 0,
    where f is of degree 8 and the Hessian is zero (degenerate). At the chapter's point
    (−1, 0, −2, 1): a = 4, b = 0, u = v = 16, f = 1024.
    """
    name = "composed"

    def fun(x: jax.Array) -> jax.Array:
        w, x_, y, z = check.vector(x, 4, name)
        a = (w + x_ + y + z) ** 2
        b = (w + x_ - y - z) ** 2
        u = (a + b) ** 2
        v = (a - b) ** 2
        return (u + v) ** 2

    note = "global minimum; so is every point with w + x = 0 and y + z = 0 (Hessian zero)"
    points = (
        KnownPoint((0.0, 0.0, 0.0, 0.0), 0.0, "degenerate", note),
        KnownPoint((1.0, -1.0, 0.5, -0.5), 0.0, "degenerate", note),
    )
    return Problem(name=name, fun=fun, dim=4, start=check.point([-1.0, 0.0, -2.0, 1.0]),
                   box=check.cube(4, -2.0, 2.0), critical_points=points,
                   source=f"{CHAPTER}: (u+v)^2, u=(a+b)^2, v=(a-b)^2, a=(w+x+y+z)^2, "
                          "b=(w+x-y-z)^2",
                   variables=("w", "x", "y", "z"))


def cubic_saddle() -> Problem:
    """f(x, y) = x²y + xy² = xy(x + y).

    ∇f = (2xy + y², x² + 2xy) = (y(2x + y), x(x + 2y)) vanishes only at the origin, where the
    Hessian [[2y, 2x + 2y], [2x + 2y, 2x]] is zero: degenerate, and neither a minimum nor a
    maximum since f(t, t) = 2t³ changes sign.
    """
    name = "cubic_saddle"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return x[0] ** 2 * x[1] + x[0] * x[1] ** 2

    points = (KnownPoint((0.0, 0.0), 0.0, "degenerate",
                         "neither minimum nor maximum: f(t, t) = 2t^3"),)
    return Problem(name=name, fun=fun, dim=2, start=check.point([1.0, 0.5]),
                   box=check.cube(2, -2.0, 2.0), critical_points=points,
                   source=f"{CHAPTER}: x^2 y + x y^2", variables=("x", "y"))


def linear(*, beta: Sequence[float] = (1.0, 2.0)) -> Problem:
    """f(x) = βᵀx, with ∇f = β and ∇²f = 0.

    No critical points unless β = 0, when f is constant and every point is critical but none
    is isolated: none is listed, and :func:`optkit.classify` reports every point "flat".
    Unbounded below otherwise: a test of how solvers fail.
    """
    name = "linear"
    coef = check.real_array(name, "beta", beta, ndim=1)
    dim = coef.size

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, dim, name)
        return jnp.dot(check.constant(coef, x), x)

    points = ()
    return Problem(name=name, fun=fun, dim=dim, start=check.point(np.zeros(dim)),
                   box=check.cube(dim, -2.0, 2.0), critical_points=points,
                   source=f"{CHAPTER}: beta^T x", params={"beta": check.as_tuple(coef)})


def quadratic_form(*, A: Sequence[Sequence[float]] = ((2.0, 0.5), (0.5, 1.0))) -> Problem:
    """f(x) = xᵀAx, with ∇f = (A + Aᵀ)x and ∇²f = A + Aᵀ = 2S (S the symmetric part).

    If S is nonsingular the origin is the only critical point, of the kind S's eigenvalues say
    (all positive: minimum; all negative: maximum; mixed: saddle). If S is singular every
    point of its null space is critical and the origin is degenerate. The default A is
    symmetric positive definite (eigenvalues 3/2 ± 1/√2): a minimum.
    """
    name = "quadratic_form"
    matrix = check.real_array(name, "A", A, ndim=2)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"problem {name!r}: parameter 'A' must be a square matrix, "
                         f"got shape {matrix.shape}")
    dim = matrix.shape[0]

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, dim, name)
        return x @ (check.constant(matrix, x) @ x)

    eigenvalues = np.linalg.eigvalsh(0.5 * (matrix + matrix.T))
    zero = np.sqrt(np.finfo(np.float64).eps) * max(1.0, float(np.max(np.abs(eigenvalues))))
    if np.any(np.abs(eigenvalues) <= zero):
        kind = "degenerate"
    elif np.all(eigenvalues > 0):
        kind = "minimum"
    elif np.all(eigenvalues < 0):
        kind = "maximum"
    else:
        kind = "saddle"
    points = (KnownPoint((0.0,) * dim, 0.0, kind),)
    return Problem(name=name, fun=fun, dim=dim, start=check.point(np.ones(dim)),
                   box=check.cube(dim, -2.0, 2.0), critical_points=points,
                   source=f"{CHAPTER}: x^T A x", params={"A": check.as_tuple(matrix)})


def matrix_factorization(*, m: int = 4, n: int = 3, rank: int = 2, seed: int = 0) -> Problem:
    """f(U, V) = ‖X − UV‖²_F over the pytree {"U": (m, rank), "V": (rank, n)}.

    X = U*V* with U*, V* standard normal from ``numpy.random.default_rng(seed)``, so X has
    rank ``rank`` and the minimum value is 0, reached at (U*, V*) and along its orbit
    (U*G, G⁻¹V*), G invertible: the Hessian there has rank² zero eigenvalues, so the second-
    order test says degenerate. The origin is a critical point (∇_U f = −2(X − UV)Vᵀ and
    ∇_V f = −2Uᵀ(X − UV) vanish) with f = ‖X‖²_F, and a saddle: the quadratic term of f there
    is −2⟨X, UV⟩, with Hessian eigenvalues ±2σᵢ(X). The default start is 0.1 times standard
    normal entries (the same generator), near that saddle.
    """
    name = "matrix_factorization"
    m = check.integer(name, "m", m)
    n = check.integer(name, "n", n)
    rank = check.integer(name, "rank", rank)
    seed = check.integer(name, "seed", seed, minimum=0)
    if rank > min(m, n):
        raise ValueError(f"problem {name!r}: parameter 'rank' must be ≤ min(m, n) = "
                         f"{min(m, n)}, got {rank}")
    rng = np.random.default_rng(seed)
    u_star = rng.standard_normal((m, rank))
    v_star = rng.standard_normal((rank, n))
    target = u_star @ v_star
    start = {"U": 0.1 * rng.standard_normal((m, rank)),
             "V": 0.1 * rng.standard_normal((rank, n))}

    def fun(params: dict[str, jax.Array]) -> jax.Array:
        u, v = jnp.asarray(params["U"]), jnp.asarray(params["V"])
        if u.shape != (m, rank) or v.shape != (rank, n):
            raise ValueError(f"problem {name!r} expects U of shape {(m, rank)} and V of shape "
                             f"{(rank, n)}, got {u.shape} and {v.shape}")
        residual = check.constant(target, u) - u @ v
        return jnp.sum(residual**2)

    dim = rank * (m + n)
    flat_min = np.concatenate([u_star.ravel(), v_star.ravel()])
    points = (
        KnownPoint(tuple(map(float, flat_min)), 0.0, "degenerate",
                   "global minimum; degenerate by the symmetry U -> UG, V -> G^-1 V"),
        KnownPoint((0.0,) * dim, float(np.sum(target**2)), "saddle"),
    )
    bound = max(2.0, math.ceil(float(np.max(np.abs(flat_min)))))
    return Problem(name=name, fun=fun, dim=dim,
                   start={key: check.point(value) for key, value in start.items()},
                   box=check.cube(dim, -bound, bound), critical_points=points,
                   source=f"{CHAPTER}: ||X - UV||_F^2",
                   params={"m": m, "n": n, "rank": rank, "seed": seed})
