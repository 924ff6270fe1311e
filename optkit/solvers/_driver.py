"""The one loop every solver runs in: a single ``lax.while_loop`` in a single XLA program.

The driver owns what all solvers share: the step cap, the non-finite check, the status and the
trajectory buffers. Solvers only ``init`` and ``step`` (see ``_base.Solver``).

Stopping rule, checked after every trip round the loop, first match wins:

1. any of x, f(x), ∇f(x) (or the search direction) non-finite → NONFINITE; the result keeps
   the last finite iterate;
2. an accepted step with ‖∇f(x)‖₂ ≤ grad_tol — or, with ``rel_grad_tol`` = r > 0, with
   ‖∇f(x)‖₂ ≤ max(grad_tol, r·max(1, |f|)/max(1, ‖x‖)), a test that does not depend on the
   units of f and x — unless the solver wants more (Newton at a
   point of negative curvature) → CONVERGED;
3. the solver failed → its ``failure_status`` (LINE_SEARCH_FAILED when a line search is
   exhausted, SMALL_STEP when a trust region collapses), except that a failed line search
   at the rounding floor is ROUNDING_FLOOR: with p the solver's proposed step at unit length
   (its ``direction_field``; the whole Newton, quasi-Newton or Newton–CG step, whose search
   starts at t = 1, or −∇f for gradient descent), p ≠ 0 and either
   |∇f(x)·p| ≤ 10·ε·(|f(x)| + tiny) (the first-order decrease promised by every trial step
   t·p, t ≤ 1, is below the rounding error of f) or x + p == x in floating point (no trial
   step moves x). A zero p (e.g. an overflowing Hessian) is no evidence of a floor and stays
   LINE_SEARCH_FAILED. ``converged`` stays false: the gradient is still above grad_tol;
4. an accepted step with ‖Δx‖₂ ≤ x_tol·(1 + ‖x‖₂) → SMALL_STEP (x_tol = 0: only Δx = 0);
5. f_tol > 0 and an accepted step with |Δf| ≤ f_tol·(1 + |f|) → SMALL_DECREASE;
6. ‖x‖_∞ or −f beyond 1e30 → DIVERGED;
7. a callback (``minimize(..., callback=cb)``, called every ``callback_every`` accepted
   steps) returned True → STOPPED;
8. num_steps = max_steps → MAX_STEPS.

The start is checked too: a non-finite start is NONFINITE and a start that already satisfies
rule 2 is CONVERGED after 0 steps. A solver whose ``init`` leaves x₀ unevaluated
(``Solver.evaluates_start_in_loop``) has it evaluated by the loop's first trip, which applies
only these checks (and rule 8 for max_steps = 0), counts no step and is the solve's first
evaluation: the code that evaluates a point is then compiled once, in the loop body.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from .._linalg import dot, max_abs, norm
from ..analysis._classify import classify_flat, critical_grad_tol
from ._base import Array, FlatFun, Solver
from ._result import Result, Trajectory
from ._status import RUNNING, Status

DIVERGENCE_BOUND = 1e30


class _Carry(NamedTuple):
    state: Any
    num_steps: Array
    num_evals: Array  # evaluations of f (and ∇f): StepInfo.evaluations summed
    num_trips: Array  # trips round the loop
    status: Array
    buffers: dict[str, Array] | None


def _all_finite(*arrays: Array) -> Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(a)) for a in arrays]))


def _finite_state(state: Any, solver: Solver, x_max: Array | None = None) -> Array:
    """Rule 1's test of x, f, ∇f and the solver's direction; with ``x_max`` = max|x| given,
    x's finiteness is read off it (NaN or ∞ exactly where an entry is) instead of x."""
    direction = getattr(state, solver.direction_field, None)
    others = [state.f, state.g] if direction is None else [state.f, state.g, direction]
    if x_max is None:
        return _all_finite(state.x, *others)
    return jnp.isfinite(x_max) & _all_finite(*others)


