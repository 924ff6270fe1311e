"""Line searches, and the protocol they follow.

A line search is a rule, not a loop: given a trial point x + t·d it says whether the trial is
good enough (:meth:`LineSearch.accepts`) and, if not, which step length to try next
(:meth:`LineSearch.next_step`). ``LineSearchSolver`` (``_descent.py``) runs the trials: in a
single solve in a loop inside the step (one trip round the driver's loop per accepted step),
in ``minimize_batch`` one trial per trip, so that under vmap starts at different stages
share a trip instead of waiting for the slowest start's trials. Both are the same search:
the same trials, iterates and evaluation counts. A line search is a frozen dataclass
(hashable: it is part of the compiled program).

Three are built in and registered by name (YAML ``solver.line_search``):

* ``"backtracking"`` (alias ``"armijo"``): :class:`Backtracking`, sufficient decrease
  (Armijo) with safeguarded quadratic interpolation;
* ``"wolfe"``: :class:`Wolfe`, the strong Wolfe conditions by bracketing and zoom
  (Nocedal & Wright, algorithms 3.5–3.6), one trial per trip;
* ``"none"``: :class:`NoLineSearch`, every step t = 1 as it comes.

Sufficient decrease everywhere is

    f(x + t·d) ≤ f(x) + c₁·(t·∇f·d + ½·t²·min(dᵀ∇²f d, 0))     (the curvature term is used by
                                                               Newton's negative-curvature steps).

Near the solution f can stop decreasing measurably (its change falls below rounding of |f|);
a trial is then also accepted if f has not risen beyond rounding and the gradient norm fell:
the "approximate Armijo" safeguard of Hager and Zhang.

A new line search is a frozen dataclass subclassing :class:`LineSearch`; register it with
:func:`register_line_search` to make its name usable in YAML (see docs/architecture.md).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .._names import check_new_entry
from .._text import suggestion

Array = jax.Array


class Trial(NamedTuple):
    """One trial step length t along d from x, with what is known at both ends."""

    f: Array  # f(x)
    slope: Array  # ∇f(x)·d (negative for a descent direction)
    curvature: Array  # dᵀ∇²f(x)d where the direction knows it, else 0
    grad_norm: Array  # ‖∇f(x)‖
    t: Array  # the trial step length
    f_trial: Array  # f(x + t·d)
    slope_trial: Array  # ∇f(x + t·d)·d
    grad_norm_trial: Array  # ‖∇f(x + t·d)‖


def _decrease_tests(trial: Trial, c1: float) -> tuple[Array, Array]:
    """(Armijo with the negative-curvature term, f within rounding of f(x)): both read f only."""
    eps = jnp.finfo(trial.f.dtype).eps
    t = trial.t
    predicted = t * trial.slope + 0.5 * t * t * jnp.minimum(trial.curvature, 0.0)
    armijo = trial.f_trial <= trial.f + c1 * predicted
    level = trial.f_trial <= trial.f + 4 * eps * jnp.abs(trial.f)
    return armijo, level


def sufficient_decrease(trial: Trial, c1: float) -> Array:
    """Armijo (with the negative-curvature term) or, within rounding, a falling gradient."""
    armijo, level = _decrease_tests(trial, c1)
    approximate = level & (trial.grad_norm_trial < trial.grad_norm)
    return jnp.isfinite(trial.f_trial) & (armijo | approximate)


def sufficient_decrease_possible(trial: Trial, c1: float) -> Array:
    """Whether ``sufficient_decrease`` can hold, judged on f(x + t·d) alone."""
    armijo, level = _decrease_tests(trial, c1)
    return jnp.isfinite(trial.f_trial) & (armijo | level)


def _quadratic_backtrack(trial: Trial, low: float, high: float) -> Array:
    """The minimiser of q(s) = f + slope·s + a·s² through f(x + t·d), clipped to
    [low·t, high·t]; low·t where the trial is non-finite or d is not a descent direction."""
    t = trial.t
    a = (trial.f_trial - trial.f - trial.slope * t) / (t * t)
    t_quad = jnp.where(a > 0, -trial.slope / (2 * a), low * t)
    t_new = jnp.clip(t_quad, low * t, high * t)
    return jnp.where(jnp.isfinite(trial.f_trial) & (trial.slope < 0), t_new, low * t)


class LineSearch(abc.ABC):
    """What the driver needs from a line search.

    Attributes:
        max_trials: consecutive rejected trips before the search counts as failed (the solve
            then ends ``LINE_SEARCH_FAILED``).
    """

    max_trials: int

    def init(self, t: Array) -> Any:
        """The search's own state at the start of a search with first trial ``t``."""
        return ()

    def candidates(self, t: Array) -> Array:
        """The step lengths tried together in one trip, largest first; the first acceptable
        one is taken. One (``t`` itself) unless the search trades evaluations for trips."""
        return t[None]

    def value_passes(self, trial: Trial) -> Array | None:
        """False where the trial is rejected on f(x + t·d) alone, so that ∇f(x + t·d) need
        not be computed there (its ``slope_trial`` and ``grad_norm_trial`` are NaN); None
        (the default) where every trial needs the gradient. A rejected backtracking trial
        then costs one evaluation of f, as in the textbook loop, instead of f and ∇f."""
        return None

    @abc.abstractmethod
    def accepts(self, trial: Trial) -> Array:
        """True where the trial step is good enough to take."""

    @abc.abstractmethod
    def next_step(self, trial: Trial, state: Any) -> tuple[Array, Any]:
        """After a rejected trial (the last candidate's), the next step length and state."""


