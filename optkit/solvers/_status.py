"""How a solve ended."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Why a solve stopped.

    Members are small integers so that a status can live inside a compiled program and be
    compared with ``==`` on batched results (``res.status == Status.CONVERGED``).
    """

    CONVERGED = 0
    MAX_STEPS = 1
    NONFINITE = 2
    LINE_SEARCH_FAILED = 3
    SMALL_STEP = 4
    SMALL_DECREASE = 5
    DIVERGED = 6
    ROUNDING_FLOOR = 7
    STOPPED = 8
    INTERRUPTED = 9

    def __str__(self) -> str:  # "CONVERGED", not IntEnum's "0"
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec)

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def success(self) -> bool:
        return self is Status.CONVERGED


#: status code of a solve that is still iterating; never returned to users.
RUNNING = -1

_MESSAGES = {
    Status.CONVERGED: "the gradient norm fell below grad_tol",
    Status.MAX_STEPS: "the step limit max_steps was reached",
    Status.NONFINITE: (
        "the function or its gradient became NaN or infinite; x is the last finite iterate"
    ),
    Status.LINE_SEARCH_FAILED: (
        "the line search found no acceptable step along the search direction"
    ),
    Status.SMALL_STEP: "the step fell below x_tol before the gradient tolerance was met",
    Status.SMALL_DECREASE: (
        "the decrease in f fell below f_tol before the gradient tolerance was met"
    ),
    Status.DIVERGED: "the iterates diverged (|x| or |f| exceeded the divergence bound)",
    Status.ROUNDING_FLOOR: (
        "the gradient is at the rounding floor of f: no step can decrease f measurably, "
        "but the gradient norm is still above grad_tol"
    ),
    Status.STOPPED: "a callback asked the solve to stop",
    Status.INTERRUPTED: "the run was interrupted (a signal) before this start finished",
}
