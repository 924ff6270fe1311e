"""Bound-constrained solvers: min f(x) subject to l ≤ x ≤ u (``minimize(..., bounds=...)``).

Three methods share one projected-search loop (Bertsekas, "Projected Newton methods for
optimization problems with simple constraints", SIAM J. Control Optim. 20, 1982):

* ``gradient_descent`` → :class:`ProjectedGradient`: d = −∇f, trial points along the projection
  arc x(t) = P(x − t∇f), accepted by the projected Armijo rule
  f(x(t)) ≤ f(x) − σ·∇fᵀ(x − x(t)); the first trial length of each search is the
  Barzilai–Borwein step sᵀs/sᵀy of the last accepted step (spectral projected gradient).
* ``newton`` → :class:`ProjectedNewton`: with w = ‖x − P(x − ∇f)‖ and εₖ = min(ε, w), the
  ε-active set A holds the variables within εₖ of a bound with the gradient pushing outward
  (xᵢ ≤ lᵢ + εₖ and ∂ᵢf > 0, or xᵢ ≥ uᵢ − εₖ and ∂ᵢf < 0). On the free variables F the step
  is Newton's on the reduced Hessian H_FF, regularised like ``Newton``'s when H_FF is not
  positive definite ("eigen": |λ| floored at 10·ε·max|λ|; or "levenberg"); on A it is the
  diagonally scaled gradient step dᵢ = −∂ᵢf/|Hᵢᵢ|. The trial point is x(t) = P(x + t·d) from
  t = 1 and the Armijo rule is Bertsekas's:
  f(x) − f(x(t)) ≥ σ·(t·Σ_{i∈F} −∂ᵢf·dᵢ + Σ_{i∈A} ∂ᵢf·(xᵢ − xᵢ(t))).
* ``lbfgs`` → :class:`ProjectedLBFGS`: the same active set and search, with the free step
  from the L-BFGS two-loop recursion on the free variables: d_F = −H̃·∇_F f where H̃ is built
  from the last m pairs restricted to F, (s_F, y_F), skipping pairs with s_Fᵀy_F ≤ ε·‖y_F‖²
  (the curvature condition on the free subspace), and scaled by γ = s_Fᵀy_F/y_Fᵀy_F of the
  newest pair kept; on A, dᵢ = −γ·∂ᵢf. This is the "projected two-loop" variant, not
  L-BFGS-B's generalised Cauchy point + subspace minimisation: once the active set settles it
  is L-BFGS on the free variables, and Bertsekas's theory (a scaling diagonal on A) gives
  convergence to KKT points.

Rejected trials shrink t by a safeguarded quadratic interpolation (t ← t·[0.1, 0.5]); a search
fails after ``max_trials`` trials or when t·‖d‖∞ falls below ε·(1 + ‖x‖∞) (LINE_SEARCH_FAILED).

The driver is unchanged: ``state.g`` holds the KKT residual r = x − P(x − ∇f(x)), so the
driver's test ‖state.g‖₂ ≤ grad_tol is the stopping rule "KKT point to grad_tol" (``r`` is
∇f itself away from the bounds); the true gradient is ``state.grad``. The start is projected
into the box first: x₀ ← P(x₀) = min(max(x₀, l), u). Each step records ``num_active`` (|A|).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._box import Box, kkt_residual, make_box, project
from .._linalg import dot, max_abs, norm, symmetric_eigh
from ._base import UNEVALUATED, Array, FlatFun, Solver, StepInfo

#: the sufficient-decrease constant σ of the projected Armijo rule
ARMIJO_SIGMA = 1e-4


class BoundedState(NamedTuple):
    x: Array
    f: Array
    g: Array  # the KKT residual x − P(x − ∇f): what the driver stops on
    grad: Array  # ∇f(x)
    d: Array  # the search direction at unit length
    p: Array  # P(x + d) − x: the projected unit step (the driver's direction field)
    linear: Array  # bool mask: variables whose Armijo term is t·(−∂ᵢf·dᵢ) (the free set)
    t: Array  # the current trial length
    trials: Array  # rejected trials in this search (UNEVALUATED: x is a start not evaluated yet)
    memory: Any  # method-specific (L-BFGS pairs, the last step for Barzilai–Borwein)
    num_active: Array


def active_set(x: Array, grad: Array, lower: Array, upper: Array, eps: Array) -> Array:
    """Bertsekas's ε-active set: within eps of a bound with the gradient pushing outward."""
    return (((x - lower) <= eps) & (grad > 0)) | (((upper - x) <= eps) & (grad < 0))


