"""Second-order classification of a point: minimum, maximum, saddle, degenerate or flat.

The rule, for a point x with f = f(x), g = ∇f(x), H = ∇²f(x) (symmetrised), ε the machine
epsilon of x's dtype, F = max(1, |f|) and ℓ = max(1, ‖x‖) (the units of f and x, as in the
default gradient tolerance):

1. **not_critical** if ‖g‖ > grad_tol (default √ε·F/ℓ) or f, g or the spectrum is not finite.
2. **The Newton correction.** δ = −H⁺g (eigenvalues |λ| ≤ √ε·max|λ| dropped) points to the
   nearby critical point the Newton iteration converges to; ``distance`` = ‖δ‖ estimates how
   far it is. One more Newton step from x₁ = x + δ, δ′ = −H(x₁)⁺∇f(x₁), gives the contraction
   c = ‖δ′‖/‖δ‖ (c ≪ 1 near a non-degenerate critical point, where Newton converges
   quadratically; c → (2k−2)/(2k−1) near the root of x²ᵏ; c ≥ 1 when Newton does not converge)
   and the Hessian's change ΔH = H(x₁) − H(x) over the step, a Lipschitz estimate
   L = ‖ΔH‖₂/‖δ‖.
3. **flat** when the point has no isolated critical point nearby *and* f is numerically
   constant around it: the distance to the Newton limit, D = ‖δ‖/(1 − c) (∞ for c ≥ 1), exceeds
   ρ = ℓ/10, and over the ball of radius ρ the second-order model moves f by no more than
   its rounding level, ‖g‖·ρ + ½‖H‖₂·ρ² ≤ √ε·F (gradient and curvature both negligible
   against F and the curvature scale F/ρ²). Exponentially flat tails (x·e^(−x²−y²) far out,
   where Newton marches outwards with c ≈ 1) are flat; the root of x⁴ + y⁴ is not (δ = 0
   there, and c = 2/3 near it). Where ∇f and ∇²f are both exactly 0 (underflow far out, or
   that root itself) the derivatives say nothing: the point is flat when f at x ± ρ·u, along
   two fixed directions u, differs from f(x) by at most √ε·F. A flat point is not a
   critical point of f in any useful sense, and summaries count it apart from them.
4. **Otherwise the kind of the critical point δ points to.** When Newton contracts (c < 1),
   the spectrum λ₁ ≤ … ≤ λₙ is that of H(x₁) and its zero tolerance is
   tol = max(√ε·‖H(x₁)‖₂, 10·L·‖δ′‖): x₁'s own distance to the critical point is about ‖δ′‖,
   so H(x₁) is within L·‖δ′‖ of the Hessian there. At an exact critical point δ = 0 and only
   the eigensolver's rounding floor is left; an end point of a first-order method at
   ‖g‖ = 1e-4 next to Rosenbrock's minimum (eigenvalues 0.399 and 1001) reads "minimum" at
   distance ≈ 5e-4. Near a degenerate critical point the eigenvalues are O(L·‖δ′‖) themselves
   and count as zero. When Newton does not contract, the spectrum is H(x)'s and
   tol = max(√ε·‖H‖₂, 10·‖ΔH‖₂). Then: **saddle** if some λᵢ > tol and some λⱼ < −tol;
   **minimum** if every λᵢ > tol; **maximum** if every λᵢ < −tol; **degenerate** otherwise.
   Every term scales with f, so the kind does not depend on the units of f.

Above :data:`~optkit.analysis._lanczos.DENSE_MAX_DIM` variables no n×n matrix is formed: the
spectrum is estimated by Lanczos from Hessian–vector products (see ``_lanczos``), δ is the
Lanczos–CG (Galerkin) Newton step on K(H, ∇f), ‖ΔH‖ is measured along δ (‖ΔH·δ‖/‖δ‖, one
product at x₁), the spectrum is taken at x (rule 4's second form), and the zero tolerance also
covers the Ritz residuals of the two extreme Ritz values.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import jit, static_callable
from .._linalg import after, max_abs, norm, symmetric_eigh, symmetric_eigvalsh
from .._pytree import Unraveller, as_start, flatten
from ._lanczos import DENSE_MAX_DIM, LANCZOS_STEPS, count_below, krylov_spectrum, pinv_solve

Array = jax.Array

#: a flat point is one with no critical point within this fraction of ℓ = max(1, ‖x‖)
FLAT_RADIUS = 0.1


class Kind(enum.IntEnum):
    """Kind of a point; the integer code is what lives inside compiled programs (and in
    trajectories.npz). FLAT is not a critical point: see the module docstring, rule 3."""

    MINIMUM = 0
    MAXIMUM = 1
    SADDLE = 2
    DEGENERATE = 3
    NOT_CRITICAL = 4
    FLAT = 5

    @property
    def label(self) -> str:
        return self.name.lower()


KIND_LABELS: tuple[str, ...] = tuple(k.label for k in Kind)
#: the kinds that are critical points of f (counted and listed as such in summaries)
CRITICAL_KINDS: tuple[str, ...] = ("minimum", "maximum", "saddle", "degenerate")


def kind_label(code: Any) -> Any:
    """Map a kind code (int or array of ints) to its label ("minimum", ...)."""
    codes = np.asarray(code)
    labels = np.asarray(KIND_LABELS)[codes]
    return str(labels) if labels.ndim == 0 else labels


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class CriticalPoint:
    """A point with its gradient norm and Hessian spectrum, classified.

    ``kind`` is ``"minimum"`` (all Hessian eigenvalues > tol), ``"maximum"`` (all < −tol),
    ``"saddle"`` (eigenvalues of both signs beyond ±tol), ``"degenerate"`` (some eigenvalue
    within ±tol and no sign pair that decides it), ``"not_critical"`` (‖∇f‖ > grad_tol) or
    ``"flat"`` (a numerically flat region with no critical point nearby: not a critical
    point). The eigenvalues are those of the critical point the Newton correction points to
    (see the module docstring for the rule and its tolerances). ``index`` is the Morse index:
    the number of eigenvalues below −tol. ``distance`` is ‖δ‖, δ = −H⁺∇f the Newton correction:
    the estimated distance from ``x`` to that critical point (0 at an exact one).

    ``eigenvalues`` has a fixed shape: for n ≤ DENSE_MAX_DIM (64) variables all n eigenvalues,
    ascending; above, the LANCZOS_STEPS (20) Ritz values of two Lanczos runs, ascending. The
    first and last Ritz values bound the spectrum from inside (λ_min ≤ θ_first, θ_last ≤ λ_max)
    and converge to λ_min and λ_max; the ones in between are not eigenvalues, and ``index``
    is then a lower estimate (the larger count of the two runs).

    For a point of a box-constrained problem (``classify(..., bounds=)``, or a solve with
    ``bounds=``) it is a KKT point: ``grad_norm`` is the projected-gradient residual
    ‖x − P(x − ∇f)‖, ``active`` and ``multipliers`` name the bounds that hold, and
    ``eigenvalues`` are those of the Hessian reduced to the variables no bound holds
    (NaN-padded to n); see ``optkit/analysis/_kkt.py``.

    Batched (vmapped) points hold arrays; ``kind`` is then an array of labels.
    """

    x: Any
    value: Array
    grad_norm: Array
    eigenvalues: Array
    index: Array
    kind_code: Array
    tol: Array
    grad_tol: Array
    distance: Array
    #: bounded problems only (None otherwise; rules in ``_kkt``): per flat variable −1 at
    #: its lower bound, +1 at its upper bound, 0 free (int8), and the bound's multiplier
    active: Array | None = None
    multipliers: Array | None = None

    @property
    def kind(self) -> Any:
        if isinstance(self.kind_code, jax.core.Tracer):
            raise TypeError("CriticalPoint.kind is a label; inside jit/vmap use .kind_code (Kind)")
        return kind_label(self.kind_code)

    @property
    def is_minimum(self) -> Any:
        return self.kind_code == Kind.MINIMUM

    @property
    def is_critical(self) -> Any:
        """True for minimum, maximum, saddle and degenerate (not for flat or not_critical)."""
        return self.kind_code <= Kind.DEGENERATE


def critical_grad_tol(value: Array, x: Array) -> Array:
    """√ε·max(1, |f|)/max(1, ‖x‖): a gradient this small counts as zero at working precision
    (f's rounding error spread over the scale of x, in the units of a gradient)."""
    eps = jnp.finfo(x.dtype).eps
    return jnp.sqrt(eps) * jnp.maximum(1.0, jnp.abs(value)) / jnp.maximum(1.0, norm(x))


def eigenvalue_tol(eigenvalues: Array, grad_norm: Array) -> Array:
    """A cheap zero tolerance for eigenvalues, used by the solvers on every step.

    tol = max(√ε·‖H‖₂, 10·√‖∇f‖). The first term is the rounding floor of a symmetric
    eigensolver; the second covers points that are only approximately critical: near a
    degenerate critical point at distance δ the gradient is O(δ²) while the Hessian's
    eigenvalues are O(δ). It is not invariant under scaling f; ``classify`` uses the
    scale-invariant rule of the module docstring instead.
    """
    eps = jnp.finfo(eigenvalues.dtype).eps
    return jnp.maximum(jnp.sqrt(eps) * max_abs(eigenvalues), 10.0 * jnp.sqrt(grad_norm))


def classify_spectrum(
    eigenvalues: Array, grad_norm: Array, grad_tol: Array, tol: Array | None = None,
    flat: Array | None = None,
) -> tuple[Array, Array, Array]:
    """Kind code, Morse index and tolerance from the Hessian eigenvalues (traceable).

    ``flat`` (bool) marks a point of a flat region: it is FLAT when it passes the gradient
    test, whatever its spectrum.
    """
    if tol is None:
        tol = eigenvalue_tol(eigenvalues, grad_norm)
    positive = jnp.any(eigenvalues > tol)
    negative = jnp.any(eigenvalues < -tol)
    zero = jnp.any(jnp.abs(eigenvalues) <= tol)
    kind = jnp.where(
        positive & negative,
        Kind.SADDLE,
        jnp.where(zero, Kind.DEGENERATE, jnp.where(positive, Kind.MINIMUM, Kind.MAXIMUM)),
    )
    if flat is not None:
        kind = jnp.where(flat, Kind.FLAT, kind)
    # written so that a NaN gradient or spectrum is not critical either
    critical = (grad_norm <= grad_tol) & jnp.all(jnp.isfinite(eigenvalues))
    kind = jnp.where(critical, kind, Kind.NOT_CRITICAL)
    index = jnp.sum(eigenvalues < -tol)
    return kind.astype(jnp.int32), index.astype(jnp.int32), jnp.asarray(tol)


def _is_flat(fun: Callable[[Array], Array], value: Array, x: Array, grad_norm: Array,
             hess_norm: Array, distance: Array, contraction: Array) -> Array:
    """Rule 3 of the module docstring: D = ‖δ‖/(1 − c) > ρ and ‖g‖ρ + ½‖H‖ρ² ≤ √ε·F; where
    ∇f and ∇²f are exactly 0 (both underflowed, or the root of x⁴ + y⁴) the derivatives say
    nothing, and f itself is probed at x ± ρ·u along two fixed directions instead."""
    eps = jnp.finfo(x.dtype).eps
    radius = FLAT_RADIUS * jnp.maximum(1.0, norm(x))
    level = jnp.sqrt(eps) * jnp.maximum(1.0, jnp.abs(value))
    converging = contraction < 1.0
    limit = jnp.where(converging, distance / jnp.where(converging, 1.0 - contraction, 1.0),
                      jnp.inf)
    change = grad_norm * radius + 0.5 * hess_norm * radius**2
    by_derivatives = (limit > radius) & (change <= level)
    silent = (grad_norm == 0) & (hess_norm == 0)
    n = x.shape[0]
    signs = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0).astype(x.dtype)
    directions = jnp.stack([jnp.ones_like(x), signs]) / jnp.sqrt(jnp.asarray(n, x.dtype))
    probes = jnp.concatenate([x + radius * directions, x - radius * directions])
    # probing costs four evaluations of f and is needed only where both derivatives vanish
    # (a real branch outside vmap, a select under it)
    still = jax.lax.cond(
        silent, lambda: jnp.max(jnp.abs(jax.vmap(fun)(probes) - value)) <= level,
        lambda: jnp.asarray(False))
    return by_derivatives | still