def _keep_last_finite(new: Any, old: Any, finite: Array, solver: Solver) -> Any:
    """``new``, with the solver's ``result_fields`` (x, f, ∇f, …) kept at ``old`` when
    ``new`` is not finite (rule 1).

    A non-finite trip ends the solve (NONFINITE) and only those fields are read after it, so
    the rest of the state is not selected: at large n that select was a pass over the whole
    solver state on every trip (a BFGS matrix, an L-BFGS history of 2m vectors, a Jacobian).
    """
    def keep(a: Any, b: Any) -> Any:
        return jax.tree_util.tree_map(lambda u, v: jnp.where(finite, u, v), a, b)

    if not hasattr(new, "_replace"):  # a state that is not a NamedTuple: select all of it
        return keep(new, old)
    return new._replace(**{name: keep(getattr(new, name), getattr(old, name))
                           for name in solver.result_fields})


def _failure_status(state: Any, solver: Solver) -> Array:
    """The solver's failure status; ROUNDING_FLOOR for a failed line search at the rounding
    floor of f or of x (rule 3 of the module docstring)."""
    code = jnp.int32(solver.failure_status)
    if solver.failure_status != Status.LINE_SEARCH_FAILED:
        return code
    step = getattr(state, solver.direction_field, None)
    if step is None:
        return code
    dtype = state.x.dtype
    eps, tiny = jnp.finfo(dtype).eps, jnp.finfo(dtype).tiny
    unmeasurable = jnp.abs(dot(state.g, step)) <= 10 * eps * (jnp.abs(state.f) + tiny)
    motionless = jnp.all(state.x + step == state.x)
    floor = jnp.any(step != 0) & (unmeasurable | motionless)
    return jnp.where(floor, jnp.int32(Status.ROUNDING_FLOOR), code)


def _first(conditions: list[tuple[Array, Status]], default: Array) -> Array:
    status = default
    for condition, code in reversed(conditions):
        status = jnp.where(condition, jnp.int32(code), status)
    return status


def _row(state: Any, step_size: Array, aux: dict[str, Array], names: tuple[str, ...]
         ) -> dict[str, Array]:
    """One row of the record: the iterate, and its scalars packed into one vector (f, ‖∇f‖,
    the step size, then the solver's aux values in ``aux_names`` order). One buffer for all
    the scalars is one write per trip instead of one per column: under vmap each write is a
    scatter, and separate ones were a third of a recorded batch program's kernels."""
    scalars = [state.f, norm(state.g), step_size, *(aux[name] for name in names)]
    return {"x": state.x, "scalars": jnp.stack([jnp.asarray(v, state.x.dtype) for v in scalars])}


