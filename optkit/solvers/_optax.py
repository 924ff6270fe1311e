"""Any optax optimiser as an optkit solver (every update is one accepted step)."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ._base import Array, FlatFun, Solver, StepInfo


class OptaxState(NamedTuple):
    x: Array
    f: Array
    g: Array
    opt_state: Any


@dataclasses.dataclass(frozen=True, eq=False)
class Optax(Solver):
    """Wrap an ``optax.GradientTransformation`` (e.g. ``optax.adam(1e-3)``, ``optax.lbfgs()``).

    Transformations with a line search (``optax.lbfgs``, ``scale_by_zoom_linesearch``) get
    the objective, value and gradient they need through optax's extra-args protocol.
    Compared by identity: two wrappers of equal-looking optimisers compile separately.
    """

    default_max_steps = 20_000

    optimizer: optax.GradientTransformation

    def init(self, fun: FlatFun, x: Array) -> OptaxState:
        f, g = jax.value_and_grad(fun)(x)
        return OptaxState(x, f, g, self.optimizer.init(x))

    def step(self, fun: FlatFun, state: OptaxState) -> tuple[OptaxState, StepInfo]:
        updates, opt_state = self.optimizer.update(
            state.g, state.opt_state, state.x, value=state.f, grad=state.g, value_fn=fun
        )
        x = optax.apply_updates(state.x, updates)
        try:  # line searches keep f and ∇f at the new point in their state: reuse them
            f, g = optax.value_and_grad_from_state(fun)(x, state=opt_state)
        except ValueError:  # plain optimisers (adam, sgd, ...) keep neither
            f, g = jax.value_and_grad(fun)(x)
        g_norm = jnp.linalg.norm(state.g)
        step = jnp.linalg.norm(updates) / jnp.where(g_norm > 0, g_norm, 1.0)
        info = StepInfo(
            accepted=jnp.asarray(True), failed=jnp.asarray(False), step_size=step, aux={}
        )
        return OptaxState(x, f, g, opt_state), info

    def __hash__(self) -> int:
        return id(self)
