"""What a solve returns: a pytree, so it passes through jit and vmap."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from ..analysis.classify import CriticalPoint
from ._status import Status

Array = jax.Array


def _is_traced(a: Any) -> bool:
    return isinstance(a, jax.core.Tracer)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Trajectory:
    """Per-step record in fixed-size buffers: row k holds iterate k (row 0 is the start).

    Rows 0 … ``length − 1`` are real (``length = num_steps + 1``); later rows are NaN padding.
    ``step_size[k]`` is the step length t that led to iterate k; ``aux`` holds solver-specific
    per-step scalars (Newton: ``strategy``, ``damping``, ``min_eigenvalue``).
    """

    x: Any
    value: Array
    grad_norm: Array
    step_size: Array
    aux: dict[str, Array]
    length: Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Result:
    """Outcome of :func:`optkit.minimize`.

    ``x`` has the pytree structure and dtype of ``x0``; ``value`` = f(x); ``grad_norm`` = ‖∇f(x)‖₂
    over all leaves; ``num_steps`` counts accepted steps and ``num_evals`` trips round the
    driver's loop plus one for the start (each trip evaluates (f, ∇f) at one trial point, or
    at a few together where the line search tries several step lengths per trip). ``status`` is
    a :class:`Status` (an integer array when batched or traced);
    ``converged`` is true exactly when status is CONVERGED. ``critical_point`` classifies
    the end point (None when classification was switched off).
    """

    x: Any
    value: Array
    grad_norm: Array
    num_steps: Array
    num_evals: Array
    status_code: Array
    converged: Array
    trajectory: Trajectory | None
    critical_point: CriticalPoint | None

    @property
    def status(self) -> Any:
        code = self.status_code
        if _is_traced(code) or np.ndim(code) != 0:
            return code
        return Status(int(code))

    @property
    def message(self) -> str | list[str]:
        codes = np.asarray(self.status_code)
        if codes.ndim == 0:
            return Status(int(codes)).message
        return [Status(int(c)).message for c in codes.ravel()]

    def __repr__(self) -> str:
        if _is_traced(self.status_code) or np.ndim(self.status_code) != 0:
            return f"Result(batch of {np.shape(self.status_code)} solves)"
        kind = "" if self.critical_point is None else f", kind={self.critical_point.kind!r}"
        return (
            f"Result(status={self.status.name}, value={float(self.value):.6g}, "
            f"grad_norm={float(self.grad_norm):.3g}, num_steps={int(self.num_steps)}{kind})"
        )
