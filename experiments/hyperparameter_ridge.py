"""A hyperparameter gradient through an inner ridge-regression solve, against the closed form.

Inner problem: x*(λ) = argmin ½‖A x − b‖² + ½λ‖x‖² on training data (A, b).
Outer loss: the validation error L(λ) = ½‖A_val x*(λ) − b_val‖².

``jax.grad(L)`` differentiates through ``optkit.minimize`` by the implicit function theorem,
dx*/dλ = −H⁻¹ x* with H = AᵀA + λI, and is compared with the same derivative of the closed
form x*(λ) = (AᵀA + λI)⁻¹Aᵀb. Then a few steps of gradient descent on log λ.

Run: python experiments/hyperparameter_ridge.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import optkit


def ridge(x, lam, a, b):
    return 0.5 * jnp.sum((a @ x - b) ** 2) + 0.5 * lam * jnp.sum(x ** 2)


def make_data(seed: int = 0, m: int = 40, n: int = 10):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n)
    a, a_val = rng.normal(size=(m, n)), rng.normal(size=(m, n))
    b = a @ truth + 2.0 * rng.normal(size=m)
    b_val = a_val @ truth + 2.0 * rng.normal(size=m)
    return jnp.asarray(a), jnp.asarray(b), jnp.asarray(a_val), jnp.asarray(b_val)


def main() -> dict[str, float]:
    a, b, a_val, b_val = make_data()
    n = a.shape[1]

    def validation_loss(log_lam, solution):
        x = solution(jnp.exp(log_lam))
        return 0.5 * jnp.sum((a_val @ x - b_val) ** 2)

    def solved(lam):
        return optkit.minimize(ridge, jnp.zeros(n), args=(lam, a, b)).x

    def closed_form(lam):
        return jnp.linalg.solve(a.T @ a + lam * jnp.eye(n), a.T @ b)

    log_lam = jnp.asarray(0.0)
    implicit = jax.grad(validation_loss)(log_lam, solved)
    exact = jax.grad(validation_loss)(log_lam, closed_form)
    rel = float(abs(implicit - exact) / abs(exact))
    print(f"dL/dlog(λ) at λ = 1: implicit {float(implicit):.12g}, closed form "
          f"{float(exact):.12g}, relative difference {rel:.1e}")

    step = jax.jit(jax.value_and_grad(lambda t: validation_loss(t, solved)))
    for k in range(8):
        loss, grad = step(log_lam)
        print(f"step {k}: λ = {float(jnp.exp(log_lam)):8.4f}  validation loss {float(loss):.6f}"
              f"  gradient {float(grad): .3e}")
        log_lam = log_lam - 0.3 * grad
    return {"implicit": float(implicit), "closed_form": float(exact), "relative": rel}


if __name__ == "__main__":
    main()
