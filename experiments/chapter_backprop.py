"""Chapter, the chain rule and backpropagation: a composed function of four inputs.

    f(u, v) = (u + v)²,  u = (a + b)²,  v = (a − b)²,
    a = (w + x + y + z)²,  b = (w + x − y − z)²,   at (w, x, y, z) = (−1, 0, −2, 1).

Forward pass: a = 4, b = 0, u = v = 16, f = 1024. Backward pass (adjoints, ā = ∂f/∂a):
ū = v̄ = 2(u + v) = 64, ā = 2(a+b)ū + 2(a−b)v̄ = 1024, b̄ = 2(a+b)ū − 2(a−b)v̄ = 0, and
w̄ = x̄ = 2(w+x+y+z)ā + 2(w+x−y−z)b̄ = −4096, ȳ = z̄ = 2(w+x+y+z)ā − 2(w+x−y−z)b̄ = −4096.

Reverse mode gets all four partials from one backward pass; forward mode needs one pass per
input (four). Both agree, and agree with central differences.

Run: python experiments/chapter_backprop.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import optkit  # noqa: F401  (float64)
from optkit.analysis.derivatives import check_derivatives

POINT = (-1.0, 0.0, -2.0, 1.0)


def inner(w: jax.Array, x: jax.Array, y: jax.Array, z: jax.Array) -> tuple[jax.Array, jax.Array]:
    return (w + x + y + z) ** 2, (w + x - y - z) ** 2


def middle(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    return (a + b) ** 2, (a - b) ** 2


def outer(u: jax.Array, v: jax.Array) -> jax.Array:
    return (u + v) ** 2


def composed(p: jax.Array) -> jax.Array:
    """f(w, x, y, z) for p = (w, x, y, z)."""
    return outer(*middle(*inner(*p)))


def backprop_by_hand(p: jax.Array) -> dict:
    """The forward pass storing every intermediate, then the backward pass stage by stage:
    each stage's vector–Jacobian product turns the adjoints of its outputs into those of its
    inputs."""
    (a, b), inner_vjp = jax.vjp(inner, *p)
    (u, v), middle_vjp = jax.vjp(middle, a, b)
    f, outer_vjp = jax.vjp(outer, u, v)
    u_bar, v_bar = outer_vjp(jnp.ones_like(f))
    a_bar, b_bar = middle_vjp((u_bar, v_bar))
    inputs_bar = inner_vjp((a_bar, b_bar))
    return {
        "forward": {"a": float(a), "b": float(b), "u": float(u), "v": float(v), "f": float(f)},
        "adjoints": {"u": float(u_bar), "v": float(v_bar), "a": float(a_bar), "b": float(b_bar)},
        "gradient": np.array([float(g) for g in inputs_bar]),
    }


def main(verbose: bool = True) -> dict:
    p = jnp.array(POINT)
    staged = backprop_by_hand(p)
    report = check_derivatives(composed, p)
    result = {
        "f": float(composed(p)),
        "intermediates": staged["forward"],
        "adjoints": staged["adjoints"],
        "staged_gradient": staged["gradient"],
        "reverse": report.reverse,
        "forward": report.forward,
        "finite_difference": report.finite_difference,
        "passes": report.passes,
        "max_forward_reverse": report.max_forward_reverse,
        "ok": report.ok,
    }
    if verbose:
        fw, adj = staged["forward"], staged["adjoints"]
        print(f"at (w, x, y, z) = {POINT}")
        print("forward pass:  " + ", ".join(f"{k} = {val:g}" for k, val in fw.items()))
        print("backward pass: " + ", ".join(f"∂f/∂{k} = {val:g}" for k, val in adj.items()))
        print("∂f/∂(w, x, y, z) = " + ", ".join(f"{g:g}" for g in staged["gradient"]))
        print()
        print(report)
    return result


if __name__ == "__main__":
    main()
