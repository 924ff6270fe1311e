"""Nonlinear least squares: Gauss–Newton and Levenberg–Marquardt on a residual vector.

The problem is  min_x f(x) = ½‖r(x)‖²,  r: ℝⁿ → ℝᵐ,  with  ∇f = Jᵀr  (J = ∂r/∂x, m × n).
Both methods model r by its linearisation r(x + p) ≈ r + Jp, i.e. f by

    L(p) = ½‖r + Jp‖² = f + gᵀp + ½ pᵀJᵀJp,

a model whose Hessian JᵀJ needs only first derivatives of r.

The driver minimises a scalar function (``_driver``), so these solvers run on a
:class:`SumOfSquares`: a callable f = ½‖r‖² that also carries r. The solver keeps r and J in
its state; every trip round the driver's loop evaluates r at one trial point, and J only where
a trial is accepted (``num_residual_evals`` / ``num_jacobian_evals`` count both).

**Jacobians by shape.** J is built from m forward-mode products (``jax.jacfwd``'s way, one JVP
per column) when m ≥ n, and from reverse-mode products (``jax.jacrev``'s way, one VJP per
row) when m < n, whichever needs fewer passes; r comes from the same linearisation.

**Gauss–Newton** (``GaussNewton``): d minimises L (d = −J⁺r, from an SVD-based least-squares
solve, so rank-deficient J gives the minimum-norm step), then a backtracking Armijo search
on φ(t) = f(x + td): accept when φ(t) ≤ f + c₁·t·gᵀd, otherwise shrink t by quadratic
interpolation to within [t/10, t/2]. On a linear residual r = Ax − b the first full step lands
on the normal-equation solution AᵀAx = Aᵀb.

**Levenberg–Marquardt** (``LevenbergMarquardt``): p solves (JᵀJ + μD²)p = −g, with D = I
(``scaling="none"``, the default) or D the running maximum of J's column norms (MINPACK's
scaling, ``scaling="max"``; a zero column counts as 1). Up to ``dense_max`` variables μ
comes from a trust region on ‖Dp‖ ≤ Δ (Moré, "The Levenberg–Marquardt algorithm:
implementation and theory", 1978, as MINPACK's lmder): the Gauss–Newton step when it is
inside, otherwise the μ > 0 with ‖Dp‖ = Δ (:func:`trust_region_step`, from a thin SVD of
J·D⁻¹ computed once per accepted point, so a rejected trial costs no factorisation). A trial
is accepted when the gain ratio

    ρ = (f(x) − f(x + p)) / (L(0) − L(p))

exceeds η (default 1e-4); Δ₀ = factor·‖D·x0‖ (then at most the first step's length); after
ρ < ¼, Δ ← θ·min(Δ, 10‖Dp‖) with θ ∈ [0.1, 0.5] the minimiser of the quadratic through f, ∇fᵀp
and f(x + p); after ρ ≥ ¾ or a Gauss–Newton step, Δ ← 2‖Dp‖. A rejected trial is one trip
round the driver's loop (like a line-search trial).

**Near the solution** the decrease f(x) − f(x + p) drowns in the rounding of f when the
residual is not zero (|Δf| ≤ 10·ε·f). There a trial is accepted when it halves ‖∇f‖ instead
(J at the trial point is then evaluated to see it), as the trust-region solver does.

**Matrix-free** above ``dense_max`` variables (default 200): nothing m × n or n × n is formed.
Products Jv and Jᵀu come from ``jax.linearize`` and its transpose at x, and the step solves
(JᵀJ + μD²)p = −g by conjugate gradients (CG on the normal equations, i.e. CGLS; at most
``cg_max_steps`` iterations, to relative residual ``cg_tol``), with D = I. There μ follows
Nielsen's rule (Nielsen 1999; Madsen, Nielsen & Tingleff 2004) instead of a radius: after an
accepted step μ ← μ·max(⅓, 1 − (2ρ − 1)³), after a rejection μ ← μ·ν, ν ← 2ν (ν = 2 after an
acceptance), from μ₀ = ``initial_damping``·‖Jᵀr‖²/‖r‖² (a lower estimate of ‖J‖², the scale of
JᵀJ). Each matrix-free proposal re-linearises r at x, counted as a Jacobian evaluation.

Statuses: GN's exhausted line search is LINE_SEARCH_FAILED (ROUNDING_FLOOR where the driver
finds it at the rounding floor of f). LM fails with ROUNDING_FLOOR when a trial is rejected and
the next proposal promises a decrease L(0) − L(p) ≤ 10·ε·f, below the rounding error of f: no
trial can then decrease f measurably (a shrinking radius or growing μ always ends there).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from .._compile import jit, static_callable
from .._pytree import Unraveller, as_start, flatten
from ._base import Array, FlatFun, Solver, StepInfo
from ._driver import Loop
from ._result import Result
from ._status import Status

#: problems with more variables than this solve matrix-free (CG on JᵀJ via JVP/VJP)
DENSE_MAX = 200
#: the largest damping before Levenberg–Marquardt gives up (the step is then ~ 0)
MAX_DAMPING = 1e30


@dataclasses.dataclass(frozen=True)
class SumOfSquares:
    """f(x) = ½‖r(x)‖² as a callable that keeps r: what least-squares solvers step on.

    ``residual`` maps x (a flat vector, or the pytree ``unravel`` builds from one) to an array
    or a pytree of arrays; its leaves are raveled into the residual vector. ``dtype`` (when set)
    is the dtype f and r are returned in (the dtype rule of every solve: results come in the
    dtype of x0). Compared and hashed by ``residual`` (and the rest), so solves of the same
    residual function share a compiled program.
    """

    residual: Callable[[Any], Any]
    unravel: Callable[[Array], Any] | None = None
    dtype: Any = None

    def residual_vector(self, x: Array) -> Array:
        """r(x) as one flat vector (in ``dtype``, or x's dtype)."""
        out = self.residual(x if self.unravel is None else self.unravel(x))
        return ravel_pytree(out)[0].astype(self.dtype if self.dtype is not None else x.dtype)

    def __call__(self, x: Array) -> Array:
        r = self.residual_vector(x)
        return 0.5 * jnp.sum(r * r)

    def flat(self, unravel: Callable[[Array], Any], args: tuple[Any, ...] = ()
             ) -> SumOfSquares:
        """The same f as a function of the flat vector z that ``unravel`` maps to x, with
        ``args`` passed after x (``residual(unravel(z), *args)``)."""
        if self.unravel is not None:
            raise ValueError("SumOfSquares.flat: already a function of a flat vector")
        residual = self.residual
        if args:
            def residual(x: Any) -> Any:
                return self.residual(x, *args)
        return dataclasses.replace(self, residual=residual, unravel=unravel)

    def astype(self, dtype: Any) -> SumOfSquares:
        """The same f with its value (and r) cast to ``dtype``."""
        return dataclasses.replace(self, dtype=np.dtype(dtype).name)


def _residual_of(fun: FlatFun, method: str) -> Callable[[Array], Array]:
    if not isinstance(fun, SumOfSquares):
        raise TypeError(f"method {method!r} steps on a residual vector r, not on a scalar f: "
                        "call optkit.least_squares(residual, x0, method=...) (YAML: "
                        "problem.residuals)")
    return fun.residual_vector


def residual_and_jacobian(res: Callable[[Array], Array], x: Array) -> tuple[Array, Array]:
    """r(x) and the dense m × n Jacobian, by forward mode when m ≥ n, reverse mode otherwise."""
    m = jax.eval_shape(res, x).shape[0]
    n = x.shape[0]
    if m >= n:
        r, jvp = jax.linearize(res, x)
        jac = jax.vmap(jvp, out_axes=1)(jnp.eye(n, dtype=x.dtype))
    else:
        r, vjp = jax.vjp(res, x)
        jac = jax.vmap(lambda u: vjp(u)[0])(jnp.eye(m, dtype=r.dtype))
    return r, jac


def _residual_and_gradient(res: Callable[[Array], Array], x: Array) -> tuple[Array, Array]:
    """r(x) and g = Jᵀr by one reverse pass (matrix-free)."""
    r, vjp = jax.vjp(res, x)
    return r, vjp(r)[0]


def _half_norm2(r: Array) -> Array:
    return 0.5 * jnp.sum(r * r)


def _decrease(r: Array, r_trial: Array) -> Array:
    """f(x) − f(x + p) = ½ Σ (rᵢ − r̃ᵢ)(rᵢ + r̃ᵢ): without the cancellation of ½‖r‖² − ½‖r̃‖²."""
    return 0.5 * jnp.sum((r - r_trial) * (r + r_trial))


def _cg_normal(res: Callable[[Array], Array], x: Array, g: Array, shift: Array, diag: Array,
               max_steps: int, tol: float) -> Array:
    """Solve (JᵀJ + shift·diag(diag)) p = −g by conjugate gradients on JVP/VJP products."""
    _, jvp = jax.linearize(res, x)
    vjp = jax.linear_transpose(jvp, x)

    def apply(v: Array) -> Array:
        return vjp(jvp(v))[0] + shift * diag * v

    b = -g
    target = (tol * jnp.linalg.norm(b)) ** 2

    def cond(c: tuple[Array, Array, Array, Array, Array]) -> Array:
        _, res_k, _, rr, k = c
        return (k < max_steps) & (rr > target)

    def body(c: tuple[Array, Array, Array, Array, Array]
             ) -> tuple[Array, Array, Array, Array, Array]:
        p, res_k, d, rr, k = c
        ad = apply(d)
        dad = jnp.vdot(d, ad)
        alpha = jnp.where(dad > 0, rr / jnp.where(dad > 0, dad, 1.0), 0.0)
        p = p + alpha * d
        res_k = res_k - alpha * ad
        rr_new = jnp.vdot(res_k, res_k)
        beta = rr_new / jnp.where(rr > 0, rr, 1.0)
        # a direction of zero curvature ends the iteration (k jumps to the cap)
        k = jnp.where(dad > 0, k + 1, max_steps)
        return p, res_k, res_k + beta * d, rr_new, k

    start = (jnp.zeros_like(b), b, b, jnp.vdot(b, b), jnp.int32(0))
    return lax.while_loop(cond, body, start)[0]


# ---------------------------------------------------------------------------------------------
# Gauss–Newton with a backtracking line search


#: what least_squares reads from the state after the solve (its residual and counts too)
RESULT_FIELDS = ("x", "f", "g", "r", "num_residual_evals", "num_jacobian_evals")


class GaussNewtonState(NamedTuple):
    x: Array
    f: Array
    g: Array
    r: Array
    jac: Array | None  # m × n (None when matrix-free)
    d: Array  # the Gauss–Newton direction at x
    slope: Array  # gᵀd < 0
    t: Array  # the step length to try next
    trials: Array  # rejected trials of the current search
    num_residual_evals: Array
    num_jacobian_evals: Array


@dataclasses.dataclass(frozen=True)
class GaussNewton(Solver):
    """Gauss–Newton: d = argmin ‖r + Jd‖ (minimum norm), then an Armijo backtracking search
    on ½‖r(x + td)‖² (see the module docstring for the mathematics).

    Args:
        c1: Armijo constant: accept t when f(x + td) ≤ f(x) + c1·t·∇f(x)ᵀd.
        max_trials: rejected trials per search before the solve stops (LINE_SEARCH_FAILED).
        dense_max: with more variables than this, solve matrix-free (CG on JᵀJ).
        cg_max_steps: CG iterations per step in the matrix-free mode (0: n).
        cg_tol: relative residual at which CG stops in the matrix-free mode.
    """

    c1: float = 1e-4
    max_trials: int = 30
    dense_max: int = DENSE_MAX
    cg_max_steps: int = 0
    cg_tol: float = 1e-10

    aux_names = ("trials",)
    direction_field = "d"
    failure_status = Status.LINE_SEARCH_FAILED
    result_fields = RESULT_FIELDS
    needs_residuals: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not 0 < self.c1 < 1:
            raise ValueError(f"c1 must be in (0, 1), got {self.c1}")
        if self.max_trials < 1:
            raise ValueError(f"max_trials must be at least 1, got {self.max_trials}")

    def _direction(self, res: Callable[[Array], Array], x: Array, r: Array, jac: Array | None,
                   g: Array) -> tuple[Array, Array]:
        if jac is not None:
            d = jnp.linalg.lstsq(jac, -r)[0]
        else:
            d = _cg_normal(res, x, g, jnp.zeros((), x.dtype), jnp.ones_like(x),
                           self.cg_max_steps or x.size, self.cg_tol)
        slope = jnp.vdot(g, d)
        # a direction that is not downhill (rounding at a stationary point) becomes −g
        bad = ~(slope < 0)
        d = jnp.where(bad, -g, d)
        return d, jnp.where(bad, -jnp.vdot(g, g), slope)

    def _derivatives(self, res: Callable[[Array], Array], x: Array
                     ) -> tuple[Array, Array | None, Array]:
        if x.size <= self.dense_max:
            r, jac = residual_and_jacobian(res, x)
            return r, jac, jac.T @ r
        r, g = _residual_and_gradient(res, x)
        return r, None, g

    def init(self, fun: FlatFun, x: Array) -> GaussNewtonState:
        res = _residual_of(fun, "gauss_newton")
        r, jac, g = self._derivatives(res, x)
        d, slope = self._direction(res, x, r, jac, g)
        one = jnp.int32(1)
        return GaussNewtonState(x, _half_norm2(r), g, r, jac, d, slope, jnp.ones((), x.dtype),
                                jnp.int32(0), one, one)

    def step(self, fun: FlatFun, state: GaussNewtonState) -> tuple[GaussNewtonState, StepInfo]:
        res = _residual_of(fun, "gauss_newton")
        s = state
        eps = jnp.finfo(s.x.dtype).eps
        x_trial = s.x + s.t * s.d
        r_trial = res(x_trial)
        f_trial = _half_norm2(r_trial)
        decrease = _decrease(s.r, r_trial)
        finite = jnp.isfinite(f_trial) & jnp.all(jnp.isfinite(r_trial))
        armijo = finite & (decrease >= -self.c1 * s.t * s.slope)
        rounding = finite & ~armijo & (jnp.abs(decrease) <= 10 * eps * s.f)

        def at_trial(_: None) -> tuple[Array, Array | None, Array]:
            r, jac, g = self._derivatives(res, x_trial)
            return r, jac, g

        def keep(_: None) -> tuple[Array, Array | None, Array]:
            return s.r, s.jac, s.g

        evaluate = armijo | rounding
        r_new, jac_new, g_new = lax.cond(evaluate, at_trial, keep, None)
        accepted = armijo | (rounding & (jnp.linalg.norm(g_new) <= 0.5 * jnp.linalg.norm(s.g)))

        def accept(_: None) -> GaussNewtonState:
            d, slope = self._direction(res, x_trial, r_new, jac_new, g_new)
            return GaussNewtonState(x_trial, _half_norm2(r_new), g_new, r_new, jac_new, d, slope,
                                    jnp.ones_like(s.t), jnp.int32(0), s.num_residual_evals,
                                    s.num_jacobian_evals)

        def reject(_: None) -> GaussNewtonState:
            # minimiser of the quadratic through φ(0), φ'(0) and φ(t), kept in [t/10, t/2]
            curvature = -decrease - s.slope * s.t
            t_quad = -s.slope * s.t**2 / (2 * jnp.where(curvature > 0, curvature, 1.0))
            t_quad = jnp.where((curvature > 0) & finite, t_quad, 0.5 * s.t)
            t = jnp.clip(t_quad, 0.1 * s.t, 0.5 * s.t)
            return s._replace(t=t, trials=s.trials + 1)

        new = lax.cond(accepted, accept, reject, None)
        new = new._replace(num_residual_evals=s.num_residual_evals + 1,
                           num_jacobian_evals=s.num_jacobian_evals + evaluate.astype(jnp.int32))
        failed = ~accepted & (new.trials >= self.max_trials)
        info = StepInfo(accepted=accepted, failed=failed, step_size=s.t,
                        aux={"trials": s.trials.astype(s.x.dtype)})
        return new, info


# ---------------------------------------------------------------------------------------------
# Levenberg–Marquardt: Moré's trust region (dense), Nielsen's damping rule (matrix-free)


class LevenbergMarquardtState(NamedTuple):
    x: Array
    f: Array
    g: Array
    r: Array
    sing: Array | None  # singular values s of J·D⁻¹ = U·diag(s)·Vᵀ (dense only)
    ur: Array | None  # Uᵀr (dense only)
    vt: Array | None  # Vᵀ (dense only)
    scale: Array  # D: running max of J's column norms (dense), ones (matrix-free)
    radius: Array  # Δ, the bound on ‖Dp‖ (dense)
    damping: Array  # μ: the subproblem's multiplier (dense), Nielsen's μ (matrix-free)
    nu: Array  # Nielsen's growth factor of μ after a rejection (matrix-free)
    p: Array  # the proposed step
    predicted: Array  # L(0) − L(p) > 0
    num_residual_evals: Array
    num_jacobian_evals: Array


def trust_region_step(sing: Array, ur: Array, vt: Array, radius: Array, iterations: int = 30
                      ) -> tuple[Array, Array, Array]:
    """The Levenberg–Marquardt step of Moré (1978) in scaled variables q = Dp.

    With J·D⁻¹ = U·diag(s)·Vᵀ (thin SVD), minimise ½‖r + JD⁻¹q‖² over ‖q‖ ≤ Δ: the
    Gauss–Newton step q = −V·diag(1/s)·Uᵀr (pseudo-inverse: singular values below
    ε·max(s)·size count as zero) when it is inside, otherwise q(μ) = −V·(s·Uᵀr/(s² + μ)) with
    the μ > 0 where ‖q(μ)‖ = Δ, found by Newton's method on 1/‖q(μ)‖ − 1/Δ from μ = 0 (from
    the left of the root, where it converges monotonically; Moré & Sorensen 1983).

    Returns q, μ (0 for the Gauss–Newton step) and the model decrease L(0) − L(q).
    """
    ghat = sing * ur  # Vᵀ(D⁻¹g)
    tiny = jnp.finfo(sing.dtype).tiny
    cutoff = jnp.finfo(sing.dtype).eps * max(vt.shape) * jnp.max(sing, initial=0.0)
    positive = sing > cutoff
    q_gauss_newton = jnp.where(positive, -ur / jnp.where(positive, sing, 1.0), 0.0)
    interior = jnp.linalg.norm(q_gauss_newton) <= radius

    def components(mu: Array) -> tuple[Array, Array]:
        d = sing**2 + mu
        safe = jnp.where(d > 0, d, 1.0)
        return jnp.where(d > 0, -ghat / safe, 0.0), jnp.where(d > 0, ghat**2 / safe**3, 0.0)

    def newton(_: int, mu: Array) -> Array:
        q, dq = components(mu)
        q_norm = jnp.linalg.norm(q)
        step = (q_norm**2 / jnp.maximum(jnp.sum(dq), tiny)) * (q_norm - radius) / radius
        return jnp.maximum(mu + step, 0.0)

    mu = lax.fori_loop(0, iterations, newton, jnp.zeros((), sing.dtype))
    q = jnp.where(interior, q_gauss_newton, components(mu)[0])
    predicted = -jnp.vdot(ghat, q) - 0.5 * jnp.sum((sing * q) ** 2)
    return vt.T @ q, jnp.where(interior, 0.0, mu), predicted


@dataclasses.dataclass(frozen=True)
class LevenbergMarquardt(Solver):
    """Levenberg–Marquardt: (JᵀJ + μD²)p = −Jᵀr with μ from a trust region on ‖Dp‖ (Moré 1978,
    as MINPACK's lmder; D = I, or MINPACK's column-norm scaling) for up to ``dense_max``
    variables, and from Nielsen's rule, matrix-free, above. See the module docstring.

    Args:
        factor: the first trust-region radius is factor·‖D·x0‖ (factor if that is 0), as
            MINPACK's ``factor``; smaller is more cautious.
        scaling: "none" (default): D = I; "max": D = the running maximum of J's column
            norms (MINPACK's mode 1). On the MGH residual problems "none" took 865 residual
            evaluations in all and "max" 1200, most of the gap on Brown–Dennis (46 against
            416); "max" wins on Powell's badly scaled problem (18 against 64).
        initial_damping: matrix-free only: μ₀ = initial_damping·‖Jᵀr‖²/‖r‖² (Nielsen's τ).
        eta: accept a trial when the gain ratio ρ (actual over predicted decrease) exceeds eta.
        dense_max: with more variables than this, solve matrix-free (CG on JᵀJ + μI).
        cg_max_steps: CG iterations per step in the matrix-free mode (0: n).
        cg_tol: relative residual at which CG stops in the matrix-free mode.
    """

    factor: float = 100.0
    scaling: str = "none"
    initial_damping: float = 1e-3
    eta: float = 1e-4
    dense_max: int = DENSE_MAX
    cg_max_steps: int = 0
    cg_tol: float = 1e-10

    aux_names = ("radius", "damping", "rho")
    direction_field = "p"
    failure_status = Status.ROUNDING_FLOOR
    result_fields = RESULT_FIELDS
    needs_residuals: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not self.factor > 0:
            raise ValueError(f"factor must be positive, got {self.factor}")
        if not self.initial_damping > 0:
            raise ValueError(f"initial_damping must be positive, got {self.initial_damping}")
        if not 0 <= self.eta < 1:
            raise ValueError(f"eta must be in [0, 1), got {self.eta}")
        if self.scaling not in ("max", "none"):
            raise ValueError(f"scaling must be 'max' or 'none', got {self.scaling!r}")

    def _derivatives(self, res: Callable[[Array], Array], x: Array, scale: Array | None
                     ) -> tuple[Array, Array, Any]:
        """r, g = Jᵀr and (dense) the new D with the SVD (s, Uᵀr, Vᵀ) of J·D⁻¹."""
        if x.size > self.dense_max:
            r, g = _residual_and_gradient(res, x)
            return r, g, None
        r, jac = residual_and_jacobian(res, x)
        columns = jnp.linalg.norm(jac, axis=0)
        if self.scaling == "max":
            scale = jnp.where(columns > 0, columns, 1.0) if scale is None else jnp.maximum(
                scale, columns)
        else:
            scale = jnp.ones_like(x)
        u, sing, vt = jnp.linalg.svd(jac / scale, full_matrices=False)
        return r, jac.T @ r, (scale, sing, u.T @ r, vt)

    def _propose(self, res: Callable[[Array], Array], state: LevenbergMarquardtState
                 ) -> LevenbergMarquardtState:
        s = state
        if s.sing is not None:
            q, mu, predicted = trust_region_step(s.sing, s.ur, s.vt, s.radius)
            return s._replace(p=q / s.scale, damping=mu, predicted=predicted)
        p = _cg_normal(res, s.x, s.g, s.damping, s.scale, self.cg_max_steps or s.x.size,
                       self.cg_tol)
        # CG from 0 keeps pᵀ(JᵀJ + μI)p = −gᵀp, so this is L(0) − L(p) for its iterate
        predicted = 0.5 * (s.damping * jnp.vdot(p, s.scale * p) - jnp.vdot(s.g, p))
        return s._replace(p=p, predicted=predicted)

    def init(self, fun: FlatFun, x: Array) -> LevenbergMarquardtState:
        res = _residual_of(fun, "levenberg_marquardt")
        r, g, dense = self._derivatives(res, x, None)
        one, zero = jnp.int32(1), jnp.zeros((), x.dtype)
        if dense is None:
            norm_r2 = jnp.vdot(r, r)
            damping = self.initial_damping * jnp.vdot(g, g) / jnp.where(norm_r2 > 0, norm_r2, 1)
            state = LevenbergMarquardtState(
                x, _half_norm2(r), g, r, None, None, None, jnp.ones_like(x), zero,
                jnp.maximum(damping, jnp.finfo(x.dtype).tiny), jnp.asarray(2.0, x.dtype),
                jnp.zeros_like(x), zero, one, one)
            return self._propose(res, state)
        scale, sing, ur, vt = dense
        scaled_norm = jnp.linalg.norm(scale * x)
        radius = self.factor * jnp.where(scaled_norm > 0, scaled_norm, 1.0)
        state = LevenbergMarquardtState(x, _half_norm2(r), g, r, sing, ur, vt, scale, radius,
                                        zero, jnp.asarray(2.0, x.dtype), jnp.zeros_like(x),
                                        zero, one, one)
        state = self._propose(res, state)
        # MINPACK: the first radius is at most the first step's length
        return state._replace(radius=jnp.minimum(radius, jnp.linalg.norm(scale * state.p)))

    def step(self, fun: FlatFun, state: LevenbergMarquardtState
             ) -> tuple[LevenbergMarquardtState, StepInfo]:
        res = _residual_of(fun, "levenberg_marquardt")
        s = state
        dense = s.sing is not None
        eps, tiny = jnp.finfo(s.x.dtype).eps, jnp.finfo(s.x.dtype).tiny
        x_trial = s.x + s.p
        r_trial = res(x_trial)
        finite = jnp.isfinite(_half_norm2(r_trial)) & jnp.all(jnp.isfinite(r_trial))
        actual = jnp.where(finite, _decrease(s.r, r_trial), -jnp.inf)
        positive = s.predicted > 0
        rho = jnp.where(positive & finite, actual / jnp.where(positive, s.predicted, 1.0), -1.0)
        good = finite & positive & (rho > self.eta)
        # at the rounding floor of f a trial counts when it halves ‖∇f‖ instead
        rounding = finite & ~good & (jnp.abs(actual) <= 10 * eps * s.f)

        def at_trial(_: None) -> tuple[Array, Array, Any]:
            return self._derivatives(res, x_trial, s.scale if dense else None)

        def keep(_: None) -> tuple[Array, Array, Any]:
            return s.r, s.g, (s.scale, s.sing, s.ur, s.vt) if dense else None

        evaluate = good | rounding
        r_new, g_new, dense_new = lax.cond(evaluate, at_trial, keep, None)
        accepted = good | (rounding & (jnp.linalg.norm(g_new) <= 0.5 * jnp.linalg.norm(s.g)))

        if dense:
            # Moré (1978) / MINPACK lmder: shrink by a factor in [0.1, 0.5] from the quadratic
            # through f, the directional derivative and the trial; double after a good step
            p_norm = jnp.linalg.norm(s.scale * s.p)
            slope = jnp.vdot(s.g, s.p)
            shrink = jnp.where(
                actual >= 0, 0.5,
                0.5 * slope / jnp.minimum(slope + actual, -tiny))
            # ‖r(x + p)‖ ≥ 10‖r(x)‖, i.e. f grew a hundredfold: shrink the most
            shrink = jnp.where(finite & (actual > -99 * s.f), jnp.clip(shrink, 0.1, 0.5), 0.1)
            radius = jnp.where(
                rho < 0.25, shrink * jnp.minimum(s.radius, 10 * p_norm),
                jnp.where((s.damping == 0) | (rho >= 0.75), 2 * p_norm, s.radius))
            radius = jnp.where(accepted & ~good, s.radius, radius)
            damping, nu = s.damping, s.nu
        else:
            # Nielsen's rule; a step accepted on ‖∇f‖ alone leaves μ as it is
            factor = jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            damping = jnp.where(good, s.damping * factor,
                                jnp.where(accepted, s.damping, s.damping * s.nu))
            damping = jnp.clip(damping, eps, MAX_DAMPING)
            nu = jnp.where(accepted, 2.0, 2.0 * s.nu)
            radius = s.radius

        def accept(_: None) -> LevenbergMarquardtState:
            moved = s._replace(x=x_trial, f=_half_norm2(r_new), g=g_new, r=r_new,
                               radius=radius, damping=damping, nu=nu)
            if dense:
                scale, sing, ur, vt = dense_new
                moved = moved._replace(scale=scale, sing=sing, ur=ur, vt=vt)
            return self._propose(res, moved)

        def reject(_: None) -> LevenbergMarquardtState:
            return self._propose(res, s._replace(radius=radius, damping=damping, nu=nu))

        new = lax.cond(accepted, accept, reject, None)
        # matrix-free proposals re-linearise r at x: count them as Jacobian evaluations
        relinearised = jnp.int32(0) if dense else (~accepted).astype(jnp.int32)
        new = new._replace(
            num_residual_evals=s.num_residual_evals + 1,
            num_jacobian_evals=s.num_jacobian_evals + evaluate.astype(jnp.int32) + relinearised)
        # the next proposal promises less than the rounding error of f: nothing measurable is
        # left to gain (written so that a NaN prediction counts too)
        failed = ~accepted & ~(new.predicted > 10 * eps * (s.f + tiny))
        info = StepInfo(accepted=accepted, failed=failed, step_size=jnp.linalg.norm(s.p),
                        aux={"radius": s.radius, "damping": s.damping, "rho": rho})
        return new, info


# ---------------------------------------------------------------------------------------------
# the public function


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True, repr=False)
class LeastSquaresResult(Result):
    """A :class:`Result` of :func:`least_squares`, with f = ½‖r‖² as ``value`` and also:

    ``residual``: r at ``x`` (flat, m entries); ``num_residual_evals``: evaluations of r
    (the start, and one per trip round the loop); ``num_jacobian_evals``: evaluations of J
    (the start and each point where a trial was accepted or checked on ‖∇f‖; in the
    matrix-free mode each re-linearisation). For methods that are not least-squares solvers
    (``newton``, ...) both counts are −1 (they evaluate f, ∇f and ∇²f, not r and J).
    """

    residual: Array = None  # type: ignore[assignment]
    num_residual_evals: Array = None  # type: ignore[assignment]
    num_jacobian_evals: Array = None  # type: ignore[assignment]


