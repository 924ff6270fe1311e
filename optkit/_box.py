"""Box constraints l ≤ x ≤ u on the flat parameter vector: checking, projection, KKT residual.

A :class:`Box` holds the bounds of the ravelled parameters (``_pytree.flatten`` order) as
float64 numpy arrays. It is hashable (by the bytes of its bounds), so a bounded solver that
holds one stays a static argument of the compiled solve; inside the program the bounds are
constants in the dtype of x.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


class Box:
    """The box ``lower ≤ x ≤ upper`` over the flat parameters (±inf allowed)."""

    def __init__(self, lower: np.ndarray, upper: np.ndarray) -> None:
        self.lower = np.asarray(lower, np.float64)
        self.upper = np.asarray(upper, np.float64)
        self._key = (self.lower.shape, self.lower.tobytes(), self.upper.tobytes())

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and self._key == other._key

    def __repr__(self) -> str:
        return f"Box(lower={self.lower.tolist()}, upper={self.upper.tolist()})"

    @property
    def size(self) -> int:
        return int(self.lower.size)

    def arrays(self, dtype: Any) -> tuple[Array, Array]:
        """(lower, upper) as arrays of ``dtype`` (constants of a compiled program)."""
        return jnp.asarray(self.lower, dtype), jnp.asarray(self.upper, dtype)


def project(x: Array, lower: Array, upper: Array) -> Array:
    """P(x) = min(max(x, l), u), the Euclidean projection onto the box."""
    return jnp.minimum(jnp.maximum(x, lower), upper)


def kkt_residual(x: Array, g: Array, lower: Array, upper: Array) -> Array:
    """The projected-gradient residual r = x − P(x − ∇f(x)).

    r = 0 exactly at a KKT point of min f over the box (first-order conditions: ∇ᵢf = 0
    where lᵢ < xᵢ < uᵢ, ∇ᵢf ≥ 0 where xᵢ = lᵢ, ∇ᵢf ≤ 0 where xᵢ = uᵢ); ‖r‖ is the stationarity
    measure bounded solvers stop on (it is ‖∇f‖ where no bound is near).
    """
    return x - project(x - g, lower, upper)


def _side(value: Any, x0: Any, name: str, fill: float) -> np.ndarray:
    """One side of ``bounds`` as a flat float64 vector in x0's ravel order."""
    leaves0, treedef0 = jax.tree_util.tree_flatten(x0)
    if value is None:
        return np.full(sum(int(np.size(leaf)) for leaf in leaves0), fill)
    if np.ndim(value) == 0 and not isinstance(value, (list, tuple, dict)):
        parts = [np.full(np.shape(leaf), _float(value, name)) for leaf in leaves0]
    else:
        try:
            leaves = treedef0.flatten_up_to(value)
        except (ValueError, TypeError):
            raise ValueError(f"bounds: {name} must be a scalar or a pytree like x0 "
                             f"({treedef0}), got {value!r}") from None
        parts = []
        for leaf, leaf0 in zip(leaves, leaves0, strict=True):
            a = np.asarray(leaf, dtype=np.float64) if leaf is not None else np.asarray(fill)
            try:
                parts.append(np.broadcast_to(a, np.shape(leaf0)))
            except ValueError:
                raise ValueError(f"bounds: {name} has shape {a.shape} where x0 has "
                                 f"{np.shape(leaf0)}") from None
    return np.concatenate([np.ravel(p) for p in parts]) if parts else np.zeros(0)


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number, np.ndarray,
                                                         jax.Array)):
        raise TypeError(f"bounds: {name} must be a number, an array or a pytree like x0, "
                        f"got {type(value).__name__}")
    return float(value)


def make_box(bounds: Any, x0: Any) -> Box:
    """The :class:`Box` of ``bounds = (lower, upper)`` for parameters shaped like ``x0``.

    Each side is a scalar (every entry gets it), None (no bound: −inf / +inf) or a pytree
    with x0's structure whose leaves broadcast to x0's leaves; ±inf entries are allowed.
    Refused with a one-line ``ValueError``: NaN bounds, lower > upper, lower = +inf or
    upper = −inf (an empty box).
    """
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        raise ValueError(f"bounds must be a pair (lower, upper), got {bounds!r}")
    lower = _side(bounds[0], x0, "lower", -np.inf)
    upper = _side(bounds[1], x0, "upper", np.inf)
    if np.any(np.isnan(lower)) or np.any(np.isnan(upper)):
        raise ValueError("bounds: NaN in lower or upper")
    bad = np.flatnonzero(lower > upper)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"bounds: lower > upper at flat index {i} "
                         f"({lower[i]:g} > {upper[i]:g})")
    if np.any(lower == np.inf) or np.any(upper == -np.inf):
        raise ValueError("bounds: lower = +inf or upper = -inf leaves no feasible point")
    return Box(lower, upper)
