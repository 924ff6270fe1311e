"""Truncated Newton (Newton–CG): the Newton system solved inexactly by conjugate gradients.

Only Hessian–vector products Hv = d/dε ∇f(x + εv) are used (one jvp of the gradient each), so
neither H nor its factorisation is ever formed: the method scales to large n. CG on
H d = −∇f stops when ‖H d + ∇f‖ ≤ η‖∇f‖ with the forcing term η = min(½, √‖∇f‖) (superlinear
convergence, Nocedal & Wright 7.1), after ``max_cg_steps`` iterations, or when it meets a
direction of non-positive curvature pᵀHp ≤ 0: then it returns the iterate so far, or −∇f if
that is the first CG direction
(scaled by ‖∇f‖²/|∇fᵀH∇f|), so the result is always a descent direction. The CG loop is
a nested ``while_loop`` (its trip count depends on conditioning, unlike line-search trials).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax import lax

from ._base import Array, FlatFun
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import LineSearch


@dataclasses.dataclass(frozen=True)
class NewtonCGDescent(Descent):
    max_cg_steps: int | None = None
    aux_names = ("cg_steps",)

    def direction(self, fun: FlatFun, x: Array, g: Array, state: object) -> Direction:
        grad = jax.grad(fun)

        def hvp(v: Array) -> Array:
            return jax.jvp(grad, (x,), (v,))[1]

        g_norm = jnp.linalg.norm(g)
        tol = jnp.minimum(0.5, jnp.sqrt(g_norm)) * g_norm
        max_steps = self.max_cg_steps or x.size
        tiny = jnp.finfo(x.dtype).tiny

        # carry: (k, d, r, p, r·r, done, negative curvature seen, d·Hd)
        def cond(c):  # noqa: ANN001, ANN202
            k, _, _, _, _, done, _, _ = c
            return (k < max_steps) & ~done

        def body(c):  # noqa: ANN001, ANN202
            k, d, r, p, rr, _, _, dhd = c
            hp = hvp(p)
            php = jnp.dot(p, hp)
            negative = php <= tiny
            alpha = rr / jnp.where(negative, 1.0, php)
            d_new = d + alpha * p
            r_new = r + alpha * hp
            rr_new = jnp.dot(r_new, r_new)
            beta = rr_new / jnp.maximum(rr, tiny)
            # d·Hd of the CG iterate, updated by conjugacy: dₖ₊₁ᵀHdₖ₊₁ = dₖᵀHdₖ + α²pᵀHp
            dhd_new = dhd + alpha**2 * php
            keep = ~negative
            return (
                k + 1,
                jnp.where(keep, d_new, d),
                jnp.where(keep, r_new, r),
                jnp.where(keep, -r_new + beta * p, p),
                jnp.where(keep, rr_new, rr),
                negative | (jnp.sqrt(rr_new) <= tol),
                negative,
                jnp.where(keep, dhd_new, dhd),
            )

        zero = jnp.zeros_like(x)
        init = (jnp.int32(0), zero, g, -g, jnp.dot(g, g), g_norm == 0, jnp.asarray(False),
                jnp.zeros((), x.dtype))
        k, d, _, _, _, _, _, dhd = lax.while_loop(cond, body, init)
        # negative curvature on the very first direction: steepest descent, scaled by
        # ‖∇f‖²/|∇fᵀH∇f| so that its length reflects the curvature met along it
        first = jnp.all(d == 0)
        ghg = jnp.dot(g, hvp(g))
        scale = jnp.where(jnp.abs(ghg) > tiny, jnp.dot(g, g) / jnp.abs(ghg), 1.0)
        d = jnp.where(first, -scale * g, d)
        curvature = jnp.where(first, scale**2 * ghg, dhd)
        return Direction(d=d, curvature=curvature, escape=jnp.asarray(False),
                         aux={"cg_steps": k.astype(x.dtype)}, state=state)


@dataclasses.dataclass(frozen=True)
class NewtonCG(LineSearchSolver):
    """Newton–CG with a folded line search from t = 1 (matrix-free, for large n).

    Args:
        line_search: "backtracking" (default), "wolfe", "none" or a ``LineSearch``.
        max_cg_steps: cap on CG iterations per step (default n).
    """

    line_search: LineSearch | str | None = "backtracking"
    max_cg_steps: int | None = None

    def __post_init__(self) -> None:
        if self.max_cg_steps is not None and (
                isinstance(self.max_cg_steps, bool) or not isinstance(self.max_cg_steps, int)
                or self.max_cg_steps < 1):
            raise ValueError(f"max_cg_steps must be a positive integer, got "
                             f"{self.max_cg_steps!r}")
        _ = self.search  # an unknown line-search name fails here, not inside jit

    @property
    def descent(self) -> NewtonCGDescent:  # type: ignore[override]
        return NewtonCGDescent(self.max_cg_steps)