#: the names of least_squares' own methods
METHODS = ("gauss_newton", "levenberg_marquardt")


@functools.partial(jit, static_argnames=("residual", "solver", "max_steps", "record",
                                             "classify", "unravel", "rel_grad_tol"))
def _solve(residual: Callable[..., Any], solver: Solver, x0: Array, args: tuple[Any, ...],
           grad_tol: Array, x_tol: Array, f_tol: Array, max_steps: int, record: bool,
           classify: bool, unravel: Any, rel_grad_tol: float = 0.0) -> LeastSquaresResult:
    fun = SumOfSquares(lambda x: residual(x, *args), unravel, np.dtype(x0.dtype).name)
    loop = Loop(fun, solver, grad_tol, x_tol, f_tol, max_steps, record,
                rel_grad_tol=rel_grad_tol)
    carry = loop.advance(loop.start(x0))
    result = loop.finish(carry, classify, unravel)
    state = carry.state
    minus_one = jnp.int32(-1)
    return LeastSquaresResult(
        **{f.name: getattr(result, f.name) for f in dataclasses.fields(Result)},
        residual=state.r if hasattr(state, "r") else fun.residual_vector(state.x),
        num_residual_evals=getattr(state, "num_residual_evals", minus_one),
        num_jacobian_evals=getattr(state, "num_jacobian_evals", minus_one),
    )


