"""Chapter, exercises.

1. ∂‖v‖₂/∂v = v/‖v‖₂ for v ≠ 0. At v = 0 the norm is not differentiable; its subgradients
   are the unit ball {g : ‖g‖₂ ≤ 1}. JAX's gradient there is NaN: ‖v‖ = √(Σvᵢ²) and the chain
   rule multiplies √′(0) = ∞ by ∂(Σvᵢ²)/∂v = 2v = 0. A "safe" norm that branches before the
   square root returns 0, one valid subgradient.
2. ∇ log(eˣ + eʸ) = (eˣ, eʸ)/(eˣ + eʸ), the softmax: its entries sum to 1.
3. f(x, y) = x²y + xy²: ∇f = (2xy + y², x² + 2xy) vanishes only at (0, 0), where ∇²f = 0:
   degenerate, and neither a minimum nor a maximum since f(t, t) = 2t³ changes sign.
4. ∇(g + h)(x) = 0 ⇔ ∇g(x) = −∇h(x): at the minimiser of g + h with g = log-sum-exp and
   h(x) = ½‖x − c‖² the two gradients cancel.

Run: python experiments/chapter_exercises.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import optkit
from optkit.analysis.critical_points import find_critical_points

C = jnp.array([1.0, -2.0, 0.5])


def safe_norm(v: jax.Array) -> jax.Array:
    """‖v‖₂ with gradient 0 at v = 0 (the inner where keeps √ away from 0)."""
    squared = jnp.sum(v**2)
    positive = squared > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def log_sum_exp(v: jax.Array) -> jax.Array:
    return jnp.log(jnp.sum(jnp.exp(v)))


def cubic(v: jax.Array) -> jax.Array:
    """x²y + xy²."""
    return v[0] ** 2 * v[1] + v[0] * v[1] ** 2


def g(v: jax.Array) -> jax.Array:
    return log_sum_exp(v)


def h(v: jax.Array) -> jax.Array:
    return 0.5 * jnp.sum((v - C) ** 2)


@jax.jit
def _autodiff_facts(key: jax.Array) -> dict:
    """Exercises 1 and 2, and f(t, t) for exercise 3, in one compiled program."""
    key_v, key_lse = jax.random.split(key)
    v = jax.random.normal(key_v, (5,))
    zero = jnp.zeros(5)
    points = jax.random.normal(key_lse, (100, 2)) * 3
    softmax_sums = jnp.sum(jax.vmap(jax.grad(log_sum_exp))(points), axis=1)
    return {
        "norm_grad_error": jnp.max(jnp.abs(jax.grad(jnp.linalg.norm)(v) - v / jnp.linalg.norm(v))),
        "norm_grad_at_zero": jax.grad(jnp.linalg.norm)(zero),
        "safe_norm_grad_at_zero": jax.grad(safe_norm)(zero),
        "softmax_sum_error": jnp.max(jnp.abs(softmax_sums - 1.0)),
        "cubic_diagonal": jax.vmap(lambda s: cubic(jnp.array([s, s])))(jnp.array([-0.1, 0.1])),
    }


def main(verbose: bool = True, seed: int = 0) -> dict:
    result = {k: np.asarray(val) for k, val in _autodiff_facts(jax.random.PRNGKey(seed)).items()}
    critical = find_critical_points(cubic, [-2.0, -2.0], [2.0, 2.0], num_starts=128)
    res = optkit.minimize(lambda x: g(x) + h(x), jnp.zeros(3), method="newton")
    grad_g, grad_h = jax.jit(lambda x: (jax.grad(g)(x), jax.grad(h)(x)))(res.x)
    result.update({
        "cubic_points": [(np.asarray(p.x), p.kind) for p in critical],
        "sum_minimizer": np.asarray(res.x),
        "sum_converged": bool(res.converged),
        "gradient_balance": float(jnp.max(jnp.abs(grad_g + grad_h))),
        "grad_g": np.asarray(grad_g),
        "grad_h": np.asarray(grad_h),
    })
    for name in ("norm_grad_error", "softmax_sum_error"):
        result[name] = float(result[name])
    diagonal = result["cubic_diagonal"]
    if verbose:
        print("1. ∂‖v‖/∂v = v/‖v‖ at a random v: max error "
              f"{result['norm_grad_error']:.1e}")
        print(f"   at v = 0 JAX gives {result['norm_grad_at_zero']} (√′(0) = ∞ times 2v = 0);"
              f" a safe norm gives {result['safe_norm_grad_at_zero']}, a subgradient"
              " (any g with ‖g‖ ≤ 1 is one)")
        print("2. ∇ log(eˣ + eʸ) sums to 1 at 100 random points: max |sum − 1| = "
              f"{result['softmax_sum_error']:.1e}")
        pts = ", ".join(f"{np.round(x, 12).tolist()} ({kind})" for x, kind in
                        result["cubic_points"])
        print(f"3. critical points of x²y + xy² in [−2, 2]²: {pts}")
        print(f"   f(t, t) = 2t³: f(−0.1, −0.1) = {diagonal[0]:.4f}, "
              f"f(0.1, 0.1) = {diagonal[1]:.4f}: a sign change, so neither min nor max")
        print(f"4. minimiser of g + h: {np.round(result['sum_minimizer'], 10).tolist()}")
        print(f"   ∇g = {np.round(result['grad_g'], 10).tolist()}, "
              f"−∇h = {np.round(-result['grad_h'], 10).tolist()}, "
              f"max |∇g + ∇h| = {result['gradient_balance']:.1e}")
    return result


if __name__ == "__main__":
    main()
