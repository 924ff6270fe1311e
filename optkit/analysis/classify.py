"""Second-order classification of a point: minimum, maximum, saddle or degenerate."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._linalg import max_abs, norm, symmetric_eigh, symmetric_eigvalsh
from .._pytree import flatten

Array = jax.Array


class Kind(enum.IntEnum):
    """Kind of a critical point; the integer code is what lives inside compiled programs."""

    MINIMUM = 0
    MAXIMUM = 1
    SADDLE = 2
    DEGENERATE = 3
    NOT_CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


KIND_LABELS: tuple[str, ...] = tuple(k.label for k in Kind)


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
    within ±tol and no sign pair that decides it) or ``"not_critical"`` (‖∇f‖ > grad_tol).
    ``index`` is the Morse index: the number of eigenvalues below −tol.
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

    @property
    def kind(self) -> Any:
        if isinstance(self.kind_code, jax.core.Tracer):
            raise TypeError("CriticalPoint.kind is a label; inside jit/vmap use .kind_code (Kind)")
        return kind_label(self.kind_code)

    @property
    def is_minimum(self) -> Any:
        return self.kind_code == Kind.MINIMUM


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
    scale-invariant :func:`curvature_tol` instead.
    """
    eps = jnp.finfo(eigenvalues.dtype).eps
    return jnp.maximum(jnp.sqrt(eps) * max_abs(eigenvalues), 10.0 * jnp.sqrt(grad_norm))


def curvature_tol(
    fun: Callable[[Array], Array], x: Array, grad: Array, hess: Array,
    eigenvalues: Array, eigenvectors: Array,
) -> Array:
    """Eigenvalues with |λ| ≤ tol count as zero: tol = max(√ε·‖H‖₂, 10·‖H(x + d) − H(x)‖₂)
    with d = −H⁺∇f the (pseudo-inverse) Newton step to the nearby critical point.

    At an exact critical point d = 0 and only the eigensolver's rounding floor √ε‖H‖ is left.
    Near a non-degenerate one at distance δ the Hessian changes by O(δ) ≪ |λ|; near a
    degenerate one the eigenvalues are themselves O(δ), as large as the change, so they are
    rightly counted as zero. Both terms scale with f, so the kind does not depend on units.
    """
    eps = jnp.finfo(x.dtype).eps
    floor = jnp.sqrt(eps) * max_abs(eigenvalues)
    inverse = jnp.where(jnp.abs(eigenvalues) > floor, 1.0 / jnp.where(eigenvalues == 0, 1.0,
                                                                      eigenvalues), 0.0)
    step = -eigenvectors @ (inverse * (eigenvectors.T @ grad))
    hess_near = jax.hessian(fun)(x + step)
    change = 0.5 * (hess_near + hess_near.T) - hess
    change_norm = max_abs(symmetric_eigvalsh(change))
    return jnp.maximum(floor, 10.0 * change_norm)


def classify_spectrum(
    eigenvalues: Array, grad_norm: Array, grad_tol: Array, tol: Array | None = None
) -> tuple[Array, Array, Array]:
    """Kind code, Morse index and tolerance from the Hessian eigenvalues (traceable)."""
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
    # written so that a NaN gradient or spectrum is not critical either
    critical = (grad_norm <= grad_tol) & jnp.all(jnp.isfinite(eigenvalues))
    kind = jnp.where(critical, kind, Kind.NOT_CRITICAL)
    index = jnp.sum(eigenvalues < -tol)
    return kind.astype(jnp.int32), index.astype(jnp.int32), jnp.asarray(tol)


def classify_flat(
    fun: Callable[[Array], Array],
    x: Array,
    grad_tol: float | Array | None = None,
    tol: float | Array | None = None,
    unravel: Callable[[Array], Any] | None = None,
) -> CriticalPoint:
    """classify() on a function of a flat vector (traceable; used by the solvers)."""
    value, grad = jax.value_and_grad(fun)(x)
    hess = jax.hessian(fun)(x)
    hess = 0.5 * (hess + hess.T)
    eigenvalues, eigenvectors = symmetric_eigh(hess)
    grad_norm = jnp.linalg.norm(grad)
    if tol is None:
        tol = curvature_tol(fun, x, grad, hess, eigenvalues, eigenvectors)
    if grad_tol is None:
        grad_tol = critical_grad_tol(value, x)
    grad_tol = jnp.asarray(grad_tol, x.dtype)
    kind, index, tol = classify_spectrum(eigenvalues, grad_norm, grad_tol, tol)
    return CriticalPoint(
        x=unravel(x) if unravel is not None else x,
        value=value,
        grad_norm=grad_norm,
        eigenvalues=eigenvalues,
        index=index,
        kind_code=kind,
        tol=tol,
        grad_tol=grad_tol,
    )


def classify(
    fun: Callable[[Any], Array],
    x: Any,
    grad_tol: float | None = None,
    tol: float | None = None,
) -> CriticalPoint:
    """Classify ``x`` as a critical point of ``fun`` from the Hessian's eigenvalues.

    The Hessian H = ∇²f(x) (symmetrised, ½(H + Hᵀ)) of the ravelled parameters is
    diagonalised; with λ₁ ≤ … ≤ λₙ its eigenvalues and ``tol`` from :func:`curvature_tol`
    (unless given):

    * ``not_critical`` if ‖∇f(x)‖ > grad_tol (default √ε·max(1, |f(x)|)/max(1, ‖x‖))
      or is not finite;
    * ``saddle`` if some λᵢ > tol and some λⱼ < −tol;
    * ``minimum`` if every λᵢ > tol, ``maximum`` if every λᵢ < −tol;
    * ``degenerate`` otherwise (an eigenvalue within ±tol decides nothing).

    Works on pytrees (they are ravelled) and under ``jax.jit`` / ``jax.vmap``.
    """
    if not jax.tree_util.tree_leaves(x):
        raise ValueError("classify: x has no array leaves")
    flat, unravel = flatten(x)

    def flat_fun(z: Array) -> Array:
        return fun(unravel(z))

    return classify_flat(flat_fun, flat, grad_tol=grad_tol, tol=tol, unravel=unravel)
