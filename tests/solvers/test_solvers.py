"""The solvers do what the mathematics says: exact Newton steps, textbook contraction rates,
the Armijo inequality on every accepted step, monotone Newton, saddles left, pytrees, dtypes.

Compilation dominates the cost of these tests, so starts are batched (one vmapped program per
function and solver) and runs shared between tests are cached.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit.solvers import METHODS
from optkit.solvers._trust_region import solve_subproblem
from tests.helpers import (
    distance_to_nearest,
    himmelblau,
    himmelblau_hessian,
    himmelblau_points,
    jit,
    mexican_hat,
    quartic_saddle,
    rosenbrock,
)

#: the methods that minimise any scalar f with their defaults: not the residual-only
#: least-squares methods (tests/solvers/test_least_squares.py) nor "optax", which needs an
#: optimizer name (tests/config/test_residuals_yaml.py)
SCALAR_METHODS = sorted(set(METHODS) - {"gauss_newton", "levenberg_marquardt", "optax"})

CONVERGED = optkit.Status.CONVERGED
EPS64 = np.finfo(np.float64).eps


# ---------------------------------------------------------------- Newton on a quadratic


def test_newton_solves_a_strictly_convex_quadratic_in_one_step():
    # f(x) = ½xᵀAx − bᵀx with A ≻ 0 is its own second-order model: x₁ = x₀ − A⁻¹(Ax₀ − b) = A⁻¹b
    rng = np.random.default_rng(0)
    m = rng.standard_normal((5, 5))
    a = m @ m.T + 0.5 * np.eye(5)
    b = rng.standard_normal(5)
    a_j, b_j = jnp.asarray(a), jnp.asarray(b)
    res = optkit.minimize(lambda x: 0.5 * x @ a_j @ x - b_j @ x, rng.standard_normal(5),
                          method="newton", classify=False)
    assert res.status == CONVERGED
    assert int(res.num_steps) == 1
    np.testing.assert_allclose(res.x, np.linalg.solve(a, b), rtol=1e-12, atol=1e-12)


# ------------------------------------------------- gradient descent rates on quadratics


def _constant_step_run(eigenvalues: np.ndarray, step: float, num_steps: int):
    lam = jnp.asarray(eigenvalues)
    x0 = np.random.default_rng(1).standard_normal(len(eigenvalues))
    res = optkit.minimize(lambda x: 0.5 * jnp.sum(lam * x**2), x0, method="gradient_descent",
                          line_search="none", step_size=step, grad_tol=0.0,
                          max_steps=num_steps, record=True, classify=False)
    assert res.status == optkit.Status.MAX_STEPS and int(res.num_steps) == num_steps
    tr = res.trajectory
    np.testing.assert_array_equal(tr.step_size[1:], step)
    return np.asarray(tr.x), np.asarray(tr.value)


def test_gradient_descent_optimal_constant_step_contracts_at_theoretical_rate():
    # with t = 2/(L+μ) each eigencomponent of the error is multiplied by 1 − tλ = ±(κ−1)/(κ+1)
    # when every eigenvalue is μ or L, so ‖x_k − x*‖ contracts by exactly (κ−1)/(κ+1)
    mu, big_l = 1.0, 10.0
    xs, _ = _constant_step_run(np.array([mu, big_l, mu, big_l]), 2 / (big_l + mu), 40)
    errors = np.linalg.norm(xs, axis=1)  # x* = 0
    kappa = big_l / mu
    np.testing.assert_allclose(errors[1:] / errors[:-1], (kappa - 1) / (kappa + 1),
                               rtol=0, atol=1e-10)


def test_gradient_descent_step_one_over_l_contracts_value_gap():
    # with t = 1/L: f(x_{k+1}) − f* ≤ (1 − μ/L)(f(x_k) − f*); on a quadratic each component of
    # the gap shrinks by (1 − λ/L)², so the slowest, λ = μ, sets the asymptotic ratio
    mu, big_l = 1.0, 10.0
    _, values = _constant_step_run(np.linspace(mu, big_l, 6), 1 / big_l, 60)
    ratios = values[1:] / values[:-1]  # f* = 0
    assert np.all(ratios <= 1 - mu / big_l + 1e-12)
    np.testing.assert_allclose(ratios[-1], (1 - mu / big_l) ** 2, rtol=1e-9)


# ------------------------------------------------------------------ Armijo backtracking

ARMIJO_CASES = {
    "rosenbrock": (rosenbrock, [[-1.2, 1.0], [2.0, 2.0], [-2.0, -1.0], [0.5, -1.5], [1.5, 0.5]]),
    "himmelblau": (himmelblau, [[0.0, 0.0], [-4.0, 4.0], [4.0, -4.0], [-1.0, -1.0], [5.0, 5.0],
                                [-0.3, -0.9]]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ARMIJO_CASES))
def test_every_accepted_gradient_step_satisfies_armijo(name):
    fun, starts = ARMIJO_CASES[name]
    res = optkit.minimize_batch(fun, np.array(starts), method="gradient_descent",
                                max_steps=300, record=True, classify=False)
    # some trials were rejected, so the line search was exercised
    assert int(np.sum(res.num_evals)) > int(np.sum(res.num_steps)) + len(starts)
    c1 = optkit.Backtracking().c1
    tr = jax.tree_util.tree_map(np.asarray, res.trajectory)  # sliced below: numpy
    # f and ∇f at every recorded iterate (padding rows are NaN and masked below)
    f_check, g_all = map(np.asarray, jit(jax.vmap(jax.vmap(jax.value_and_grad(fun))))(tr.x))
    for i in range(len(starts)):
        n = int(tr.length[i])
        assert n >= 2
        x = np.asarray(tr.x[i, :n])
        f = np.asarray(tr.value[i, :n])
        t = np.asarray(tr.step_size[i, 1:n])
        g = g_all[i, : n - 1]
        # the record is the iteration x_{k+1} = x_k + t_k·d_k with d_k = −∇f(x_k)
        np.testing.assert_allclose(x[1:], x[:-1] - t[:, None] * g, rtol=1e-12, atol=1e-12)
        # (absolute rounding: f sums squares of terms that cancel to O(ε·11))
        np.testing.assert_allclose(f, f_check[i, :n], rtol=1e-12, atol=1e-14)
        slope = -np.sum(g * g, axis=1)  # ∇f(x_k)·d_k
        assert np.all(f[1:] <= f[:-1] + c1 * t * slope + 1e-12 * np.abs(f[:-1]))


# ------------------------------------------------------------------- Newton is monotone


def _random_starts(box: float, count: int = 40) -> np.ndarray:
    return np.random.default_rng(2).uniform(-box, box, (count, 2))


@functools.cache
def _newton_batch(name: str, regularization: str = "eigen"):
    """One vmapped Newton run per function (and regularization), shared between tests.

    Rosenbrock: the standard start, then random ones. Quartic saddle: the saddle (0, 0) and
    (1e-3, 0.5) first. Himmelblau: its maximum and 4 saddles (refined), the same moved by
    (1e-3, −1e-3), a point beside the minimum (3, 2), then random starts.
    """
    if name == "himmelblau":
        fun, pts = himmelblau, himmelblau_points()
        indefinite = np.concatenate([pts["maximum"], pts["saddle"]])
        special = np.concatenate([indefinite, indefinite + [1e-3, -1e-3],
                                  pts["minimum"][:1] + 1e-2])
        starts = np.concatenate([special, _random_starts(5.0)])
    elif name == "rosenbrock":
        fun, starts = rosenbrock, np.concatenate([[[-1.2, 1.0]], _random_starts(2.0)])
    else:
        fun = quartic_saddle
        starts = np.concatenate([[[0.0, 0.0], [1e-3, 0.5]], _random_starts(2.0)])
    return optkit.minimize_batch(fun, starts, method="newton", regularization=regularization,
                                 max_steps=100, record=True, classify=name == "quartic_saddle")


@pytest.mark.parametrize("name, regularization", [
    pytest.param("rosenbrock", "eigen", marks=pytest.mark.slow),
    ("quartic_saddle", "eigen"),
    pytest.param("himmelblau", "eigen", marks=pytest.mark.slow),
    pytest.param("himmelblau", "levenberg", marks=pytest.mark.slow),
    pytest.param("himmelblau", "steepest", marks=pytest.mark.slow),
])
def test_newton_never_increases_f(name, regularization):
    res = _newton_batch(name, regularization)
    assert np.all(np.asarray(res.status_code) == CONVERGED)
    tr = jax.tree_util.tree_map(np.asarray, res.trajectory)  # sliced below: numpy
    for i in range(tr.value.shape[0]):
        f = np.asarray(tr.value[i, : int(tr.length[i])])
        assert np.all(np.diff(f) <= 1e-12 * np.abs(f[:-1])), f


def test_newton_rosenbrock_from_the_standard_start():
    res = optkit.minimize(rosenbrock, [-1.2, 1.0], method="newton", grad_tol=1e-10)
    assert res.status == CONVERGED
    assert int(res.num_steps) <= 30
    assert float(res.value) < 1e-20
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-10)
    assert res.critical_point.kind == "minimum"


# ---------------------------------------------------------------- saddles and maxima

# the trust-region runs are separate programs of their own: in the slow part
NEWTON_AND_TRUST_REGION = ["newton", pytest.param("trust_region", marks=pytest.mark.slow)]


@functools.cache
def _saddle_runs(method: str):
    """Runs of f = x⁴/4 − x²/2 + y²/2 from (0, 0) (the saddle) and from (1e-3, 0.5)."""
    if method == "newton":
        res = _newton_batch("quartic_saddle", "eigen")
    else:
        res = optkit.minimize_batch(quartic_saddle, np.array([[0.0, 0.0], [1e-3, 0.5]]),
                                    method=method, max_steps=100)
    return (np.asarray(res.x)[:2], np.asarray(res.status_code)[:2],
            np.asarray(res.critical_point.kind)[:2])


@pytest.mark.parametrize("method", NEWTON_AND_TRUST_REGION)
def test_start_exactly_on_saddle_never_reports_a_minimum_there(method):
    x, status, kind = _saddle_runs(method)
    at_minimum = np.linalg.norm(np.abs(x[0]) - [1.0, 0.0]) < 1e-8
    if at_minimum:
        assert status[0] == CONVERGED and kind[0] == "minimum"
    else:
        # it may only stop on the saddle if it says so
        assert np.linalg.norm(x[0]) < 1e-8 and kind[0] == "saddle"


@pytest.mark.parametrize("method", NEWTON_AND_TRUST_REGION)
def test_start_beside_saddle_ends_at_a_minimum(method):
    x, status, kind = _saddle_runs(method)
    assert status[1] == CONVERGED
    np.testing.assert_allclose(np.abs(x[1]), [1.0, 0.0], atol=1e-8)
    assert kind[1] == "minimum"


@pytest.mark.parametrize("method", NEWTON_AND_TRUST_REGION)
def test_start_exactly_on_maximum_leaves_it(method):
    # f = −r² + r⁴/4: ∇f(0) = 0 and ∇²f(0) = −2I; the minima form the ring r² = 2, where
    # f = −1 and the Hessian has eigenvalues 0 (along the ring) and f''(r) = −2 + 3r² = 4
    res = optkit.minimize(mexican_hat, [0.0, 0.0], method=method)
    assert res.status == CONVERGED
    np.testing.assert_allclose(float(jnp.sum(res.x**2)), 2.0, atol=1e-8)
    np.testing.assert_allclose(float(res.value), -1.0, atol=1e-12)
    cp = res.critical_point
    np.testing.assert_allclose(cp.eigenvalues, [0.0, 4.0], atol=1e-6)
    assert cp.kind == "degenerate" and int(cp.index) == 0


def quartic_minus_linear(x):
    """x⁴/4 − x: ∇²f(0) = 0 while ∇f(0) = −1; minimum at x = 1 with f = −3/4."""
    return x[0] ** 4 / 4 - x[0]


@pytest.mark.parametrize("regularization", [
    "eigen",
    "levenberg",
    "steepest",
])
def test_newton_leaves_a_point_of_zero_hessian(regularization):
    res = optkit.minimize(quartic_minus_linear, [0.0], method="newton",
                          regularization=regularization, classify=False)
    assert res.status == CONVERGED
    np.testing.assert_allclose(res.x, [1.0], atol=1e-8)


# ----------------------------------------------------- 1,000 vmapped Himmelblau starts


@pytest.mark.slow
def test_himmelblau_thousand_vmapped_starts_reach_the_four_minima():
    uniform = jax.random.uniform(jax.random.PRNGKey(0), (1000, 2), jnp.float64, -5.0, 5.0)
    # two extra starts: NaN (must fail alone) and the exact minimum (3, 2), where ∇f = 0
    starts = jnp.concatenate([uniform, jnp.array([[jnp.nan, 0.0], [3.0, 2.0]])])
    solve = jax.jit(jax.vmap(lambda x0: optkit.minimize(himmelblau, x0, method="newton")))
    res = solve(starts)
    status = np.asarray(res.status_code)
    steps = np.asarray(res.num_steps)
    converged = np.asarray(res.converged)[:1000]
    assert converged.mean() >= 0.99
    minima = himmelblau_points()["minimum"]
    x = np.asarray(res.x)[:1000][converged]
    assert distance_to_nearest(x, minima).max() < 1e-8
    nearest = np.argmin(np.linalg.norm(x[:, None, :] - minima, axis=-1), axis=1)
    assert set(nearest.tolist()) == {0, 1, 2, 3}
    kinds = np.asarray(res.critical_point.kind)[:1000][converged]
    assert np.all(kinds == "minimum")
    assert status[1000] == optkit.Status.NONFINITE and steps[1000] == 0
    assert status[1001] == CONVERGED and steps[1001] == 0
    np.testing.assert_array_equal(res.x[1001], [3.0, 2.0])


# ----------------------------------------------- Newton's indefinite-Hessian strategies


@pytest.mark.slow
@pytest.mark.parametrize("regularization", ["eigen", "levenberg", "steepest"])
def test_newton_regularizations_leave_maximum_and_saddles(regularization):
    res = _newton_batch("himmelblau", regularization)
    assert np.all(np.asarray(res.status_code) == CONVERGED)
    assert distance_to_nearest(np.asarray(res.x), himmelblau_points()["minimum"]).max() < 1e-8
    strategy = np.asarray(res.trajectory.aux["strategy"])
    # row k records the strategy used at x_{k−1}: non-Newton at the 10 indefinite starts,
    # plain Newton all the way from beside the minimum (start 10)
    assert np.all(np.isin(strategy[:10, 1], [1, 2, 3]))
    n_near = int(res.trajectory.length[10])
    np.testing.assert_array_equal(strategy[10, 1:n_near], 0)


@pytest.mark.slow
@pytest.mark.parametrize("regularization", ["eigen", "levenberg", "steepest"])
def test_newton_records_strategy_and_damping_that_match_the_hessian(regularization):
    res = _newton_batch("himmelblau", regularization)
    tr = jax.tree_util.tree_map(np.asarray, res.trajectory)  # sliced below: numpy
    for i in range(tr.value.shape[0]):
        n = int(tr.length[i])
        xs = np.asarray(tr.x[i, : n - 1])
        lam = np.array([np.linalg.eigvalsh(himmelblau_hessian(p)) for p in xs])
        min_eig = np.asarray(tr.aux["min_eigenvalue"][i, 1:n])
        strategy = np.asarray(tr.aux["strategy"][i, 1:n])
        damping = np.asarray(tr.aux["damping"][i, 1:n])
        np.testing.assert_allclose(min_eig, lam[:, 0], rtol=1e-10, atol=1e-9)
        # plain Newton exactly where H ≻ 0 beyond the documented floor δ = 10·ε·max|λ|
        definite = lam[:, 0] > 10 * EPS64 * np.abs(lam).max(axis=1)
        np.testing.assert_array_equal(strategy == 0, definite)
        if regularization == "steepest":
            # the Hessian is never modified: the direction switches to −∇f instead
            np.testing.assert_array_equal(damping, 0.0)
        else:
            np.testing.assert_array_equal(damping > 0, ~definite)


# ------------------------------------------------------------- trust-region subproblem


@jit
def _subproblem(hess, g, radius):
    lam, vecs = jnp.linalg.eigh(hess)
    return solve_subproblem(lam, vecs, g, radius)


def _check_subproblem_solution(hess, g, radius):
    """Moré–Sorensen: p solves min gᵀp + ½pᵀHp, ‖p‖ ≤ Δ iff (H + μI)p = −g for some
    μ ≥ max(0, −λ_min) with μ(Δ − ‖p‖) = 0."""
    p, predicted, boundary = map(np.asarray, _subproblem(jnp.asarray(hess), jnp.asarray(g),
                                                         radius))
    assert np.all(np.isfinite(p))
    norm = np.linalg.norm(p)
    # tolerances √ε-sized: the hard-case completion adds √(Δ² − ‖p‖²), which is O(√ε·Δ) when
    # the difference is rounding only
    assert norm <= radius * (1 + 1e-7)
    mu = -p @ (hess @ p + g) / (p @ p)
    np.testing.assert_allclose(hess @ p + mu * p, -g, atol=1e-7 * (1 + np.linalg.norm(g)))
    assert mu >= max(0.0, -np.linalg.eigvalsh(hess)[0]) - 1e-7
    assert mu * (radius - norm) <= 1e-7 * radius
    assert bool(boundary) == bool(abs(norm - radius) <= 1e-7 * radius)
    np.testing.assert_allclose(predicted, -(g @ p + 0.5 * p @ hess @ p), rtol=1e-10)


@pytest.mark.parametrize("radius", [0.1, 1.0, 100.0])
@pytest.mark.parametrize("case", ["definite", "indefinite", "hard_case"])
def test_trust_region_subproblem_satisfies_optimality_conditions(case, radius):
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    spectrum = {"definite": [0.5, 2.0, 5.0], "indefinite": [-2.0, 1.0, 3.0],
                "hard_case": [-2.0, 1.0, 3.0]}[case]
    hess = q @ np.diag(spectrum) @ q.T
    g = rng.standard_normal(3)
    if case == "hard_case":
        g = g - (g @ q[:, 0]) * q[:, 0]  # ∇f orthogonal to the most negative eigenvector
    _check_subproblem_solution(hess, g, radius)


def test_trust_region_subproblem_with_zero_hessian_is_the_cauchy_step():
    # H = 0 (a linear function): the model gᵀp is minimised on the ball by p = −Δ·g/‖g‖
    g = np.array([1.0, 2.0])
    p, _, _ = _subproblem(jnp.zeros((2, 2)), jnp.asarray(g), 0.5)
    np.testing.assert_allclose(p, -0.5 * g / np.linalg.norm(g), rtol=1e-12)


# ------------------------------------------------------------------ pytree parameters


@pytest.mark.slow
@pytest.mark.parametrize("method", SCALAR_METHODS)
def test_pytree_least_squares_matches_lstsq(method):
    # ½‖XW + b − Y‖² over params {"W": (3, 2), "b": (2,)}: the normal equations of the
    # augmented design [X 1] give the exact minimiser
    rng = np.random.default_rng(3)
    design, targets = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    design_j, targets_j = jnp.asarray(design), jnp.asarray(targets)

    def loss(p):
        return 0.5 * jnp.sum((design_j @ p["W"] + p["b"] - targets_j) ** 2)

    x0 = {"W": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
    res = optkit.minimize(loss, x0, method=method, grad_tol=1e-10, max_steps=500, record=True,
                          classify=False)
    assert res.status == CONVERGED
    assert jax.tree.structure(res.x) == jax.tree.structure(x0)
    for key in x0:
        assert res.x[key].shape == x0[key].shape and res.x[key].dtype == jnp.float64
    coef = np.linalg.lstsq(np.hstack([design, np.ones((8, 1))]), targets, rcond=None)[0]
    np.testing.assert_allclose(res.x["W"], coef[:3], atol=1e-8)
    np.testing.assert_allclose(res.x["b"], coef[3], atol=1e-8)
    tr = res.trajectory
    assert jax.tree.structure(tr.x) == jax.tree.structure(x0)
    assert tr.x["W"].shape == (501, 3, 2) and tr.x["b"].shape == (501, 2)
    n = int(tr.length)
    np.testing.assert_array_equal(tr.x["W"][0], 0.0)
    np.testing.assert_array_equal(tr.x["W"][n - 1], res.x["W"])
    np.testing.assert_array_equal(tr.x["b"][n - 1], res.x["b"])


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.slow
@pytest.mark.parametrize("dtype, grad_tol, x_err", [(jnp.float32, 1e-4, 1e-3),
                                                    (jnp.float64, 1e-8, 1e-7)])
def test_dtype_of_x0_is_kept_and_default_tolerance_is_met(dtype, grad_tol, x_err):
    res = optkit.minimize(rosenbrock, jnp.array([-1.2, 1.0], dtype), method="newton",
                          record=True, classify=False)
    assert res.status == CONVERGED
    assert float(res.grad_norm) <= grad_tol
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=x_err)
    tr = res.trajectory
    arrays = [res.x, res.value, res.grad_norm, tr.x, tr.value, tr.grad_norm, tr.step_size,
              *tr.aux.values()]
    assert all(a.dtype == dtype for a in arrays)


# ------------------------------------------------------------ every method, two problems

_Q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((10, 10)))
_A10 = _Q @ np.diag(np.logspace(0, 2, 10)) @ _Q.T  # condition number 100
_B10 = np.random.default_rng(6).standard_normal(10)
_A10_J, _B10_J = jnp.asarray(_A10), jnp.asarray(_B10)


def quadratic10(x):
    return 0.5 * x @ _A10_J @ x - _B10_J @ x


@pytest.mark.slow
@pytest.mark.parametrize("method", SCALAR_METHODS)
def test_every_method_converges_on_rosenbrock(method):
    kw = {"max_steps": 20_000} if method == "gradient_descent" else {}
    res = optkit.minimize(rosenbrock, [-1.2, 1.0], method=method, **kw)
    assert res.status == CONVERGED
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("method", SCALAR_METHODS)
def test_every_method_converges_on_ill_conditioned_quadratic(method):
    res = optkit.minimize(quadratic10, jnp.zeros(10), method=method, classify=False)
    assert res.status == CONVERGED
    # ‖x − x*‖ ≤ ‖∇f(x)‖/λ_min = ‖∇f(x)‖ ≤ 1e-8
    np.testing.assert_allclose(res.x, np.linalg.solve(_A10, _B10), atol=1.1e-8)