@dataclasses.dataclass(frozen=True)
class _Projected(Solver):
    """The projected search shared by the bounded methods (module docstring)."""

    box: Box
    max_trials: int = 40

    direction_field: ClassVar[str] = "p"
    aux_names: ClassVar[tuple[str, ...]] = ("num_active",)

    # -- what each method supplies -------------------------------------------------------
    def init_memory(self, x: Array) -> Any:
        return ()

    def update_memory(self, memory: Any, s: Array, y: Array) -> Any:
        return memory

    def direction(self, fun: FlatFun, x: Array, grad: Array, resid: Array, memory: Any,
                  lower: Array, upper: Array) -> tuple[Array, Array, Array]:
        """(d, linear mask, first trial length)."""
        raise NotImplementedError

    # -- the shared loop -----------------------------------------------------------------
    def _at(self, fun: FlatFun, x: Array, f: Array, grad: Array, memory: Any
            ) -> BoundedState:
        lower, upper = self.box.arrays(x.dtype)
        resid = kkt_residual(x, grad, lower, upper)
        d, linear, t = self.direction(fun, x, grad, resid, memory, lower, upper)
        p = project(x + d, lower, upper) - x
        num_active = jnp.sum(active_set(x, grad, lower, upper, norm(resid))).astype(x.dtype)
        return BoundedState(x, f, resid, grad, d, p, linear, t.astype(x.dtype),
                            jnp.int32(0), memory, num_active)

    evaluates_start_in_loop = True

    def init(self, fun: FlatFun, x: Array) -> BoundedState:
        """The projected x₀, not yet evaluated (``trials`` = UNEVALUATED): the first trip
        takes the trial x₀ + 0·(−0), which is x₀ bit for bit, as its accepted step."""
        lower, upper = self.box.arrays(x.dtype)
        x = project(x, lower, upper)
        zero = jnp.zeros((), x.dtype)
        return BoundedState(
            x=x, f=jnp.full((), jnp.nan, x.dtype), g=jnp.zeros_like(x), grad=jnp.zeros_like(x),
            d=jnp.full_like(x, -0.0), p=jnp.zeros_like(x), linear=jnp.zeros(x.shape, bool),
            t=zero, trials=jnp.int32(UNEVALUATED), memory=self.init_memory(x), num_active=zero)

    def step(self, fun: FlatFun, state: BoundedState) -> tuple[BoundedState, StepInfo]:
        x, t, d = state.x, state.t, state.d
        start = state.trials == UNEVALUATED
        lower, upper = self.box.arrays(x.dtype)
        x_t = project(x + t * d, lower, upper)
        f_t, grad_t = jax.value_and_grad(fun)(x_t)
        predicted = (t * jnp.sum(jnp.where(state.linear, -state.grad * d, 0.0))
                     + jnp.sum(jnp.where(state.linear, 0.0, state.grad * (x - x_t))))
        moved = jnp.any(x_t != x)
        accepted = (moved & (f_t <= state.f - ARMIJO_SIGMA * predicted) & jnp.isfinite(f_t)
                    | start)

        def accept(_: None) -> BoundedState:
            memory = lax.cond(start, lambda: state.memory, lambda: self.update_memory(
                state.memory, x_t - x, grad_t - state.grad))
            return self._at(fun, x_t, f_t, grad_t, memory)

        def reject(_: None) -> BoundedState:
            # the quadratic through f(0), the slope −predicted/t and f(t), kept in [0.1t, 0.5t]
            slope = -predicted / t
            curve = f_t - state.f - slope * t
            t_quad = jnp.where(curve > 0, -slope * t * t / (2 * jnp.where(curve > 0, curve,
                                                                          1.0)), 0.5 * t)
            t_new = jnp.clip(jnp.where(jnp.isfinite(t_quad), t_quad, 0.1 * t), 0.1 * t,
                             0.5 * t)
            return state._replace(t=t_new, trials=state.trials + 1)

        new = lax.cond(accepted, accept, reject, None)
        eps = jnp.finfo(x.dtype).eps
        exhausted = (new.trials >= self.max_trials) | (
            new.t * max_abs(d) <= eps * (1 + max_abs(x)))
        info = StepInfo(accepted=accepted, failed=~accepted & exhausted, step_size=t,
                        aux={"num_active": new.num_active})
        return new, info


