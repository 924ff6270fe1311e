"""The Problem record: what we minimise, where to start and where to look."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .._pytree import unravel_like


@dataclasses.dataclass(frozen=True)
class KnownPoint:
    """A critical point known in closed form: location, value and kind
    ("minimum" | "maximum" | "saddle" | "degenerate").

    ``kind`` is what the second-order test (:func:`optkit.classify`) says at ``x``; ``note``
    adds what that test cannot see, e.g. that a degenerate point is a global minimum.
    For a pytree problem ``x`` is the flat vector in ``jax.flatten_util.ravel_pytree`` order
    (use :meth:`Problem.unravel`).
    """

    x: tuple[float, ...]
    value: float
    kind: str
    note: str = ""


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A function to minimise with what is known about it.

    Attributes:
        name: registry name ("rosenbrock") or a description of an expression/user function.
        fun: JAX-traceable f(x) → scalar; x is a flat float vector of length ``dim``, or the
            pytree ``start`` has (``dim`` is then the total number of entries).
        dim: number of scalar parameters.
        start: default starting point (array or pytree).
        box: plotting / search box ``(lower, upper)``, each a tuple of ``dim`` floats.
        critical_points: known critical points (may be empty or partial).
        source: where the problem comes from (a reference or "expression", "user function").
        variables: names of the coordinates (for expressions and plots).
        params: the parameters it was built with (dim, condition number, ...).
    """

    name: str
    fun: Callable[[Any], jax.Array]
    dim: int
    start: Any
    box: tuple[tuple[float, ...], tuple[float, ...]]
    critical_points: tuple[KnownPoint, ...] = ()
    source: str = ""
    variables: tuple[str, ...] = ()
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __call__(self, x: Any) -> jax.Array:
        return self.fun(x)

    def unravel(self, flat: Any) -> Any:
        """A flat vector of ``dim`` entries in the structure of ``start`` (a vector stays a
        vector; for a pytree problem the leaves are filled in ``ravel_pytree`` order).
        The dtype of ``flat`` is kept."""
        flat = jnp.asarray(flat)
        if flat.shape != (self.dim,):
            raise ValueError(f"problem {self.name!r}: expected a flat vector of {self.dim} "
                             f"entries, got shape {flat.shape}")
        return unravel_like(self.start, flat)
