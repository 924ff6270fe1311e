"""The O(n²) BFGS update: the same matrix as the factored textbook formula, the secant
condition, symmetry and positive definiteness, and the first update's rescaling."""

from __future__ import annotations

import numpy as np
import pytest

from optkit.solvers._bfgs import BFGSDescent, bfgs_update
from tests.helpers import jit

update = jit(bfgs_update)


def factored(b: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(I − ρ s yᵀ) B (I − ρ y sᵀ) + ρ s sᵀ, ρ = 1/(yᵀs): Nocedal & Wright (6.17)."""
    rho = 1.0 / (y @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    return left @ b @ left.T + rho * np.outer(s, s)


def random_pair(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An SPD B and a step s with y = A s for an SPD A, so yᵀs > 0."""
    q = rng.standard_normal((n, n))
    b = q @ q.T / n + 0.1 * np.eye(n)
    b = 0.5 * (b + b.T)
    a = rng.standard_normal((n, n))
    a = a @ a.T / n + 0.5 * np.eye(n)
    s = rng.standard_normal(n)
    return b, s, a @ s


@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_rank_two_update_equals_the_factored_formula(n):
    rng = np.random.default_rng(n)
    for _ in range(5):
        b, s, y = random_pair(rng, n)
        new = np.asarray(update(b, s, y))
        expected = factored(b, s, y)
        np.testing.assert_allclose(new, expected, rtol=1e-11,
                                   atol=1e-12 * np.abs(expected).max())
        # secant condition B₊y = s, symmetry, and positive definiteness (yᵀs > 0)
        np.testing.assert_allclose(new @ y, s, rtol=1e-10, atol=1e-12 * np.abs(s).max())
        np.testing.assert_allclose(new, new.T, rtol=1e-14, atol=1e-16)
        assert np.linalg.eigvalsh(new).min() > 0
        # on vectors orthogonal to both s and y, B₊v = Bv − s·(uᵀv)/(sᵀy) with u = By
        basis = np.linalg.qr(np.column_stack([s, y, rng.standard_normal((n, 1))]))[0]
        if n > 2:
            v = basis[:, 2]
            np.testing.assert_allclose(new @ v, b @ v - s * ((b @ y) @ v) / (y @ s),
                                       rtol=1e-10, atol=1e-12)


def test_first_update_rescales_to_the_secant_scalar_first():
    rng = np.random.default_rng(0)
    _, s, y = random_pair(rng, 6)
    gamma = (y @ s) / (y @ y)
    new = np.asarray(update(np.eye(6) * 123.0, s, y, True))  # B itself is ignored
    np.testing.assert_allclose(new, factored(gamma * np.eye(6), s, y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(new @ y, s, rtol=1e-12)


def test_descent_skips_an_update_without_curvature_information():
    descent = BFGSDescent()
    x = np.zeros(3)
    g = np.array([3.0, 4.0, 0.0])
    state = jit(descent.init)(x, g)
    step = jit(descent.update)
    np.testing.assert_allclose(state[0], np.eye(3) / 5.0)  # 1/max(1, ‖∇f‖)
    s = np.array([1.0, 0.0, 0.0])
    skipped = step(state, s, -s)  # yᵀs < 0: no curvature information
    np.testing.assert_array_equal(skipped[0], state[0])
    assert bool(skipped[1])  # still waiting for the first real update
    y = np.array([2.0, 1.0, 0.0])
    updated = step(state, s, y)
    np.testing.assert_allclose(np.asarray(updated[0]) @ y, s, rtol=1e-12)
    assert not bool(updated[1])
