"""Lanczos classification (n > 64) against the dense Hessian's eigenvalues and kinds."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit  # noqa: F401  (turns on float64)
from optkit.analysis._classify import classify, classify_spectrum
from optkit.analysis._lanczos import DENSE_MAX_DIM, LANCZOS_STEPS, count_below, krylov_spectrum
from tests.helpers import jit

N_RANDOM, N_WELLS = 200, 500


def _orthogonal(n: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def random_problem(x, a):
    """½xᵀAx + 0.3·Σcos xᵢ + 0.01·Σxᵢ⁴: H = A − 0.3·diag(cos x) + 0.12·diag(x²)."""
    return 0.5 * x @ a @ x + 0.3 * jnp.sum(jnp.cos(x)) + 0.01 * jnp.sum(x**4)


def _krylov(fun, x):
    """krylov_spectrum of fun at x, with products from one linearisation of ∇f (as classify)."""
    (_, g), linear = jax.linearize(jax.value_and_grad(fun), x)
    return krylov_spectrum(lambda v: linear(v)[1], g)


@jit
def ritz(x, a):
    return _krylov(lambda z: random_problem(z, a), x)


def ritz_and_dense(x, a):
    """The Ritz values and the eigenvalues of the closed-form Hessian."""
    x_, a_ = np.asarray(x), np.asarray(a)
    hessian = a_ - 0.3 * np.diag(np.cos(x_)) + 0.12 * np.diag(x_**2)
    return ritz(x, a), np.linalg.eigvalsh(hessian)


def _random_case(seed: int, spectrum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = _orthogonal(N_RANDOM, seed)
    x = np.random.default_rng(seed + 1).standard_normal(N_RANDOM)
    return x, (q * spectrum) @ q.T


@pytest.mark.parametrize("seed", [0, 1])
def test_extreme_ritz_values_within_their_residual_of_the_extreme_eigenvalues(seed):
    # a spectrum spread evenly over [−1, 3]: the hardest case for the extremes
    spectrum = np.random.default_rng(seed).uniform(-1.0, 3.0, N_RANDOM)
    k, lam = ritz_and_dense(*_random_case(seed, spectrum))
    theta, residual, lam = np.asarray(k.ritz), np.asarray(k.residual), np.asarray(lam)
    assert theta.shape == (LANCZOS_STEPS,)
    rounding = 1e-10 * np.max(np.abs(lam))
    # Cauchy interlacing: Ritz values lie inside the spectrum
    assert lam[0] - rounding <= theta[0] and theta[-1] <= lam[-1] + rounding
    # the documented tolerance: an eigenvalue (here the extreme one) within the Ritz residual
    assert theta[0] - lam[0] <= residual[0] + rounding
    assert lam[-1] - theta[-1] <= residual[-1] + rounding
    # and the extremes are resolved to a few per cent of the spectrum's width
    assert theta[0] - lam[0] <= 0.1 * (lam[-1] - lam[0])
    assert lam[-1] - theta[-1] <= 0.1 * (lam[-1] - lam[0])


def test_separated_extreme_eigenvalues_to_rounding():
    # eigenvalues in [1, 2] and two isolated ones, −3 and 10: Lanczos converges geometrically
    spectrum = np.concatenate([[-3.0, 10.0], np.linspace(1.0, 2.0, N_RANDOM - 2)])
    k, lam = ritz_and_dense(*_random_case(3, spectrum))
    theta, residual = np.asarray(k.ritz), np.asarray(k.residual)
    np.testing.assert_allclose(theta[0], lam[0], rtol=1e-8)
    np.testing.assert_allclose(theta[-1], lam[-1], rtol=1e-8)
    assert residual[0] < 1e-6 and residual[-1] < 1e-6


# f(x) = Σᵢ aᵢ(zᵢ² − 1)² + p·(z₀⁴ − a₀(z₀² − 1)²), z = Rx (R orthogonal). Critical points: every
# zᵢ ∈ {−1, 0, 1} (z₀ = 0 when p = 1), ∇²f = Rᵀ·diag(hᵢ)·R with hᵢ = 8aᵢ at ±1, −4aᵢ at 0, and
# h₀ = 0 for p = 1 (z₀⁴ is degenerate at 0).
WELL_ROTATION = _orthogonal(N_WELLS, 7)
WELL_A = np.random.default_rng(8).uniform(1.0, 2.0, N_WELLS)


def wells(x, p):
    z = WELL_ROTATION @ x
    quartic = jnp.sum(WELL_A * (z**2 - 1.0) ** 2)
    return quartic + p * (z[0] ** 4 - WELL_A[0] * (z[0] ** 2 - 1.0) ** 2)


@jit
def lanczos(x, p):
    return classify(lambda z: wells(z, p), x, grad_tol=1e-8)


def _well_point(zeros: list[int], p: float) -> tuple[np.ndarray, np.ndarray]:
    signs = np.random.default_rng(9).choice([-1.0, 1.0], N_WELLS)
    signs[zeros] = 0.0
    return WELL_ROTATION.T @ signs, np.asarray(p)


@pytest.mark.parametrize("zeros, p, kind, index", [
    ([], 0.0, "minimum", 0),
    ([5], 0.0, "saddle", 1),
    (list(range(N_WELLS)), 0.0, "maximum", N_WELLS),
    ([0], 1.0, "degenerate", 0),
    ([0, 5], 1.0, "saddle", 1),
])
def test_lanczos_kind_equals_the_dense_kind_at_known_critical_points(zeros, p, kind, index):
    assert N_WELLS > DENSE_MAX_DIM
    x, p = _well_point(zeros, p)
    cp = lanczos(x, p)
    hessian = np.where(np.isin(np.arange(N_WELLS), zeros), -4.0, 8.0) * WELL_A
    if p:
        hessian[0] = 0.0
    hessian = np.sort(hessian)
    # the dense classification of an exact critical point: the whole closed-form spectrum
    # with classify's zero tolerance there, √ε·‖H‖₂ (δ = 0)
    code, dense_index, _ = jit(classify_spectrum)(
        hessian, np.asarray(0.0), np.asarray(1e-8),
        np.sqrt(np.finfo(np.float64).eps) * np.max(np.abs(hessian)))
    assert cp.kind == kind == optkit.Kind(int(code)).label
    assert int(dense_index) == index
    # the Ritz estimate of the Morse index counts each isolated negative eigenvalue once
    assert int(cp.index) == min(index, LANCZOS_STEPS // 2)
    theta = np.asarray(cp.eigenvalues)
    assert hessian[0] - 1e-9 <= theta[0] and theta[-1] <= hessian[-1] + 1e-9
    assert float(cp.distance) < 1e-12


def _block_rosenbrock(x):
    a, b = x[0::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def _three_identity(x):
    return 1.5 * jnp.sum(x**2)


@functools.partial(jit, static_argnames="fun")
def _ritz_and_kind(fun, x, minimiser):
    """Both runs at x, and classify's kind and index at the minimiser."""
    cp = classify(fun, minimiser, grad_tol=1e-8)
    return _krylov(fun, x), cp.kind_code, cp.index


