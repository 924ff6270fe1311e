"""Truncated Newton (Newton–CG): the Newton system solved inexactly by conjugate gradients.

The line-search Newton–CG of Nocedal & Wright (algorithm 7.1), with an optional
preconditioner. At each outer step, (preconditioned) CG on H d = −∇f, H = ∇²f(x), stops:

* when the residual is small, ‖H d + ∇f‖ ≤ η‖∇f‖, with the forcing term η chosen by
  ``forcing``:

  - ``"sqrt"`` (default): η = min(½, √‖∇f‖), superlinear convergence (N&W eq. 7.3 and
    theorem 7.2);
  - ``"ew2"``: Eisenstat & Walker's choice 2, η = γ(‖∇fₖ‖/‖∇fₖ₋₁‖)^α with γ = 0.9, α = 2,
    safeguarded by η ≥ γη²ₖ₋₁ when γη²ₖ₋₁ > 0.1 and clipped to [0, ½] (η₀ = ½): loose
    solves while the gradient falls slowly, tight ones once it falls fast;
  - a number η ∈ [0, 1): a constant forcing term (linear convergence; 0 runs CG until the
    residual vanishes or ``max_cg_steps``, i.e. exact Newton on a positive definite H);

* when it meets a direction of non-positive curvature pⱼᵀHpⱼ ≤ 0. By conjugacy every CG
  direction is downhill, ∇fᵀpⱼ = rⱼᵀpⱼ = −rⱼᵀM⁻¹rⱼ < 0, and H-conjugate to the iterate dⱼ.
  What is returned then depends on ``negative_curvature``:

  - ``"follow"`` (default): d = dⱼ + (rⱼᵀM⁻¹rⱼ / |pⱼᵀHpⱼ|)·pⱼ, the CG step along pⱼ taken as
    if its curvature were |pⱼᵀHpⱼ|: Newton on the Krylov subspace where H is positive, a
    saddle-free step (as Dauphin et al. 2014 do with |H|) along the curvature direction found.
    It is more downhill than dⱼ (∇fᵀd < ∇fᵀdⱼ), and dᵀHd = dⱼᵀHdⱼ + step²·pⱼᵀHpⱼ < dⱼᵀHdⱼ
    enters the sufficient-decrease test. On 2-D Rosenbrock it halves the steps of "stop"
    (the textbook crawls along the indefinite part of the valley with steepest-descent-like
    iterates);
  - ``"stop"``: the textbook (N&W 7.1) rule, dⱼ itself.

  On the very first direction (j = 0, the iterate still 0) both rules return
  d = (∇fᵀM⁻¹∇f / |p₀ᵀHp₀|)·p₀ with p₀ = −M⁻¹∇f: the curvature direction that was met, which
  is already downhill, scaled as the first CG step would be with the curvature's magnitude
  (scipy's choice too): the line search's unit step has the length a Newton step would have
  along p₀, so a start near a saddle leaves it along the negative curvature rather than by a
  steepest-descent crawl. Where pⱼᵀHpⱼ = 0 exactly, pⱼ is taken unscaled;
* after ``max_cg_steps`` iterations (default n).

Hessian–vector products are forward-over-reverse from ONE linearisation per outer step:
``jax.linearize(jax.grad(f), x)`` evaluates ∇f once and returns v ↦ Hv as a linear function that
every CG iteration (and every preconditioner probe) reuses, so a product costs one tangent
pass, not a gradient plus a tangent. Neither H nor a factorisation is ever formed: the method
scales to large n.

``preconditioner``: ``None``; ``"diagonal"``, M = |diag H| estimated from ``num_probes``
Rademacher probes v (Bekas, Kokiopoulou & Saad 2007: diag H ≈ mean of v ⊙ Hv, exact for a
diagonal H), floored at √ε·max so M stays positive definite; or a callable
``(x, v) -> M⁻¹v`` applying the inverse of a symmetric positive definite M (which may depend
on the iterate). The residual test stays on the unpreconditioned residual, so η means the
same with and without one.

Each accepted step records ``cg_steps`` (CG iterations, one product each) and ``hvps`` (every
product, probes included). The CG loop is a nested ``while_loop`` (its trip count depends on
conditioning); the line search is run by ``LineSearchSolver`` like every other descent's.
"backtracking" here halves t from 1 (Armijo): on Rosenbrock-like quartic valleys the quadratic
interpolation of the generic search is clipped to t/10 step after step, and halving took 2.3n
steps where it took 4.4n on chained Rosenbrock (n = 1,000; experiments/benchmarks/newton_cg.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ._base import LARGE_N_MAX_STEPS, Array, FlatFun
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import Backtracking, LineSearch

FORCING = ("sqrt", "ew2")
NEGATIVE_CURVATURE = ("follow", "stop")
#: Eisenstat–Walker choice 2 constants (their paper's γ and α)
EW_GAMMA, EW_ALPHA = 0.9, 2.0
ETA_MAX = 0.5


class _CG(NamedTuple):
    k: Array  # CG iterations done (= Hessian–vector products in the loop)
    d: Array  # the iterate, or the returned direction once done
    r: Array  # residual H d + ∇f
    p: Array  # search direction
    rz: Array  # rᵀM⁻¹r
    dhd: Array  # dᵀHd, updated by conjugacy
    done: Array


def forcing_term(kind: str | float, g_norm: Array, state: tuple[Array, Array]) -> Array:
    """η of the residual test ‖Hd + ∇f‖ ≤ η‖∇f‖ (see the module docstring).

    ``state`` is (‖∇f‖, η) of the previous outer step, NaN before the first.
    """
    if not isinstance(kind, str):
        return jnp.asarray(kind, g_norm.dtype)
    if kind == "sqrt":
        return jnp.minimum(ETA_MAX, jnp.sqrt(g_norm))
    prev_norm, prev_eta = state
    ratio = g_norm / jnp.where(prev_norm > 0, prev_norm, 1.0)
    eta = EW_GAMMA * ratio**EW_ALPHA
    # safeguard: do not tighten abruptly after one lucky step (Eisenstat & Walker 1996)
    floor = EW_GAMMA * prev_eta**EW_ALPHA
    eta = jnp.where(floor > 0.1, jnp.maximum(eta, floor), eta)
    return jnp.where(jnp.isnan(prev_norm), ETA_MAX, jnp.clip(eta, 0.0, ETA_MAX))


@dataclasses.dataclass(frozen=True)
class NewtonCGDescent(Descent):
    """The truncated-CG Newton direction; see the module docstring."""

    max_cg_steps: int | None = None
    forcing: str | float = "sqrt"
    preconditioner: str | Callable[[Array, Array], Array] | None = None
    num_probes: int = 4
    negative_curvature: str = "follow"
    aux_names = ("cg_steps", "hvps")

    def init(self, x: Array, g: Array) -> tuple[Array, Array]:
        nan = jnp.full((), jnp.nan, x.dtype)
        return nan, nan

    def _inverse(self, x: Array, hvp: Callable[[Array], Array]
                 ) -> tuple[Callable[[Array], Array], int]:
        """v ↦ M⁻¹v and the Hessian–vector products spent building it."""
        if self.preconditioner is None:
            return (lambda v: v), 0
        if callable(self.preconditioner):
            user = self.preconditioner
            return (lambda v: user(x, v)), 0
        probes = jax.random.rademacher(jax.random.PRNGKey(0), (self.num_probes, x.size),
                                       dtype=x.dtype)
        diag = jnp.abs(jnp.mean(probes * jax.vmap(hvp)(probes), axis=0))
        eps = jnp.finfo(x.dtype).eps
        floor = jnp.maximum(jnp.sqrt(eps) * jnp.max(diag), jnp.finfo(x.dtype).tiny)
        diag = jnp.maximum(diag, floor)
        return (lambda v: v / diag), self.num_probes

    def direction(self, fun: FlatFun, x: Array, g: Array, state: Any) -> Direction:
        # one linearisation per outer step: every product below is a tangent pass of it
        _, hvp = jax.linearize(jax.grad(fun), x)
        inverse, probe_hvps = self._inverse(x, hvp)
        g_norm = jnp.linalg.norm(g)
        eta = forcing_term(self.forcing, g_norm, state)
        tol = eta * g_norm
        max_steps = self.max_cg_steps or x.size

        def cond(c: _CG) -> Array:
            return (c.k < max_steps) & ~c.done

        def body(c: _CG) -> _CG:
            hp = hvp(c.p)
            php = jnp.dot(c.p, hp)
            negative = php <= 0
            alpha = c.rz / jnp.where(negative, 1.0, php)
            # non-positive curvature: the CG step along p with |pᵀHp| (p is downhill, see the
            # module docstring); along p with no curvature at all, p itself
            step = jnp.where(php < 0, c.rz / jnp.where(php < 0, -php, 1.0), 1.0)
            if self.negative_curvature == "stop":
                step = jnp.where(c.k == 0, step, 0.0)
            # the loop ends on non-positive curvature and only d, dᵀHd and k are read after
            # it, so r, p and rᵀM⁻¹r are updated unconditionally: a select is a pass over n
            coefficient = jnp.where(negative, step, alpha)
            r = c.r + alpha * hp
            z = inverse(r)
            rz = jnp.dot(r, z)
            beta = rz / jnp.where(c.rz > 0, c.rz, 1.0)
            # without a preconditioner z = r, so ‖r‖ = √(rᵀz): one reduction fewer per product
            r_norm = jnp.sqrt(rz) if self.preconditioner is None else jnp.linalg.norm(r)
            return _CG(
                k=c.k + 1,
                d=c.d + coefficient * c.p,
                r=r,
                p=-z + beta * c.p,
                rz=rz,
                # dₖ₊₁ᵀHdₖ₊₁ = dₖᵀHdₖ + α²pₖᵀHpₖ: the cross term vanishes by conjugacy
                dhd=c.dhd + coefficient**2 * php,
                done=negative | (r_norm <= tol),
            )

        z0 = inverse(g)
        init = _CG(k=jnp.int32(0), d=jnp.zeros_like(x), r=g, p=-z0, rz=jnp.dot(g, z0),
                   dhd=jnp.zeros((), x.dtype), done=g_norm == 0)
        c = lax.while_loop(cond, body, init)
        cg_steps = c.k.astype(x.dtype)
        aux = {"cg_steps": cg_steps, "hvps": cg_steps + probe_hvps}
        new_state = (g_norm, eta) if self.forcing == "ew2" else state
        return Direction(d=c.d, curvature=c.dhd, escape=jnp.asarray(False), aux=aux,
                         state=new_state)


@dataclasses.dataclass(frozen=True)
class NewtonCG(LineSearchSolver):
    """Line-search Newton–CG (Nocedal & Wright 7.1), matrix-free, for large n.

    Args:
        line_search: "backtracking" (Armijo from t = 1, halving; default), "wolfe", "none" or
            a ``LineSearch``.
        max_cg_steps: cap on CG iterations per step (default n).
        forcing: the CG tolerance η in ‖Hd + ∇f‖ ≤ η‖∇f‖: "sqrt" (min(½, √‖∇f‖), default),
            "ew2" (Eisenstat–Walker choice 2) or a constant η in [0, 1).
        preconditioner: None (default), "diagonal" (|diag H| from Hessian–vector probes) or,
            in Python, a callable (x, v) -> M⁻¹v for a symmetric positive definite M.
        num_probes: Rademacher probes (one Hessian–vector product each) per step for the
            "diagonal" preconditioner.
        negative_curvature: on meeting pᵀHp ≤ 0 after the first CG step, "follow" (default:
            add the step along p with |pᵀHp|) or "stop" (return the CG iterate, the textbook
            rule); see the module docstring.
    """

    tuned_backtracking = Backtracking(shrink_min=0.5)
    default_max_steps: ClassVar[int] = LARGE_N_MAX_STEPS

    line_search: LineSearch | str | None = "backtracking"
    max_cg_steps: int | None = None
    forcing: str | float = "sqrt"
    preconditioner: str | Callable[[Array, Array], Array] | None = None
    num_probes: int = 4
    negative_curvature: str = "follow"

    def __post_init__(self) -> None:
        for name in ("max_cg_steps", "num_probes"):
            value = getattr(self, name)
            if value is None and name == "max_cg_steps":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        constant = (isinstance(self.forcing, (int, float)) and not isinstance(self.forcing, bool)
                    and 0 <= self.forcing < 1)
        if not constant and self.forcing not in FORCING:
            raise ValueError(f"forcing must be one of {', '.join(FORCING)} or a number in "
                             f"[0, 1), got {self.forcing!r}")
        if self.negative_curvature not in NEGATIVE_CURVATURE:
            raise ValueError(f"unknown negative_curvature {self.negative_curvature!r}; expected "
                             f"one of {', '.join(NEGATIVE_CURVATURE)}")
        p = self.preconditioner
        if not (p is None or p == "diagonal" or (callable(p) and not isinstance(p, str))):
            raise ValueError(f"preconditioner must be None, 'diagonal' or a callable "
                             f"(x, v) -> M⁻¹v, got {p!r}")
        _ = self.search  # an unknown line-search name fails here, not inside jit

    @property
    def descent(self) -> NewtonCGDescent:  # type: ignore[override]
        return NewtonCGDescent(self.max_cg_steps, self.forcing, self.preconditioner,
                               self.num_probes, self.negative_curvature)
