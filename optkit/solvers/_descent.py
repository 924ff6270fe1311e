"""Line-search solvers: a descent direction paired with a line search.

A :class:`Descent` says where to go (−∇f, the Newton step, a quasi-Newton step); a
:class:`~optkit.solvers.LineSearch` says how far. :class:`LineSearchSolver` glues any pair
into a solver for the driver's loop, with each line-search trial as one trip round the loop.
The presets (``GradientDescent``, ``Newton``, ``BFGS``, ``NewtonCG``) are line-search solvers
whose descent is built from their options; :class:`DescentSolver` pairs any descent with any
line search, which is how a new method is written outside the package.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._linalg import dot, norm
from ._base import UNEVALUATED, Array, FlatFun, Solver, StepInfo
from ._linesearch import LineSearch, Trial, as_line_search


class Direction(NamedTuple):
    d: Array  # the search direction
    curvature: Array  # dᵀ∇²f d where known (0 otherwise); negative values enter Armijo
    escape: Array  # bool: negative curvature seen, do not stop yet
    aux: dict[str, Array]  # per-step scalars to record
    state: Any  # the descent's own state (e.g. an inverse-Hessian estimate)


class Descent(abc.ABC):
    """Computes a search direction at an iterate.

    Subclass it as a frozen dataclass and implement :meth:`direction`; the other methods have
    defaults (no state, first trial step 1). ``aux_names`` lists the per-step scalars the
    direction reports in ``Direction.aux`` (recorded in the trajectory).
    """

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


def steepest_direction(g: Array, state: Any = ()) -> Direction:
    """d = −∇f with no curvature information (what a first-order descent returns)."""
    zero = jnp.zeros((), g.dtype)
    return Direction(d=-g, curvature=zero, escape=jnp.asarray(False), aux={}, state=state)


class DescentState(NamedTuple):
    x: Array
    f: Array
    g: Array
    grad_norm: Array
    d: Array
    slope: Array  # ∇f·d
    curvature: Array  # dᵀ∇²f d or 0
    t: Array  # current trial step length
    trials: Array  # consecutive rejected trials (UNEVALUATED: x is a start not yet evaluated)
    search: Any  # the line search's own state (e.g. a Wolfe bracket)
    escape: Array
    aux: dict[str, Array]
    descent_state: Any


def _shape_stand_in(z: Array) -> Array:
    """A cheap f with the objective's signature (a scalar of z's dtype): what a direction's
    shapes depend on."""
    return 0.5 * jnp.sum(z * z)


class LineSearchSolver(Solver):
    """A :class:`Descent` with a line search folded into the driver's loop.

    Subclasses provide ``descent`` and ``line_search`` (a :class:`LineSearch`, a registered
    name or None for "none"); ``tuned_backtracking`` is what the names "backtracking" and
    "armijo" mean for the method (Newton tries two step lengths per trip).
    """

    tuned_backtracking: ClassVar[LineSearch | None] = None
    # provided by subclasses, as dataclass fields or properties
    descent: Descent
    line_search: LineSearch | str | None

    @property
    def search(self) -> LineSearch:
        """The line search object (``line_search`` resolved)."""
        return as_line_search(self.line_search, self.tuned_backtracking)

    @property
    def aux_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.descent.aux_names

    def _at(self, fun: FlatFun, x: Array, f: Array, g: Array, t: Array, dstate: Any):
        direction = self.descent.direction(fun, x, g, dstate)
        return DescentState(
            x=x, f=f, g=g, grad_norm=norm(g), d=direction.d,
            slope=dot(g, direction.d), curvature=direction.curvature, t=t,
            trials=jnp.zeros((), jnp.int32), search=self.search.init(t),
            escape=direction.escape, aux=direction.aux,
            descent_state=direction.state,
        )

    evaluates_start_in_loop = True

    def init(self, fun: FlatFun, x: Array) -> DescentState:
        """x₀, not yet evaluated (``trials`` = UNEVALUATED): the first trip takes the "trial"
        x₀ + 0·d and computes f, ∇f and the direction there, as after any accepted step."""
        zero = jnp.zeros((), x.dtype)
        g = jnp.zeros_like(x)
        # only the shapes are needed, and they do not depend on f beyond its signature:
        # tracing a stand-in keeps f's derivatives (Newton's Hessian) out of this trace, so
        # they are traced once, in the loop body
        direction = jax.eval_shape(lambda: self.descent.direction(
            _shape_stand_in, x, g, self.descent.init(x, g)))
        placeholder = jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), direction)
        return DescentState(
            x=x, f=jnp.full((), jnp.nan, x.dtype), g=g, grad_norm=zero,
            # x + 0·(−0) is x bit for bit, −0 and NaN included
            d=jnp.full_like(x, -0.0), slope=zero, curvature=zero, t=zero,
            trials=jnp.full((), UNEVALUATED, jnp.int32), search=self.search.init(zero),
            escape=jnp.asarray(False), aux=placeholder.aux,
            descent_state=placeholder.state,
        )

    def _try(self, fun: FlatFun, state: DescentState):  # noqa: ANN202
        """Evaluate the trial step(s); returns (accepted, t, x, f, ∇f, next t, search state)."""
        search = self.search
        ts = search.candidates(state.t)

        def trial_at(t: Array, f_trial: Array, g_trial: Array) -> Trial:
            return Trial(f=state.f, slope=state.slope, curvature=state.curvature,
                         grad_norm=state.grad_norm, t=t, f_trial=f_trial,
                         slope_trial=dot(g_trial, state.d), grad_norm_trial=norm(g_trial))

        if ts.shape[0] == 1:
            x_trial = state.x + state.t * state.d
            f_trial, g_trial = jax.value_and_grad(fun)(x_trial)
            trial = trial_at(state.t, f_trial, g_trial)
            t_next, searched = search.next_step(trial, state.search)
            return search.accepts(trial), state.t, x_trial, f_trial, g_trial, t_next, searched
        # several step lengths at once: the first (largest) acceptable one is taken, so a
        # backtracking search costs one trip round the loop instead of several
        xs = state.x[None, :] + ts[:, None] * state.d[None, :]
        fs, gs = jax.vmap(jax.value_and_grad(fun))(xs)
        ok = jax.vmap(lambda t, f, g: search.accepts(trial_at(t, f, g)))(ts, fs, gs)
        t_next, searched = search.next_step(trial_at(ts[-1], fs[-1], gs[-1]), state.search)
        chosen = jnp.arange(ts.shape[0]) == jnp.argmax(ok)
        t = jnp.sum(jnp.where(chosen, ts, 0.0))
        f_trial = jnp.sum(jnp.where(chosen, fs, 0.0))
        g_trial = jnp.sum(jnp.where(chosen[:, None], gs, 0.0), axis=0)
        return jnp.any(ok), t, state.x + t * state.d, f_trial, g_trial, t_next, searched

    def step(self, fun: FlatFun, state: DescentState) -> tuple[DescentState, StepInfo]:
        accepted, t_used, x_trial, f_trial, g_trial, t_rejected, searched = self._try(
            fun, state)
        start = state.trials == UNEVALUATED
        accepted = accepted | start

        def accept(_: None) -> DescentState:
            s, y = x_trial - state.x, g_trial - state.g
            dstate, t_next = lax.cond(
                start,
                lambda: (self.descent.init(x_trial, g_trial), self.descent.first_step(g_trial)),
                lambda: (self.descent.update(state.descent_state, s, y),
                         self.descent.next_step(t_used, s, y)))
            return self._at(fun, x_trial, f_trial, g_trial, t_next, dstate)

        def reject(_: None) -> DescentState:
            return state._replace(t=t_rejected, trials=state.trials + 1, search=searched)

        new_state = lax.cond(accepted, accept, reject, None)
        eps = jnp.finfo(state.x.dtype).eps
        step_vanished = norm(new_state.t * new_state.d) <= eps * norm(state.x)
        failed = ~accepted & ((new_state.trials >= self.search.max_trials) | step_vanished)
        info = StepInfo(accepted=accepted, failed=failed, step_size=t_used, aux=state.aux)
        return new_state, info

    def wants_more(self, state: DescentState) -> Array:
        return state.escape


@dataclasses.dataclass(frozen=True)
class DescentSolver(LineSearchSolver):
    """Any :class:`Descent` with any line search: the way to write a new method.

    >>> solver = DescentSolver(MyDescent(), line_search="wolfe")
    >>> optkit.minimize(f, x0, method=solver)
    """

    descent: Descent  # type: ignore[assignment]
    line_search: LineSearch | str | None = "backtracking"

    def __post_init__(self) -> None:
        if not isinstance(self.descent, Descent):
            raise TypeError(f"DescentSolver: descent must be a Descent, got "
                            f"{type(self.descent).__name__}")
        _ = self.search  # an unknown line-search name fails here, not inside jit

