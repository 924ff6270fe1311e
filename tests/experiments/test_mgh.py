"""The Moré–Garbow–Hillstrom problems of experiments/mgh_suite.py: formulas and a Newton subset.

The residual formulas are checked three ways: f at the standard starts against values printed by
an independent implementation, the published optimal values against an independent solver
(scipy's Levenberg–Marquardt on the same residuals), and exact minimisers where the paper gives
them in closed form. Then optkit's Newton must reach the published optimum, CONVERGED, on
problems where it is robustly reachable from the standard start.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import optkit
from tests.helpers import jit, load_experiment

mgh = load_experiment("mgh_suite")

PROBLEMS = {p.name: p for p in mgh.problems()}


def f_at(residuals, x) -> float:
    """Σ rᵢ(x)², compiled (much faster than JAX's op-by-op dispatch for these loops)."""
    r = np.asarray(jit(residuals)(np.asarray(x, dtype=np.float64)))
    return float(np.dot(r, r))


def test_every_record_is_consistent():
    assert len(PROBLEMS) == len(mgh.problems())  # names are unique
    assert {p.number for p in PROBLEMS.values()} == set(range(1, 36))  # all 35 of MGH
    for p in PROBLEMS.values():
        assert jax.eval_shape(p.residuals, p.start).shape == (p.m,), p.name
        assert p.optima and all(o.kind in ("global", "local", "asymptotic") for o in p.optima)


# f(x0) printed (6 significant digits) by J. Burkardt's TEST_OPT (test_opt_test_output.txt),
# an implementation independent of ours, at the MGH standard starts ...
F_AT_STANDARD_START = {
    "rosenbrock": 24.2,
    "freudenstein_roth": 400.5,  # by hand: r = (19.5, −4.5)
    "powell_badly_scaled": 1.13526,
    "brown_badly_scaled": 9.99998e11,
    "beale": 14.2031,
    "helical_valley": 2500.0,
    "gaussian": 3.88811e-6,
    "powell_singular": 215.0,
    "wood": 19192.0,
    "brown_dennis": 7.92669e6,
    "biggs_exp6": 0.77907,
    "watson6": 30.0,  # r = (−1 × 29, 0, −1) at x = 0
    "watson9": 30.0,
}

# ... and at n = 4 or at its own starts, which exercise the same formulas
F_ELSEWHERE = [
    (mgh.variably_dimensioned, [0.75, 0.5, 0.25, 0.0], 3222.19),
    (mgh.penalty1, [1.0, 2.0, 3.0, 4.0], 885.063),
    (mgh.penalty2, [0.5] * 4, 2.34001),
    (mgh.trigonometric, [0.25] * 4, 0.0130531),
    (mgh.extended_rosenbrock, [-1.2, 1.0, -1.2, 1.0], 48.4),
    (mgh.extended_powell, [3.0, -1.0, 0.0, 1.0], 215.0),
    (mgh.chebyquad, [0.2, 0.4, 0.6, 0.8], 0.0711839),
    (mgh.box_3d, [0.0, 10.0, 5.0], 34.7325),
    (mgh.gulf, [40.0, 20.0, 1.2], 1.20538),
]


def _agrees(value: float, printed: float) -> bool:
    """Equal to ``printed`` to its 6 significant digits."""
    return math.isclose(value, printed, rel_tol=6e-6)


@pytest.mark.parametrize("name", sorted(F_AT_STANDARD_START))
def test_value_at_standard_start(name):
    p = PROBLEMS[name]
    assert _agrees(f_at(p.residuals, p.x0), F_AT_STANDARD_START[name])


@pytest.mark.parametrize("residuals, x, printed", F_ELSEWHERE,
                         ids=[r.__name__ for r, _, _ in F_ELSEWHERE])
def test_value_elsewhere(residuals, x, printed):
    assert _agrees(f_at(residuals, x), printed)


def test_closed_form_minimisers():
    n, m = 10, 20
    # 32: the minimiser is x = −1 with f = m − n
    assert f_at(mgh.linear_full_rank, -np.ones(n)) == pytest.approx(m - n, rel=1e-14)
    # 33: any x with Σ j·x_j = 3/(2m + 1) (least squares in s = Σ j·x_j); here all on x₁
    x = np.zeros(n)
    x[0] = 3.0 / (2 * m + 1)
    assert f_at(mgh.linear_rank1, x) == pytest.approx(PROBLEMS["linear_rank1"].f_star, rel=1e-14)
    # 34: Σ_{j=2}^{n−1} j·x_j = 3/(2m − 3); here all of it on x₂ (coefficient 2)
    x = np.zeros(n)
    x[1] = 3.0 / (2 * m - 3) / 2.0
    value = f_at(mgh.linear_rank1_zero, x)
    assert value == pytest.approx(PROBLEMS["linear_rank1_zero"].f_star, rel=1e-14)
    # zero-residual problems at their documented minimisers
    assert f_at(mgh.freudenstein_roth, [5.0, 4.0]) == 0.0
    assert f_at(mgh.helical_valley, [1.0, 0.0, 0.0]) == 0.0
    assert f_at(mgh.gulf, [50.0, 25.0, 1.5]) < 1e-28
    assert f_at(mgh.box_3d, [1.0, 10.0, 1.0]) < 1e-28
    assert f_at(mgh.biggs_exp6, [1.0, 10.0, 1.0, 5.0, 4.0, 3.0]) < 1e-28
    assert f_at(mgh.beale, [3.0, 0.5]) == 0.0
    assert f_at(mgh.brown_almost_linear, np.ones(10)) == 0.0  # α = 1 solves nαⁿ − (n+1)αⁿ⁻¹ + 1


# problems whose published optimum depends on data tables; LM from x0 must land on it
INDEPENDENT = ["freudenstein_roth", "jennrich_sampson", "bard", "gaussian", "meyer",
               "kowalik_osborne", "osborne1", "osborne2", "watson9", "penalty2", "chebyquad8"]


@pytest.mark.slow
def test_published_optima_reproduced_by_an_independent_solver():
    from scipy.optimize import least_squares

    for name in INDEPENDENT:
        p = PROBLEMS[name]
        residuals = jit(p.residuals)
        jacobian = jit(jax.jacfwd(p.residuals))
        fit = least_squares(lambda x, r=residuals: np.asarray(r(x)), np.asarray(p.x0),
                            jac=lambda x, j=jacobian: np.asarray(j(x)), method="lm",
                            xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=5000)
        value = float(fit.fun @ fit.fun)
        hit = mgh.reached(p, value)
        assert hit is not None, (name, value, [o.value for o in p.optima])
        assert value >= hit.value - mgh.tolerance(hit), name


def test_tolerance_follows_printed_digits():
    assert mgh.tolerance(mgh.Optimum(0.0, digits=None)) == 1e-6
    assert mgh.tolerance(mgh.Optimum(124.362)) == pytest.approx(124.362e-6 + 5e-4)
    assert mgh.tolerance(mgh.Optimum(8.21487e-3)) == pytest.approx(1e-6 + 5e-9)
    bard = PROBLEMS["bard"]
    assert mgh.reached(bard, 8.214877e-3).kind == "global"
    assert mgh.reached(bard, 17.42861).kind == "asymptotic"
    assert mgh.reached(bard, 8.3e-3) is None
    assert mgh.reached(bard, float("nan")) is None


# powell_badly_scaled: cond(H) ≈ 3e17 at the solution, solved because the Cholesky test is
# scale-invariant (an eigenvalue floor clipped its steps and it ended MAX_STEPS at f ≈ 9.5e-10)
ROBUST_FOR_NEWTON = ["rosenbrock", "beale", "helical_valley", "jennrich_sampson", "wood",
                     "kowalik_osborne", "brown_dennis", "powell_badly_scaled"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ROBUST_FOR_NEWTON)
def test_newton_reaches_the_published_optimum(name):
    p = PROBLEMS[name]
    res = optkit.minimize(p.objective, p.start, method="newton", max_steps=1000, classify=False)
    assert res.status == optkit.Status.CONVERGED
    assert float(res.grad_norm) <= 1e-8
    hit = mgh.reached(p, float(res.value))
    assert hit is not None and hit.kind == "global", (name, float(res.value))


@pytest.mark.slow
def test_newton_on_meyer_ends_at_the_rounding_floor_of_the_published_optimum():
    # ∂f/∂x₁ ~ 1e14 per unit of x₁ ≈ 5.6e-3: rounding x alone leaves ‖∇f‖ ~ 1e-3 > grad_tol
    p = PROBLEMS["meyer"]
    res = optkit.minimize(p.objective, p.start, method="newton", max_steps=1000, classify=False)
    assert res.status == optkit.Status.ROUNDING_FLOOR and not bool(res.converged)
    hit = mgh.reached(p, float(res.value))
    assert hit is not None and hit.kind == "global", float(res.value)
    # the rule's premise: the Newton step at the end promises less than rounding of f
    g, hess = jit(lambda x: (jax.grad(p.objective)(x), jax.hessian(p.objective)(x)))(res.x)
    g, hess = np.asarray(g), np.asarray(hess)
    step = np.linalg.solve(hess, g)
    assert abs(float(g @ step)) <= 10 * np.finfo(np.float64).eps * float(res.value)