def _ratio(numerator: Array, denominator: Array) -> Array:
    """numerator/denominator, 0 where the denominator is 0 (no step: nothing changed)."""
    nonzero = denominator > 0
    return jnp.where(nonzero, numerator / jnp.where(nonzero, denominator, 1.0), 0.0)


def _value_grad_hessian(fun: Callable[[Array], Array], x: Array) -> tuple[Array, Array, Array]:
    """f, ∇f and the symmetrised ∇²f with one copy of the derivative code (forward over
    reverse)."""
    def grad_aux(z: Array) -> tuple[Array, tuple[Array, Array]]:
        value, g = jax.value_and_grad(fun)(z)
        return g, (value, g)

    hess, (value, g) = jax.jacfwd(grad_aux, has_aux=True)(x)
    return value, g, 0.5 * (hess + hess.T)


def _newton_step(eigenvalues: Array, eigenvectors: Array, g: Array) -> Array:
    """−H⁺g from H = V·diag(λ)·Vᵀ (|λ| ≤ √ε·max|λ| dropped)."""
    return -pinv_solve(eigenvalues, eigenvectors, g)


def _classify_dense(fun: Callable[[Array], Array], x: Array, grad_tol: Array,
                    tol: Array | None) -> dict[str, Array]:
    """The rule of the module docstring with dense Hessians (n ≤ DENSE_MAX_DIM)."""
    eps = jnp.finfo(x.dtype).eps
    value, g, hess = _value_grad_hessian(fun, x)
    lam, vecs = symmetric_eigh(hess)
    step = _newton_step(lam, vecs, g)
    _, g1, hess1 = _value_grad_hessian(fun, x + step)
    lam1, vecs1 = symmetric_eigh(hess1)
    step1 = _newton_step(lam1, vecs1, g1)
    change = max_abs(symmetric_eigvalsh(after(hess1 - hess, lam1)))
    distance = norm(step)
    contraction = _ratio(norm(step1), distance)
    grad_norm = norm(g)
    # a non-critical point keeps its own spectrum: its Newton step may go anywhere
    newton = (contraction < 1.0) & (grad_norm <= grad_tol)
    spectrum = jnp.where(newton, lam1, lam)
    if tol is None:
        tol = jnp.where(newton, jnp.maximum(jnp.sqrt(eps) * max_abs(lam1),
                                            10.0 * change * contraction),
                        jnp.maximum(jnp.sqrt(eps) * max_abs(lam), 10.0 * change))
    flat = _is_flat(fun, value, x, grad_norm, max_abs(lam), distance, contraction)
    kind, index, tol = classify_spectrum(spectrum, grad_norm, grad_tol, tol, flat)
    return {"value": value, "grad_norm": grad_norm, "eigenvalues": spectrum, "index": index,
            "kind_code": kind, "tol": tol, "distance": distance}


