"""Derivatives of the solution with respect to the data (implicit function theorem), and the
Hessian at the solution: checked against closed forms, finite differences and optimistix."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit.solvers import _implicit
from tests.helpers import jit

RNG = np.random.default_rng(12)
A_NP = RNG.normal(size=(8, 3))
B_NP = RNG.normal(size=8)
X_NP = RNG.normal(size=(20, 3))
A, B, X = jnp.asarray(A_NP), jnp.asarray(B_NP), jnp.asarray(X_NP)
Y = jnp.asarray(np.sign(RNG.normal(size=20)))


def ridge(x, lam, a, b):
    """½‖Ax − b‖² + ½λ‖x‖²: x*(λ) = (AᵀA + λI)⁻¹Aᵀb, f* has ∂f*/∂λ = ½‖x*‖²."""
    return 0.5 * jnp.sum((a @ x - b) ** 2) + 0.5 * lam * jnp.sum(x ** 2)


def ridge_closed_form(lam, a, b):
    return jnp.linalg.solve(a.T @ a + lam * jnp.eye(a.shape[1]), a.T @ b)


def ridge_x(lam, a, b):
    return optkit.minimize(ridge, jnp.zeros(a.shape[1]), args=(lam, a, b)).x


def logistic(w, lam, x, y):
    """L2-penalised logistic loss: strictly convex, no closed-form minimiser."""
    return jnp.sum(jax.nn.softplus(-y * (x @ w))) + 0.5 * lam * jnp.sum(w ** 2)


def logistic_x(lam, x):
    return optkit.minimize(logistic, jnp.zeros(3), args=(lam, x, Y), grad_tol=1e-13).x


def test_ridge_jacobians_value_and_hessian_match_the_closed_form():
    lam = jnp.asarray(0.7)
    x_star = np.asarray(ridge_x(lam, A, B))
    closed_form, exact = jit(lambda l, a, b: (
        ridge_closed_form(l, a, b), jax.jacobian(ridge_closed_form, argnums=(0, 2))(l, a, b)))(
        lam, A, B)
    np.testing.assert_allclose(x_star, closed_form, rtol=1e-12)
    got = jax.jacrev(ridge_x, argnums=(0, 2))(lam, A, B)  # reverse mode: a transposed solve
    for g, e in zip(got, exact, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)
    # f* = min f: ∂f*/∂λ = ½‖x*‖² (the envelope theorem)
    grad = jax.grad(lambda l: optkit.minimize(ridge, jnp.zeros(3), args=(l, A, B)).value)(lam)
    np.testing.assert_allclose(grad, 0.5 * np.sum(x_star ** 2), rtol=1e-10)
    # the Hessian at the solution, and H·v without it
    res = optkit.minimize(ridge, jnp.zeros(3), args=(lam, A, B))
    hess = A_NP.T @ A_NP + 0.7 * np.eye(3)
    np.testing.assert_allclose(res.hessian, hess, rtol=1e-12)
    v = np.array([1.0, -2.0, 0.5])
    hv = jit(lambda v: res.hvp(ridge, v, (lam, A, B)))(v)
    np.testing.assert_allclose(hv, hess @ v, rtol=1e-12)


@pytest.mark.slow
def test_vmapped_hypergradients_and_hessians_match_the_closed_form():
    lams = jnp.asarray([0.1, 1.0, 10.0])

    def outer(lam):
        res = optkit.minimize(ridge, jnp.zeros(3), args=(lam, A, B))
        return jnp.sum(res.x ** 2), res.hessian

    (_, hessians), grads = jax.vmap(jax.value_and_grad(outer, has_aux=True))(lams)
    want = jit(jax.vmap(jax.grad(lambda l: jnp.sum(ridge_closed_form(l, A, B) ** 2))))(lams)
    np.testing.assert_allclose(grads, want, rtol=1e-9)
    lams_np = np.asarray(lams)
    np.testing.assert_allclose(
        hessians, (A_NP.T @ A_NP)[None] + lams_np[:, None, None] * np.eye(3), rtol=1e-12)


def _central_difference(f, x, direction, h):
    # numpy arithmetic; f's results converted once
    return (np.asarray(f(x + h * direction)) - np.asarray(f(x - h * direction))) / (2 * h)


@pytest.mark.slow
def test_logistic_derivatives_match_finite_differences():
    lam = jnp.asarray(0.3)
    jac_lam = jax.jacobian(logistic_x)(lam, X)
    fd_lam = _central_difference(lambda l: logistic_x(l, X), 0.3, 1.0, 1e-5)
    np.testing.assert_allclose(jac_lam, fd_lam, rtol=1e-6)
    direction = RNG.normal(size=X.shape)
    _, jvp_x = jax.jvp(lambda x: logistic_x(lam, x), (X,), (jnp.asarray(direction),))
    fd_x = _central_difference(lambda x: logistic_x(lam, x), X_NP, direction, 1e-5)
    np.testing.assert_allclose(jvp_x, fd_x, rtol=1e-6)


def test_derivative_in_x0_is_zero():
    lam = jnp.asarray(0.7)
    grad_x0 = jax.grad(lambda x0: jnp.sum(optkit.minimize(ridge, x0, args=(lam, A, B)).x))(
        jnp.ones(3))
    np.testing.assert_array_equal(grad_x0, 0.0)


@pytest.mark.slow
def test_derivative_is_nan_when_not_converged():
    def stopped_early(lam):  # f_tol = 0.5 ends it after one step with SMALL_DECREASE
        res = optkit.minimize(logistic, jnp.zeros(3), args=(lam, X, Y), grad_tol=1e-13,
                              f_tol=0.5)
        assert res.status == optkit.Status.SMALL_DECREASE
        return res.x

    assert np.all(np.isnan(jax.jacobian(stopped_early)(jnp.asarray(0.3))))


@pytest.mark.slow
def test_logistic_derivative_matches_optimistix_implicit_adjoint():
    optx = pytest.importorskip("optimistix")
    lam = jnp.asarray(0.3)

    def optx_solution(lam):
        solver = optx.BFGS(rtol=1e-15, atol=1e-15)
        sol = optx.minimise(lambda w, a: logistic(w, *a), solver, jnp.zeros(3),
                            args=(lam, X, Y), adjoint=optx.ImplicitAdjoint(), max_steps=500)
        return sol.value

    np.testing.assert_allclose(logistic_x(lam, X), optx_solution(lam), rtol=1e-6)
    np.testing.assert_allclose(jax.jacobian(logistic_x)(lam, X),
                               jax.jacobian(optx_solution)(lam), rtol=1e-6)


def test_conjugate_gradient_path_matches_the_closed_form(monkeypatch):
    # the CG branch (used above DENSE_MAX parameters) on the small ridge problem
    monkeypatch.setattr(_implicit, "DENSE_MAX", 0)
    lam = jnp.asarray(0.7)
    got = jax.jacrev(ridge_x, argnums=(0, 2))(lam, A, B)
    want = jit(jax.jacobian(ridge_closed_form, argnums=(0, 2)))(lam, A, B)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-12)


def saddle(x, theta):
    """½x₀² − ½x₁² − θ·x: one critical point, the saddle (θ₀, −θ₁)."""
    return 0.5 * x[0] ** 2 - 0.5 * x[1] ** 2 - jnp.dot(theta, x)


@pytest.mark.slow
@pytest.mark.parametrize("dense_max", [_implicit.DENSE_MAX, 0], ids=["cholesky", "cg"])
def test_derivative_is_nan_at_a_saddle(monkeypatch, dense_max):
    monkeypatch.setattr(_implicit, "DENSE_MAX", dense_max)
    textbook = optkit.Newton(regularization="none", line_search="none")

    def solution(theta):
        res = optkit.minimize(saddle, jnp.ones(2), textbook, args=theta)
        assert res.status == optkit.Status.CONVERGED
        return res.x

    theta = jnp.asarray([0.5, 2.0])
    np.testing.assert_allclose(solution(theta), [0.5, -2.0])
    assert np.all(np.isnan(jax.jacobian(solution)(theta)))


# ------------------------------------------------------------------ Hessian at the solution


@pytest.mark.slow
def test_no_dense_hessian_above_the_threshold():
    n = optkit.solvers.HESSIAN_MAX_SIZE + 1
    scale = np.arange(1.0, n + 1)

    def bowl(x):
        return 0.5 * jnp.sum(scale * x ** 2)

    res = optkit.minimize(bowl, np.ones(n), "gradient_descent", classify=False)
    assert res.converged and res.hessian is None
    v = np.ones(n)
    np.testing.assert_allclose(jit(lambda v: res.hvp(bowl, v))(v), scale * v)
