"""Parameter checks shared by the problem factories, and the input guard of every ``fun``.

A bad parameter raises ``ValueError`` with one line naming the problem, the parameter and the
value, so that the config and the CLI can pass it on unchanged.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Box = tuple[tuple[float, ...], tuple[float, ...]]


def integer(problem: str, key: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int ≥ ``minimum`` (bools and non-integral floats are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"problem {problem!r}: parameter {key!r} must be an integer, "
                         f"got {value!r}")
    if value < minimum:
        raise ValueError(f"problem {problem!r}: parameter {key!r} must be ≥ {minimum}, "
                         f"got {value!r}")
    return int(value)


def real(problem: str, key: str, value: Any, minimum: float = -math.inf) -> float:
    """``value`` as a finite float ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"problem {problem!r}: parameter {key!r} must be a number, "
                         f"got {value!r}")
    if not math.isfinite(value) or value < minimum:
        bound = f" ≥ {minimum:g}" if minimum > -math.inf else ""
        raise ValueError(f"problem {problem!r}: parameter {key!r} must be a finite number"
                         f"{bound}, got {value!r}")
    return float(value)


def real_array(problem: str, key: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` (nested sequences of numbers) as a finite float64 array with ``ndim`` axes,
    none of them empty."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"problem {problem!r}: parameter {key!r} must be "
                         f"{'a list' if ndim == 1 else 'a list of lists'} of numbers, "
                         f"got {value!r}") from None
    if array.ndim != ndim or array.size == 0:
        shape = "a non-empty vector" if ndim == 1 else "a non-empty matrix"
        raise ValueError(f"problem {problem!r}: parameter {key!r} must be {shape}, "
                         f"got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"problem {problem!r}: parameter {key!r} has non-finite entries")
    return array


def as_tuple(array: np.ndarray) -> Any:
    """A numpy array as nested tuples of floats (for ``Problem.params``: plain data that
    YAML and JSON can write)."""
    return tuple(as_tuple(row) for row in array) if array.ndim > 1 else tuple(
        float(v) for v in array)


def cube(dim: int, low: float, high: float) -> Box:
    """The box [low, high]^dim."""
    return (float(low),) * dim, (float(high),) * dim


def vector(x: Any, dim: int, problem: str, what: str | None = None) -> jax.Array:
    """``x`` as a float vector of shape (dim,): the input guard of every flat problem.

    Float inputs keep their dtype (float32 stays float32); integer inputs become the default
    float. The shape is static under jit/vmap, so the check costs nothing at run time.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    if x.shape != (dim,):
        raise ValueError(f"{what or f'problem {problem!r}'} expects a vector of shape "
                         f"({dim},), got shape {x.shape}")
    return x


def constant(value: np.ndarray, like: jax.Array) -> jax.Array:
    """A float64 numpy constant in the dtype of ``like``, so that a float32 input gives a
    float32 value (a numpy float64 array would promote the whole computation)."""
    return jnp.asarray(value, dtype=like.dtype)


def point(values: Sequence[float]) -> jax.Array:
    """A default start as a JAX array of the default float dtype."""
    return jnp.asarray(np.asarray(values, dtype=np.float64))
