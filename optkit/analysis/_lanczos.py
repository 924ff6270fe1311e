"""Extreme Hessian eigenvalues and a Newton step from Hessian–vector products (Lanczos).

Above :data:`DENSE_MAX_DIM` variables ``classify`` never forms ∇²f. It linearises the gradient
once (``jax.linearize``: forward-over-reverse), so each Hessian–vector product v ↦ Hv costs one
tangent pass, and runs at most :data:`LANCZOS_STEPS` of them split over two Lanczos runs of
m = LANCZOS_STEPS/2 steps each:

* run A starts from ĝ = ∇f/‖∇f‖. Its Krylov space K_m(H, ∇f) is the one conjugate gradients
  searches, so the Galerkin (Lanczos–CG) Newton step δ = −‖∇f‖·Q_A T_A⁺ e₁ comes for free;
* run B starts from a fixed pseudo-random vector, so that an eigenvector ∇f happens to be
  orthogonal to (a saddle reached along a symmetric subspace) is still seen.

Each run is the three-term recurrence β_{j}v_{j+1} = Hv_j − α_j v_j − β_{j−1}v_{j−1} in Paige's
ordering (α_j taken from Hv_j − β_{j−1}v_{j−1}, which leaves v_{j+1} orthogonal to v_j to
rounding); the two runs advance together, one batched Hessian–vector product per step. Nothing
re-orthogonalises against the whole basis: that would read it at every step, O(m²n) memory
traffic, which at n = 10⁵ costs ten times the products themselves. Without it a converged Ritz
value can reappear as a copy ("ghost"), which never moves the extreme ones. At n = 10⁵ a
reduction over a vector costs about half a gradient of extended Rosenbrock, so a step makes two
(α, β) and no more: the breakdown test's scale ‖Hv_j‖ = (α_j² + β_{j−1}² + β_j²)^½ comes from the
coefficients.

A breakdown (β_j ≤ √ε·‖Hv_j‖: the Krylov space is invariant, e.g. at a separable function whose
blocks are identical, or H = cI) sets β_j = 0 and continues from the run's fixed pseudo-random
restart vector. T is then block diagonal, and each block is the Lanczos matrix of its own start
vector: a Rayleigh–Ritz projection of H onto an orthonormal basis of its own Krylov space, so
the guarantees below hold block by block, and the restart vector need not be orthogonal to the
earlier blocks (a later breakdown restarts from the same vector and repeats a block whose Ritz
values are already exact). The restart is a select, not a branch: with a ``lax.cond`` inside the
loop a step cost more than twice as much at n = 10⁵ (measured; the runs' vectors cross the
branch).

Once run B has broken down, both runs stop: its pseudo-random start has a component along
every eigenvector, so its exhausted Krylov space holds every eigenvalue to the breakdown test's
√ε·‖Hv‖, the rounding floor of classify's tolerance, and further steps would only find them
again. Each run's remaining slots then repeat what it computed (its first block where it broke
down; otherwise all of it, cut off with the β that followed, which joins the residual bound):
what a run restarting from its own start computes, so T keeps its shape and every block is
still a Lanczos matrix. A separable function with identical blocks (extended Rosenbrock, whose
H has two distinct eigenvalues) stops after a few steps instead of ten.

Guarantees (symmetric H, exact arithmetic): every Ritz value θ lies in [λ_min, λ_max] (Cauchy
interlacing), so θ_min ≥ λ_min and θ_max ≤ λ_max; and for each Ritz pair (θ, y = Qs) the
residual ‖Hy − θy‖ = β_m·|s_m| (at most Σⱼ|cutⱼ·sⱼ| over the couplings a repeat cut off)
bounds the distance from θ to the nearest eigenvalue. The
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
#: Hessian–vector products per classification above DENSE_MAX_DIM, at most (two runs of half
#: as many; fewer where the Krylov space is exhausted first)
LANCZOS_STEPS = 20
# seeds of the fixed pseudo-random start and restart vectors (the result is deterministic)
_SEED = 20240917


class Krylov(NamedTuple):
    """Two Lanczos runs (A from ∇f, B pseudo-random) and what classify needs from them."""

    ritz: Array  # [2m] Ritz values of both runs, ascending
    residual: Array  # [2m] residual bound of each of those Ritz values (β_m|s_m|, or Σ|cut·s|)
    ritz_a: Array  # [m] run A's Ritz values (ascending) and vectors in its basis (rows of
    vectors_a: Array  # [m, m]   the slots it does not describe, repeats, are 0)
    alphas: Array  # [2, m] T's diagonal for each run, and its off-diagonal (β[:, m−1] unused)
    betas: Array  # [2, m]
    counted: Array  # [2] each run's slots that count_below counts (no repeats or restarts)
    basis_a: Array  # [m, n] run A's Lanczos vectors (rows)
    products: Array  # Hessian–vector products spent (2 per step, m steps unless run B broke down)


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


def _runs(hvp: Callable[[Array], Array], starts: Array, restarts: Array, steps: int
          ) -> tuple[Array, Array, Array, Array, Array]:
    """Up to ``steps`` Lanczos steps from each unit row of ``starts`` at once (one batched
    Hessian–vector product per step), until the last run (the one from a pseudo-random start)
    breaks down: (α [R, steps], β [R, steps], run 0's basis [steps, n], each run's first block
    length [R] (``steps`` where it never broke down), the number of steps taken). A breakdown
    continues from that run's row of ``restarts``.

    β[:, j] couples v_j and v_{j+1} (β[:, steps−1] = β_m, the residual norm after the last
    step).
    """
    dtype = starts.dtype
    eps = jnp.finfo(dtype).eps
    runs, n = starts.shape
    slots = jnp.arange(steps)

    def recurrence(v: Array, v_prev: Array, beta_prev: Array, restart: Array, hv: Array
                   ) -> tuple[Array, Array, Array]:
        # Paige's ordering: α from Hv − β_{j−1}v_{j−1}, so that subtracting αv_j leaves w
        # orthogonal to v_j to rounding
        w = hv - beta_prev * v_prev
        alpha = jnp.vdot(v, w)
        w = w - alpha * v
        beta = jnp.linalg.norm(w)
        # ‖Hv_j‖² = α² + β_{j−1}² + β_j² in exact arithmetic: the scale of the test without
        # a pass over Hv of its own
        broke = ~(beta > jnp.sqrt(eps * (alpha**2 + beta_prev**2 + beta**2)))  # also NaN
        v_next = jnp.where(broke, restart, w / jnp.where(broke, 1.0, beta))
        return v_next, alpha, jnp.where(broke, 0.0, beta)

    def body(carry: tuple[Array, ...]) -> tuple[Array, ...]:
        j, v, v_prev, beta_prev, alphas, betas, basis, first_block = carry
        basis = jax.lax.dynamic_update_index_in_dim(basis, v[0], j, 0)
        v_next, alpha, beta = jax.vmap(recurrence)(v, v_prev, beta_prev, restarts,
                                                   jax.vmap(hvp)(v))
        # masks, not .at[:, j]: under vmap j is per point, and a scatter per point is slow
        here = slots == j
        alphas = jnp.where(here, alpha[:, None], alphas)
        betas = jnp.where(here, beta[:, None], betas)
        first_block = jnp.where((first_block == steps) & (beta == 0), j + 1, first_block)
        return (j + 1, v_next, v, beta, alphas, betas, basis, first_block)

    def running(carry: tuple[Array, ...]) -> Array:
        j, first_block = carry[0], carry[-1]
        return (j < steps) & (first_block[-1] == steps)

    zeros = jnp.zeros((runs, steps), dtype)
    carry = (jnp.zeros((), jnp.int32), starts, jnp.zeros_like(starts), jnp.zeros(runs, dtype),
             zeros, zeros, jnp.zeros((steps, n), dtype), jnp.full(runs, steps, jnp.int32))
    # one step per trip: the recurrence rotates v_{j−1} ← v_j ← v_{j+1}, so XLA copies both
    # n-vectors every trip, and two steps per trip would avoid that (a classification at
    # n = 10⁵ 15% faster) but traces the Hessian–vector product twice: 15% more compile
    # time for every classification program, which a single solve never earns back
    taken, _, _, _, alphas, betas, basis, first_block = jax.lax.while_loop(
        running, body, carry)
    return alphas, betas, basis, first_block, taken


def _complete(alphas: Array, betas: Array, own: Array, taken: Array
              ) -> tuple[Array, Array, Array, Array]:
    """The runs' coefficients completed to ``steps`` slots where they stopped early, with the
    couplings that T leaves out: (α, β, cut, period), cut[r, j] = the β that followed slot j
    in run r and is not in T (0 where none was left out), period[r] = the slots that are not
    repeats. ``own[r]``: run r's slots that are neither restarts nor repeats (its first block
    where it broke down, else its ``taken`` steps).

    A run that broke down repeats its first block (an invariant subspace: its Ritz values
    are eigenvalues of H, and nothing is left out); one that did not repeats everything it
    computed, each copy cut off with the β that followed it. The copies are what a run that
    restarts from its own start vector computes, so every block of T is the Lanczos matrix
    of its start vector, and each Ritz pair's residual is at most Σⱼ |cutⱼ·sⱼ| (the last
    slot's β_m alone where the runs went the whole way).
    """
    steps = alphas.shape[1]
    slots = jnp.arange(steps, dtype=jnp.int32)
    period = jnp.where(taken < steps, own, steps)[:, None]
    source = jax.lax.rem(slots[None, :], period)  # both ≥ 0: no sign fix-up
    # a one-hot sum, not take_along_axis: the same numbers, and a gather's lowering cost
    # 0.09 s more compile in every classification program
    pick = source[:, :, None] == slots

    def repeated(values: Array) -> Array:
        return jnp.sum(jnp.where(pick, values[:, None, :], 0.0), axis=2)

    alphas, betas = repeated(alphas), repeated(betas)
    ends = (source == period - 1) | (slots[None, :] == steps - 1)
    return alphas, jnp.where(ends, 0.0, betas), jnp.where(ends, betas, 0.0), period[:, 0]


def _tridiagonal(alphas: Array, betas: Array) -> Array:
    off = betas[:-1]
    return jnp.diag(alphas) + jnp.diag(off, 1) + jnp.diag(off, -1)


def krylov_spectrum(hvp: Callable[[Array], Array], grad: Array,
                    steps: int = LANCZOS_STEPS) -> Krylov:
    """Run the two Lanczos runs (at most ``steps`` Hessian–vector products in all; fewer where
    run B's Krylov space is exhausted first) for ``classify``.

    ``hvp`` must be linear (e.g. from ``jax.linearize``).
    """
    n, dtype = grad.shape[0], grad.dtype
    m = max(1, steps // 2)
    gnorm = jnp.linalg.norm(grad)
    usable = (gnorm > 0) & jnp.isfinite(gnorm)
    # at an exact critical point (∇f = 0) run A starts from a second pseudo-random vector
    random_a, random_b = _hash_vector(n, dtype, 1), _hash_vector(n, dtype, 0)
    start_a = jnp.where(usable, grad / jnp.where(usable, gnorm, 1.0), random_a)
    starts = jnp.stack([start_a, random_b])
    # the restart vectors are the two pseudo-random ones reversed: unit vectors unlike the
    # starts at no cost (a new hash vector needs passes of its own, each about a gradient's)
    restarts = jnp.stack([random_b[::-1], random_a[::-1]])
    alphas, betas, basis_a, first_block, taken = _runs(hvp, starts, restarts, m)
    own = jnp.where(first_block < m, first_block, taken)
    alphas, betas, cut, period = _complete(alphas, betas, own, taken)
    theta, s = jnp.linalg.eigh(jax.vmap(_tridiagonal)(alphas, betas))
    residual = jnp.sum(jnp.abs(cut[:, :, None] * s), axis=1)
    ritz = theta.reshape(-1)
    order = jnp.argsort(ritz)
    slots = jnp.arange(m)
    # T⁺ is block diagonal, so zeroing the rows of the repeats leaves the pseudo-inverse of
    # the slots that run A's basis rows describe (the later rows may hold a restart block)
    vectors_a = jnp.where((slots < period[0])[:, None], s[0], 0.0)
    return Krylov(
        ritz=ritz[order], residual=residual.reshape(-1)[order],
        ritz_a=theta[0], vectors_a=vectors_a, alphas=alphas, betas=betas,
        counted=own,
        basis_a=basis_a, products=2 * taken,
    )


def count_below(k: Krylov, threshold: Array) -> Array:
    """The number of Ritz values below ``threshold`` in the run that has more, each counted
    once: a run that broke down counts its first block (a restart or a repeat only finds the
    same eigenvalues again), one that did not, its steps.

    By Sylvester's law of inertia, the eigenvalues of a block T_k below σ are as many as the
    negative pivots of T_k − σI = LDLᵀ, dⱼ = αⱼ − σ − βⱼ₋₁²/dⱼ₋₁ (a Sturm count: backward
    stable, and no eigensolver for each run's leading block).
    """
    tiny = jnp.finfo(k.alphas.dtype).tiny

    def sturm(carry: tuple[Array, Array], column: tuple[Array, Array, Array]
              ) -> tuple[tuple[Array, Array], None]:
        pivot, count = carry
        j, alpha, coupling = column
        pivot = alpha - threshold - coupling**2 / pivot
        # a zero pivot is an eigenvalue at σ exactly, not below: move it up by a hair
        pivot = jnp.where(pivot == 0, tiny, pivot)
        return (pivot, count + ((pivot < 0) & (j < k.counted))), None

    runs, m = k.alphas.shape
    couplings = jnp.concatenate([jnp.zeros((runs, 1), k.betas.dtype), k.betas[:, :-1]], axis=1)
    start = (jnp.ones(runs, k.alphas.dtype), jnp.zeros(runs, jnp.int32))
    (_, count), _ = jax.lax.scan(sturm, start, (jnp.arange(m), k.alphas.T, couplings.T))
    return jnp.max(count)


def pinv_solve(theta: Array, vectors: Array, rhs: Array) -> Array:
    """T⁺·rhs from T = S·diag(θ)·Sᵀ, dropping |θ| ≤ √ε·max|θ| (the pseudo-inverse)."""
    floor = jnp.sqrt(jnp.finfo(theta.dtype).eps) * jnp.max(jnp.abs(theta))
    keep = jnp.abs(theta) > floor
    inverse = jnp.where(keep, 1.0 / jnp.where(keep, theta, 1.0), 0.0)
    return vectors @ (inverse * (vectors.T @ rhs))

