"""Backtracking line search folded into the driver's loop.

Each trip round the loop evaluates one trial point x + t·d. If it gives sufficient decrease,

    f(x + t·d) ≤ f(x) + c₁·(t·∇f·d + ½·t²·min(dᵀ∇²f d, 0))       (Armijo; the curvature term
                                                                  is used by Newton's
                                                                  negative-curvature steps),

the step is accepted and the next direction is computed; otherwise t shrinks by a safeguarded
quadratic interpolation and the same direction is tried again. A vmapped batch therefore pays
for one loop, not a loop of loops.

Near the solution f can stop decreasing measurably (its change falls below rounding of |f|);
a trial is then also accepted if f has not risen beyond rounding and the gradient norm fell:
the "approximate Armijo" safeguard of Hager and Zhang.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Backtracking:
    """Armijo backtracking with safeguarded quadratic interpolation.

    Attributes:
        c1: sufficient-decrease constant of the Armijo condition.
        shrink_min, shrink_max: a rejected t becomes t·s with s ∈ [shrink_min, shrink_max]
            picked by minimising the quadratic through f(x), ∇f·d and f(x + t·d).
        max_trials: consecutive rejections before the search counts as failed.
        candidates: step lengths tried per trip round the loop, t, t·shrink_max, t·shrink_max²,
            …; the largest acceptable one is taken. Under vmap every start pays for the
            slowest start's trips, so trading one extra evaluation of (f, ∇f) for fewer trips
            pays off where steps are expensive anyway (Newton uses 2).
    """

    c1: float = 1e-4
    shrink_min: float = 0.1
    shrink_max: float = 0.5
    max_trials: int = 50
    candidates: int = 1

    def accepts(
        self, f: Array, f_trial: Array, t: Array, slope: Array, curvature: Array,
        grad_norm: Array, grad_norm_trial: Array,
    ) -> Array:
        eps = jnp.finfo(f.dtype).eps
        predicted = t * slope + 0.5 * t * t * jnp.minimum(curvature, 0.0)
        armijo = f_trial <= f + self.c1 * predicted
        approximate = (f_trial <= f + 4 * eps * jnp.abs(f)) & (grad_norm_trial < grad_norm)
        return jnp.isfinite(f_trial) & (armijo | approximate)

    def shrink(self, f: Array, f_trial: Array, t: Array, slope: Array) -> Array:
        # minimiser of q(s) = f + slope·s + a·s² with q(t) = f_trial
        a = (f_trial - f - slope * t) / (t * t)
        t_quad = jnp.where(a > 0, -slope / (2 * a), self.shrink_min * t)
        t_new = jnp.clip(t_quad, self.shrink_min * t, self.shrink_max * t)
        return jnp.where(jnp.isfinite(f_trial) & (slope < 0), t_new, self.shrink_min * t)


@dataclasses.dataclass(frozen=True)
class NoLineSearch:
    """Take every step t = 1 as it comes (textbook iterations; may go uphill)."""

    max_trials: int = 1

    def accepts(self, f: Any, f_trial: Array, *args: Any) -> Array:
        return jnp.ones_like(f_trial, dtype=bool)

    def shrink(self, f: Array, f_trial: Array, t: Array, slope: Array) -> Array:
        return t


LINE_SEARCHES = {"backtracking": Backtracking, "armijo": Backtracking, "none": NoLineSearch}


def make_line_search(spec: Any) -> Backtracking | NoLineSearch:
    if spec is None:
        return NoLineSearch()
    if isinstance(spec, (Backtracking, NoLineSearch)):
        return spec
    if isinstance(spec, str) and spec in LINE_SEARCHES:
        return LINE_SEARCHES[spec]()
    raise ValueError(
        f"unknown line_search {spec!r}; expected one of {sorted(LINE_SEARCHES)} "
        "(use GradientDescent(line_search='wolfe') for optax's zoom line search)"
    )
