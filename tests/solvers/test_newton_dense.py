"""Dense Newton, Cholesky first: the step is −H⁻¹∇f wherever H is safely positive definite
(badly scaled H included), the eigendecomposition path keeps the saddle escape, and a solve
that reaches the optimum but cannot push the gradient noise below grad_tol ends ROUNDING_FLOOR.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit._linalg import cholesky_accepted
from optkit.solvers._newton import ESCAPE, NEWTON, NewtonDescent
from tests.helpers import jit

EPS = np.finfo(np.float64).eps


def quartic(x, h, b, c):
    """½xᵀHx + ¼Σcᵢxᵢ⁴ − bᵀx, whose Hessian is H + 3·diag(c·x²)."""
    return 0.5 * x @ (h @ x) + 0.25 * jnp.sum(c * x**4) - b @ x


@jit
def _direction(x, h, b, c):
    """∇f and the Newton direction at x (one compiled program per dimension, shared)."""
    g = jax.grad(quartic)(x, h, b, c)
    return g, NewtonDescent().direction(lambda z: quartic(z, h, b, c), x, g, ())


@jit
def _cholesky_accepted(h):
    return cholesky_accepted(h, jnp.linalg.cholesky(h))


def _spd(n):
    h = 3.0 * np.eye(n) + 0.5 * np.ones((n, n)) + np.diag(np.arange(n, dtype=float))
    return h, np.arange(1.0, n + 1.0), np.ones(n)


@pytest.mark.parametrize("n", [2, 3])
def test_step_is_minus_inverse_hessian_times_gradient_on_spd_hessian(n):
    h, b, c = _spd(n)
    x = np.linspace(-1.0, 1.5, n)
    g, direction = _direction(x, h, b, c)
    hess = h + 3 * np.diag(c * x**2)
    expected = -np.linalg.solve(hess, np.asarray(g))
    np.testing.assert_allclose(direction.d, expected, rtol=1e-12, atol=1e-14)
    lam = np.linalg.eigvalsh(hess)
    assert float(direction.aux["strategy"]) == NEWTON and float(direction.aux["damping"]) == 0
    assert not bool(direction.escape)
    # dᵀHd of the Newton step is −∇f·d
    np.testing.assert_allclose(direction.curvature, expected @ hess @ expected, rtol=1e-12)
    # min_eigenvalue: exact for n = 2 (eigendecomposed), an upper bound ≥ λ_min above
    min_eig = float(direction.aux["min_eigenvalue"])
    if n == 2:
        np.testing.assert_allclose(min_eig, lam[0], rtol=1e-12)
    else:
        assert lam[0] * (1 - 1e-12) <= min_eig <= np.diagonal(hess).min()


# H = D·S·D with S well conditioned and D spanning 16 orders: cond(H) ≈ 1e32 > 1/ε, so the
# eigenvalue floor 10ε·max|λ| would clip the small eigenvalues, but Cholesky solves it exactly
SCALES = np.array([1e8, 1e-8, 1.0])
S = np.array([[2.0, 0.5, 0.2], [0.5, 1.5, 0.3], [0.2, 0.3, 1.0]])
H_SCALED = SCALES[:, None] * S * SCALES[None, :]
B_SCALED = np.array([1e8, -3e-8, 2.0])


@pytest.mark.parametrize("dim", [2, 3])
def test_badly_scaled_hessian_gets_its_exact_newton_step(dim):
    h, b = H_SCALED[:dim, :dim], B_SCALED[:dim]
    scales = SCALES[:dim]
    assert np.linalg.cond(h) > 1e3 / EPS  # hopeless for an eigenvalue floor
    # the exact solution through the well-conditioned S: x = D⁻¹ S⁻¹ D⁻¹ b
    exact = np.linalg.solve(S[:dim, :dim], b / scales) / scales
    _, direction = _direction(np.zeros(dim), h, b, np.zeros(dim))
    assert float(direction.aux["strategy"]) == NEWTON
    np.testing.assert_allclose(direction.d, exact, rtol=1e-12)
    assert bool(_cholesky_accepted(h))


def test_cholesky_test_refuses_indefinite_and_numerically_singular_matrices():
    def accepted(h):
        return bool(_cholesky_accepted(np.asarray(h, dtype=np.float64)))

    assert accepted(np.eye(3))
    assert not accepted(np.diag([1.0, -1e-3, 1.0]))  # indefinite: cholesky gives NaN
    # positive definite in exact arithmetic, but the second pivot 1e-17 of the scaled matrix
    # is below rounding (10·n·ε ≈ 6.7e-15)
    v = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    assert not accepted(np.eye(3) - (1 - 1e-17) * np.outer(v, v))
    assert accepted(np.eye(3) - (1 - 1e-10) * np.outer(v, v))
    # rescaling the variables changes nothing: D·H·D with D spanning 30 orders
    scales = np.array([1e15, 1.0, 1e-15])
    h = np.eye(3) - (1 - 1e-10) * np.outer(v, v)
    assert accepted(scales[:, None] * h * scales[None, :])
    assert not accepted(np.zeros((3, 3)))


def saddle3(x):
    """x₀⁴ − x₀² + x₁² + x₂²: a saddle at 0 (λ = −2, 2, 2), minima at x₀ = ±1/√2, f = −¼."""
    return x[0] ** 4 - x[0] ** 2 + x[1] ** 2 + x[2] ** 2


def test_start_exactly_on_a_saddle_leaves_it_through_the_eigen_fallback():
    x0 = np.zeros(3)
    # saddle3 as a quartic: H = diag(−2, 2, 2), c = (4, 0, 0)
    g0, direction = _direction(x0, np.diag([-2.0, 2.0, 2.0]), np.zeros(3),
                               np.array([4.0, 0.0, 0.0]))
    assert float(np.linalg.norm(g0)) == 0.0
    # Cholesky is refused (H indefinite): the eigen path's escape along e₀, length ≥ 1
    assert float(direction.aux["strategy"]) == ESCAPE and bool(direction.escape)
    np.testing.assert_allclose(direction.aux["min_eigenvalue"], -2.0, rtol=1e-12)
    assert abs(float(np.asarray(direction.d)[0])) >= 1.0 and float(direction.curvature) < 0

    res = optkit.minimize(saddle3, x0, method="newton", classify=False)
    assert res.status == optkit.Status.CONVERGED
    np.testing.assert_allclose(np.abs(res.x), [2**-0.5, 0, 0], atol=1e-8)
    np.testing.assert_allclose(res.value, -0.25, rtol=1e-12)


@pytest.mark.slow
def test_batched_starts_agree_with_single_solves():
    # under vmap the cond becomes a select that runs both paths: the answers must not change
    starts = np.array([[0.0, 0.0, 0.0], [0.3, -0.2, 0.1], [-2.0, 1.0, 0.5]])
    batch = optkit.minimize_batch(saddle3, starts, method="newton", classify=False)
    assert bool(np.all(np.asarray(batch.status_code) == optkit.Status.CONVERGED))
    x = np.asarray(batch.x)
    np.testing.assert_allclose(np.abs(x[:, 0]), 2**-0.5, rtol=1e-8)
    np.testing.assert_allclose(x[:, 1:], 0.0, atol=1e-8)


# Least squares with huge columns: at the optimum the gradient 2Σcᵢrᵢ is a sum of terms
# ~1e10 that cancel, so rounding leaves ‖∇f‖ ~ 1e-6 ≫ grad_tol = 1e-8 wherever x is
COLUMNS = np.array([[1e10, 3e9], [2e10, -1e9], [-1e10, 2e9], [3e10, 5e9], [5e9, -4e9],
                    [1.5e10, 1e9]])
TARGETS = np.array([1.0, -2.0, 0.5, 3.0, 1.0, -1.5])


def noisy_least_squares(x):
    r = jnp.asarray(COLUMNS) @ x - jnp.asarray(TARGETS)
    return r @ r


def test_optimum_reached_under_gradient_noise_ends_at_the_rounding_floor():
    x_star, *_ = np.linalg.lstsq(COLUMNS, TARGETS, rcond=None)
    f_star = float(np.sum((COLUMNS @ x_star - TARGETS) ** 2))
    res = optkit.minimize(noisy_least_squares, np.zeros(2), method="newton", classify=False)
    assert res.status == optkit.Status.ROUNDING_FLOOR and not bool(res.converged)
    assert float(res.grad_norm) > 1e-8  # the gradient noise is above grad_tol ...
    # ... yet the optimum is reached to rounding: f within a few ε of f*, x to ~ε·cond
    assert abs(float(res.value) - f_star) <= 1e3 * EPS * f_star
    np.testing.assert_allclose(res.x, x_star, rtol=1e-9)
    # and the rule's premise holds: the Newton step promises less than rounding of f
    g = np.asarray(jit(jax.grad(noisy_least_squares))(res.x))
    hess = 2 * COLUMNS.T @ COLUMNS
    assert abs(g @ np.linalg.solve(hess, g)) <= 10 * EPS * abs(float(res.value))
    assert "rounding floor" in res.status.message


def test_a_real_line_search_failure_is_not_called_a_rounding_floor():
    # |x − 0.3| has |∇f| = 1 at the kink: Armijo fails with a decrease that would be measurable
    res = optkit.minimize(lambda x: jnp.abs(x[0] - 0.3) + jnp.abs(x[1] + 0.2) + x[2] ** 2,
                          np.array([0.77, 0.4, 1.0]), method="gradient_descent",
                          classify=False)
    assert res.status == optkit.Status.LINE_SEARCH_FAILED
