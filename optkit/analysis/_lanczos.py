"""Extreme Hessian eigenvalues and a Newton step from Hessian–vector products (Lanczos).

Above :data:`DENSE_MAX_DIM` variables ``classify`` never forms ∇²f. It linearises the gradient
once (``jax.linearize``: forward-over-reverse), so each Hessian–vector product v ↦ Hv costs one
tangent pass, and runs :data:`LANCZOS_STEPS` of them split over two Lanczos runs of
m = LANCZOS_STEPS/2 steps each, batched together:

* run A starts from ĝ = ∇f/‖∇f‖. Its Krylov space K_m(H, ∇f) is the one conjugate gradients
  searches, so the Galerkin (Lanczos–CG) Newton step δ = −‖∇f‖·Q_A T_A⁺ e₁ comes for free;
* run B starts from a fixed pseudo-random vector, so that an eigenvector ∇f happens to be
  orthogonal to (a saddle reached along a symmetric subspace) is still seen.

Each run is the three-term recurrence β_{j}v_{j+1} = Hv_j − α_j v_j − β_{j−1}v_{j−1}, with the
new vector re-orthogonalised once against v_j (local re-orthogonalisation: full
re-orthogonalisation would read the whole basis at every step, O(m²n) memory traffic, which at
n = 10⁵ costs ten times the products themselves). Without full re-orthogonalisation a converged
Ritz value can reappear as a copy ("ghost"), which never moves the extreme ones. A breakdown
(β_j ≤ √ε·‖Hv_j‖: the Krylov space is invariant, e.g. at a separable function whose blocks are
identical) restarts the run from a fresh pseudo-random vector with β_j = 0, so T stays block
tridiagonal and its eigenvalues are those of the blocks.

Guarantees (symmetric H, exact arithmetic): every Ritz value θ lies in [λ_min, λ_max] (Cauchy
interlacing), so θ_min ≥ λ_min and θ_max ≤ λ_max; and for each Ritz pair (θ, y = Qs) the
residual ‖Hy − θy‖ = β_m·|s_m| bounds the distance from θ to the nearest eigenvalue. The
extreme Ritz values converge fastest (Kaniel–Paige), at a rate set by the gap between the
extreme eigenvalue and the rest of the spectrum relative to its width.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array

#: classify uses the dense Hessian up to this many variables and Lanczos above it
DENSE_MAX_DIM = 64
#: Hessian–vector products per classification above DENSE_MAX_DIM (two runs of half as many)
LANCZOS_STEPS = 20
# seeds of the fixed pseudo-random start and restart vectors (the result is deterministic)
_SEED = 20240917


class Krylov(NamedTuple):
    """Two Lanczos runs (A from ∇f, B pseudo-random) and what classify needs from them."""

    ritz: Array  # [2m] Ritz values of both runs, ascending
    residual: Array  # [2m] residual bound β_m|s_m| of each of those Ritz values
    ritz_a: Array  # [m] run A's Ritz values (ascending) and vectors in its basis
    vectors_a: Array  # [m, m]
    ritz_b: Array  # [m] run B's Ritz values
    basis_a: Array  # [m, n] run A's Lanczos vectors (rows)


def _hash_vector(n: int, dtype: jnp.dtype, salt: Array | int) -> Array:
    """A fixed unit vector with independent-looking entries uniform in (−1, 1): the murmur3
    finaliser of (index, salt), a few integer operations per entry (jax.random's threefry
    costs as much as twenty gradient evaluations of a cheap function at n = 10⁵)."""
    h = jnp.arange(n, dtype=jnp.uint32) * jnp.uint32(0x9E3779B1)
    h = h ^ (jnp.asarray(salt, jnp.uint32) * jnp.uint32(0x85EBCA77) + jnp.uint32(_SEED))
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35), (16, 0)):
        h = h ^ (h >> jnp.uint32(shift))
        if multiplier:
            h = h * jnp.uint32(multiplier)
    v = (h >> jnp.uint32(8)).astype(dtype) * (2.0 / 2**24) - 1.0
    return v / jnp.linalg.norm(v)


def _run(hvp: Callable[[Array], Array], v0: Array, salt: Array, steps: int
         ) -> tuple[Array, Array, Array, Array]:
    """``steps`` Lanczos steps from the unit vector v0: (α, β, basis rows, β_m). A breakdown
    at step j restarts from the hashed vector of salt + j.

    β[j] couples v_j and v_{j+1} (β[steps−1] = β_m, the residual norm after the last step).
    """
    n, dtype = v0.shape[0], v0.dtype
    eps = jnp.finfo(dtype).eps

    def body(j, carry):
        v, v_prev, beta_prev, alphas, betas, basis = carry
        basis = basis.at[j].set(v)
        hv = hvp(v)
        alpha = jnp.vdot(v, hv)
        w = hv - alpha * v - beta_prev * v_prev
        w = w - jnp.vdot(v, w) * v  # local re-orthogonalisation
        beta = jnp.linalg.norm(w)
        broke = ~(beta > jnp.sqrt(eps) * jnp.linalg.norm(hv))  # also catches NaN

        def restart(_: None) -> Array:
            fresh = _hash_vector(n, dtype, salt + j)
            fresh = fresh - jnp.vdot(v, fresh) * v - jnp.vdot(v_prev, fresh) * v_prev
            return fresh / jnp.maximum(jnp.linalg.norm(fresh), jnp.finfo(dtype).tiny)

        # a real branch outside vmap: the restart vector costs as much as a cheap gradient
        v_next = jax.lax.cond(broke, restart, lambda _: w / jnp.where(broke, 1.0, beta), None)
        beta = jnp.where(broke, 0.0, beta)
        return (v_next, v, beta, alphas.at[j].set(alpha), betas.at[j].set(beta), basis)

    zeros = jnp.zeros(steps, dtype)
    carry = (v0, jnp.zeros(n, dtype), jnp.zeros((), dtype), zeros, zeros,
             jnp.zeros((steps, n), dtype))
    _, _, _, alphas, betas, basis = jax.lax.fori_loop(0, steps, body, carry)
    return alphas, betas, basis, betas[-1]


def _tridiagonal(alphas: Array, betas: Array) -> Array:
    off = betas[:-1]
    return jnp.diag(alphas) + jnp.diag(off, 1) + jnp.diag(off, -1)


def krylov_spectrum(hvp: Callable[[Array], Array], grad: Array,
                    steps: int = LANCZOS_STEPS) -> Krylov:
    """Run the two Lanczos runs (``steps`` Hessian–vector products in all) for ``classify``.

    ``hvp`` must be linear (e.g. from ``jax.linearize``).
    """
    n, dtype = grad.shape[0], grad.dtype
    m = max(1, steps // 2)
    gnorm = jnp.linalg.norm(grad)
    usable = (gnorm > 0) & jnp.isfinite(gnorm)
    # at an exact critical point (∇f = 0) run A starts from a second pseudo-random vector
    start_a = jnp.where(usable, grad / jnp.where(usable, gnorm, 1.0),
                        _hash_vector(n, dtype, 1))
    starts = (start_a, _hash_vector(n, dtype, 0))
    # two runs one after the other (not vmapped, which would turn the restart branch into
    # a select that computes the restart vector at every step)
    runs = [_run(hvp, starts[i], jnp.uint32(100 * (i + 1)), m) for i in range(2)]
    alphas, betas, bases, last = (jnp.stack(parts) for parts in zip(*runs, strict=True))
    theta, s = jnp.linalg.eigh(jax.vmap(_tridiagonal)(alphas, betas))
    residual = jnp.abs(last[:, None] * s[:, -1, :])
    ritz = theta.reshape(-1)
    order = jnp.argsort(ritz)
    return Krylov(
        ritz=ritz[order], residual=residual.reshape(-1)[order],
        ritz_a=theta[0], vectors_a=s[0], ritz_b=theta[1],
        basis_a=bases[0],
    )


def pinv_solve(theta: Array, vectors: Array, rhs: Array) -> Array:
    """T⁺·rhs from T = S·diag(θ)·Sᵀ, dropping |θ| ≤ √ε·max|θ| (the pseudo-inverse)."""
    floor = jnp.sqrt(jnp.finfo(theta.dtype).eps) * jnp.max(jnp.abs(theta))
    keep = jnp.abs(theta) > floor
    inverse = jnp.where(keep, 1.0 / jnp.where(keep, theta, 1.0), 0.0)
    return vectors @ (inverse * (vectors.T @ rhs))