@pytest.mark.parametrize("fun, x, minimiser, eigenvalues, products", [
    # H = 3I: the Krylov space of any start is one-dimensional, so every step breaks down
    # (run A starts from ∇f ≠ 0 here; at the minimiser 0 from a pseudo-random vector)
    (_three_identity, np.linspace(-1.0, 1.0, 130), np.zeros(130), (3.0, 3.0), 2),
    # ∇²f at the minimiser is 150 copies of [[802, −400], [−400, 200]]: two distinct
    # eigenvalues, so each run breaks down after two steps
    (_block_rosenbrock, np.ones(300), np.ones(300),
     (501.0 - np.sqrt(301.0**2 + 400.0**2), 501.0 + np.sqrt(301.0**2 + 400.0**2)), 4),
], ids=["3I", "rosenbrock-blocks"])
def test_an_exhausted_krylov_space_ends_the_runs_with_exact_ritz_values(
        fun, x, minimiser, eigenvalues, products):
    k, kind_code, index = _ritz_and_kind(fun, x, minimiser)
    lam_min, lam_max = eigenvalues
    # every Ritz value is one of H's eigenvalues (the blocks are invariant subspaces), and
    # both extremes are found
    theta = np.asarray(k.ritz)
    assert theta.shape == (LANCZOS_STEPS,) and np.all(np.isfinite(theta))
    nearest = np.minimum(np.abs(theta - lam_min), np.abs(theta - lam_max))
    assert np.max(nearest) <= 1e-9 * lam_max, theta
    np.testing.assert_allclose([theta[0], theta[-1]], [lam_min, lam_max], rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(k.residual), 0.0)
    # run B's breakdown after as many steps as H has distinct eigenvalues ends both runs
    assert int(k.products) == products
    assert optkit.Kind(int(kind_code)).label == "minimum" and int(index) == 0