@dataclasses.dataclass(frozen=True)
class Backtracking(LineSearch):
    """Armijo backtracking with safeguarded quadratic interpolation.

    Attributes:
        c1: sufficient-decrease constant of the Armijo condition.
        shrink_min, shrink_max: a rejected t becomes t·s with s ∈ [shrink_min, shrink_max]
            picked by minimising the quadratic through f(x), ∇f·d and f(x + t·d).
        max_trials: consecutive rejections before the search counts as failed.
        num_candidates: step lengths tried per trip round the loop, t, t·shrink_max,
            t·shrink_max², …; the largest acceptable one is taken. Under vmap every start pays
            for the slowest start's trips, so trading one extra evaluation of (f, ∇f) for
            fewer trips pays off where steps are expensive anyway (Newton uses 4).
    """

    c1: float = 1e-4
    shrink_min: float = 0.1
    shrink_max: float = 0.5
    max_trials: int = 50
    num_candidates: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.c1 < 1:
            raise ValueError(f"Backtracking: c1 must be in (0, 1), got {self.c1!r}")
        if not 0 < self.shrink_min <= self.shrink_max < 1:
            raise ValueError("Backtracking: needs 0 < shrink_min ≤ shrink_max < 1, got "
                             f"{self.shrink_min!r} and {self.shrink_max!r}")
        _check_count("Backtracking", "max_trials", self.max_trials)
        _check_count("Backtracking", "num_candidates", self.num_candidates)

    def candidates(self, t: Array) -> Array:
        return t * self.shrink_max ** jnp.arange(self.num_candidates, dtype=t.dtype)

    def accepts(self, trial: Trial) -> Array:
        return sufficient_decrease(trial, self.c1)

    def value_passes(self, trial: Trial) -> Array:
        return sufficient_decrease_possible(trial, self.c1)

    def next_step(self, trial: Trial, state: Any) -> tuple[Array, Any]:
        return _quadratic_backtrack(trial, self.shrink_min, self.shrink_max), state


class _Bracket(NamedTuple):
    low: Array  # largest step known to satisfy sufficient decrease with ∇f·d < 0 there
    high: Array  # smallest step known to be too long (inf until one is found)


