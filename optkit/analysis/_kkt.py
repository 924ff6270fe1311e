"""Classification of a point of min f over a box l ≤ x ≤ u as a KKT point.

With g = ∇f(x), H = ∇²f(x) (symmetrised), r = x − P(x − g) the projected-gradient residual:

1. **Active constraints.** Variable i is at its lower bound when xᵢ − lᵢ ≤ 10·ε·max(1, |lᵢ|)
   (on the bound in working precision; the bounded solvers' projection puts it exactly there)
   or, strictly inside the box, when the projected gradient step is clipped there
   (xᵢ − gᵢ ≤ lᵢ with gᵢ > 0); at its upper bound likewise. ``active`` holds −1 (lower),
   +1 (upper) or 0 (free); a fixed variable (lᵢ = uᵢ) counts at the bound its gradient
   pushes against. The multiplier of an active bound is λᵢ = gᵢ at a lower bound and −gᵢ at
   an upper one (0 where free); KKT needs λᵢ ≥ 0, and a wrong-signed one shows in r.
2. **not_critical** when ‖r‖₂ > grad_tol (or r, the spectrum is not finite): not a KKT point.
3. **Second order.** The strongly active variables S (active with λᵢ > grad_tol) are held by
   their bounds; the reduced Hessian H_RR on the others R (free and weakly active ones) decides
   the kind, with tol = max(√ε·max|λ(H_RR)|, 10·√‖r‖) (``eigenvalue_tol``): **minimum** when
   every eigenvalue of H_RR is > tol (or R is empty: a vertex held by positive multipliers);
   **saddle** when one is < −tol and another > tol, or one is < −tol while some bound is
   strongly active; **maximum** when all are < −tol and nothing is strongly active;
   **degenerate** otherwise (a zero eigenvalue). Counting weakly active variables in R is the
   conservative choice: a minimum is then a strict local minimum over the box.

``eigenvalues`` keeps the fixed shape n: the |R| eigenvalues of H_RR ascending, then NaN for
the strongly active variables. ``distance`` is the length of the correction to the nearby KKT
point: −H_RR⁺g_R on R and rᵢ on S. Above DENSE_MAX_DIM variables no n×n matrix is formed: a
Lanczos run on v ↦ R⊙H(R⊙v) (R as a mask) estimates the scale c of H_RR, and a second on
v ↦ R⊙H(R⊙v) + 10c·(1 − R)⊙v gives Ritz values, those above 5c (the held variables')
reported as NaN; ``distance`` is then ‖r‖.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from .._box import kkt_residual
from .._linalg import max_abs, norm
from ._lanczos import DENSE_MAX_DIM, LANCZOS_STEPS, krylov_spectrum

Array = jax.Array


def _active(x: Array, g: Array, lower: Array, upper: Array) -> tuple[Array, Array]:
    eps = jnp.finfo(x.dtype).eps
    on_lower = (x - lower) <= 10 * eps * jnp.maximum(1.0, jnp.abs(lower))
    on_upper = (upper - x) <= 10 * eps * jnp.maximum(1.0, jnp.abs(upper))
    # on a bound first; the clipped-step test only for a point strictly inside
    inside = ~on_lower & ~on_upper
    at_lower = on_lower | (inside & (x - g <= lower) & (g > 0))
    at_upper = on_upper | (inside & (x - g >= upper) & (g < 0))
    both = at_lower & at_upper  # l = u
    at_lower = jnp.where(both, g >= 0, at_lower)
    at_upper = jnp.where(both, g < 0, at_upper)
    active = jnp.where(at_lower, -1, jnp.where(at_upper, 1, 0)).astype(jnp.int8)
    multipliers = jnp.where(at_lower, g, jnp.where(at_upper, -g, 0.0))
    return active, multipliers


def classify_kkt(fun: Callable[[Array], Array], x: Array, lower: Array, upper: Array,
                 grad_tol: Array, tol: Array | None = None) -> dict[str, Array]:
    """The fields of a ``CriticalPoint`` for x in the box (rules in the module docstring)."""
    from ._classify import Kind, _value_grad_hessian, eigenvalue_tol

    n, dtype = x.shape[0], x.dtype
    eps = jnp.finfo(dtype).eps
    if n <= DENSE_MAX_DIM:
        value, g, hess = _value_grad_hessian(fun, x)
    else:
        (value, g), linear = jax.linearize(jax.value_and_grad(fun), x)
    resid = kkt_residual(x, g, lower, upper)
    resid_norm = norm(resid)
    active, multipliers = _active(x, g, lower, upper)
    strong = (active != 0) & (multipliers > grad_tol)
    keep = ~strong
    num_kept = jnp.sum(keep)
    g_kept = jnp.where(keep, g, 0.0)
    if n <= DENSE_MAX_DIM:
        shift = 1.0 + 2.0 * jnp.sqrt(jnp.sum(hess * hess))
        reduced = jnp.where(keep[:, None] & keep[None, :], hess, 0.0) + jnp.diag(
            jnp.where(keep, 0.0, shift))
        lam, vecs = jnp.linalg.eigh(reduced)
        # the shifted (held) directions sort last, above every eigenvalue of H_RR
        real = jnp.arange(n) < num_kept
        spectrum = jnp.where(real, lam, jnp.nan)
        scale = jnp.max(jnp.where(real, jnp.abs(lam), 0.0))
        usable = real & (jnp.abs(lam) > jnp.sqrt(eps) * scale)
        coef = jnp.where(usable, (vecs.T @ g_kept) / jnp.where(usable, lam, 1.0), 0.0)
        correction = jnp.where(keep, -(vecs @ coef), resid)
        distance = norm(correction)
    else:
        def hvp(v: Array) -> Array:
            return jnp.where(keep, linear(jnp.where(keep, v, 0.0))[1], 0.0)

        scale_run = krylov_spectrum(hvp, g_kept, LANCZOS_STEPS)
        shift = 10.0 * (1.0 + max_abs(scale_run.ritz) + jnp.max(scale_run.residual))
        k = krylov_spectrum(lambda v: hvp(v) + jnp.where(keep, 0.0, shift * v), g_kept,
                            LANCZOS_STEPS)
        real = (k.ritz < 0.5 * shift) & (num_kept > 0)
        spectrum = jnp.where(real, k.ritz, jnp.nan)
        scale = jnp.max(jnp.where(real, jnp.abs(k.ritz), 0.0))
        distance = resid_norm
    lam_real = jnp.where(real, spectrum, 0.0)
    if tol is None:
        tol = jnp.maximum(eigenvalue_tol(jnp.where(real, spectrum, 0.0), resid_norm),
                          jnp.sqrt(eps) * scale)
    positive = jnp.any(real & (lam_real > tol))
    negative = jnp.any(real & (lam_real < -tol))
    zero = jnp.any(real & (jnp.abs(lam_real) <= tol))
    any_strong = jnp.any(strong)
    kind = jnp.where(
        negative & (positive | any_strong), Kind.SADDLE,
        jnp.where(zero, Kind.DEGENERATE,
                  jnp.where(negative, Kind.MAXIMUM, Kind.MINIMUM)))
    finite = jnp.all(jnp.isfinite(resid)) & jnp.all(jnp.where(real, jnp.isfinite(lam_real),
                                                              True))
    kind = jnp.where((resid_norm <= grad_tol) & finite, kind, Kind.NOT_CRITICAL)
    index = jnp.sum(real & (lam_real < -tol))
    return {"value": value, "grad_norm": resid_norm, "eigenvalues": spectrum,
            "index": index.astype(jnp.int32), "kind_code": kind.astype(jnp.int32),
            "tol": jnp.asarray(tol, dtype), "distance": distance, "active": active,
            "multipliers": multipliers}
