"""Small dense linear algebra tuned for batches of tiny systems."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array


def after(x: Array, *earlier: Any) -> Array:
    """``x``, made to wait until the arrays in ``earlier`` are computed: ``x + 0·t`` with t an
    entry of each, made finite first, so the value is exactly ``x``.

    Why: XLA may run independent operations at the same time, and on the CPU jaxlib (0.10 at
    least) runs a batched LAPACK call (eigh, Cholesky, triangular solve, SVD under vmap) by
    splitting the batch over the intra-op thread pool while one pool thread blocks until the
    pieces are done. As many such calls at once as the pool has threads (two, on a 2-core
    machine) each hold a thread and wait for pieces no free thread can run: the program never
    finishes. Every compiled program of optkit therefore orders its LAPACK calls one after
    another with this data dependency (``tests/solvers/test_lapack_order.py`` reads the
    compiled programs). An optimization barrier would not do: XLA drops it before running.
    XLA does not fold ``0·t`` for floating point (it is NaN for t = ±∞ or NaN, which the
    finite clamp rules out at run time, not at compile time).
    """
    token = jnp.zeros((), x.dtype)
    for leaf in jax.tree_util.tree_leaves(earlier):
        first = jnp.ravel(leaf)[0].astype(x.dtype)
        token = token + jnp.nan_to_num(first, nan=0.0, posinf=0.0, neginf=0.0)
    return x + 0.0 * token


def symmetric_eigh(h: Array) -> tuple[Array, Array]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix.

    For n = 1 and n = 2 — the bulk of batched teaching and benchmark problems — the closed form
    is used: with h = [[a, b], [b, c]], m = (a+c)/2, e = (a−c)/2 and r = hypot(e, b), the
    eigenvalues are m ∓ r and the larger one's eigenvector is (e + r, b) for e ≥ 0, (b, r − e)
    otherwise (whichever avoids cancellation), normalised. It is branch-free, needs no
    trigonometric functions (slow in XLA's CPU backend), has the same absolute accuracy ε‖H‖ as
    LAPACK's syevd, and under vmap is a few fused elementwise ops instead of one LAPACK call per
    matrix, which dominated the cost of a batched Newton step.
    """
    n = h.shape[-1]
    if n == 1:
        return h[..., 0, :], jnp.ones_like(h)
    if n == 2:
        a, b, c = h[..., 0, 0], h[..., 0, 1], h[..., 1, 1]
        mean, half_diff = 0.5 * (a + c), 0.5 * (a - c)
        radius = jnp.hypot(half_diff, b)
        u0 = jnp.where(half_diff >= 0, half_diff + radius, b)
        u1 = jnp.where(half_diff >= 0, b, radius - half_diff)
        length = jnp.hypot(u0, u1)
        degenerate = length == 0  # a multiple of the identity: any basis will do
        safe = jnp.where(degenerate, 1.0, length)
        cos = jnp.where(degenerate, 1.0, u0 / safe)
        sin = jnp.where(degenerate, 0.0, u1 / safe)
        eigenvalues = jnp.stack([mean - radius, mean + radius], axis=-1)
        # columns: (−sin, cos) for the smaller eigenvalue, (cos, sin) for the larger
        eigenvectors = jnp.stack(
            [jnp.stack([-sin, cos], axis=-1), jnp.stack([cos, sin], axis=-1)], axis=-1
        )
        return eigenvalues, eigenvectors
    return jnp.linalg.eigh(h)


def cholesky_accepted(h: Array, factor: Array) -> Array:
    """Whether the Cholesky factor L of the symmetric matrix h (``jnp.linalg.cholesky``, NaN
    where the factorisation breaks down) proves h positive definite in working precision.

    With d = diag h and pivots pⱼ = Lⱼⱼ²: L finite and pⱼ > 10·n·ε·dⱼ for every j. This is
    the eigenvalue floor 10·ε·max|λ| applied to the Jacobi-scaled matrix D^(−½)·h·D^(−½)
    (unit diagonal, so max λ ≤ n), whose pivots are pⱼ/dⱼ; the computed pⱼ is exact to about
    j·ε·dⱼ, so a pivot passing it is not rounding. The test does not change when the variables
    are rescaled (h → D·h·D), so it accepts badly scaled matrices that are well conditioned
    once scaled — and for those the Cholesky solve is accurate (van der Sluis), although
    cond(h) may exceed 1/ε. A floor on the unscaled diagonal (dⱼ > 10ε·max d) would refuse
    exactly them.
    """
    n = h.shape[-1]
    eps = jnp.finfo(h.dtype).eps
    pivots = jnp.diagonal(factor) ** 2
    return jnp.all(jnp.isfinite(factor)) & jnp.all(pivots > 10 * n * eps * jnp.diagonal(h))


def symmetric_eigvalsh(h: Array) -> Array:
    """Ascending eigenvalues of a symmetric matrix (closed form for n ≤ 2)."""
    if h.shape[-1] <= 2:
        return symmetric_eigh(h)[0]
    return jnp.linalg.eigvalsh(h)


#: vectors up to this length get unrolled reductions (see ``dot``)
UNROLL = 4


def dot(a: Array, b: Array) -> Array:
    """a·b for vectors. Short vectors are summed term by term: under vmap a reduction over a
    minor axis of length 2 is several times slower on XLA's CPU backend than the same sum
    written as elementwise operations, which fuse with their neighbours."""
    n = a.shape[-1]
    if a.ndim == 1 and n <= UNROLL:
        total = a[0] * b[0]
        for i in range(1, n):
            total = total + a[i] * b[i]
        return total
    return jnp.dot(a, b)


def norm(a: Array) -> Array:
    """Euclidean norm of a vector (unrolled for short vectors, as ``dot``)."""
    if a.ndim == 1 and a.shape[0] <= UNROLL:
        return jnp.sqrt(dot(a, a))
    return jnp.linalg.norm(a)


def matvec(m: Array, v: Array) -> Array:
    """m @ v (unrolled for short vectors, as ``dot``)."""
    if v.ndim == 1 and v.shape[0] <= UNROLL:
        return jnp.stack([dot(m[i], v) for i in range(m.shape[0])])
    return m @ v


def max_abs(a: Array) -> Array:
    """max |aᵢ| of a vector, 0 for an empty one (unrolled for short vectors, as ``dot``)."""
    if a.ndim == 1 and 0 < a.shape[0] <= UNROLL:
        result = jnp.abs(a[0])
        for i in range(1, a.shape[0]):
            result = jnp.maximum(result, jnp.abs(a[i]))
        return result
    return jnp.max(jnp.abs(a), initial=0.0)
