"""Line-search solvers: a descent direction paired with a step rule.

A ``Descent`` says where to go (−∇f, the Newton step, a quasi-Newton step); a line search
says how far. ``LineSearchSolver`` glues any pair into a solver for the driver's loop, with
each line-search trial as one trip round the loop.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._linalg import dot, norm
from ._base import Array, FlatFun, Solver, StepInfo
from ._linesearch import Backtracking, NoLineSearch


class Direction(NamedTuple):
    d: Array  # the search direction
    curvature: Array  # dᵀ∇²f d where known (0 otherwise); negative values enter Armijo
    escape: Array  # bool: negative curvature seen, do not stop yet
    aux: dict[str, Array]  # per-step scalars to record
    state: Any  # the descent's own state (e.g. an inverse-Hessian estimate)


class Descent(abc.ABC):
    """Computes a search direction at an iterate."""

    aux_names: tuple[str, ...] = ()

    def init(self, x: Array, g: Array) -> Any:
        return ()

    def update(self, state: Any, s: Array, y: Array) -> Any:
        """After an accepted step s = x₊ − x with gradient change y = ∇f₊ − ∇f."""
        return state

    @abc.abstractmethod
    def direction(self, fun: FlatFun, x: Array, g: Array, state: Any) -> Direction: ...

    def first_step(self, g: Array) -> Array:
        return jnp.ones((), g.dtype)

    def next_step(self, t: Array, s: Array, y: Array) -> Array:
        """Trial step length to start the next line search with."""
        return jnp.ones_like(t)


class DescentState(NamedTuple):
    x: Array
    f: Array
    g: Array
    grad_norm: Array
    d: Array
    slope: Array  # ∇f·d
    curvature: Array  # dᵀ∇²f d or 0
    t: Array  # current trial step length
    trials: Array  # consecutive rejected trials
    escape: Array
    aux: dict[str, Array]
    descent_state: Any


@dataclasses.dataclass(frozen=True)
class LineSearchSolver(Solver):
    """Any ``Descent`` with a folded line search (``Backtracking`` or ``NoLineSearch``)."""

    descent: Descent
    line_search: Backtracking | NoLineSearch

    @property
    def aux_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.descent.aux_names

    def _at(self, fun: FlatFun, x: Array, f: Array, g: Array, t: Array, dstate: Any):
        direction = self.descent.direction(fun, x, g, dstate)
        return DescentState(
            x=x, f=f, g=g, grad_norm=norm(g), d=direction.d,
            slope=dot(g, direction.d), curvature=direction.curvature, t=t,
            trials=jnp.zeros((), jnp.int32), escape=direction.escape, aux=direction.aux,
            descent_state=direction.state,
        )

    def init(self, fun: FlatFun, x: Array) -> DescentState:
        f, g = jax.value_and_grad(fun)(x)
        return self._at(fun, x, f, g, self.descent.first_step(g), self.descent.init(x, g))

    def _try(self, fun: FlatFun, state: DescentState):  # noqa: ANN202
        """Evaluate the trial step(s); returns (accepted, t, x, f, ∇f, t if rejected)."""
        ls = self.line_search

        def accepts(f_trial: Array, t: Array, g_trial: Array) -> Array:
            return ls.accepts(state.f, f_trial, t, state.slope, state.curvature,
                              state.grad_norm, norm(g_trial))

        candidates = getattr(ls, "candidates", 1)
        if candidates == 1:
            x_trial = state.x + state.t * state.d
            f_trial, g_trial = jax.value_and_grad(fun)(x_trial)
            t_next = ls.shrink(state.f, f_trial, state.t, state.slope)
            return accepts(f_trial, state.t, g_trial), state.t, x_trial, f_trial, g_trial, t_next
        # several step lengths t·s^k at once: the largest acceptable one is taken, so a
        # backtracking search costs one trip round the loop instead of several
        ts = state.t * ls.shrink_max ** jnp.arange(candidates, dtype=state.t.dtype)
        xs = state.x[None, :] + ts[:, None] * state.d[None, :]
        fs, gs = jax.vmap(jax.value_and_grad(fun))(xs)
        ok = jax.vmap(accepts)(fs, ts, gs)
        chosen = (jnp.arange(candidates) == jnp.argmax(ok))  # the first acceptable one
        t = jnp.sum(jnp.where(chosen, ts, 0.0))
        f_trial = jnp.sum(jnp.where(chosen, fs, 0.0))
        g_trial = jnp.sum(jnp.where(chosen[:, None], gs, 0.0), axis=0)
        t_next = ls.shrink(state.f, fs[-1], ts[-1], state.slope)
        return jnp.any(ok), t, state.x + t * state.d, f_trial, g_trial, t_next

    def step(self, fun: FlatFun, state: DescentState) -> tuple[DescentState, StepInfo]:
        accepted, t_used, x_trial, f_trial, g_trial, t_rejected = self._try(fun, state)

        def accept(_: None) -> DescentState:
            s, y = x_trial - state.x, g_trial - state.g
            dstate = self.descent.update(state.descent_state, s, y)
            t_next = self.descent.next_step(t_used, s, y)
            return self._at(fun, x_trial, f_trial, g_trial, t_next, dstate)

        def reject(_: None) -> DescentState:
            return state._replace(t=t_rejected, trials=state.trials + 1)

        new_state = lax.cond(accepted, accept, reject, None)
        eps = jnp.finfo(state.x.dtype).eps
        step_vanished = norm(new_state.t * new_state.d) <= eps * norm(state.x)
        failed = ~accepted & ((new_state.trials >= self.line_search.max_trials) | step_vanished)
        info = StepInfo(accepted=accepted, failed=failed, step_size=t_used, aux=state.aux)
        return new_state, info

    def wants_more(self, state: DescentState) -> Array:
        return state.escape
