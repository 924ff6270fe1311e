"""Line-search solvers: a descent direction paired with a line search.

A :class:`Descent` says where to go (−∇f, the Newton step, a quasi-Newton step); a
:class:`~optkit.solvers.LineSearch` says how far. :class:`LineSearchSolver` glues any pair
into a solver for the driver's loop. The presets (``GradientDescent``, ``Newton``, ``BFGS``,
``NewtonCG``) are line-search solvers whose descent is built from their options;
:class:`DescentSolver` pairs any descent with any line search, which is how a new method is
written outside the package.
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
    t: Array  # the step length to try next
    trials: Array  # rejected trials of this search (UNEVALUATED: x is a start not yet evaluated)
    search: Any  # the line search's own state (e.g. a Wolfe bracket)
    escape: Array
    aux: dict[str, Array]
    descent_state: Any


class _Search(NamedTuple):
    """The trials of one step: the last one evaluated and what to try next."""

    done: Array  # bool: the last trial was accepted (or it was the start's evaluation)
    evaluations: Array  # trials evaluated in this step
    t: Array  # the step length of the last trial
    x: Array  # its point x + t·d, value and gradient
    f: Array
    g: Array
    t_next: Array  # the step length to try next
    search: Any  # the line search's own state


def _shape_stand_in(z: Array) -> Array:
    """A cheap f with the objective's signature (a scalar of z's dtype): what a direction's
    shapes depend on."""
    return 0.5 * jnp.sum(z * z)


class LineSearchSolver(Solver):
    """A :class:`Descent` with a line search.

    A step evaluates trials x + t·d, each costing f and ∇f (f alone where
    :meth:`LineSearch.value_passes` rejects the trial on its value), until one is accepted,
    and then computes the next direction once, at the accepted point. In a single solve the
    trials run in a loop inside the step, so the driver's per-trip work (its tests, the
    record, the progress callback) is paid per step, not per trial; in a batch, one trial per
    trip (see :meth:`step`).

    Subclasses provide ``descent`` and ``line_search`` (a :class:`LineSearch`, a registered
    name or None for "none"); ``tuned_backtracking`` is what the names "backtracking" and
    "armijo" mean for the method (Newton tries four step lengths per trial).
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
            escape=direction.escape, aux=direction.aux, descent_state=direction.state,
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
            escape=jnp.asarray(False), aux=placeholder.aux, descent_state=placeholder.state,
        )

    def _try(self, fun: FlatFun, state: DescentState, t: Array, searched: Any):  # noqa: ANN202
        """Evaluate the trial step length(s) ``t`` (``search.candidates``) from ``state``;
        returns (accepted, t, x, f, ∇f, next t, search state)."""
        search = self.search
        ts = search.candidates(t)

        def trial_at(t: Array, f_trial: Array, g_trial: Array | None) -> Trial:
            # without ∇f at the trial (g_trial None) its slope and gradient norm are NaN
            nan = jnp.full((), jnp.nan, f_trial.dtype)
            return Trial(f=state.f, slope=state.slope, curvature=state.curvature,
                         grad_norm=state.grad_norm, t=t, f_trial=f_trial,
                         slope_trial=nan if g_trial is None else dot(g_trial, state.d),
                         grad_norm_trial=nan if g_trial is None else norm(g_trial))

        if ts.shape[0] == 1:
            x_trial = state.x + t * state.d
            f_trial, pullback = jax.vjp(fun, x_trial)
            passes = search.value_passes(trial_at(t, f_trial, None))
            if passes is None:
                (g_trial,) = pullback(jnp.ones_like(f_trial))
                passes = jnp.asarray(True)
            else:
                # ∇f only where the value leaves the trial a chance, and at the start; under
                # vmap both branches run and nothing is saved
                passes = passes | (state.trials == UNEVALUATED)
                g_trial = lax.cond(passes, lambda: pullback(jnp.ones_like(f_trial))[0],
                                   lambda: jnp.zeros_like(x_trial))
            trial = trial_at(t, f_trial, g_trial)
            t_next, searched = search.next_step(trial, searched)
            return passes & search.accepts(trial), t, x_trial, f_trial, g_trial, t_next, searched
        # several step lengths at once: the first (largest) acceptable one is taken
        xs = state.x[None, :] + ts[:, None] * state.d[None, :]
        fs, gs = jax.vmap(jax.value_and_grad(fun))(xs)
        ok = jax.vmap(lambda t, f, g: search.accepts(trial_at(t, f, g)))(ts, fs, gs)
        t_next, searched = search.next_step(trial_at(ts[-1], fs[-1], gs[-1]), searched)
        chosen = jnp.arange(ts.shape[0]) == jnp.argmax(ok)
        t_used = jnp.sum(jnp.where(chosen, ts, 0.0))
        f_trial = jnp.sum(jnp.where(chosen, fs, 0.0))
        g_trial = jnp.sum(jnp.where(chosen[:, None], gs, 0.0), axis=0)
        return jnp.any(ok), t_used, state.x + t_used * state.d, f_trial, g_trial, t_next, searched

    def _trials(self, fun: FlatFun, state: DescentState, moves: Any, loop: bool,
                active: Array) -> _Search:
        """The trial at ``state.t`` and, with ``loop``, further trials until one is accepted,
        the search has ``max_trials`` rejections or the next step is too short to move x
        (not ``moves(t)``); none where not ``active``. The start's evaluation is a single
        trial at t = 0, accepted."""
        search = self.search
        start = state.trials == UNEVALUATED

        def trial(c: _Search) -> _Search:
            accepted, t, x, f, g, t_next, searched = self._try(fun, state, c.t_next, c.search)
            return _Search(done=accepted | start, evaluations=c.evaluations + 1,
                           t=t, x=x, f=f, g=g, t_next=t_next, search=searched)

        def running(c: _Search) -> Array:
            more = (~c.done & (state.trials + c.evaluations < search.max_trials)
                    & moves(c.t_next))
            return active & ((c.evaluations == 0) | more)

        # the first trial inside the loop too: tracing the trial twice (f's derivative
        # code with it) cost 0.3-0.45 s more compile per program, for no faster solve
        before = _Search(done=jnp.asarray(False), evaluations=jnp.zeros((), jnp.int32),
                         t=state.t, x=state.x, f=state.f, g=state.g, t_next=state.t,
                         search=state.search)
        return lax.while_loop(running, trial, before) if loop else trial(before)

    step_takes_context = True

    def step(self, fun: FlatFun, state: DescentState, *, active: Array | bool = True,
             batched: bool = False) -> tuple[DescentState, StepInfo]:
        """One step: trials until one is accepted (or the search fails), then the next
        direction. In a batch (``batched``) one trial per trip instead: under vmap a loop of
        trials inside the step makes every start wait for the trials of the slowest, where
        one trial per trip lets starts at different stages share a trip (W1, 10⁴ starts:
        the loop inside the step was 30–40% slower; a single chained Rosenbrock solve with
        Newton–CG, n = 1,000, 13–20% faster)."""
        # a step t·d with t·‖d‖ ≤ ε‖x‖ does not move x: ‖d‖ and ‖x‖ once per trip
        floor = jnp.finfo(state.x.dtype).eps * norm(state.x)
        d_norm = norm(state.d)

        def moves(t: Array) -> Array:
            return t * d_norm > floor

        searched = self._trials(fun, state, moves, not batched, jnp.asarray(active))
        accepted = searched.done

        def accept(_: None) -> DescentState:
            s, y = searched.x - state.x, searched.g - state.g
            dstate, t_next = lax.cond(
                state.trials == UNEVALUATED,
                lambda: (self.descent.init(searched.x, searched.g),
                         self.descent.first_step(searched.g)),
                lambda: (self.descent.update(state.descent_state, s, y),
                         self.descent.next_step(searched.t, s, y)))
            return self._at(fun, searched.x, searched.f, searched.g, t_next, dstate)

        def reject(_: None) -> DescentState:
            return state._replace(t=searched.t_next, search=searched.search,
                                  trials=state.trials + searched.evaluations)

        new_state = lax.cond(accepted, accept, reject, None)
        failed = ~accepted & ((new_state.trials >= self.search.max_trials)
                              | ~moves(searched.t_next))
        info = StepInfo(accepted=accepted, failed=failed, step_size=searched.t,
                        aux=state.aux, evaluations=searched.evaluations)
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

