"""BFGS: a quasi-Newton direction d = −B·∇f from an inverse-Hessian estimate B."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp

from ._base import LARGE_N_MAX_STEPS, Array, FlatFun
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import LineSearch


@dataclasses.dataclass(frozen=True)
class BFGSDescent(Descent):
    """Inverse-Hessian estimate B updated after each accepted step s with gradient change y by

        B₊ = (I − ρ s yᵀ) B (I − ρ y sᵀ) + ρ s sᵀ,   ρ = 1/(yᵀs),

    evaluated in its expanded rank-two form (Nocedal & Wright eq. 6.17 multiplied out), with one
    matrix–vector product u = B y and two outer products, O(n²) per step instead of the two
    n×n matrix products of the factored form:

        B₊ = B + ((sᵀy + yᵀu)/(sᵀy)²)·s sᵀ − (u sᵀ + s uᵀ)/(sᵀy)      (B symmetric, so yᵀB = uᵀ).

    It satisfies the secant condition B₊y = s. The update is skipped when yᵀs ≤ √ε‖s‖‖y‖ (no
    curvature information, which Armijo alone cannot guarantee). Before the first update B is
    rescaled to (yᵀs / yᵀy)·I (Nocedal & Wright 6.20).
    """

    def init(self, x: Array, g: Array) -> tuple[Array, Array]:
        scale = 1.0 / jnp.maximum(1.0, jnp.linalg.norm(g))
        return jnp.eye(x.size, dtype=x.dtype) * scale, jnp.asarray(True)

    def update(self, state: tuple[Array, Array], s: Array, y: Array) -> tuple[Array, Array]:
        inv_hess, first = state
        ys = jnp.dot(y, s)
        eps = jnp.finfo(s.dtype).eps
        useful = ys > jnp.sqrt(eps) * jnp.linalg.norm(s) * jnp.linalg.norm(y)
        return jnp.where(useful, bfgs_update(inv_hess, s, y, first), inv_hess), first & ~useful

    def direction(self, fun: FlatFun, x: Array, g: Array, state: tuple[Array, Array]) -> Direction:
        d = -(state[0] @ g)  # (−B)·g would negate all n² entries first
        zero = jnp.zeros((), x.dtype)
        return Direction(d=d, curvature=zero, escape=jnp.asarray(False), aux={}, state=state)


def bfgs_update(inv_hess: Array, s: Array, y: Array, first: Array | bool = False) -> Array:
    """The BFGS inverse-Hessian update B₊ of :class:`BFGSDescent` in O(n²), for a symmetric B
    and yᵀs > 0; with ``first``, B is first replaced by (yᵀs / yᵀy)·I."""
    ys = jnp.dot(y, s)
    safe_ys = jnp.where(ys > 0, ys, 1.0)
    gamma = safe_ys / jnp.dot(y, y)
    # B·y, and for the first update's B = γI simply γ·y: no n×n product either way
    u = jnp.where(first, gamma * y, inv_hess @ y)
    base = jnp.where(first, gamma * jnp.eye(s.size, dtype=s.dtype), inv_hess)
    coefficient = (safe_ys + jnp.dot(y, u)) / safe_ys**2
    return (base + coefficient * jnp.outer(s, s)
            - (jnp.outer(u, s) + jnp.outer(s, u)) / safe_ys)


@dataclasses.dataclass(frozen=True)
class BFGS(LineSearchSolver):
    """BFGS (dense n×n inverse-Hessian estimate) with a folded line search.

    Args:
        line_search: "backtracking" (Armijo, default), "wolfe" (strong Wolfe conditions: every
            accepted step then has yᵀs > 0, so no update is skipped), "none" or a
            ``LineSearch``.
    """

    default_max_steps: ClassVar[int] = LARGE_N_MAX_STEPS
    line_search: LineSearch | str | None = "backtracking"

    def __post_init__(self) -> None:
        _ = self.search  # an unknown line-search name fails here, not inside jit

    @property
    def descent(self) -> BFGSDescent:  # type: ignore[override]
        return BFGSDescent()