def least_squares(
    residual: Callable[..., Any],
    x0: Any,
    method: str | Solver = "levenberg_marquardt",
    *,
    args: tuple[Any, ...] = (),
    grad_tol: float | None = None,
    rel_grad_tol: float = 0.0,
    x_tol: float = 0.0,
    f_tol: float = 0.0,
    max_steps: int | None = None,
    record: bool = False,
    classify: bool | None = None,
    throw: bool = False,
    **options: Any,
) -> LeastSquaresResult:
    """Minimise f(x) = ½‖r(x)‖² over x in one compiled loop, from the residual r itself.

    Args:
        residual: JAX-traceable r(x, *args) → array (or pytree of arrays; its leaves are
            raveled into one residual vector of m entries); x is a pytree shaped like ``x0``.
        x0: the start (pytree; dtype kept, as in :func:`optkit.minimize`).
        method: "levenberg_marquardt" (default) or "gauss_newton" (see
            ``optkit/solvers/_least_squares.py`` for the mathematics); a solver object
            (``optkit.LevenbergMarquardt(initial_damping=1.0)``); or any minimize method name
            ("newton", "bfgs", ...), which then minimises ½‖r‖² as a scalar function.
        args: extra arguments of ``residual`` (arrays may be traced: vmap and jit over them).
        grad_tol: stop when ‖∇f‖₂ = ‖Jᵀr‖₂ ≤ grad_tol (default 1e-8 in float64, 1e-4 in float32).
        rel_grad_tol: also stop when ‖Jᵀr‖₂ ≤ rel_grad_tol·max(1, f)/max(1, ‖x‖) (0: off), the
            scale-free test of :func:`optkit.minimize`: with large residuals an absolute
            grad_tol can ask for more digits than the data have.
        x_tol, f_tol, max_steps, record, classify, throw: as in :func:`optkit.minimize`
            (classification uses the exact Hessian of ½‖r‖², not JᵀJ).
        **options: the method's options, e.g. ``initial_damping=1.0`` or ``dense_max=0`` (always
            matrix-free).

    Returns:
        A :class:`LeastSquaresResult`: a :class:`Result` (``value`` = ½‖r(x)‖², statuses as
        in docs/statuses.md) plus ``residual``, ``num_residual_evals`` and
        ``num_jacobian_evals``. Works under ``jax.vmap`` (over starts or over ``args``).
    """
    from ._api import OptimizationError, _defaults
    from ._registry import make_solver
    from ._validation import check_solve

    if not callable(residual):
        raise TypeError(f"least_squares: residual must be callable, got {type(residual).__name__}")
    if not isinstance(args, tuple):
        raise TypeError(f"least_squares: args must be a tuple, got {type(args).__name__}")
    solver = make_solver(method, **options)
    x0 = as_start(x0)
    flat, unravel = flatten(x0)
    grad_tol, max_steps, classify = _defaults(method, flat, grad_tol, max_steps, classify)
    check_solve(x_tol, f_tol, record, max_steps, flat, rel_grad_tol)
    rel_grad_tol = float(rel_grad_tol)
    result = _solve(static_callable(residual), solver, flat, args, grad_tol, x_tol, f_tol,
                    max_steps, bool(record), classify, Unraveller(unravel, x0),
                    rel_grad_tol=rel_grad_tol)
    if (throw and not isinstance(result.status_code, jax.core.Tracer)
            and np.any(np.asarray(result.status_code) != Status.CONVERGED)):
        raise OptimizationError(f"least_squares did not converge: {result.message}")
    return result