def _classify_krylov(fun: Callable[[Array], Array], x: Array, grad_tol: Array,
                     tol: Array | None) -> dict[str, Array]:
    """The rule of the module docstring from Hessian–vector products (n > DENSE_MAX_DIM)."""
    eps = jnp.finfo(x.dtype).eps
    (value, g), linear = jax.linearize(jax.value_and_grad(fun), x)

    def hvp(v: Array) -> Array:
        return linear(v)[1]

    k = krylov_spectrum(hvp, g, LANCZOS_STEPS)
    grad_norm = norm(g)
    # the Lanczos–CG step on K(H, ∇f): δ = Q_Aᵀz, z = −‖g‖·T_A⁺e₁ (Q_A orthonormal rows)
    e1 = jnp.zeros_like(k.ritz_a).at[0].set(1.0)
    z = -grad_norm * pinv_solve(k.ritz_a, k.vectors_a, e1)
    step = k.basis_a.T @ z
    distance = norm(z)
    # ∇f(x + δ) and ∇²f(x + δ)·δ in one forward-over-reverse pass (no residuals kept)
    g1, hessian_step1 = jax.jvp(jax.grad(fun), (x + step,), (step,))
    change = _ratio(norm(hessian_step1 - hvp(step)), distance)  # ‖ΔH·δ‖/‖δ‖
    # the chord step from x₁ (H(x) on the same space) for the contraction c
    z1 = -pinv_solve(k.ritz_a, k.vectors_a, k.basis_a @ g1)
    contraction = _ratio(norm(z1), distance)
    hess_norm = max_abs(k.ritz)
    if tol is None:
        tol = jnp.maximum(jnp.maximum(jnp.sqrt(eps) * hess_norm, 10.0 * change),
                          jnp.maximum(k.residual[0], k.residual[-1]))
    flat = _is_flat(fun, value, x, grad_norm, hess_norm, distance, contraction)
    kind, _, tol = classify_spectrum(k.ritz, grad_norm, grad_tol, tol, flat)
    index = count_below(k, -tol)
    return {"value": value, "grad_norm": grad_norm, "eigenvalues": k.ritz, "index": index,
            "kind_code": kind, "tol": tol, "distance": distance}


