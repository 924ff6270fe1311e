"""Steepest descent: d = −∇f(x) with a constant step, Armijo backtracking or a Wolfe search."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import optax

from .._linalg import dot, norm
from ._base import Array, FlatFun, Solver
from ._descent import Descent, Direction, LineSearchSolver, steepest_direction
from ._linesearch import LineSearch, NoLineSearch
from ._optax import Optax


@dataclasses.dataclass(frozen=True)
class SteepestDescent(Descent):
    """d = −∇f. The first trial step is step_size/max(1, ‖∇f‖); later ones are chosen by
    ``initial_step``: "bb" (Barzilai–Borwein, t = sᵀs/sᵀy, the step that fits the secant
    equation best), "grow" (the last accepted t doubled) or "constant" (always step_size)."""

    step_size: float = 1.0
    initial_step: str = "bb"

    def direction(self, fun: FlatFun, x: Array, g: Array, state: object) -> Direction:
        return steepest_direction(g, state)

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


INITIAL_STEPS = ("bb", "grow", "constant")


@dataclasses.dataclass(frozen=True)
class GradientDescent(LineSearchSolver):
    """Steepest descent x₊ = x − t·∇f(x).

    Args:
        step_size: the constant step t with ``line_search="none"``; otherwise the scale of
            the first trial step.
        line_search: "backtracking" (Armijo, default), "wolfe" (strong Wolfe conditions),
            "none" (constant step) or a ``LineSearch`` object.
        initial_step: first trial of each line search: "bb" (Barzilai–Borwein), "grow" (the
            last accepted step doubled) or "constant" (always step_size; implied by "none").
    """

    default_max_steps = 20_000

    step_size: float = 1.0
    line_search: LineSearch | str | None = "backtracking"
    initial_step: str = "bb"

    def __post_init__(self) -> None:
        if self.initial_step not in INITIAL_STEPS:
            raise ValueError(f"initial_step must be 'bb', 'grow' or 'constant', got "
                             f"{self.initial_step!r}")
        _ = self.search  # an unknown line-search name fails here, not inside jit

    @property
    def descent(self) -> SteepestDescent:  # type: ignore[override]
        constant = isinstance(self.search, NoLineSearch)
        return SteepestDescent(self.step_size, "constant" if constant else self.initial_step)

    @staticmethod
    def wolfe(max_linesearch_steps: int = 30) -> Solver:
        """Steepest descent with optax's zoom line search (strong Wolfe conditions) instead of
        the folded :class:`~optkit.solvers.Wolfe` that ``line_search="wolfe"`` gives."""
        return Optax(
            optax.chain(
                optax.sgd(learning_rate=1.0),
                optax.scale_by_zoom_linesearch(max_linesearch_steps=max_linesearch_steps),
            )
        )
