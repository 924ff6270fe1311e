"""optkit.least_squares: Gauss–Newton and Levenberg–Marquardt on residual vectors.

The mathematics asserted: Gauss–Newton lands on the normal-equation solution of a linear
problem in one step (dense, and matrix-free by CG); Levenberg–Marquardt reaches the published
optima of Moré–Garbow–Hillstrom problems (values from the paper, checked against scipy in
tests/experiments/test_mgh.py); the Jacobian built "by shape" is J either way; a fit under
vmap over data agrees with scipy.optimize.least_squares run in the test.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import optkit
from optkit.solvers._least_squares import residual_and_jacobian
from tests.helpers import jit, load_experiment

mgh = load_experiment("mgh_suite")

RNG = np.random.default_rng(7)
A = RNG.normal(size=(8, 3))
B = RNG.normal(size=8)


def linear_residual(x: jax.Array) -> jax.Array:
    return A @ x - B


@pytest.mark.parametrize("dense_max", [200, 0], ids=["dense", "matrix_free"])
def test_gauss_newton_solves_a_linear_problem_in_one_step(dense_max: int) -> None:
    res = optkit.least_squares(linear_residual, np.zeros(3), "gauss_newton", classify=False,
                               dense_max=dense_max)
    normal = np.linalg.solve(A.T @ A, A.T @ B)
    assert res.status == optkit.Status.CONVERGED
    assert int(res.num_steps) == 1
    np.testing.assert_allclose(res.x, normal, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.residual, A @ normal - B, atol=1e-12)
    np.testing.assert_allclose(res.value, 0.5 * np.sum((A @ normal - B) ** 2), rtol=1e-12)
    # one residual and one Jacobian evaluation at the start, one each at the accepted step
    assert (int(res.num_residual_evals), int(res.num_jacobian_evals)) == (2, 2)


@pytest.mark.parametrize(
    ("name", "start", "kind"),
    [
        ("rosenbrock", None, "global"),
        ("freudenstein_roth", None, "local"),  # the standard start leads to 48.9842…
        ("freudenstein_roth", (4.0, 3.0), "global"),  # … a start near (5, 4) to 0
        ("box_3d", None, "global"),
        ("powell_singular", None, "global"),  # singular Jacobian at the solution
    ],
)
def test_levenberg_marquardt_reaches_the_published_optimum(name: str, start, kind: str) -> None:
    problem = mgh.get(name)
    x0 = problem.start if start is None else np.asarray(start)
    res = optkit.least_squares(problem.residuals, x0, "levenberg_marquardt", classify=False)
    value = 2 * float(res.value)  # MGH's f is Σ rᵢ², optkit's ½‖r‖²
    hit = mgh.reached(problem, value)
    assert hit is not None and hit.kind == kind, (value, res.status)
    assert res.status in (optkit.Status.CONVERGED, optkit.Status.ROUNDING_FLOOR)
    assert float(res.grad_norm) <= 1e-6 * max(1.0, value)


@pytest.mark.parametrize("m", [5, 2], ids=["forward_m_ge_n", "reverse_m_lt_n"])
def test_jacobian_by_shape_is_the_jacobian(m: int) -> None:
    w = RNG.normal(size=(m, 3))

    def residual(x: jax.Array) -> jax.Array:
        return jnp.sin(w @ x) + x[0] * x[2]

    x = np.array([0.3, -0.7, 1.1])
    r, jac = jit(residual_and_jacobian, static_argnums=0)(residual, x)
    r_direct, jac_forward = jit(lambda z: (residual(z), jax.jacfwd(residual)(z)))(x)
    np.testing.assert_allclose(r, r_direct, rtol=1e-15)
    np.testing.assert_allclose(jac, jac_forward, rtol=1e-13, atol=1e-15)


T = np.linspace(0.0, 4.0, 12)


def decay(params: jax.Array, t: jax.Array, y: jax.Array) -> jax.Array:
    a, b, c = params
    return a * jnp.exp(-b * t) + c - y


@pytest.mark.slow
def test_vmapped_fit_over_data_matches_scipy() -> None:
    truth = np.array([[3.0, 1.3, 0.5], [1.0, 0.4, -0.2]])
    noise = 0.01 * RNG.normal(size=(2, T.size))
    compiled_decay = jit(decay)
    ys = np.array([compiled_decay(p, T, np.zeros_like(T)) for p in truth]) + noise
    fit = jax.vmap(lambda y: optkit.least_squares(decay, jnp.ones(3), args=(T, y),
                                                  classify=False))(ys)
    assert np.all(np.asarray(fit.status_code) == optkit.Status.CONVERGED)
    fit_x = np.asarray(fit.x)
    for k in range(2):
        ref = scipy.optimize.least_squares(
            lambda p, k=k: np.asarray(compiled_decay(p, T, ys[k])), np.ones(3),
            method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15)
        np.testing.assert_allclose(fit_x[k], ref.x, rtol=1e-7)


def test_scalar_function_is_refused_by_residual_methods() -> None:
    with pytest.raises(TypeError, match="residual vector"):
        optkit.minimize(lambda x: jnp.sum(x**2), np.ones(2), method="levenberg_marquardt")


def test_bad_options_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="factor must be positive"):
        optkit.least_squares(linear_residual, jnp.zeros(3), factor=0.0)
    with pytest.raises(TypeError, match="args must be a tuple"):
        optkit.least_squares(linear_residual, jnp.zeros(3), args=[1.0])


@pytest.mark.slow
def test_matrix_free_levenberg_marquardt_reaches_the_normal_equations() -> None:
    res = optkit.least_squares(linear_residual, jnp.zeros(3), "levenberg_marquardt",
                               classify=False, dense_max=0)
    normal = np.linalg.solve(A.T @ A, A.T @ B)
    assert res.status == optkit.Status.CONVERGED
    np.testing.assert_allclose(res.x, normal, rtol=1e-8, atol=1e-10)


def test_rel_grad_tol_stops_on_the_scale_free_gradient_test() -> None:
    """With large residuals, ‖Jᵀr‖ ≤ rel·max(1, f)/max(1, ‖x‖) ends the solve, CONVERGED."""
    def residual(x: jax.Array) -> jax.Array:  # f* = ½·(1e4)² at x = (1, 1)
        return jnp.stack([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0], jnp.asarray(1e4)])

    start = np.array([-1.2, 1.0])
    tight = optkit.least_squares(residual, start, classify=False)
    loose = optkit.least_squares(residual, start, rel_grad_tol=1e-6, classify=False)
    assert loose.converged and tight.converged
    bound = 1e-6 * max(1.0, float(loose.value)) / max(1.0, float(np.linalg.norm(loose.x)))
    assert float(loose.grad_norm) <= bound
    assert int(loose.num_steps) < int(tight.num_steps)
    with pytest.raises(ValueError, match="rel_grad_tol"):
        optkit.least_squares(residual, start, rel_grad_tol=-1.0)


def test_stopping_keywords_are_checked_as_in_minimize(monkeypatch) -> None:
    for key, value in (("x_tol", float("nan")), ("f_tol", -1.0), ("rel_grad_tol", float("inf"))):
        with pytest.raises(ValueError, match=key):
            optkit.least_squares(linear_residual, jnp.zeros(3), **{key: value})
    monkeypatch.setenv("OPTKIT_MAX_ARRAY_BYTES", "1000")
    with pytest.raises(ValueError, match="record=True"):
        optkit.least_squares(linear_residual, jnp.zeros(3), record=True, max_steps=100)


def test_a_nonfinite_jacobian_ends_with_the_residual_of_the_returned_point() -> None:
    # r₂ = 10⁻³·√|x − 3| has an infinite derivative at x = 3: the step that lands there gives
    # a non-finite Jacobian, and the result is the last finite iterate with its own residual
    def residual(x: jax.Array) -> jax.Array:
        return jnp.stack([x[0] - 3.0, 1e-3 * jnp.sqrt(jnp.abs(x[0] - 3.0))])

    res = optkit.least_squares(residual, np.array([0.0]), method="levenberg_marquardt")
    assert res.status == optkit.Status.NONFINITE
    assert np.all(np.isfinite(res.residual)) and np.all(np.isfinite(res.x))
    np.testing.assert_array_equal(res.residual, jit(residual)(res.x))
    assert float(res.value) == 0.5 * float(np.sum(np.asarray(res.residual) ** 2))