def classify_flat(
    fun: Callable[[Array], Array],
    x: Array,
    grad_tol: float | Array | None = None,
    tol: float | Array | None = None,
    unravel: Callable[[Array], Any] | None = None,
    bounds: tuple[Array, Array] | None = None,
) -> CriticalPoint:
    """classify() on a function of a flat vector (traceable; used by the solvers).

    ``bounds``: flat (lower, upper) arrays; the point is then classified as a KKT point of
    the box-constrained problem (``_kkt.classify_kkt``).
    """
    if grad_tol is None:
        grad_tol = critical_grad_tol(jnp.asarray(fun(x)), x)
    grad_tol = jnp.asarray(grad_tol, x.dtype)
    if tol is not None:
        tol = jnp.asarray(tol, x.dtype)
    if bounds is not None:
        from ._kkt import classify_kkt

        out = classify_kkt(fun, x, *bounds, grad_tol, tol)
    else:
        classify_at = _classify_dense if x.shape[0] <= DENSE_MAX_DIM else _classify_krylov
        out = classify_at(fun, x, grad_tol, tol)
    # f = ±∞ makes the default grad_tol infinite, and no point where f is not finite is a
    # critical point of it, whatever its derivatives say
    out["kind_code"] = jnp.where(jnp.isfinite(out["value"]), out["kind_code"],
                                 jnp.int32(Kind.NOT_CRITICAL))
    return CriticalPoint(x=unravel(x) if unravel is not None else x, grad_tol=grad_tol, **out)


