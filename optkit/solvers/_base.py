"""The solver protocol: a small immutable object with ``init`` and ``step``.

Solvers see a function of a flat vector ``x`` (the driver ravels pytrees) and keep their
own state, a NamedTuple with at least the fields ``x``, ``f`` and ``g`` (the current
accepted iterate, its value and gradient). One call of ``step`` is one trip round the
driver's loop: an accepted step, a failure, or a rejected trial of a solver that folds its
search into the loop (trust region, bounded, least squares); the line-search solvers run
their trials inside the step (``StepInfo.evaluations`` counts them).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from ._status import Status

Array = jax.Array
FlatFun = Callable[[Array], Array]

#: the default step cap of the methods meant for large n (newton_cg, bfgs, lbfgs): long
#: valleys take steps in proportion to n (chained Rosenbrock from (−1.2, 1, …): newton_cg
#: about 2.3n, L-BFGS about 5n); scipy's Newton-CG and BFGS allow 200n
LARGE_N_MAX_STEPS = 10_000

#: the ``trials`` count of a line-search or bounded state whose start the loop has not
#: evaluated yet (``Solver.evaluates_start_in_loop``)
UNEVALUATED = -1


class StepInfo(NamedTuple):
    """What one trip round the loop did."""

    accepted: Array  # bool: the state now holds a new iterate
    failed: Array  # bool: the solver cannot make progress (e.g. line search exhausted)
    step_size: Array  # the accepted step length t (x_new = x + t·d)
    aux: dict[str, Array]  # extra per-step scalars to record (names in Solver.aux_names)
    evaluations: Array | int = 1  # evaluations of f (and ∇f) the trip made


class Solver(abc.ABC):
    """Base class of every solver. Subclasses are frozen dataclasses (hashable, static)."""

    #: names of the extra per-step scalars that ``step`` reports in ``StepInfo.aux``
    aux_names: ClassVar[tuple[str, ...]] = ()
    #: the state field holding the proposed step, checked for NaN/Inf by the driver
    direction_field: ClassVar[str] = "d"
    #: the default cap on accepted steps for a solver object (a method name has its own)
    default_max_steps: ClassVar[int] = 1000
    #: the status reported when ``step`` says ``failed``
    failure_status: ClassVar[Status] = Status.LINE_SEARCH_FAILED
    #: the state fields read after the solve (by the result): when a trip goes non-finite the
    #: driver keeps these at the last finite iterate and leaves the rest as the trip left it
    result_fields: ClassVar[tuple[str, ...]] = ("x", "f", "g")
    #: True where ``init`` only places x₀ and the first trip round the loop evaluates it
    #: (f, ∇f and the first direction, as after an accepted step). The code that evaluates a
    #: point is then compiled once, in the loop body, instead of twice: a Newton step's
    #: Hessian and its factorisations are most of a solve program. The driver counts that
    #: trip as neither a step nor a second evaluation and applies only the start's rules.
    evaluates_start_in_loop: ClassVar[bool] = False
    #: True where ``step`` takes the keywords ``active`` and ``batched``. ``active`` is False
    #: for a start of a vmapped solve that has ended: vmap runs the loop's body for every
    #: start until all have ended and discards what it computes for the ended ones, so a
    #: loop inside the step (a line search's trials) reads it not to run on for them.
    #: ``batched`` is True in ``minimize_batch``'s programs.
    step_takes_context: ClassVar[bool] = False

    @abc.abstractmethod
    def init(self, fun: FlatFun, x: Array) -> Any:
        """State at the starting point ``x``."""

    @abc.abstractmethod
    def step(self, fun: FlatFun, state: Any) -> tuple[Any, StepInfo]:
        """One accepted step or one rejected trial."""

    def wants_more(self, state: Any) -> Array:
        """True where the solver refuses to stop even though ‖∇f‖ ≤ grad_tol.

        Newton uses it to leave saddle points along negative curvature.
        """
        return jnp.asarray(False)

    def default_aux(self, dtype: Any) -> dict[str, Array]:
        return {name: jnp.zeros((), dtype) for name in self.aux_names}
