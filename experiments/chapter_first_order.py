"""Chapter, gradients: the first-order approximation of f(x, y) = log(eˣ + eʸ).

At x₀ = (0, log 2): f(x₀) = log 3 and ∇f(x₀) = (eˣ, eʸ)/(eˣ + eʸ) = (1/3, 2/3), so for
ε = (0.01, −0.03)

    f(x₀ + ε) ≈ log 3 + (1/3)(0.01) + (2/3)(−0.03) = log 3 − 1/60.

The error is the second-order term ½εᵀ∇²f(x₀)ε + O(‖ε‖³), with ∇²f = diag(p) − ppᵀ,
p = ∇f: halving ε divides it by about 4.

Run: python experiments/chapter_first_order.py
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

import optkit  # noqa: F401  (float64)
from optkit.analysis._taylor import taylor


def log_sum_exp(v: jnp.ndarray) -> jnp.ndarray:
    """f(x, y) = log(eˣ + eʸ)."""
    return jnp.log(jnp.exp(v[0]) + jnp.exp(v[1]))


def main(verbose: bool = True) -> dict:
    x0 = jnp.array([0.0, jnp.log(2.0)])
    eps = jnp.array([0.01, -0.03])
    model = taylor(log_sum_exp, x0, order=1)
    approx = float(model(x0 + eps))
    true = float(log_sum_exp(x0 + eps))
    second_order = float(0.5 * eps @ taylor(log_sum_exp, x0, order=2).hessian @ eps)
    shrinking = model.compare([x0 + eps / 2**k for k in range(5)])
    result = {
        "value": float(model.value),
        "gradient": np.asarray(model.gradient),
        "approx": approx,
        "true": true,
        "error": true - approx,
        "second_order_term": second_order,
        "shrinking_errors": shrinking.error,
    }
    if verbose:
        g = result["gradient"]
        print(f"f(x₀) = log 3 = {result['value']:.12f}")
        print(f"∇f(x₀) = ({g[0]:.12f}, {g[1]:.12f})   [exactly (1/3, 2/3)]")
        print("ε = (0.01, −0.03)")
        print(f"first-order approximation  log 3 + (1/3)(0.01) + (2/3)(−0.03) = {approx:.12f}")
        print(f"true value                 log(e^0.01 + e^(log 2 − 0.03))   = {true:.12f}")
        print(f"error f − approx = {result['error']:.6e}; "
              f"second-order term ½εᵀ∇²f ε = {second_order:.6e}")
        print("\nshrinking ε by halves: the error falls by about 4 each time (O(‖ε‖²))")
        print(shrinking)
    return result


if __name__ == "__main__":
    main()
