"""Classic landscapes with many critical points: Himmelblau, six-hump camel, Beale,
Styblinski–Tang.

Critical points without a closed form are polished to float64 precision by Newton's method on
the hand-written numpy gradient (:mod:`._newton`), from six-digit seeds found by a dense
multistart search (Newton on the gradient from a 161 × 161 grid on [−12, 12]², which found
9, 15 and 3 critical points); the kind listed with each seed was read from the Hessian's eigenvalues
then, and the tests check it again with :func:`optkit.classify` on the JAX function.
"""

from __future__ import annotations

import functools
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from . import _checks as check
from ._newton import polish
from ._problem import KnownPoint, Problem


def _himmelblau_np(z: np.ndarray) -> float:
    x, y = z
    return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2


def _himmelblau_grad_hess(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = z
    a, b = x**2 + y - 11.0, x + y**2 - 7.0
    grad = np.array([4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b])
    hess = np.array([[4.0 * a + 8.0 * x**2 + 2.0, 4.0 * (x + y)],
                     [4.0 * (x + y), 2.0 + 4.0 * b + 8.0 * y**2]])
    return grad, hess


_HIMMELBLAU_SEEDS = (
    ((3.0, 2.0), "minimum"),
    ((3.584428, -1.848127), "minimum"),
    ((-2.805118, 3.131313), "minimum"),
    ((-3.779310, -3.283186), "minimum"),
    ((-0.270845, -0.923039), "maximum"),
    ((3.385154, 0.073852), "saddle"),
    ((0.086678, 2.884255), "saddle"),
    ((-3.073026, -0.081353), "saddle"),
    ((-0.127961, -1.953715), "saddle"),
)


@functools.cache
def _himmelblau_points() -> tuple[KnownPoint, ...]:
    points = []
    for seed, kind in _HIMMELBLAU_SEEDS:
        z = polish(_himmelblau_grad_hess, seed)
        # The four minima are the solutions of x² + y = 11, x + y² = 7: f = 0 exactly.
        value = 0.0 if kind == "minimum" else _himmelblau_np(np.array(z))
        points.append(KnownPoint(z, value, kind, "global minimum" if kind == "minimum" else ""))
    return tuple(points)


def himmelblau() -> Problem:
    """f(x, y) = (x² + y − 11)² + (x + y² − 7)².

    Nine critical points (all of them; the gradient is a pair of cubics): four global minima
    with f = 0 where x² + y = 11 and x + y² = 7, among them (3, 2); a local maximum near
    (−0.270845, −0.923039) with f ≈ 181.617; four saddles.
    """
    name = "himmelblau"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        return (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2

    return Problem(name=name, fun=fun, dim=2, start=check.point([0.0, 0.0]),
                   box=check.cube(2, -5.0, 5.0), critical_points=_himmelblau_points(),
                   source="Himmelblau (1972), Applied Nonlinear Programming",
                   variables=("x", "y"))


def _camel_np(z: np.ndarray) -> float:
    x, y = z
    return (4.0 - 2.1 * x**2 + x**4 / 3.0) * x**2 + x * y + (-4.0 + 4.0 * y**2) * y**2


def _camel_grad_hess(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = z
    grad = np.array([8.0 * x - 8.4 * x**3 + 2.0 * x**5 + y, x - 8.0 * y + 16.0 * y**3])
    hess = np.array([[8.0 - 25.2 * x**2 + 10.0 * x**4, 1.0], [1.0, -8.0 + 48.0 * y**2]])
    return grad, hess


# f(−x, −y) = f(x, y): each seed stands for itself and its mirror image (the origin is its own).
_CAMEL_SEEDS = (
    ((0.089842, -0.712656), "minimum", "global minimum"),
    ((1.703607, -0.796084), "minimum", "local minimum"),
    ((1.607105, 0.568651), "minimum", "local minimum"),
    ((1.230230, 0.162335), "maximum", "local maximum"),
    ((0.0, 0.0), "saddle", ""),
    ((1.109205, -0.768268), "saddle", ""),
    ((1.638068, 0.228674), "saddle", ""),
    ((1.296070, 0.605084), "saddle", ""),
)


@functools.cache
def _camel_points() -> tuple[KnownPoint, ...]:
    points = []
    for seed, kind, note in _CAMEL_SEEDS:
        z = polish(_camel_grad_hess, seed)
        value = _camel_np(np.array(z))
        points.append(KnownPoint(z, value, kind, note))
        if any(z):
            mirror = tuple(-v for v in z)
            points.append(KnownPoint(mirror, value, kind, note))
    return tuple(points)


def six_hump_camel() -> Problem:
    """f(x, y) = (4 − 2.1x² + x⁴/3)x² + xy + (−4 + 4y²)y².

    Fifteen critical points, all listed: six minima (the two global ones at
    ±(0.0898, −0.7127) with f ≈ −1.0316), two local maxima, seven saddles (one at the origin).
    f(−x, −y) = f(x, y), so they come in mirror pairs.
    """
    name = "six_hump_camel"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        u, v = x[0], x[1]
        return (4.0 - 2.1 * u**2 + u**4 / 3.0) * u**2 + u * v + (-4.0 + 4.0 * v**2) * v**2

    return Problem(name=name, fun=fun, dim=2, start=check.point([1.0, 1.0]),
                   box=((-3.0, -2.0), (3.0, 2.0)), critical_points=_camel_points(),
                   source="Dixon & Szegő (1978), Towards Global Optimisation 2",
                   variables=("x", "y"))


_BEALE_C = (1.5, 2.25, 2.625)


def _beale_np(z: np.ndarray) -> float:
    x, y = z
    return sum((c - x + x * y**k) ** 2 for k, c in enumerate(_BEALE_C, start=1))


def _beale_grad_hess(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # f = Σ r_k², r_k = c_k − x + x·y^k: ∂r/∂x = y^k − 1, ∂r/∂y = k·x·y^(k−1),
    # ∂²r/∂x∂y = k·y^(k−1), ∂²r/∂y² = k(k−1)·x·y^(k−2).
    x, y = z
    grad, hess = np.zeros(2), np.zeros((2, 2))
    for k, c in enumerate(_BEALE_C, start=1):
        r = c - x + x * y**k
        rx, ry = y**k - 1.0, k * x * y ** (k - 1)
        rxy, ryy = k * y ** (k - 1), k * (k - 1) * x * y ** max(k - 2, 0)
        grad += 2.0 * r * np.array([rx, ry])
        mixed = rx * ry + r * rxy
        hess += 2.0 * np.array([[rx * rx, mixed], [mixed, ry * ry + r * ryy]])
    return grad, hess


@functools.cache
def _beale_points() -> tuple[KnownPoint, ...]:
    saddle = polish(_beale_grad_hess, (0.100538, -2.644514))
    return (
        KnownPoint((3.0, 0.5), 0.0, "minimum", "global minimum"),
        # ∂f/∂y has the factor x; ∂f/∂x at x = 0 is 2Σc_k(y^k − 1), zero only at y = 1.
        KnownPoint((0.0, 1.0), sum(c * c for c in _BEALE_C), "saddle"),
        KnownPoint(saddle, _beale_np(np.array(saddle)), "saddle"),
    )


def beale() -> Problem:
    """f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)².

    Global minimum f = 0 at (3, 1/2), where all three residuals vanish; saddles at (0, 1)
    (f = 14.203125, Hessian [[0, 27.75], [27.75, 0]]) and near (0.100538, −2.644514).
    Start: the standard (1, 1).
    """
    name = "beale"

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, 2, name)
        u, v = x[0], x[1]
        return ((1.5 - u + u * v) ** 2 + (2.25 - u + u * v**2) ** 2
                + (2.625 - u + u * v**3) ** 2)

    return Problem(name=name, fun=fun, dim=2, start=check.point([1.0, 1.0]),
                   box=check.cube(2, -4.5, 4.5), critical_points=_beale_points(),
                   source="Beale (1958); Moré, Garbow & Hillstrom (1981)",
                   variables=("x", "y"))


@functools.cache
def _styblinski_tang_roots() -> tuple[float, float, float]:
    """The roots of 4t³ − 32t + 5 = 0 (where g(t) = (t⁴ − 16t² + 5t)/2 is flat), ascending.

    Trigonometric form for the depressed cubic t³ + pt + q (p = −8, q = 5/4, three real
    roots): t_k = 2√(−p/3)·cos(⅓·arccos((3q/2p)·√(−3/p)) − 2πk/3), then one Newton step.
    """
    p, q = -8.0, 1.25
    radius = 2.0 * math.sqrt(-p / 3.0)
    angle = math.acos(1.5 * q / p * math.sqrt(-3.0 / p)) / 3.0
    roots = []
    for k in range(3):
        t = radius * math.cos(angle - 2.0 * math.pi * k / 3.0)
        roots.append(t - (t**3 + p * t + q) / (3.0 * t**2 + p))
    low, mid, high = sorted(roots)
    return low, mid, high


def _styblinski_tang_g(t: float) -> float:
    return 0.5 * (t**4 - 16.0 * t**2 + 5.0 * t)


def styblinski_tang(*, dim: int = 2) -> Problem:
    """f(x) = ½Σᵢ(xᵢ⁴ − 16xᵢ² + 5xᵢ), separable.

    Each coordinate sits at a root of 4t³ − 32t + 5: t₋ ≈ −2.903534 and t₊ ≈ 2.746803 (minima of
    the 1-D term, g″ > 0) or t₀ ≈ 0.156731 (its maximum). The 3ⁿ combinations are all the
    critical points: all t₀ a maximum, no t₀ a minimum (the global one all t₋, f ≈ −39.166·n),
    otherwise a saddle. All are listed for n ≤ 4; for larger n the global minimum, the minimum
    at all t₊ and the maximum.
    """
    name = "styblinski_tang"
    dim = check.integer(name, "dim", dim)
    low, mid, high = _styblinski_tang_roots()

    def fun(x: jax.Array) -> jax.Array:
        x = check.vector(x, dim, name)
        return 0.5 * jnp.sum(x**4 - 16.0 * x**2 + 5.0 * x)

    if dim <= 4:
        combos = list(itertools.product((low, mid, high), repeat=dim))
    else:
        combos = [(low,) * dim, (high,) * dim, (mid,) * dim]
    points = []
    for z in combos:
        maxima = sum(t == mid for t in z)
        kind = "minimum" if maxima == 0 else "maximum" if maxima == dim else "saddle"
        note = "global minimum" if all(t == low for t in z) else ""
        points.append(KnownPoint(z, sum(_styblinski_tang_g(t) for t in z), kind, note))
    points.sort(key=lambda point: point.value)
    return Problem(name=name, fun=fun, dim=dim, start=check.point(np.zeros(dim)),
                   box=check.cube(dim, -5.0, 5.0), critical_points=tuple(points),
                   source="Styblinski & Tang (1990), Neural Networks 3:467",
                   params={"dim": dim})
