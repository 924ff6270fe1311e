"""Steepest descent: d = −∇f(x) with a constant step, Armijo backtracking or a Wolfe search."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import optax

from .._linalg import dot, norm
from ._base import Array, FlatFun, Solver
from ._descent import Descent, Direction, LineSearchSolver
from ._linesearch import Backtracking, NoLineSearch, make_line_search
from .optax_solver import Optax


@dataclasses.dataclass(frozen=True)
class SteepestDescent(Descent):
    """d = −∇f. The first trial step is step_size/max(1, ‖∇f‖); later ones are chosen by
    ``initial_step``: "bb" (Barzilai–Borwein, t = sᵀs/sᵀy, the step that fits the secant
    equation best), "grow" (the last accepted t doubled) or "constant" (always step_size)."""

    step_size: float = 1.0
    initial_step: str = "bb"

    def direction(self, fun: FlatFun, x: Array, g: Array, state: object) -> Direction:
        zero = jnp.zeros((), x.dtype)
        return Direction(d=-g, curvature=zero, escape=jnp.asarray(False), aux={}, state=state)

    def first_step(self, g: Array) -> Array:
        if self.initial_step == "constant":
            return jnp.asarray(self.step_size, g.dtype)
        return self.step_size / jnp.maximum(1.0, norm(g))

    def next_step(self, t: Array, s: Array, y: Array) -> Array:
        if self.initial_step == "constant":
            return jnp.full_like(t, self.step_size)
        grown = 2.0 * t
        if self.initial_step == "grow":
            return grown
        sy = dot(s, y)
        bb = dot(s, s) / jnp.where(sy > 0, sy, 1.0)
        return jnp.where((sy > 0) & jnp.isfinite(bb), bb, grown)


@dataclasses.dataclass(frozen=True)
class GradientDescent(LineSearchSolver):
    """Steepest descent x₊ = x − t·∇f(x).

    Args:
        step_size: the constant step t with ``line_search="none"``; otherwise the scale of
            the first trial step.
        line_search: "backtracking" (Armijo, default), "none" (constant step) or "wolfe"
            (optax's zoom line search, strong Wolfe conditions; see ``GradientDescent.wolfe``).
        initial_step: first trial of each backtracking search: "bb", "grow" or "constant".
    """

    def __init__(
        self,
        step_size: float = 1.0,
        line_search: str | Backtracking | NoLineSearch | None = "backtracking",
        initial_step: str = "bb",
    ) -> None:
        if line_search == "wolfe":
            raise ValueError("use GradientDescent.wolfe() (or method='gradient_descent' with "
                             "line_search='wolfe' in minimize) for a Wolfe line search")
        ls = make_line_search(line_search)
        if isinstance(ls, NoLineSearch):
            initial_step = "constant"
        if initial_step not in ("bb", "grow", "constant"):
            raise ValueError(
                f"initial_step must be 'bb', 'grow' or 'constant', got {initial_step!r}"
            )
        object.__setattr__(self, "descent", SteepestDescent(step_size, initial_step))
        object.__setattr__(self, "line_search", ls)

    @staticmethod
    def wolfe(max_linesearch_steps: int = 30) -> Solver:
        """Steepest descent with optax's zoom line search (strong Wolfe conditions)."""
        return Optax(
            optax.chain(
                optax.sgd(learning_rate=1.0),
                optax.scale_by_zoom_linesearch(max_linesearch_steps=max_linesearch_steps),
            )
        )


def gradient_descent_solver(line_search: str | None = "backtracking", **options: object) -> Solver:
    if line_search == "wolfe":
        return GradientDescent.wolfe(**options)  # type: ignore[arg-type]
    return GradientDescent(line_search=line_search, **options)  # type: ignore[arg-type]