@dataclasses.dataclass(frozen=True)
class Loop:
    """The driver's loop for one solver, function and set of tolerances.

    ``start`` → ``advance`` (any number of times) → ``finish`` is exactly ``solve_flat``:
    ``advance`` pauses at a step count and resumes from the whole carry (solver state,
    counters, buffers), so a solve run in chunks, e.g. to report progress, gives bit-for-bit
    the result of one uninterrupted loop.
    """

    fun: FlatFun
    solver: Solver
    grad_tol: Array
    x_tol: Array
    f_tol: Array
    max_steps: int
    record: bool
    # callback(due, num_steps, x, f, grad_norm) -> stop, traced on every trip (see _api)
    callback: Any = None
    #: scale-aware gradient test: converged also where ‖∇f‖ ≤ rtol·max(1, |f|)/max(1, ‖x‖)
    rel_grad_tol: float = 0.0
    #: the loop of ``minimize_batch``, run under vmap (``Solver.step_takes_context``)
    batched: bool = False

    def _settle(self, new: Any, old: Any, first_trip: Array
                ) -> tuple[Any, Array, Array, Array]:
        """Rule 1 for a trip: (the state to keep, whether the new one is finite, max|x| of the
        new state, ‖∇f‖ of the state kept). x's finiteness is read off max|x| (NaN or ∞
        exactly where an entry is), which rule 6 needs anyway: one pass over x fewer per
        trip. Where the new state is not finite, rule 1 ends the solve and rule 6 is not
        read."""
        x_max = max_abs(new.x)
        finite = _finite_state(new, self.solver, x_max)
        state = _keep_last_finite(new, old, finite | first_trip, self.solver)
        return state, finite, x_max, norm(state.g)

    def _gradient_met(self, state: Any, grad_norm: Array, grad_tol: Array) -> Array:
        """Rule 2's test: ‖∇f‖ ≤ max(grad_tol, rel_grad_tol·max(1, |f|)/max(1, ‖x‖)), with
        ``grad_norm`` = ‖∇f‖ of ``state`` (the loop body has it already)."""
        if not self.rel_grad_tol:
            return grad_norm <= grad_tol
        scale = jnp.maximum(1.0, jnp.abs(state.f)) / jnp.maximum(1.0, norm(state.x))
        return grad_norm <= jnp.maximum(grad_tol, self.rel_grad_tol * scale)

    def start(self, x0: Array) -> _Carry:
        solver, dtype = self.solver, x0.dtype
        state = solver.init(self.fun, x0)
        if solver.evaluates_start_in_loop:
            # x₀ is not evaluated yet: the first trip does it and applies these rules there
            status0, num_evals = jnp.int32(RUNNING), jnp.int32(0)
        else:
            status0 = _first(
                [
                    (~_finite_state(state, solver), Status.NONFINITE),
                    (self._gradient_met(state, norm(state.g), self._tol(self.grad_tol, dtype))
                     & ~solver.wants_more(state), Status.CONVERGED),
                    (jnp.asarray(self.max_steps <= 0), Status.MAX_STEPS),
                ],
                jnp.int32(RUNNING),
            )
            num_evals = jnp.int32(1)
        buffers = None
        if self.record:
            row0 = _row(state, jnp.zeros((), dtype), solver.default_aux(dtype), solver.aux_names)
            buffers = {
                k: jnp.full((self.max_steps + 1,) + jnp.shape(v), jnp.nan, dtype).at[0].set(v)
                for k, v in row0.items()
            }
        return _Carry(state, jnp.int32(0), num_evals, jnp.int32(0), status0, buffers)

    def _first_trip(self, carry: _Carry) -> Array:
        """True on the trip that evaluates x₀ (``Solver.evaluates_start_in_loop``)."""
        if not self.solver.evaluates_start_in_loop:
            return jnp.asarray(False)
        return carry.num_trips == 0

    @staticmethod
    def _tol(value: Any, dtype: Any) -> Array:
        return jnp.asarray(value, dtype)

    def advance(self, carry: _Carry, until: Array | int | None = None) -> _Carry:
        """Iterate while the solve runs and fewer than ``until`` steps are accepted."""
        solver, fun, max_steps = self.solver, self.fun, self.max_steps
        dtype = carry.state.x.dtype
        grad_tol, x_tol, f_tol = (self._tol(t, dtype) for t in
                                  (self.grad_tol, self.x_tol, self.f_tol))
        max_trips = 100 * (max_steps + 1)
        until = max_steps if until is None else until

        def cond(carry: _Carry) -> Array:
            # x₀ is evaluated even when no step is due (until = 0)
            due = (carry.num_steps < until) | self._first_trip(carry)
            return (carry.status == RUNNING) & due

        def body(carry: _Carry) -> _Carry:
            old = carry.state
            if solver.step_takes_context:
                new, info = solver.step(fun, old, active=cond(carry), batched=self.batched)
            else:
                new, info = solver.step(fun, old)
            # the trip that evaluates x₀ is the start's check, not a step: it moves nowhere
            # and has no last finite iterate to fall back on
            first_trip = self._first_trip(carry)
            state, finite, x_max, grad_norm = self._settle(new, old, first_trip)
            accepted = info.accepted & finite
            moved = accepted & ~first_trip
            num_steps = carry.num_steps + moved.astype(jnp.int32)
            dx = norm(state.x - old.x)
            df = jnp.abs(state.f - old.f)
            stopped = jnp.asarray(False)
            if self.callback is not None:
                stopped = self.callback(moved & (carry.status == RUNNING), num_steps,
                                        state.x, state.f, grad_norm)
            # rule 3's floor test (two passes over x) only where the solver failed
            failure = lax.cond(info.failed, lambda: _failure_status(state, solver),
                               lambda: jnp.int32(solver.failure_status))
            # where the trip is not finite rule 1 decides, so the other rules may read the
            # new, non-finite values
            status = _first(
                [
                    (~finite, Status.NONFINITE),
                    (accepted & self._gradient_met(state, grad_norm, grad_tol)
                     & ~solver.wants_more(state),
                     Status.CONVERGED),
                    (info.failed, failure),
                    (moved & (dx <= x_tol * (1 + norm(state.x))), Status.SMALL_STEP),
                    (moved & (f_tol > 0) & (df <= f_tol * (1 + jnp.abs(state.f))),
                     Status.SMALL_DECREASE),
                    (~first_trip & ((x_max > DIVERGENCE_BOUND)
                                    | (state.f < -DIVERGENCE_BOUND)), Status.DIVERGED),
                    (stopped, Status.STOPPED),
                    (num_steps >= max_steps, Status.MAX_STEPS),
                    # a safety net: rejected trials are bounded by each solver's own failure
                    # test, so this only fires on a solver bug
                    (carry.num_trips >= max_trips, solver.failure_status),
                ],
                jnp.int32(RUNNING),
            )
            buffers = carry.buffers
            if buffers is not None:
                row = _row(state, info.step_size, info.aux, solver.aux_names)
                # rejected trials write out of bounds, which mode="drop" discards; x₀'s row
                # is written even where x₀ is not finite
                index = jnp.where(accepted | first_trip, num_steps, max_steps + 1)
                buffers = {k: buffers[k].at[index].set(row[k], mode="drop") for k in buffers}
            num_evals = carry.num_evals + jnp.asarray(info.evaluations, jnp.int32)
            return _Carry(state, num_steps, num_evals, carry.num_trips + 1, status, buffers)

        return lax.while_loop(cond, body, carry)

    def finish(self, carry: _Carry, classify: bool, unravel: Any) -> Result:
        state = carry.state
        trajectory = None
        if carry.buffers is not None:
            b = carry.buffers
            columns = b["scalars"]
            trajectory = Trajectory(
                x=jax.vmap(unravel)(b["x"]),
                value=columns[:, 0],
                grad_norm=columns[:, 1],
                step_size=columns[:, 2],
                aux={name: columns[:, 3 + i] for i, name in enumerate(self.solver.aux_names)},
                length=carry.num_steps + 1,
            )
        critical_point = None
        if classify:
            grad_tol = self._tol(self.grad_tol, state.x.dtype)
            cp_grad_tol = jnp.maximum(grad_tol, critical_grad_tol(state.f, state.x))
            box = getattr(self.solver, "box", None)  # bounded solvers: a KKT point
            critical_point = classify_flat(
                self.fun, state.x, grad_tol=cp_grad_tol, unravel=unravel,
                bounds=None if box is None else box.arrays(state.x.dtype))
        return Result(
            x=unravel(state.x),
            value=state.f,
            grad_norm=norm(state.g),
            num_steps=carry.num_steps,
            num_evals=carry.num_evals,
            status_code=carry.status,
            converged=carry.status == Status.CONVERGED,
            trajectory=trajectory,
            critical_point=critical_point,
        )


def solve_flat(
    fun: FlatFun,
    x0: Array,
    solver: Solver,
    *,
    grad_tol: Array,
    x_tol: Array,
    f_tol: Array,
    max_steps: int,
    record: bool,
    classify: bool,
    unravel: Any,
    callback: Any = None,
    rel_grad_tol: float = 0.0,
    batched: bool = False,
) -> Result:
    """Run ``solver`` on ``fun`` from the flat start ``x0``; see the module docstring."""
    loop = Loop(fun, solver, grad_tol, x_tol, f_tol, max_steps, record, callback, rel_grad_tol,
                batched)
    return loop.finish(loop.advance(loop.start(x0)), classify, unravel)
