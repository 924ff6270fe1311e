"""Chapter, the Hessian: f(x, y) = x·e^(−x² − y²) and its quadratic model at (−1, 0).

∇f = e^(−x²−y²)(1 − 2x², −2xy) and
∇²f = e^(−x²−y²) [[4x³ − 6x, −2y(1 − 2x²)], [−2y(1 − 2x²), 2x(2y² − 1)]].
At (−1, 0): f = −e⁻¹, ∇f = (−e⁻¹, 0), ∇²f = diag(2e⁻¹, 2e⁻¹), so

    m(x, y) = f + ∇fᵀδ + ½δᵀ∇²f δ = e⁻¹(−1 − (x + 1) + (x + 1)² + y²)

(the ½ cancels the 2 in the Hessian; a doubled quadratic term is the usual slip).

Run: python experiments/chapter_hessian.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import optkit  # noqa: F401  (float64)
from optkit.analysis._taylor import taylor

X0 = (-1.0, 0.0)
POINTS = [(-1.0, 0.0), (-0.9, 0.1), (-1.1, -0.05), (-0.5, 0.3), (-1.5, 0.5), (0.0, 0.0)]


def gaussian_bump(v: jax.Array) -> jax.Array:
    """f(x, y) = x·e^(−x² − y²)."""
    return v[0] * jnp.exp(-v[0] ** 2 - v[1] ** 2)


def chapter_model(v: jax.Array) -> jax.Array:
    """The chapter's closed form e⁻¹(−1 − (x + 1) + (x + 1)² + y²)."""
    return jnp.exp(-1.0) * (-1 - (v[0] + 1) + (v[0] + 1) ** 2 + v[1] ** 2)


def main(verbose: bool = True) -> dict:
    model = taylor(gaussian_bump, jnp.array(X0), order=2)
    points = jnp.array(POINTS)
    comparison = model.compare(points)
    closed_form = np.asarray(jax.vmap(chapter_model)(points))
    result = {
        "value": float(model.value),
        "gradient": np.asarray(model.gradient),
        "hessian": np.asarray(model.hessian),
        "points": np.asarray(points),
        "model": comparison.model,
        "closed_form": closed_form,
        "true": comparison.true,
        "max_model_vs_closed_form": float(np.max(np.abs(comparison.model - closed_form))),
    }
    if verbose:
        h = result["hessian"]
        print(f"f(−1, 0) = {result['value']:.12f}   (−e⁻¹ = {-np.exp(-1):.12f})")
        print(f"∇f(−1, 0) = {np.round(result['gradient'], 12)}")
        print(f"∇²f(−1, 0) = [[{h[0, 0]:.12f}, {h[0, 1]:.3g}], [{h[1, 0]:.3g}, {h[1, 1]:.12f}]]"
              f"   (2e⁻¹ = {2 * np.exp(-1):.12f})")
        print("quadratic model m vs e⁻¹(−1 − (x+1) + (x+1)² + y²) vs f:")
        print(f"{'(x, y)':>16} {'model':>18} {'closed form':>18} {'f':>18}")
        for p, m, c, t in zip(POINTS, comparison.model, closed_form, comparison.true,
                              strict=True):
            print(f"{str(p):>16} {m:18.12f} {c:18.12f} {t:18.12f}")
        print(f"max |model − closed form| = {result['max_model_vs_closed_form']:.2e}")
    return result


if __name__ == "__main__":
    main()
