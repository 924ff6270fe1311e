"""BFGS: a quasi-Newton direction d = −B·∇f from an inverse-Hessian estimate B."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from ._base import Array, FlatFun
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import LineSearch


@dataclasses.dataclass(frozen=True)
class BFGSDescent(Descent):
    """Inverse-Hessian estimate updated by

        B₊ = (I − ρ s yᵀ) B (I − ρ y sᵀ) + ρ s sᵀ,   ρ = 1/(yᵀs),

    skipped when yᵀs ≤ √ε‖s‖‖y‖ (no curvature information, which Armijo alone cannot
    guarantee). Before the first update B is rescaled to (yᵀs / yᵀy)·I (Nocedal & Wright 6.20).
    """

    def init(self, x: Array, g: Array) -> tuple[Array, Array]:
        scale = 1.0 / jnp.maximum(1.0, jnp.linalg.norm(g))
        return jnp.eye(x.size, dtype=x.dtype) * scale, jnp.asarray(True)

    def update(self, state: tuple[Array, Array], s: Array, y: Array) -> tuple[Array, Array]:
        inv_hess, first = state
        ys = jnp.dot(y, s)
        eps = jnp.finfo(s.dtype).eps
        useful = ys > jnp.sqrt(eps) * jnp.linalg.norm(s) * jnp.linalg.norm(y)
        safe_ys = jnp.where(useful, ys, 1.0)
        identity = jnp.eye(s.size, dtype=s.dtype)
        scaled = jnp.where(first, identity * safe_ys / jnp.dot(y, y), inv_hess)
        rho = 1.0 / safe_ys
        left = identity - rho * jnp.outer(s, y)
        updated = left @ scaled @ left.T + rho * jnp.outer(s, s)
        return jnp.where(useful, updated, inv_hess), first & ~useful

    def direction(self, fun: FlatFun, x: Array, g: Array, state: tuple[Array, Array]) -> Direction:
        d = -state[0] @ g
        zero = jnp.zeros((), x.dtype)
        return Direction(d=d, curvature=zero, escape=jnp.asarray(False), aux={}, state=state)


@dataclasses.dataclass(frozen=True)
class BFGS(LineSearchSolver):
    """BFGS (dense n×n inverse-Hessian estimate) with a folded line search.

    Args:
        line_search: "backtracking" (Armijo, default), "wolfe" (strong Wolfe conditions: every
            accepted step then has yᵀs > 0, so no update is skipped), "none" or a
            ``LineSearch``.
    """

    line_search: LineSearch | str | None = "backtracking"

    def __post_init__(self) -> None:
        _ = self.search  # an unknown line-search name fails here, not inside jit

    @property
    def descent(self) -> BFGSDescent:  # type: ignore[override]
        return BFGSDescent()
