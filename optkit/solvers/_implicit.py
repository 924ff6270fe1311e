"""Derivatives of a solution with respect to the data it was solved for.

At a strict local minimum x*(θ) of f(·, θ) the gradient vanishes, ∇ₓf(x*(θ), θ) = 0, and the
Hessian H = ∇²ₓf(x*, θ) is positive definite, so by the implicit function theorem

    ∂x*/∂θ = −H⁻¹ ∂²f/∂x∂θ,

and the optimal value has (chain rule; the second term vanishes at an exact minimiser)

    ∂f*/∂θ = ∂f/∂θ (x*, θ) + ∇ₓf(x*, θ)ᵀ ∂x*/∂θ.

:func:`implicit_tangents` is that rule; ``minimize`` makes it the ``jax.custom_jvp`` of the
whole solve (the loop itself is never differentiated). The linear solve is a
``lax.custom_linear_solve``, which JAX can transpose, so reverse mode
(``jax.grad``, ``jax.jacrev``) works as well as forward mode (``jax.jvp``, ``jax.jacfwd``),
and both work under ``vmap``.

The solve: for n ≤ :data:`DENSE_MAX` the dense Hessian and its Cholesky factor (one factor
per solution, shared by every tangent); above, conjugate gradients on Hessian–vector products
(forward over reverse), so no n×n matrix is formed.

Where the rule does not apply the derivative is NaN, never a silently wrong number:

* the solve did not end CONVERGED (any other status);
* the end point was classified (``classify``, on by default) and is not a ``minimum`` (a
  saddle, a maximum, or degenerate: an eigenvalue of H within the classification's
  tolerance of zero);
* n ≤ DENSE_MAX: the Cholesky factorisation of H fails (H not positive definite);
* n > DENSE_MAX: conjugate gradients meets a direction p with pᵀHp ≤ 0, or does not reach
  the relative residual ε^(2/3) (ε the machine epsilon of x) within 2n + 20 iterations.
  Without classification this is the only check of H, and it sees only the directions CG
  explores: an indefinite H whose negative directions the right-hand side does not excite
  goes unnoticed there.

The start x0 gets a zero derivative: the solution of a converged solve does not depend on
where it started (locally, within one basin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from .._linalg import after

Array = jax.Array

#: largest number of parameters for which the implicit derivative uses the dense Hessian
#: and a Cholesky factorisation; above it, conjugate gradients on Hessian–vector products
DENSE_MAX = 200


def implicit_tangents(objective: Callable[..., Array], x: Array, value: Array, valid: Array,
                      args: tuple[Any, ...], dargs: tuple[Any, ...], dense: bool | None = None
                      ) -> tuple[Array, Array]:
    """(dx*, df*) for the data tangent ``dargs`` by the implicit function theorem (module
    docstring); both are linear in ``dargs``, so JAX can transpose them for reverse mode.

    Args:
        objective: f(z, *args) of the flat parameter vector z, traceable.
        x: the flat solution x*.
        value: f(x*, *args).
        valid: whether the rule applies (the solve ended CONVERGED at a minimum); where
            false, every derivative is NaN.
        args: the data θ, a tuple of pytrees; ``dargs`` its tangent.
        dense: Cholesky of the dense Hessian (True) or CG (False); default n ≤ DENSE_MAX.
    """

    def grad_x(z: Array, a: tuple[Any, ...]) -> Array:
        return jax.grad(objective)(z, *a)

    # ∇ₓf and ∂²f/∂x∂θ · dθ; f and ∂f/∂θ · dθ
    g, rhs = jax.jvp(lambda a: grad_x(x, a), (args,), (dargs,))
    _, df_theta = jax.jvp(lambda a: objective(x, *a), (args,), (dargs,))

    def hvp(v: Array) -> Array:
        return jax.jvp(lambda z: grad_x(z, args), (x,), (v,))[1]

    ok = valid
    if dense if dense is not None else x.size <= DENSE_MAX:
        # after the classification's eigendecompositions (``valid`` holds its verdict):
        # LAPACK calls must not run at once (see _linalg.after)
        hess = after(jax.jacfwd(lambda z: grad_x(z, args))(x), valid)
        chol = jnp.linalg.cholesky(0.5 * (hess + hess.T))
        ok = ok & jnp.all(jnp.isfinite(chol))

        def solve(_matvec: Callable[[Array], Array], b: Array) -> Array:
            return jax.scipy.linalg.cho_solve((chol, True), b)
    else:
        solve = _cg_solve

    dx = -lax.custom_linear_solve(hvp, rhs, solve, symmetric=True)
    # a multiplication by a primal constant keeps the tangent map linear (transposable), and
    # spreads NaN into every derivative where the theorem does not apply
    scale = jnp.where(ok, jnp.ones((), x.dtype), jnp.full((), jnp.nan, x.dtype))
    dx = dx * scale
    dvalue = (df_theta + jnp.vdot(g, dx)).astype(value.dtype)
    return dx, dvalue


def _cg_solve(matvec: Callable[[Array], Array], b: Array) -> Array:
    """H⁻¹b by conjugate gradients for a symmetric positive definite H given as ``matvec``;
    NaN where a direction of non-positive curvature appears or the relative residual
    ε^(2/3) is not reached within 2n + 20 iterations."""
    dtype = b.dtype
    rtol = jnp.finfo(dtype).eps ** (2.0 / 3.0)
    max_iter = 2 * b.size + 20
    bb = jnp.vdot(b, b)
    stop_rr = (rtol ** 2) * bb

    def cond(c: tuple[Any, ...]) -> Array:
        _, _, _, rr, k, ok = c
        return ok & (rr > stop_rr) & (k < max_iter)

    def body(c: tuple[Any, ...]) -> tuple[Any, ...]:
        x, r, p, rr, k, ok = c
        hp = matvec(p)
        php = jnp.vdot(p, hp)
        ok = php > 0
        alpha = jnp.where(ok, rr / jnp.where(ok, php, 1), 0)
        x = x + alpha * p
        r = r - alpha * hp
        rr_new = jnp.vdot(r, r)
        p = r + (rr_new / jnp.where(rr > 0, rr, 1)) * p
        return x, r, p, rr_new, k + 1, ok

    x0 = jnp.zeros_like(b)
    x, _, _, rr, _, ok = lax.while_loop(cond, body, (x0, b, b, bb, jnp.int32(0),
                                                     jnp.asarray(True)))
    good = ok & (rr <= stop_rr)
    return jnp.where(good, x, jnp.nan)