def classify(
    fun: Callable[[Any], Array],
    x: Any,
    grad_tol: float | None = None,
    tol: float | None = None,
    bounds: Any = None,
) -> CriticalPoint:
    """Classify ``x`` as a critical point of ``fun`` from the Hessian's eigenvalues.

    With g = ∇f(x), H = ∇²f(x) of the ravelled parameters, δ = −H⁺g the Newton correction
    and ``tol`` the zero tolerance for eigenvalues (the module docstring gives the rules and
    their derivation):

    * ``not_critical`` if ‖g‖ > grad_tol (default √ε·max(1, |f(x)|)/max(1, ‖x‖)) or is not
      finite;
    * ``flat`` if no critical point is within 0.1·max(1, ‖x‖) and f is numerically constant
      there (not a critical point);
    * otherwise the kind of the critical point δ points to, from the eigenvalues λᵢ of the
      Hessian at x + δ: ``saddle`` if some λᵢ > tol and some λⱼ < −tol; ``minimum`` if every
      λᵢ > tol, ``maximum`` if every λᵢ < −tol; ``degenerate`` otherwise.

    ``distance`` = ‖δ‖ estimates how far x is from that critical point. Up to 64 variables
    the Hessian is formed and diagonalised; above, Lanczos on Hessian–vector products gives
    the extreme eigenvalues (at most 20 products, no n×n matrix), and ``eigenvalues`` holds 20 Ritz
    values. Works on pytrees (they are ravelled) and under ``jax.jit`` / ``jax.vmap``.

    With ``bounds=(lower, upper)`` (as in ``minimize``) x is classified as a KKT point of f
    over that box: ``active``, ``multipliers`` and the reduced Hessian's eigenvalues
    (``optkit/analysis/_kkt.py``).
    """
    if not jax.tree_util.tree_leaves(x):
        raise ValueError("classify: x has no array leaves")
    x = as_start(x)  # a list of numbers is one vector, as for minimize
    flat, unravel = flatten(x)
    flat_bounds = None
    if bounds is not None:
        from .._box import make_box

        flat_bounds = make_box(bounds, x).arrays(flat.dtype)
    # one compiled program per function and shape (called op by op, a 2-D classification
    # took 5 s the first time and 0.15 s every time after)
    return _classify_jit(static_callable(fun), Unraveller(unravel, x), flat, grad_tol, tol,
                         flat_bounds)


@functools.partial(jit, static_argnames=("fun", "unravel"))
def _classify_jit(fun: Callable[[Any], Array], unravel: Unraveller, flat: Array,
                  grad_tol: Any, tol: Any, bounds: tuple[Array, Array] | None
                  ) -> CriticalPoint:
    def flat_fun(z: Array) -> Array:
        return fun(unravel(z))

    return classify_flat(flat_fun, flat, grad_tol=grad_tol, tol=tol, unravel=unravel,
                         bounds=bounds)
