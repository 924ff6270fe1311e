"""The dtype rule: results come in the dtype of x0, whatever precision the function's own
constants have (float64 constants are the normal case once optkit turns on x64)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import optkit

CONSTANTS = jnp.asarray([1.0, 100.0])  # float64


def rosenbrock_f64_constants(x):
    return (CONSTANTS[0] - x[0]) ** 2 + CONSTANTS[1] * (x[1] - x[0] ** 2) ** 2


@pytest.mark.slow
@pytest.mark.parametrize("method", ["newton", "bfgs", "gradient_descent", "lbfgs", "newton_cg",
                                    "trust_region"])
def test_float32_start_with_float64_constants(method):
    res = optkit.minimize(rosenbrock_f64_constants, jnp.asarray([-1.2, 1.0], jnp.float32),
                          method=method, classify=False)
    assert res.status == optkit.Status.CONVERGED
    assert res.x.dtype == jnp.float32 and res.value.dtype == jnp.float32
    # float32 stops at ‖∇f‖ ≤ 1e-4; near the minimum (1, 1) ∇²f has eigenvalues 0.4 and 1002,
    # so x is within ‖∇f‖/λ_min ≈ 2.5e-4 of it along the valley
    np.testing.assert_allclose(np.asarray(res.x), [1.0, 1.0], atol=2e-3)


def test_float32_batch_keeps_dtype():
    starts = jnp.asarray(np.random.default_rng(1).uniform(-2, 2, (6, 2)), jnp.float32)
    res = optkit.minimize_batch(rosenbrock_f64_constants, starts, method="newton", classify=False)
    assert res.x.dtype == jnp.float32
    assert np.all(np.asarray(res.status_code) == optkit.Status.CONVERGED)
