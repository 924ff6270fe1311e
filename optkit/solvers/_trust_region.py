"""Trust-region Newton with the subproblem solved exactly from an eigendecomposition.

Each accepted step factorises H = ∇²f(x) = V·diag(λ)·Vᵀ once; the model

    m(p) = f + ∇fᵀp + ½ pᵀHp   minimised over ‖p‖ ≤ Δ

is then solved for any radius Δ without refactorising (Moré & Sorensen): p(μ) = −(H + μI)⁻¹∇f
with μ = 0 when H ≻ 0 and ‖p(0)‖ ≤ Δ, otherwise the μ ≥ max(0, −λ_min) with ‖p(μ)‖ = Δ found by
Newton's method on 1/‖p(μ)‖ − 1/Δ. In the "hard case" (∇f orthogonal to the most negative
eigenvector, e.g. exactly on a saddle) the step is completed to the boundary along that
eigenvector, so saddles are left rather than converged to.

A trial is accepted when ρ = (f(x) − f(x + p)) / (m(0) − m(p)) > η; Δ shrinks to ¼‖p‖ when
ρ < ¼ and doubles (up to max_radius) when ρ > ¾ and the step reached the boundary. Rejected
trials are trips round the driver's loop, like line-search trials.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._linalg import max_abs, norm, symmetric_eigh
from ..analysis._classify import eigenvalue_tol
from ._base import Array, FlatFun, Solver, StepInfo
from ._status import Status


class TrustRegionState(NamedTuple):
    x: Array
    f: Array
    g: Array
    eigenvalues: Array
    eigenvectors: Array
    radius: Array
    p: Array  # the proposed step for the current radius
    predicted: Array  # m(0) − m(p) > 0
    boundary: Array  # bool: ‖p‖ = Δ
    wants_more: Array  # bool: negative curvature at x
    evaluated: Array  # bool: False for a start not evaluated yet (evaluates_start_in_loop)


def solve_subproblem(
    lam: Array, vecs: Array, g: Array, radius: Array, newton_iterations: int = 40
) -> tuple[Array, Array, Array]:
    """Minimise gᵀp + ½pᵀHp over ‖p‖ ≤ radius, with H = vecs·diag(lam)·vecsᵀ (lam ascending).

    Returns the step, the predicted decrease m(0) − m(p) and whether ‖p‖ = radius.
    """
    gam = vecs.T @ g
    eps = jnp.finfo(g.dtype).eps
    # λ ~ ‖∇f‖/Δ is the curvature scale of the radius itself: it keeps the shift positive
    # where H = 0 (then p = −Δ·∇f/‖∇f‖)
    scale = jnp.maximum(jnp.maximum(max_abs(lam), norm(g) / radius), jnp.finfo(g.dtype).tiny)
    mu_floor = jnp.maximum(0.0, -lam[0]) + jnp.sqrt(eps) * scale

    interior_ok = lam[0] > jnp.sqrt(eps) * scale
    p_newton = -gam / jnp.where(interior_ok, lam, 1.0)
    interior = interior_ok & (jnp.linalg.norm(p_newton) <= radius)

    def newton_on_secular(_: int, mu: Array) -> Array:
        d = lam + mu
        p_norm = jnp.linalg.norm(gam / d)
        q_norm2 = jnp.sum(gam**2 / d**3)
        mu_next = mu + (p_norm**2 / jnp.maximum(q_norm2, jnp.finfo(g.dtype).tiny)) * (
            p_norm - radius
        ) / radius
        return jnp.maximum(mu_next, mu_floor)

    mu = lax.fori_loop(0, newton_iterations, newton_on_secular, mu_floor, unroll=True)
    p_boundary = -gam / (lam + mu)
    # hard case: even at the smallest admissible shift the step is inside; complete it to the
    # boundary along the most negative eigenvector, pointing downhill (+ at a tie)
    short = norm(p_boundary) < (1 - jnp.sqrt(eps)) * radius
    missing = jnp.where(short, jnp.sqrt(jnp.maximum(radius**2 - jnp.sum(p_boundary**2), 0.0)), 0.0)
    sign = jnp.where(gam[0] > 0, -1.0, 1.0)
    p_boundary = p_boundary + jnp.where(jnp.arange(p_boundary.size) == 0, sign * missing, 0.0)
    p_eig = jnp.where(interior, p_newton, p_boundary)
    predicted = -(gam @ p_eig + 0.5 * jnp.sum(lam * p_eig**2))
    return vecs @ p_eig, predicted, ~interior


@dataclasses.dataclass(frozen=True)
class TrustRegion(Solver):
    """Exact trust-region Newton (dense Hessian; small and medium n).

    Args:
        initial_radius: Δ₀.
        max_radius: upper bound on Δ.
        eta: acceptance threshold on ρ (actual over predicted decrease).
    """

    initial_radius: float = 1.0
    max_radius: float = 1e3
    eta: float = 0.15
    aux_names = ("radius", "rho")
    direction_field = "p"
    failure_status = Status.SMALL_STEP

    def _factorised(self, fun: FlatFun, x: Array) -> tuple[Array, Array]:
        """Eigenvalues (ascending) and eigenvectors of the symmetrised ∇²f(x)."""
        hess = jax.hessian(fun)(x)
        return symmetric_eigh(0.5 * (hess + hess.T))

    evaluates_start_in_loop = True

    def init(self, fun: FlatFun, x: Array) -> TrustRegionState:
        """x₀ with Δ₀, not yet evaluated: the first trip takes the "step" p = −0 (x + p is x
        bit for bit) and factorises the Hessian there, as after any accepted step."""
        n, dtype = x.size, x.dtype
        zero = jnp.zeros((), dtype)
        return TrustRegionState(
            x=x, f=jnp.full((), jnp.nan, dtype), g=jnp.zeros_like(x),
            eigenvalues=jnp.zeros(n, dtype), eigenvectors=jnp.zeros((n, n), dtype),
            radius=jnp.asarray(self.initial_radius, dtype), p=jnp.full_like(x, -0.0),
            predicted=zero, boundary=jnp.asarray(False), wants_more=jnp.asarray(False),
            evaluated=jnp.asarray(False))

    def step(self, fun: FlatFun, state: TrustRegionState) -> tuple[TrustRegionState, StepInfo]:
        start = ~state.evaluated
        x_trial = state.x + state.p
        f_trial, g_trial = jax.value_and_grad(fun)(x_trial)
        actual = state.f - f_trial
        safe_predicted = jnp.where(state.predicted > 0, state.predicted, 1.0)
        rho = jnp.where(state.predicted > 0, actual / safe_predicted, -1.0)
        eps = jnp.finfo(state.x.dtype).eps
        # near the solution the decrease drowns in rounding of |f|; then a falling gradient
        # norm is the evidence of progress (as in the line search)
        within_rounding = (jnp.abs(actual) <= 4 * eps * jnp.abs(state.f)) & (
            jnp.linalg.norm(g_trial) < jnp.linalg.norm(state.g)
        )
        accepted = (jnp.isfinite(f_trial) & ((rho > self.eta) | within_rounding)) | start
        step_norm = jnp.linalg.norm(state.p)
        radius = jnp.where(
            rho < 0.25,
            0.25 * step_norm,
            jnp.where((rho > 0.75) & state.boundary, jnp.minimum(2 * state.radius,
                                                                 self.max_radius), state.radius),
        )
        radius = jnp.where(jnp.isfinite(f_trial), radius, 0.25 * step_norm)
        radius = jnp.where(start, state.radius, radius)

        # the branch only chooses the model's centre (a new Hessian after an accepted trial,
        # the kept factorisation after a rejected one); the subproblem for the new radius is
        # solved once, after it, so the program holds one copy of its Newton iteration
        def accept(_: None) -> tuple[Array, ...]:
            return (x_trial, f_trial, g_trial, *self._factorised(fun, x_trial))

        def reject(_: None) -> tuple[Array, ...]:
            return state.x, state.f, state.g, state.eigenvalues, state.eigenvectors

        x, f, g, lam, vecs = lax.cond(accepted, accept, reject, None)
        p, predicted, boundary = solve_subproblem(lam, vecs, g, radius)
        negative = lam[0] < -eigenvalue_tol(lam, jnp.linalg.norm(g))
        new_state = TrustRegionState(x, f, g, lam, vecs, radius, p, predicted, boundary,
                                     negative, jnp.asarray(True))
        # written so that a NaN radius counts as failure too
        failed = ~accepted & ~(radius > eps * (1 + jnp.linalg.norm(state.x)))
        zero = jnp.zeros_like(rho)
        info = StepInfo(accepted=accepted, failed=failed, step_size=step_norm,
                        aux={"radius": jnp.where(start, zero, state.radius),
                             "rho": jnp.where(start, zero, rho)})
        return new_state, info

    def wants_more(self, state: TrustRegionState) -> Array:
        return state.wants_more
