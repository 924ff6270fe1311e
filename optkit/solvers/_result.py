"""What a solve returns: a pytree, so it passes through jit and vmap."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from .._pytree import flatten
from ..analysis._classify import CriticalPoint
from ._status import Status

Array = jax.Array

#: ``Result.hessian`` is filled by default where x has at most this many entries: a batch
#: of 10,000 such starts then holds 10,000 × 64² float64 numbers (330 MB) at most
HESSIAN_MAX_SIZE = 64


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
    over all leaves; ``num_steps`` counts accepted steps and ``num_evals`` the evaluations of
    (f, ∇f): the start, then every trial point, accepted or rejected (a rejected backtracking
    trial may cost f alone; where the line search tries several step lengths at once they
    count as one; an optax line search's own evaluations are not seen). ``status`` is
    a :class:`Status` (an integer array when batched or traced);
    ``converged`` is true exactly when status is CONVERGED. ``critical_point`` classifies
    the end point (None when classification was switched off).

    ``hessian`` is H = ∇²f(x) at the end point, an n×n array over the ravelled parameters
    (``jax.flatten_util.ravel_pytree`` order, as ``classify`` uses), where x has at most
    :data:`HESSIAN_MAX_SIZE` entries (or ``minimize(..., hessian=True)``), None otherwise;
    :meth:`hvp` gives H·v at any size without forming H.
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
    hessian: Array | None = None

    def hvp(self, fun: Any, v: Any, args: Any = ()) -> Any:
        """The Hessian–vector product ∇²f(x)·v at the end point x, by forward-over-reverse
        differentiation (one gradient's cost; no n×n matrix).

        ``fun`` and ``args`` are those given to ``minimize`` (a non-tuple ``args`` is one
        argument); ``v`` and the product have x's pytree structure. For a batch, vmap it:
        ``jax.vmap(lambda r, v: r.hvp(fun, v))(batch, vs)``.
        """
        if not _is_traced(self.status_code) and np.ndim(self.status_code) != 0:
            raise ValueError("Result.hvp: this Result is a batch; use "
                             "jax.vmap(lambda r, v: r.hvp(fun, v))(result, vs)")
        args = args if isinstance(args, tuple) else (args,)
        flat, unravel = flatten(self.x)
        v_flat, _ = flatten(v)
        if v_flat.shape != flat.shape:
            raise ValueError(f"Result.hvp: v has {v_flat.size} entries, x has {flat.size}")

        def value(w: Array) -> Array:
            return jax.numpy.asarray(fun(unravel(w), *args)).astype(w.dtype)

        return unravel(jax.jvp(jax.grad(value), (flat,), (v_flat.astype(flat.dtype),))[1])

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
