"""The Moré–Garbow–Hillstrom unconstrained test problems, and optkit's solvers run on them.

J. J. Moré, B. S. Garbow and K. E. Hillstrom, "Testing unconstrained optimization software",
ACM Trans. Math. Softw. 7(1):17–41, 1981 (MGH below). Every problem is a sum of squares

    f(x) = Σᵢ rᵢ(x)²,   r: ℝⁿ → ℝᵐ,

given here by its residual vector r, the paper's standard start x0 and the optimal values the
paper documents. Where the paper lists a second (local, or approached only as ‖x‖ → ∞) value,
it is recorded too, with its kind; a solve counts as reaching the optimum if it reaches any of
the documented values, and the table says which.

Formulas, data and starts were written from the paper's definitions and checked against three
independent implementations (none copied):
  * MINPACK-1 ``ssqfcn``/``initpt`` (Garbow, Hillstrom, Moré 1980; C port in
    anharmonic/d3q minpack/distributed/tests/ls.c) for problems 1–20, 32–35;
  * Birgin, Gardenghi, Martínez, Santos, "Third-order derivatives of the Moré, Garbow and
    Hillstrom test set problems" (2018), johngardenghi/mgh ``mgh.f08``, for all 35;
  * JuliaSmoothOptimizers/NLSProblems.jl ``src/mghNN.jl``. Two of its versions differ from the
    paper and were not followed: Gulf (it reads the paper's misprinted "yᵢ m i x₂" instead of
    |yᵢ − x₂|) and Osborne 2 (it adds the Gaussian terms instead of subtracting them).
Osborne 2's y₁₈ is 0.626 as in MINPACK and mgh.f08: it gives the published f* = 4.01377e-2,
while NLSProblems.jl's 0.625 gives 4.01686e-2.
Every published f* below was reproduced to all its printed digits by scipy's least_squares
(an independent solver) on these residuals; tests/test_mgh.py keeps part of that check.
Gulf uses m = 99 (mgh.f08's default): with m = 100, y₁₀₀ = 25 = x₂* and ∂f/∂x₃ is NaN at the
solution (0^x₃·log 0).

Run ``OPENBLAS_NUM_THREADS=1 python experiments/mgh_suite.py`` for the table (a few minutes on
two cores); ``--help`` lists the options.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import optkit  # noqa: E402  (turns on float64)

Array = jax.Array

# ---------------------------------------------------------------------------------------------
# records


@dataclasses.dataclass(frozen=True)
class Optimum:
    """A documented optimal value: ``kind`` is "global", "local" or "asymptotic" (approached as
    some coordinates go to ±∞); ``digits`` is the number of significant digits it is printed
    with in the source (None for an exact value); ``where`` says where it is attained."""

    value: float
    kind: str = "global"
    digits: int | None = 6
    where: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class MGHProblem:
    """One test problem: f(x) = Σᵢ rᵢ(x)² with r = ``residuals``, n variables, m residuals.

    ``objective`` is built once per record, so that jitted solves of the same record share one
    compiled program (optkit caches on the function object).
    """

    number: int
    name: str
    n: int
    m: int
    residuals: Callable[[Array], Array]
    x0: tuple[float, ...]
    optima: tuple[Optimum, ...]
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.x0) != self.n:
            raise ValueError(f"{self.name}: x0 has {len(self.x0)} entries, n = {self.n}")
        residuals = self.residuals

        def objective(x: Array) -> Array:
            r = residuals(x)
            return jnp.dot(r, r)

        object.__setattr__(self, "objective", objective)

    objective: Callable[[Array], Array] = dataclasses.field(init=False, repr=False)

    @property
    def start(self) -> Array:
        return jnp.asarray(self.x0, dtype=jnp.float64)

    @property
    def f_star(self) -> float:
        """The smallest documented optimal value."""
        return min(o.value for o in self.optima)


def tolerance(optimum: Optimum) -> float:
    """How close f must come to a documented value to count as reaching it:

        tol = 1e-6·max(1, |f*|) + ½·10^(e − d + 1),   e = ⌊log₁₀|f*|⌋,

    the second term being half a unit in the last printed digit of f* (d significant digits;
    0 for an exact value or f* = 0), so that a value printed as 124.362 is not held to more
    digits than it has."""
    v = optimum.value
    rounding = 0.0
    if optimum.digits is not None and v != 0.0:
        rounding = 0.5 * 10.0 ** (math.floor(math.log10(abs(v))) - optimum.digits + 1)
    return 1e-6 * max(1.0, abs(v)) + rounding


def reached(problem: MGHProblem, f: float) -> Optimum | None:
    """The documented optimum that f reaches (the lowest if several), or None."""
    if not math.isfinite(f):
        return None
    hits = [o for o in problem.optima if abs(f - o.value) <= tolerance(o)]
    return min(hits, key=lambda o: o.value) if hits else None


# ---------------------------------------------------------------------------------------------
# the residual functions, MGH numbering (section 3 of the paper)


def _i(m: int) -> Array:
    """1, 2, …, m as float64 (the paper's 1-based index)."""
    return jnp.arange(1, m + 1, dtype=jnp.float64)


def rosenbrock(x: Array) -> Array:  # 1
    return jnp.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def freudenstein_roth(x: Array) -> Array:  # 2
    return jnp.stack([
        -13.0 + x[0] + ((5.0 - x[1]) * x[1] - 2.0) * x[1],
        -29.0 + x[0] + ((x[1] + 1.0) * x[1] - 14.0) * x[1],
    ])


def powell_badly_scaled(x: Array) -> Array:  # 3
    return jnp.stack([1e4 * x[0] * x[1] - 1.0, jnp.exp(-x[0]) + jnp.exp(-x[1]) - 1.0001])


def brown_badly_scaled(x: Array) -> Array:  # 4
    return jnp.stack([x[0] - 1e6, x[1] - 2e-6, x[0] * x[1] - 2.0])


_BEALE_Y = jnp.array([1.5, 2.25, 2.625])


def beale(x: Array) -> Array:  # 5
    return _BEALE_Y - x[0] * (1.0 - x[1] ** _i(3))


def jennrich_sampson(x: Array, m: int = 10) -> Array:  # 6
    i = _i(m)
    return 2.0 + 2.0 * i - jnp.exp(i * x[0]) - jnp.exp(i * x[1])


def helical_valley(x: Array) -> Array:  # 7
    # θ = arctan(x₂/x₁)/2π, +½ for x₁ < 0, ±¼ on x₁ = 0; the division is guarded so that the
    # branch not taken cannot put a NaN into the gradient
    safe_x1 = jnp.where(x[0] == 0.0, 1.0, x[0])
    base = jnp.arctan(x[1] / safe_x1) / (2.0 * jnp.pi)
    theta = jnp.where(x[0] > 0.0, base,
                      jnp.where(x[0] < 0.0, base + 0.5, jnp.where(x[1] < 0.0, -0.25, 0.25)))
    return jnp.stack([
        10.0 * (x[2] - 10.0 * theta),
        10.0 * (jnp.sqrt(x[0] ** 2 + x[1] ** 2) - 1.0),
        x[2],
    ])


_BARD_Y = jnp.array([0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96,
                     1.34, 2.10, 4.39])


def bard(x: Array) -> Array:  # 8
    u = _i(15)
    v = 16.0 - u
    w = jnp.minimum(u, v)
    return _BARD_Y - (x[0] + u / (v * x[1] + w * x[2]))


_GAUSSIAN_Y = jnp.array([0.0009, 0.0044, 0.0175, 0.0540, 0.1295, 0.2420, 0.3521, 0.3989,
                         0.3521, 0.2420, 0.1295, 0.0540, 0.0175, 0.0044, 0.0009])


def gaussian(x: Array) -> Array:  # 9
    t = (8.0 - _i(15)) / 2.0
    return x[0] * jnp.exp(-x[1] * (t - x[2]) ** 2 / 2.0) - _GAUSSIAN_Y


_MEYER_Y = jnp.array([34780.0, 28610.0, 23650.0, 19630.0, 16370.0, 13720.0, 11540.0, 9744.0,
                      8261.0, 7030.0, 6005.0, 5147.0, 4427.0, 3820.0, 3307.0, 2872.0])


def meyer(x: Array) -> Array:  # 10
    t = 45.0 + 5.0 * _i(16)
    return x[0] * jnp.exp(x[1] / (t + x[2])) - _MEYER_Y


def gulf(x: Array, m: int = 99) -> Array:  # 11
    t = _i(m) / 100.0
    y = 25.0 + (-50.0 * jnp.log(t)) ** (2.0 / 3.0)
    return jnp.exp(-jnp.abs(y - x[1]) ** x[2] / x[0]) - t


def box_3d(x: Array, m: int = 10) -> Array:  # 12
    t = 0.1 * _i(m)
    return jnp.exp(-t * x[0]) - jnp.exp(-t * x[1]) - x[2] * (jnp.exp(-t) - jnp.exp(-10.0 * t))


def powell_singular(x: Array) -> Array:  # 13
    return jnp.stack([
        x[0] + 10.0 * x[1],
        jnp.sqrt(5.0) * (x[2] - x[3]),
        (x[1] - 2.0 * x[2]) ** 2,
        jnp.sqrt(10.0) * (x[0] - x[3]) ** 2,
    ])


def wood(x: Array) -> Array:  # 14
    return jnp.stack([
        10.0 * (x[1] - x[0] ** 2),
        1.0 - x[0],
        jnp.sqrt(90.0) * (x[3] - x[2] ** 2),
        1.0 - x[2],
        jnp.sqrt(10.0) * (x[1] + x[3] - 2.0),
        (x[1] - x[3]) / jnp.sqrt(10.0),
    ])


_KOWALIK_Y = jnp.array([0.1957, 0.1947, 0.1735, 0.1600, 0.0844, 0.0627, 0.0456, 0.0342, 0.0323,
                        0.0235, 0.0246])
_KOWALIK_U = jnp.array([4.0, 2.0, 1.0, 0.5, 0.25, 0.167, 0.125, 0.1, 0.0833, 0.0714, 0.0625])


def kowalik_osborne(x: Array) -> Array:  # 15
    u = _KOWALIK_U
    return _KOWALIK_Y - x[0] * (u**2 + u * x[1]) / (u**2 + u * x[2] + x[3])


def brown_dennis(x: Array, m: int = 20) -> Array:  # 16
    t = _i(m) / 5.0
    return ((x[0] + t * x[1] - jnp.exp(t)) ** 2
            + (x[2] + x[3] * jnp.sin(t) - jnp.cos(t)) ** 2)


_OSBORNE1_Y = jnp.array([0.844, 0.908, 0.932, 0.936, 0.925, 0.908, 0.881, 0.850, 0.818, 0.784,
                         0.751, 0.718, 0.685, 0.658, 0.628, 0.603, 0.580, 0.558, 0.538, 0.522,
                         0.506, 0.490, 0.478, 0.467, 0.457, 0.448, 0.438, 0.431, 0.424, 0.420,
                         0.414, 0.411, 0.406])


def osborne1(x: Array) -> Array:  # 17
    t = 10.0 * (_i(33) - 1.0)
    return _OSBORNE1_Y - (x[0] + x[1] * jnp.exp(-t * x[3]) + x[2] * jnp.exp(-t * x[4]))


def biggs_exp6(x: Array, m: int = 13) -> Array:  # 18
    t = 0.1 * _i(m)
    y = jnp.exp(-t) - 5.0 * jnp.exp(-10.0 * t) + 3.0 * jnp.exp(-4.0 * t)
    return (x[2] * jnp.exp(-t * x[0]) - x[3] * jnp.exp(-t * x[1])
            + x[5] * jnp.exp(-t * x[4]) - y)


_OSBORNE2_Y = jnp.array([
    1.366, 1.191, 1.112, 1.013, 0.991, 0.885, 0.831, 0.847, 0.786, 0.725, 0.746, 0.679, 0.608,
    0.655, 0.616, 0.606, 0.602, 0.626, 0.651, 0.724, 0.649, 0.649, 0.694, 0.644, 0.624, 0.661,
    0.612, 0.558, 0.533, 0.495, 0.500, 0.423, 0.395, 0.375, 0.372, 0.391, 0.396, 0.405, 0.428,
    0.429, 0.523, 0.562, 0.607, 0.653, 0.672, 0.708, 0.633, 0.668, 0.645, 0.632, 0.591, 0.559,
    0.597, 0.625, 0.739, 0.710, 0.729, 0.720, 0.636, 0.581, 0.428, 0.292, 0.162, 0.098, 0.054,
])


def osborne2(x: Array) -> Array:  # 19
    t = (_i(65) - 1.0) / 10.0
    model = (x[0] * jnp.exp(-t * x[4])
             + x[1] * jnp.exp(-((t - x[8]) ** 2) * x[5])
             + x[2] * jnp.exp(-((t - x[9]) ** 2) * x[6])
             + x[3] * jnp.exp(-((t - x[10]) ** 2) * x[7]))
    return _OSBORNE2_Y - model


def watson(x: Array) -> Array:  # 20, m = 31
    n = x.shape[0]
    t = _i(29) / 29.0
    powers = t[:, None] ** jnp.arange(n, dtype=jnp.float64)[None, :]  # t_i^(j−1), j = 1…n
    j_minus_1 = jnp.arange(1, n, dtype=jnp.float64)
    first = powers[:, : n - 1] @ (j_minus_1 * x[1:])  # Σ_{j≥2} (j−1)·x_j·t^(j−2)
    second = powers @ x  # Σ_j x_j·t^(j−1)
    return jnp.concatenate([first - second**2 - 1.0,
                            jnp.stack([x[0], x[1] - x[0] ** 2 - 1.0])])


def extended_rosenbrock(x: Array) -> Array:  # 21
    odd, even = x[0::2], x[1::2]
    return jnp.stack([10.0 * (even - odd**2), 1.0 - odd], axis=1).reshape(-1)


def extended_powell(x: Array) -> Array:  # 22
    a, b, c, d = x[0::4], x[1::4], x[2::4], x[3::4]
    return jnp.stack([a + 10.0 * b, jnp.sqrt(5.0) * (c - d), (b - 2.0 * c) ** 2,
                      jnp.sqrt(10.0) * (a - d) ** 2], axis=1).reshape(-1)


def penalty1(x: Array) -> Array:  # 23, m = n + 1
    return jnp.concatenate([jnp.sqrt(1e-5) * (x - 1.0), jnp.stack([jnp.dot(x, x) - 0.25])])


def penalty2(x: Array) -> Array:  # 24, m = 2n
    n = x.shape[0]
    i = _i(n)
    y = jnp.exp(i / 10.0) + jnp.exp((i - 1.0) / 10.0)
    e = jnp.exp(x / 10.0)
    weights = n - i + 1.0  # n − j + 1
    return jnp.concatenate([
        jnp.stack([x[0] - 0.2]),
        jnp.sqrt(1e-5) * (e[1:] + e[:-1] - y[1:]),
        jnp.sqrt(1e-5) * (e[1:] - jnp.exp(-0.1)),
        jnp.stack([jnp.dot(weights, x**2) - 1.0]),
    ])


def variably_dimensioned(x: Array) -> Array:  # 25, m = n + 2
    s = jnp.dot(_i(x.shape[0]), x - 1.0)
    return jnp.concatenate([x - 1.0, jnp.stack([s, s**2])])


def trigonometric(x: Array) -> Array:  # 26
    n = x.shape[0]
    return n - jnp.sum(jnp.cos(x)) + _i(n) * (1.0 - jnp.cos(x)) - jnp.sin(x)


def brown_almost_linear(x: Array) -> Array:  # 27
    n = x.shape[0]
    return jnp.concatenate([x[:-1] + jnp.sum(x) - (n + 1.0), jnp.stack([jnp.prod(x) - 1.0])])


def discrete_boundary_value(x: Array) -> Array:  # 28
    n = x.shape[0]
    h = 1.0 / (n + 1)
    t = _i(n) * h
    padded = jnp.concatenate([jnp.zeros(1), x, jnp.zeros(1)])  # x₀ = x_{n+1} = 0
    return 2.0 * x - padded[:-2] - padded[2:] + h**2 * (x + t + 1.0) ** 3 / 2.0


def discrete_integral_equation(x: Array) -> Array:  # 29
    n = x.shape[0]
    h = 1.0 / (n + 1)
    t = _i(n) * h
    cube = (x + t + 1.0) ** 3
    lower = jnp.cumsum(t * cube)  # Σ_{j≤i} t_j (x_j + t_j + 1)³
    upper_incl = jnp.cumsum(((1.0 - t) * cube)[::-1])[::-1]  # Σ_{j≥i} (1 − t_j)(…)³
    upper = jnp.concatenate([upper_incl[1:], jnp.zeros(1)])  # Σ_{j>i}
    return x + h * ((1.0 - t) * lower + t * upper) / 2.0


def broyden_tridiagonal(x: Array) -> Array:  # 30
    padded = jnp.concatenate([jnp.zeros(1), x, jnp.zeros(1)])
    return (3.0 - 2.0 * x) * x - padded[:-2] - 2.0 * padded[2:] + 1.0


def _broyden_band(n: int, lower: int = 5, upper: int = 1) -> np.ndarray:
    """J_i = {j ≠ i : max(1, i − lower) ≤ j ≤ min(n, i + upper)} as a 0/1 matrix."""
    i, j = np.indices((n, n))
    return ((j != i) & (j >= i - lower) & (j <= i + upper)).astype(np.float64)


def broyden_banded(x: Array) -> Array:  # 31
    band = jnp.asarray(_broyden_band(x.shape[0]))
    return x * (2.0 + 5.0 * x**2) + 1.0 - band @ (x * (1.0 + x))


def linear_full_rank(x: Array, m: int = 20) -> Array:  # 32
    n = x.shape[0]
    common = -2.0 / m * jnp.sum(x) - 1.0
    return jnp.concatenate([x + common, jnp.full((m - n,), common)])


def linear_rank1(x: Array, m: int = 20) -> Array:  # 33
    return _i(m) * jnp.dot(_i(x.shape[0]), x) - 1.0


def linear_rank1_zero(x: Array, m: int = 20) -> Array:  # 34
    n = x.shape[0]
    s = jnp.dot(_i(n)[1:-1], x[1:-1])  # Σ_{j=2}^{n−1} j·x_j
    inner = (_i(m)[1:-1] - 1.0) * s - 1.0  # i = 2 … m − 1
    return jnp.concatenate([-jnp.ones(1), inner, -jnp.ones(1)])


def chebyquad(x: Array, m: int | None = None) -> Array:  # 35
    n = x.shape[0]
    m = n if m is None else m
    y = 2.0 * x - 1.0  # shifted Chebyshev polynomials T_i(2x − 1) on [0, 1]
    previous, current = jnp.ones_like(y), y
    means = []
    for _ in range(m):
        means.append(jnp.mean(current))
        previous, current = current, 2.0 * y * current - previous
    i = np.arange(1, m + 1, dtype=np.float64)
    # ∫₀¹ T_i(2x − 1) dx = −1/(i² − 1) for even i, 0 for odd i
    even = i % 2 == 0
    integral = np.where(even, -1.0 / np.where(even, i**2 - 1.0, 1.0), 0.0)
    return jnp.stack(means) - integral


# ---------------------------------------------------------------------------------------------
# the collection


def _range_start(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _grid(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.float64) / (n + 1)


def problems() -> list[MGHProblem]:
    """The collection, in MGH order, with the paper's usual dimensions.

    Variable-size problems use n = 10 (m = 20 for the linear ones 32–34); Watson is given for
    n = 6 and n = 9, Chebyquad for n = 8. Values marked "exact" follow from formulas in the
    paper (32–34: m − n, m(m − 1)/(2(2m + 1)), (m² + 3m − 6)/(2(2m − 3))).
    """
    g, loc, asym = "global", "local", "asymptotic"
    n10 = 10
    t10 = _grid(n10)
    m_lin = 20
    out = [
        MGHProblem(1, "rosenbrock", 2, 2, rosenbrock, (-1.2, 1.0),
                   (Optimum(0.0, g, None, "(1, 1)"),)),
        MGHProblem(2, "freudenstein_roth", 2, 2, freudenstein_roth, (0.5, -2.0),
                   (Optimum(0.0, g, None, "(5, 4)"),
                    Optimum(48.9842, loc, 6, "(11.41…, −0.8968…)"))),
        MGHProblem(3, "powell_badly_scaled", 2, 2, powell_badly_scaled, (0.0, 1.0),
                   (Optimum(0.0, g, None, "(1.098…e-5, 9.106…)"),)),
        MGHProblem(4, "brown_badly_scaled", 2, 3, brown_badly_scaled, (1.0, 1.0),
                   (Optimum(0.0, g, None, "(1e6, 2e-6)"),)),
        MGHProblem(5, "beale", 2, 3, beale, (1.0, 1.0), (Optimum(0.0, g, None, "(3, 0.5)"),)),
        MGHProblem(6, "jennrich_sampson", 2, 10, jennrich_sampson, (0.3, 0.4),
                   (Optimum(124.362, g, 6, "x₁ = x₂ = 0.2578 (m = 10)"),)),
        MGHProblem(7, "helical_valley", 3, 3, helical_valley, (-1.0, 0.0, 0.0),
                   (Optimum(0.0, g, None, "(1, 0, 0)"),)),
        MGHProblem(8, "bard", 3, 15, bard, (1.0, 1.0, 1.0),
                   (Optimum(8.21487e-3, g, 6),
                    Optimum(17.4286, asym, 6, "(0.8406…, −∞, −∞)"))),
        MGHProblem(9, "gaussian", 3, 15, gaussian, (0.4, 1.0, 0.0), (Optimum(1.12793e-8, g, 6),)),
        MGHProblem(10, "meyer", 3, 16, meyer, (0.02, 4000.0, 250.0), (Optimum(87.9458, g, 6),)),
        MGHProblem(11, "gulf", 3, 99, gulf, (5.0, 2.5, 0.15),
                   (Optimum(0.0, g, None, "(50, 25, 1.5)"),), note="m = 99"),
        MGHProblem(12, "box_3d", 3, 10, box_3d, (0.0, 10.0, 20.0),
                   (Optimum(0.0, g, None, "(1, 10, 1), (10, 1, −1), (t, t, 0)"),)),
        MGHProblem(13, "powell_singular", 4, 4, powell_singular, (3.0, -1.0, 0.0, 1.0),
                   (Optimum(0.0, g, None, "origin (singular Hessian)"),)),
        MGHProblem(14, "wood", 4, 6, wood, (-3.0, -1.0, -3.0, -1.0),
                   (Optimum(0.0, g, None, "(1, 1, 1, 1)"),)),
        MGHProblem(15, "kowalik_osborne", 4, 11, kowalik_osborne, (0.25, 0.39, 0.415, 0.39),
                   (Optimum(3.07505e-4, g, 6),
                    Optimum(1.02734e-3, asym, 6, "(+∞, −14.07…, −∞, −∞)"))),
        MGHProblem(16, "brown_dennis", 4, 20, brown_dennis, (25.0, 5.0, -5.0, -1.0),
                   (Optimum(85822.2, g, 6),)),
        MGHProblem(17, "osborne1", 5, 33, osborne1, (0.5, 1.5, -1.0, 0.01, 0.02),
                   (Optimum(5.46489e-5, g, 6),)),
        MGHProblem(18, "biggs_exp6", 6, 13, biggs_exp6, (1.0, 2.0, 1.0, 1.0, 1.0, 1.0),
                   (Optimum(0.0, g, None, "(1, 10, 1, 5, 4, 3)"),
                    Optimum(5.65565e-3, loc, 6, "m = 13"))),
        MGHProblem(19, "osborne2", 11, 65, osborne2,
                   (1.3, 0.65, 0.65, 0.7, 0.6, 3.0, 5.0, 7.0, 2.0, 4.5, 5.5),
                   (Optimum(4.01377e-2, g, 6),)),
        MGHProblem(20, "watson6", 6, 31, watson, (0.0,) * 6, (Optimum(2.28767e-3, g, 6),),
                   note="n = 6"),
        MGHProblem(20, "watson9", 9, 31, watson, (0.0,) * 9, (Optimum(1.39976e-6, g, 6),),
                   note="n = 9"),
        MGHProblem(21, "extended_rosenbrock", n10, n10, extended_rosenbrock, (-1.2, 1.0) * 5,
                   (Optimum(0.0, g, None, "(1, …, 1)"),)),
        MGHProblem(22, "extended_powell", 12, 12, extended_powell, (3.0, -1.0, 0.0, 1.0) * 3,
                   (Optimum(0.0, g, None, "origin (singular Hessian)"),)),
        MGHProblem(23, "penalty1", n10, n10 + 1, penalty1, _range_start(range(1, n10 + 1)),
                   (Optimum(7.08765e-5, g, 6, "n = 10"),)),
        MGHProblem(24, "penalty2", n10, 2 * n10, penalty2, (0.5,) * n10,
                   (Optimum(2.93660e-4, g, 6, "n = 10"),)),
        MGHProblem(25, "variably_dimensioned", n10, n10 + 2, variably_dimensioned,
                   _range_start(1.0 - np.arange(1, n10 + 1) / n10),
                   (Optimum(0.0, g, None, "(1, …, 1)"),)),
        MGHProblem(26, "trigonometric", n10, n10, trigonometric, (1.0 / n10,) * n10,
                   (Optimum(0.0, g, None),
                    Optimum(2.79506e-5, loc, 6, "n = 10; reported by later studies, not MGH"))),
        MGHProblem(27, "brown_almost_linear", n10, n10, brown_almost_linear, (0.5,) * n10,
                   (Optimum(0.0, g, None, "(α, …, α, α^(1−n))"),
                    Optimum(1.0, loc, None, "(0, …, 0, n + 1)"))),
        MGHProblem(28, "discrete_boundary_value", n10, n10, discrete_boundary_value,
                   _range_start(t10 * (t10 - 1.0)), (Optimum(0.0, g, None),)),
        MGHProblem(29, "discrete_integral_equation", n10, n10, discrete_integral_equation,
                   _range_start(t10 * (t10 - 1.0)), (Optimum(0.0, g, None),)),
        MGHProblem(30, "broyden_tridiagonal", n10, n10, broyden_tridiagonal, (-1.0,) * n10,
                   (Optimum(0.0, g, None),)),
        MGHProblem(31, "broyden_banded", n10, n10, broyden_banded, (-1.0,) * n10,
                   (Optimum(0.0, g, None),)),
        MGHProblem(32, "linear_full_rank", n10, m_lin, linear_full_rank, (1.0,) * n10,
                   (Optimum(float(m_lin - n10), g, None, "x = −1"),), note="m = 20"),
        MGHProblem(33, "linear_rank1", n10, m_lin, linear_rank1, (1.0,) * n10,
                   (Optimum(m_lin * (m_lin - 1) / (2 * (2 * m_lin + 1)), g, None,
                            "on Σ j·x_j = 3/(2m + 1)"),), note="m = 20"),
        MGHProblem(34, "linear_rank1_zero", n10, m_lin, linear_rank1_zero, (1.0,) * n10,
                   (Optimum((m_lin**2 + 3 * m_lin - 6) / (2 * (2 * m_lin - 3)), g, None,
                            "on Σ_{j=2}^{n−1} j·x_j = 3/(2m − 3)"),), note="m = 20"),
        MGHProblem(35, "chebyquad8", 8, 8, chebyquad, _range_start(_grid(8)),
                   (Optimum(3.51687e-3, g, 6, "n = m = 8"),)),
    ]
    return out


def get(name: str) -> MGHProblem:
    """The record called ``name`` (see :func:`problems`)."""
    table = {p.name: p for p in problems()}
    if name not in table:
        raise KeyError(f"no MGH problem {name!r}; known: {', '.join(table)}")
    return table[name]


# ---------------------------------------------------------------------------------------------
# running the solvers


@dataclasses.dataclass
class Outcome:
    value: float
    grad_norm: float
    status: str
    steps: int
    seconds: float
    hit: Optimum | None
    kind: str  # optkit.classify's label for the end point, only where no optimum was reached


SOLVERS: dict[str, tuple[object, int]] = {
    # label: (method for optkit.minimize, max_steps)
    "newton": ("newton", 1000),
    "gd": ("gradient_descent", 20000),
    "bfgs": ("bfgs", 1000),
    "newton_lev": (optkit.Newton(regularization="levenberg"), 1000),
}


def solve(problem: MGHProblem, label: str) -> Outcome:
    """One solve from the standard start with optkit's defaults (grad_tol 1e-8 in float64)."""
    method, max_steps = SOLVERS[label]
    start = time.perf_counter()
    res = optkit.minimize(problem.objective, problem.start, method=method, max_steps=max_steps,
                          classify=False)
    value = float(res.value)
    seconds = time.perf_counter() - start
    hit = reached(problem, value)
    kind = "" if hit is not None else str(optkit.classify(problem.objective, res.x).kind)
    return Outcome(value=value, grad_norm=float(res.grad_norm), status=res.status.name,
                   steps=int(res.num_steps), seconds=seconds, hit=hit, kind=kind)


def _mark(outcome: Outcome) -> str:
    if outcome.hit is None:
        return "min?" if outcome.kind == "minimum" else "no"
    return "yes" if outcome.hit.kind == "global" else outcome.hit.kind[:5]


def _fmt_cell(o: Outcome) -> str:
    return f"{o.value:11.5e} {o.grad_norm:7.1e} {o.status[:11]:11s} {o.steps:5d} {_mark(o):5s}"


RULE = ("reached: |f − f*| ≤ 1e-6·max(1,|f*|) + ½ unit of f*'s last printed digit, for some "
        "documented f*\n  yes = the published optimum; local/asymp = a documented local or "
        "asymptotic value;\n  min? = not reached, but optkit.classify calls the end point a "
        "minimum (an undocumented local minimum);\n  no = neither")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="problem names to run")
    parser.add_argument("--solvers", nargs="*", default=list(SOLVERS), choices=list(SOLVERS))
    args = parser.parse_args(argv)

    chosen = problems()
    if args.only:
        known = {p.name for p in chosen}
        unknown = [name for name in args.only if name not in known]
        if unknown:
            parser.error(f"unknown problem(s) {unknown}; known: {sorted(known)}")
        chosen = [p for p in chosen if p.name in args.only]

    labels = args.solvers
    print(f"optkit {optkit.__version__}, jax {jax.__version__}, {jax.default_backend()}, "
          f"float64; grad_tol 1e-8; max_steps: "
          + ", ".join(f"{k} {SOLVERS[k][1]}" for k in labels))
    print(RULE)
    header = f"{'#':>2} {'problem':27s} {'n':>2} {'f*':>11}"
    cell = f"{'f':>11} {'|grad|':>7} {'status':11s} {'steps':>5} {'rch':5s}"
    for pair_start in range(0, len(labels), 2):
        pair = labels[pair_start:pair_start + 2]
        results: dict[tuple[str, str], Outcome] = {}
        print()
        print(header + "".join(f" | {label:^43s}" for label in pair))
        print(" " * len(header) + "".join(f" | {cell}" for _ in pair))
        for p in chosen:
            row = f"{p.number:2d} {p.name:27s} {p.n:2d} {p.f_star:11.5e}"
            for label in pair:
                o = solve(p, label)
                results[(p.name, label)] = o
                row += " | " + _fmt_cell(o)
            print(row, flush=True)
        for label in pair:
            outs = [results[(p.name, label)] for p in chosen]
            glob = sum(o.hit is not None and o.hit.kind == "global" for o in outs)
            other = sum(o.hit is not None and o.hit.kind != "global" for o in outs)
            statuses: dict[str, int] = {}
            for o in outs:
                statuses[o.status] = statuses.get(o.status, 0) + 1
            seconds = sum(o.seconds for o in outs)
            print(f"  {label}: reached {glob + other}/{len(outs)} ({glob} published optimum, "
                  f"{other} documented local/asymptotic); statuses "
                  + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
                  + f"; {seconds:.0f} s incl. compile")
    return 0


if __name__ == "__main__":
    sys.exit(main())