def test_runs_cut_short_keep_interlacing_and_their_residual_bounds():
    # Extended Rosenbrock just off its minimiser: its 2×2 blocks differ in the ninth digit,
    # too little for run B from a pseudo-random start (it breaks down after two steps and
    # ends both runs) but enough that run A from ∇f does not break down. Run A is then cut
    # short and repeated, and its cut joins the residual bound.
    n = 300
    x = 1.0 + 1e-9 * np.sin(np.arange(n))
    a, b = x[0::2], x[1::2]
    blocks = np.zeros((n // 2, 2, 2))
    blocks[:, 0, 0] = 1200.0 * a**2 - 400.0 * b + 2.0
    blocks[:, 0, 1] = blocks[:, 1, 0] = -400.0 * a
    blocks[:, 1, 1] = 200.0
    lam = np.sort(np.linalg.eigvalsh(blocks).ravel())
    k, _, _ = _ritz_and_kind(_block_rosenbrock, x, np.ones(n))
    theta, residual = np.asarray(k.ritz), np.asarray(k.residual)
    assert int(k.products) < LANCZOS_STEPS
    rounding = 1e-12 * lam[-1]
    assert lam[0] - rounding <= theta[0] and theta[-1] <= lam[-1] + rounding
    # every Ritz value within its residual bound (and √ε·‖H‖ from run B's breakdown test)
    # of an eigenvalue
    gap = np.min(np.abs(theta[:, None] - lam[None, :]), axis=1)
    assert np.all(gap <= residual + np.sqrt(np.finfo(float).eps) * lam[-1] + rounding)


def _quadratic(x, a):
    return 0.5 * x @ a @ x


@jit
def _quadratic_spectrum(x, a):
    return _krylov(lambda z: _quadratic(z, a), x), classify(
        lambda z: _quadratic(z, a), jnp.zeros_like(x), grad_tol=1e-8)


_count_below = jit(count_below)


def test_three_distinct_eigenvalues_take_three_steps():
    # ½xᵀAx with A = Q·diag(−2, 1, 5, 50 times each)·Qᵀ: any Krylov space has at most three
    # dimensions, so run B breaks down at its third step (6 products), and its Ritz values
    # are the three eigenvalues
    n = 150
    q = _orthogonal(n, 11)
    a = (q * np.repeat([-2.0, 1.0, 5.0], n // 3)) @ q.T
    k, cp = _quadratic_spectrum(np.random.default_rng(12).standard_normal(n), a)
    theta, residual = np.asarray(k.ritz), np.asarray(k.residual)
    assert int(k.products) == 6
    # every Ritz value within its residual bound of an eigenvalue (the slots after the three
    # steps repeat them; the last repeat, cut short, has interior Ritz values and residuals)
    gap = np.min(np.abs(theta[:, None] - np.array([-2.0, 1.0, 5.0])), axis=1)
    assert np.all(gap <= residual + 1e-12), (theta, residual)
    np.testing.assert_allclose([theta[0], theta[-1]], [-2.0, 5.0], atol=1e-12)
    assert residual[0] <= 1e-12 and residual[-1] <= 1e-12
    # each run counts −2 once, not once per repeat, and the pseudo-random run all three below 6
    np.testing.assert_array_equal(np.asarray(k.counted), [3, 3])
    assert [int(_count_below(k, t)) for t in (-2.5, -1.0, 2.0, 6.0)] == [0, 1, 2, 3]
    # at the saddle 0 (both runs from pseudo-random vectors, ∇f = 0): the Morse index
    # estimate counts the eigenvalue −2 once
    assert cp.kind == "saddle" and int(cp.index) == 1


def _tilted_bowl(x, a):
    """1.5‖x‖² + a·Σ cos(k·x_k)/k²: H = 3I for a = 0 (one distinct eigenvalue), a spread
    spectrum for a ≠ 0."""
    k = jnp.arange(1, x.shape[0] + 1, dtype=x.dtype)
    return 1.5 * jnp.sum(x**2) + a * jnp.sum(jnp.cos(k * x) / k**2)


@jit
def _spectra(xs, a_values):
    return jax.vmap(lambda x, a: _krylov(lambda z: _tilted_bowl(z, a), x))(xs, a_values)


def test_under_vmap_a_point_whose_runs_stop_early_gets_what_it_gets_alone():
    # one point's Krylov space is exhausted after a step, the other's never is: the batched
    # loop runs ten steps, and the first point keeps its own
    n = 130
    xs = np.stack([np.linspace(-1.0, 1.0, n)] * 2)
    a_values = np.array([0.0, 0.5])
    both = _spectra(xs, a_values)
    for i in range(2):
        alone = _spectra(xs[i:i + 1], a_values[i:i + 1])
        assert int(both.products[i]) == int(alone.products[0])
        np.testing.assert_allclose(np.asarray(both.ritz[i]), np.asarray(alone.ritz[0]),
                                   rtol=1e-12, atol=1e-12)
    assert [int(p) for p in both.products] == [2, LANCZOS_STEPS]
    np.testing.assert_allclose(np.asarray(both.ritz[0]), 3.0, rtol=1e-14)