def _eps_active(x: Array, grad: Array, resid: Array, lower: Array, upper: Array,
                active_tol: float) -> Array:
    return active_set(x, grad, lower, upper, jnp.minimum(active_tol, norm(resid)))


@dataclasses.dataclass(frozen=True)
class ProjectedGradient(_Projected):
    """Projected gradient descent with the projected Armijo search along P(x − t∇f).

    Args:
        step_size: the first trial length of the first search (later searches start from
            the Barzilai–Borwein step sᵀs/sᵀy of the last accepted step, or from step_size
            again when sᵀy ≤ 0).
        max_trials: rejected trials allowed per search.
    """

    step_size: float = 1.0

    def init_memory(self, x: Array) -> Any:
        # (the last accepted step's BB length, or NaN before the first step)
        return jnp.asarray(jnp.nan, x.dtype)

    def update_memory(self, memory: Any, s: Array, y: Array) -> Any:
        sy, ss = dot(s, y), dot(s, s)
        return jnp.where(sy > 0, ss / jnp.where(sy > 0, sy, 1.0), -1.0)

    def direction(self, fun: FlatFun, x: Array, grad: Array, resid: Array, memory: Any,
                  lower: Array, upper: Array) -> tuple[Array, Array, Array]:
        first = jnp.asarray(self.step_size, x.dtype)
        t = jnp.where(jnp.isnan(memory), first, jnp.where(memory > 0, memory, first))
        t = jnp.clip(t, 1e-12, 1e12)
        return -grad, jnp.zeros(x.shape, bool), t


@dataclasses.dataclass(frozen=True)
class ProjectedNewton(_Projected):
    """Bertsekas's projected Newton method with the ε-active set (module docstring).

    Args:
        regularization: "eigen" (|λ| of the reduced Hessian floored at 10·ε·max|λ|, the
            saddle-free step; default) or "levenberg" (H_FF + μI, μ = √ε·max|λ| − λ_min where
            H_FF is not positive definite).
        active_tol: ε of the ε-active set (εₖ = min(ε, ‖x − P(x − ∇f)‖)).
        max_trials: rejected trials allowed per search.
    """

    regularization: str = "eigen"
    active_tol: float = 1e-3

    def __post_init__(self) -> None:
        if self.regularization not in ("eigen", "levenberg"):
            raise ValueError(f"bounded newton: unknown regularization {self.regularization!r};"
                             " expected 'eigen' or 'levenberg'")

    def direction(self, fun: FlatFun, x: Array, grad: Array, resid: Array, memory: Any,
                  lower: Array, upper: Array) -> tuple[Array, Array, Array]:
        hess = jax.hessian(fun)(x)
        hess = 0.5 * (hess + hess.T)
        active = _eps_active(x, grad, resid, lower, upper, self.active_tol)
        free = ~active
        # H_FF in place, the identity on A: block diagonal, so the step on F is H_FF's alone
        reduced = jnp.where(free[:, None] & free[None, :], hess, 0.0) + jnp.diag(
            jnp.where(active, 1.0, 0.0))
        lam, vecs = symmetric_eigh(reduced)
        eps = jnp.finfo(x.dtype).eps
        floor = jnp.maximum(10 * eps * max_abs(lam), jnp.finfo(x.dtype).tiny)
        if self.regularization == "eigen":
            lam_used = jnp.maximum(jnp.abs(lam), floor)
        else:
            margin = jnp.maximum(jnp.sqrt(eps) * max_abs(lam), floor)
            lam_used = lam + jnp.where(lam[0] > floor, 0.0, margin - lam[0])
        g_free = jnp.where(free, grad, 0.0)
        d_free = -(vecs @ ((vecs.T @ g_free) / lam_used))
        diag = jnp.abs(jnp.diagonal(hess))
        scale = jnp.where(diag > floor, diag, 1.0)
        d = jnp.where(free, d_free, -grad / scale)
        return d, free, jnp.ones((), x.dtype)


class _Pairs(NamedTuple):
    s: Array  # [m, n], newest first
    y: Array
    count: Array


