"""Newton's method with an exact autodiff Hessian and a safeguard for indefinite Hessians.

The Hessian H = ∇²f(x) is symmetrised once per accepted step. Where it is safely positive
definite the step is the Newton step d = −H⁻¹∇f, found by a **Cholesky factorisation**
H = LLᵀ (n³/3 flops, against ~9n³ for an eigendecomposition). The factorisation is accepted
when L is finite and, with h = diag H and pⱼ = Lⱼⱼ² the pivots,

    pⱼ > 10·n·ε·hⱼ   for every j,

the eigenvalue floor below applied to the Jacobi-scaled matrix S = D^(−½)·H·D^(−½) (D = diag H,
unit diagonal, so max λ(S) ≤ tr S = n), whose pivots are pⱼ/hⱼ. The test does not change when
the variables are rescaled, just as the Newton step does not. A pivot this far above rounding
(the computed pⱼ is exact to about j·ε·hⱼ) means H is positive definite in working precision,
and by van der Sluis's theorem the Cholesky solve is then as accurate as the conditioning of S
allows, not that of H: badly scaled problems (Powell badly scaled, Meyer), whose Hessians have
condition numbers beyond 1/ε only because their variables live on different scales, get their
exact Newton step instead of a clipped one.

Where the test fails (H indefinite, singular in working precision, or not finite) H is
eigendecomposed as H = V·diag(λ)·Vᵀ, which solves the system and shows the curvature at the same
time. With δ = 10·ε·max|λ| the floor below which an eigenvalue counts as zero (no larger: on
badly scaled problems real curvature sits many orders below max|λ|, and a √ε floor cut such
steps a thousandfold), the ``regularization`` picks the step:

* ``"eigen"`` (default, "saddle-free" Newton): d = −V·diag(1/max(|λᵢ|, δ))·Vᵀ∇f. Directions of
  negative curvature are followed downhill instead of uphill, so saddles repel the iteration.
* ``"levenberg"``: d = −(H + μI)⁻¹∇f with μ = 0 where H is positive definite (λ_min > δ) and
  μ = √ε·max|λ| − λ_min otherwise, so that H + μI is safely positive definite.
* ``"steepest"``: the Newton step where H is positive definite, otherwise d = −∇f.
* ``"none"``: the textbook step d = −H⁻¹∇f, which is drawn to maxima and saddles as much as
  to minima (use it with ``line_search="none"`` to find any critical point).

Every regularization takes the plain Newton step where H is positive definite, so the Cholesky
step is each one's step wherever the factorisation is accepted. For n ≥ 3 the eigendecomposition
runs under ``lax.cond`` only where the factorisation is refused (under ``vmap`` the cond
becomes a select that computes both). For n = 2 both are closed forms — the 2×2 Newton step
d = −(1/det)·[[c, −b], [−b, a]]·∇f with det = ac − b², accepted by the same test (a > 0 and
second pivot det/a > 20·ε·c) — computed together and selected elementwise: this is the batched
fast path. For n = 1 the eigendecomposition is the division itself.

Where H has an eigenvalue below −tol (``analysis._classify.eigenvalue_tol``: max(√ε‖H‖,
10√‖∇f‖), the cheap per-step form of the classification's tolerance), the solve does not
report convergence, and once ‖∇f‖ ≤ ``escape_below`` (default ε^(1/3)) the step is given a
component of length at least ``escape_length`` along the most negative
eigenvector (pointing downhill), so that a start exactly on a saddle, where ∇f = 0, still
leaves it. Only then: elsewhere the saddle-free step already moves downhill along negative
curvature in proportion to ∇f, and a forced unit step would throw small variables into
another valley. An accepted Cholesky factorisation proves H positive definite, so none of
this applies there. Each step records ``strategy`` (0 Newton, 1 modified Newton, 2 steepest
descent, 3 negative-curvature escape), ``damping`` (μ, or the largest eigenvalue change; 0 on
a Newton step) and ``min_eigenvalue``: λ_min where H was eigendecomposed (always for n ≤ 2);
on a Cholesky step for n ≥ 3, an upper bound on λ_min at no extra cost, the smaller of the
smallest pivot minⱼ Lⱼⱼ² and the Rayleigh quotient dᵀHd/dᵀd = −∇f·d/‖d‖² of the Newton step
(one step of inverse iteration from ∇f, so usually close to λ_min); positive and finite.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax import lax

from .._linalg import after, cholesky_accepted, dot, matvec, max_abs, norm, symmetric_eigh
from ..analysis._classify import eigenvalue_tol
from ._base import Array, FlatFun
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import Backtracking, LineSearch

REGULARIZATIONS = ("eigen", "levenberg", "steepest", "none")

NEWTON, MODIFIED, STEEPEST, ESCAPE = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class NewtonDescent(Descent):
    regularization: str = "eigen"
    escape_length: float = 1.0
    escape_below: float | None = None
    aux_names = ("strategy", "damping", "min_eigenvalue")

    def direction(self, fun: FlatFun, x: Array, g: Array, state: object) -> Direction:
        hess = jax.hessian(fun)(x)
        hess = 0.5 * (hess + hess.T)
        n = x.size
        if n == 1:
            return self._eigen(hess, x, g, state)
        if n == 2:
            # both closed forms are a few elementwise operations: compute both and select,
            # which is what a cond would become under vmap anyway
            eigen = self._eigen(hess, x, g, state)
            ok, d = _newton_2x2(hess, g)
            newton = self._newton(d, g, eigen.aux["min_eigenvalue"], state)
            return jax.tree_util.tree_map(lambda a, b: jnp.where(ok, a, b), newton, eigen)
        factor = jnp.linalg.cholesky(hess)
        ok = cholesky_accepted(hess, factor)
        # solved outside the cond: under vmap both branches run anyway, and the eigen branch's
        # LAPACK call must come after this one's (see _linalg.after)
        d = -jax.scipy.linalg.cho_solve((factor, True), g)

        def newton_branch(_: None) -> Direction:
            # both are upper bounds on λ_min: a pivot is the reciprocal of a diagonal entry of
            # a leading block's inverse, the Rayleigh quotient is one of H's
            pivot = jnp.min(jnp.diagonal(factor) ** 2)
            dd = dot(d, d)
            rayleigh = -dot(g, d) / jnp.where(dd > 0, dd, 1.0)
            bound = jnp.where(dd > 0, jnp.minimum(pivot, rayleigh), pivot)
            return self._newton(d, g, bound, state)

        def eigen_branch(_: None) -> Direction:
            return self._eigen(after(hess, d), x, g, state)

        return lax.cond(ok, newton_branch, eigen_branch, None)

    @staticmethod
    def _newton(d: Array, g: Array, min_eigenvalue: Array, state: object) -> Direction:
        """The plain Newton step d = −H⁻¹∇f of a positive definite H (dᵀHd = −∇f·d)."""
        zero = jnp.zeros((), d.dtype)
        aux = {"strategy": jnp.full((), NEWTON, d.dtype), "damping": zero,
               "min_eigenvalue": min_eigenvalue.astype(d.dtype)}
        return Direction(d=d, curvature=-dot(g, d), escape=jnp.asarray(False), aux=aux,
                         state=state)

    def _eigen(self, hess: Array, x: Array, g: Array, state: object) -> Direction:
        """The step from the eigendecomposition, with the regularization and saddle escape."""
        lam, vecs = symmetric_eigh(hess)
        g_eig = matvec(vecs.T, g)
        eps = jnp.finfo(x.dtype).eps
        floor = jnp.maximum(10 * eps * max_abs(lam), jnp.finfo(x.dtype).tiny)
        lam_min = lam[0]
        definite = lam_min > floor

        if self.regularization == "eigen":
            lam_used = jnp.maximum(jnp.abs(lam), floor)
        elif self.regularization == "levenberg":
            # shifting every eigenvalue needs a wider margin than clipping one: with only
            # δ the shifted matrix is as near-singular as the one it replaces
            margin = jnp.maximum(jnp.sqrt(eps) * max_abs(lam), floor)
            lam_used = lam + jnp.where(lam_min > floor, 0.0, margin - lam_min)
        elif self.regularization in ("steepest", "none"):
            lam_used = jnp.where(lam == 0, floor, lam) if self.regularization == "none" else lam
        else:
            raise ValueError(f"unknown regularization {self.regularization!r}")
        # where H = 0 there is no curvature to scale by: take the steepest-descent step
        flat = max_abs(lam) == 0
        step_eig = jnp.where(flat, -g_eig, -g_eig / jnp.where(flat, 1.0, lam_used))
        strategy = jnp.where(definite, NEWTON, MODIFIED)
        damping = max_abs(lam_used - lam)

        if self.regularization == "steepest":
            step_eig = jnp.where(definite, step_eig, -g_eig)
            strategy = jnp.where(definite, NEWTON, STEEPEST)
            damping = jnp.zeros_like(damping)

        # the same test as classify(): curvature this negative is not rounding or the shadow
        # of a nearby degenerate point (|λ| ~ √‖∇f‖ there), so it is worth leaving along
        negative = lam_min < -eigenvalue_tol(lam, norm(g))
        if self.regularization != "none":
            # leave along the most negative eigenvector, downhill (sign of −∇f·v, + at a tie)
            sign = jnp.where(g_eig[0] > 0, -1.0, 1.0)
            length = jnp.maximum(jnp.abs(step_eig[0]), self.escape_length)
            below = self.escape_below if self.escape_below is not None else eps ** (1 / 3)
            forced = negative & (norm(g) <= below)
            # a mask, not .at[0].set: a scatter per start is slow under vmap on CPU
            first = (jnp.arange(step_eig.size) == 0) & forced
            step_eig = jnp.where(first, sign * length, step_eig)
            strategy = jnp.where(forced, ESCAPE, strategy)
        d = matvec(vecs, step_eig)
        curvature = dot(lam, step_eig**2)
        escape = negative if self.regularization != "none" else jnp.asarray(False)
        aux = {
            "strategy": strategy.astype(x.dtype),
            "damping": damping.astype(x.dtype),
            "min_eigenvalue": lam_min,
        }
        return Direction(d=d, curvature=curvature, escape=escape, aux=aux, state=state)


def _newton_2x2(hess: Array, g: Array) -> tuple[Array, Array]:
    """For H = [[a, b], [b, c]]: whether the Cholesky test of the module docstring accepts H
    (a > 0, second pivot det/a > 20·ε·c) and the step −H⁻¹∇f by Cramer's rule.

    det = ac − b² is computed directly, not as λ₁λ₂ from the closed-form eigenvalues, whose
    smaller one carries an absolute error ε·max|λ|: on a diagonally badly scaled H (Powell
    badly scaled: a ≈ 1.6e10, c ≈ 2.6e-2, λ_min ≈ 5e-8) that error swamps λ_min, while det
    and the step stay exact to a few ε relative to the scale of each variable.
    """
    a, b, c = hess[0, 0], hess[0, 1], hess[1, 1]
    eps = jnp.finfo(hess.dtype).eps
    det = a * c - b * b
    ok = (a > 0) & (det > 20 * eps * a * c) & jnp.isfinite(det)
    safe = jnp.where(ok, det, 1.0)
    d = jnp.stack([-(c * g[0] - b * g[1]) / safe, -(a * g[1] - b * g[0]) / safe])
    return ok, d


@dataclasses.dataclass(frozen=True)
class Newton(LineSearchSolver):
    """Newton's method x₊ = x + t·d with d from the (regularised) Newton system.

    Args:
        line_search: "backtracking" (Armijo from t = 1, trying t, t/2, t/4 and t/8
            together in each trial; default), "wolfe", "none" (full steps) or a
            ``LineSearch``.
        regularization: "eigen" (default), "levenberg", "steepest" or "none"; see the module
            docstring for the exact rules.
        escape_length: minimum length of the component along the most negative eigenvector
            once ‖∇f‖ ≤ escape_below (default ε^(1/3)) at a point of negative curvature
            (the line search shortens it as needed).
        escape_below: the gradient norm below which that escape step is forced (None:
            ε^(1/3) of the dtype).
    """

    # four step lengths per trial: a batch's trips are as many as its slowest start's trials,
    # and Newton's trial is cheap beside its Hessian (W1, 10³–10⁵ starts: 10–15% faster than
    # two, trips 32 → 29; 2-D Rosenbrock from (−1.2, 1): 21 steps and no rejected trial)
    tuned_backtracking = Backtracking(num_candidates=4)

    line_search: LineSearch | str | None = "backtracking"
    regularization: str = "eigen"
    escape_length: float = 1.0
    escape_below: float | None = None

    def __post_init__(self) -> None:
        if self.regularization not in REGULARIZATIONS:
            raise ValueError(f"unknown regularization {self.regularization!r}; expected one "
                             f"of {REGULARIZATIONS}")
        _ = self.search  # an unknown line-search name fails here, not inside jit

    @property
    def descent(self) -> NewtonDescent:  # type: ignore[override]
        return NewtonDescent(self.regularization, self.escape_length, self.escape_below)