@dataclasses.dataclass(frozen=True)
class Wolfe(LineSearch):
    """The strong Wolfe conditions, by bracketing and zoom, one trial per trip:

        sufficient decrease (as Backtracking)   and   |∇f(x + t·d)·d| ≤ c₂·|∇f(x)·d|.

    The bracket [low, high] starts as [0, ∞). A trial without sufficient decrease, or past the
    minimum along d (slope ≥ 0), becomes ``high``; one with sufficient decrease that is still
    steeply downhill becomes ``low``. The next trial doubles t while ``high`` is ∞, backtracks
    by quadratic interpolation while ``low`` is 0, and bisects otherwise. Where d has no
    downhill slope (a pure negative-curvature step, ∇f·d = 0) only sufficient decrease is
    required. Curvature information makes this the search of choice for quasi-Newton methods.

    Attributes:
        c1, c2: the Wolfe constants, 0 < c1 < c2 < 1 (0.9 suits Newton and quasi-Newton
            directions, 0.1 a nearly exact search).
        max_trials: consecutive rejections before the search counts as failed.
    """

    c1: float = 1e-4
    c2: float = 0.9
    max_trials: int = 50

    def __post_init__(self) -> None:
        if not 0 < self.c1 < self.c2 < 1:
            raise ValueError(f"Wolfe: needs 0 < c1 < c2 < 1, got c1={self.c1!r}, c2={self.c2!r}")
        _check_count("Wolfe", "max_trials", self.max_trials)

    def init(self, t: Array) -> _Bracket:
        return _Bracket(jnp.zeros_like(t), jnp.full_like(t, jnp.inf))

    def _flat_enough(self, trial: Trial) -> Array:
        return (jnp.abs(trial.slope_trial) <= self.c2 * jnp.abs(trial.slope)) | (
            trial.slope >= 0)

    def accepts(self, trial: Trial) -> Array:
        return sufficient_decrease(trial, self.c1) & self._flat_enough(trial)

    def next_step(self, trial: Trial, state: _Bracket) -> tuple[Array, _Bracket]:
        too_long = ~sufficient_decrease(trial, self.c1) | (trial.slope_trial >= 0)
        low = jnp.where(too_long, state.low, trial.t)
        high = jnp.where(too_long, trial.t, state.high)
        expand = 2.0 * trial.t
        backtrack = _quadratic_backtrack(trial, 0.1, 0.5)
        bisect = 0.5 * (low + high)
        t = jnp.where(jnp.isinf(high), expand, jnp.where(low == 0, backtrack, bisect))
        return t, _Bracket(low, high)


@dataclasses.dataclass(frozen=True)
class NoLineSearch(LineSearch):
    """Take every step t = 1 as it comes (textbook iterations; may go uphill)."""

    max_trials: int = 1

    def accepts(self, trial: Trial) -> Array:
        return jnp.ones_like(trial.f_trial, dtype=bool)

    def next_step(self, trial: Trial, state: Any) -> tuple[Array, Any]:
        return trial.t, state


def _check_count(owner: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")


#: line-search name → factory of its default instance (YAML ``solver.line_search``)
LINE_SEARCHES: dict[str, Callable[[], LineSearch]] = {
    "backtracking": Backtracking,
    "armijo": Backtracking,
    "wolfe": Wolfe,
    "none": NoLineSearch,
}


def register_line_search(name: str, factory: Callable[[], LineSearch], *,
                         replace: bool = False) -> None:
    """Make ``name`` usable wherever a line search is named (``line_search="name"`` in
    ``minimize`` and in YAML). ``factory()`` returns the instance to use."""
    check_new_entry("line search", name, factory, LINE_SEARCHES, replace)
    LINE_SEARCHES[name] = factory


def line_search_names() -> list[str]:
    return sorted(LINE_SEARCHES)


def as_line_search(spec: str | LineSearch | None, backtracking: LineSearch | None = None
                   ) -> LineSearch:
    """The line search named or given by ``spec`` (``None`` means ``"none"``). A method may
    pass its own tuned ``backtracking`` instance for the names "backtracking"/"armijo"."""
    if isinstance(spec, LineSearch):
        return spec
    if spec is None:
        spec = "none"
    if isinstance(spec, str) and spec in LINE_SEARCHES:
        if spec in ("backtracking", "armijo") and backtracking is not None:
            return backtracking
        return LINE_SEARCHES[spec]()
    hint = suggestion(str(spec), list(LINE_SEARCHES))
    raise ValueError(f"unknown line_search {spec!r}{hint}; expected one of "
                     f"{', '.join(line_search_names())} or a LineSearch object")


__all__ = ["Backtracking", "LineSearch", "NoLineSearch", "Trial", "Wolfe", "as_line_search",
           "line_search_names", "register_line_search", "sufficient_decrease"]