@dataclasses.dataclass(frozen=True)
class ProjectedLBFGS(_Projected):
    """L-BFGS on the free variables with Bertsekas's active set (module docstring).

    Args:
        memory_size: number of (s, y) pairs kept.
        active_tol: ε of the ε-active set.
        max_trials: rejected trials allowed per search.
    """

    memory_size: int = 10
    active_tol: float = 1e-3

    def __post_init__(self) -> None:
        if isinstance(self.memory_size, bool) or not isinstance(self.memory_size, int) \
                or self.memory_size < 1:
            raise ValueError(f"bounded lbfgs: memory_size must be a positive integer, got "
                             f"{self.memory_size!r}")

    def init_memory(self, x: Array) -> Any:
        m = self.memory_size
        return _Pairs(jnp.zeros((m, x.size), x.dtype), jnp.zeros((m, x.size), x.dtype),
                      jnp.int32(0))

    def update_memory(self, memory: Any, s: Array, y: Array) -> Any:
        eps = jnp.finfo(s.dtype).eps
        keep = dot(s, y) > eps * dot(y, y)
        s_all = jnp.concatenate([s[None], memory.s[:-1]])
        y_all = jnp.concatenate([y[None], memory.y[:-1]])
        return _Pairs(jnp.where(keep, s_all, memory.s), jnp.where(keep, y_all, memory.y),
                      jnp.where(keep, jnp.minimum(memory.count + 1, self.memory_size),
                                memory.count))

    def direction(self, fun: FlatFun, x: Array, grad: Array, resid: Array, memory: Any,
                  lower: Array, upper: Array) -> tuple[Array, Array, Array]:
        active = _eps_active(x, grad, resid, lower, upper, self.active_tol)
        free = ~active
        eps = jnp.finfo(x.dtype).eps
        s = jnp.where(free[None, :], memory.s, 0.0)
        y = jnp.where(free[None, :], memory.y, 0.0)
        sy = jnp.sum(s * y, axis=1)
        yy = jnp.sum(y * y, axis=1)
        valid = (jnp.arange(self.memory_size) < memory.count) & (sy > eps * yy) & (yy > 0)
        rho = jnp.where(valid, 1.0 / jnp.where(valid, sy, 1.0), 0.0)
        # γ from the newest pair kept on F; before any, a unit-length first step
        newest = jnp.argmax(valid)
        any_valid = jnp.any(valid)
        gamma = jnp.where(any_valid, sy[newest] / jnp.where(any_valid, yy[newest], 1.0),
                          1.0 / jnp.maximum(norm(grad), jnp.finfo(x.dtype).tiny))
        q = jnp.where(free, grad, 0.0)

        def backward(i: int, carry: tuple[Array, Array]) -> tuple[Array, Array]:
            q, alphas = carry
            a = rho[i] * dot(s[i], q)
            return q - a * y[i], alphas.at[i].set(a)

        q, alphas = lax.fori_loop(0, self.memory_size, backward,
                                  (q, jnp.zeros(self.memory_size, x.dtype)))
        r = gamma * q

        def forward(j: int, r: Array) -> Array:
            i = self.memory_size - 1 - j
            b = rho[i] * dot(y[i], r)
            return r + (alphas[i] - b) * s[i]

        r = lax.fori_loop(0, self.memory_size, forward, r)
        d = jnp.where(free, -r, -gamma * grad)
        return d, free, jnp.ones((), x.dtype)


#: method name → (bounded solver class, options it takes)
BOUNDED_METHODS: dict[str, type[_Projected]] = {
    "gradient_descent": ProjectedGradient,
    "newton": ProjectedNewton,
    "lbfgs": ProjectedLBFGS,
}


def bounded_solver(method: Any, box: Box, **options: Any) -> Solver:
    """The bounded variant of ``method`` ("gradient_descent", "newton", "lbfgs") on ``box``.

    A bounded solver object is returned as is (it already holds its box, which must then be
    the same); any other solver object or method name is refused with one line.
    """
    if isinstance(method, _Projected):
        if options:
            raise TypeError(f"options {sorted(options)} given with a solver object; set them "
                            "on the solver instead")
        if method.box != box:
            return dataclasses.replace(method, box=box)
        return method
    if not isinstance(method, str) or method not in BOUNDED_METHODS:
        raise ValueError(f"bounds= works with the methods {', '.join(BOUNDED_METHODS)}, "
                         f"got {method!r}")
    cls = BOUNDED_METHODS[method]
    accepted = [f.name for f in dataclasses.fields(cls) if f.name != "box"]
    for key in options:
        if key not in accepted:
            raise TypeError(f"unknown option {key!r} for method {method!r} with bounds; it "
                            f"takes {', '.join(accepted)}")
    return cls(box=box, **options)


def bounded(method: Any, bounds: Any, x0: Any, **options: Any) -> Solver:
    """``bounded_solver(method, make_box(bounds, x0), **options)``."""
    return bounded_solver(method, make_box(bounds, x0), **options)
