"""Chapter, matrix calculus: three identities checked by autodiff at random inputs.

    d(βᵀx)/dx = β
    d(xᵀAx)/dx = (A + Aᵀ)x          (2Ax only when A is symmetric)
    d‖X − UV‖²_F/dV = −2Uᵀ(X − UV)

Run: python experiments/chapter_matrix_calculus.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import optkit  # noqa: F401  (float64)

N, M, K, P = 5, 6, 3, 4
NAMES = ("d(βᵀx)/dx = β", "d(xᵀAx)/dx = (A + Aᵀ)x", "d‖X − UV‖²/dV = −2Uᵀ(X − UV)")


@jax.jit
def _identities(key: jax.Array) -> list:
    """(autodiff gradient, closed form) for each identity at random inputs, then (2Ax, (A+Aᵀ)x)."""
    keys = jax.random.split(key, 6)
    beta = jax.random.normal(keys[0], (N,))
    x = jax.random.normal(keys[1], (N,))
    a = jax.random.normal(keys[2], (N, N))  # not symmetric: (A + Aᵀ)x ≠ 2Ax
    big_x = jax.random.normal(keys[3], (M, P))
    u = jax.random.normal(keys[4], (M, K))
    v = jax.random.normal(keys[5], (K, P))
    return [
        (jax.grad(lambda x: beta @ x)(x), beta),
        (jax.grad(lambda x: x @ a @ x)(x), (a + a.T) @ x),
        (jax.grad(lambda v: jnp.sum((big_x - u @ v) ** 2))(v), -2 * u.T @ (big_x - u @ v)),
        (2 * a @ x, (a + a.T) @ x),
    ]


def main(verbose: bool = True, seed: int = 0) -> dict:
    n, m, k, p = N, M, K, P
    pairs = [(np.asarray(auto), np.asarray(formula))
             for auto, formula in _identities(jax.random.PRNGKey(seed))]
    (two_ax, quadratic_formula) = pairs.pop()
    result = {
        "errors": {name: float(np.max(np.abs(auto - formula)))
                   for name, (auto, formula) in zip(NAMES, pairs, strict=True)},
        "autodiff": [auto for auto, _ in pairs],
        "formula": [formula for _, formula in pairs],
        "two_ax_error": float(np.max(np.abs(quadratic_formula - two_ax))),
    }
    errors = result["errors"]
    if verbose:
        print(f"random inputs (seed {seed}): β, x ∈ ℝ^{n}, A ∈ ℝ^{n}×{n}, X ∈ ℝ^{m}×{p}, "
              f"U ∈ ℝ^{m}×{k}, V ∈ ℝ^{k}×{p}")
        for name, err in errors.items():
            print(f"{name:34s} max |autodiff − formula| = {err:.2e}")
        print(f"(for comparison, |d(xᵀAx)/dx − 2Ax| = {result['two_ax_error']:.2e}: "
              "A is not symmetric)")
    return result


if __name__ == "__main__":
    main()
