"""Pytrees of parameters as the flat vectors solvers and analyses work on.

Every place that turns a user's parameters (an array, a list of numbers, a dict of matrices)
into one float vector and back goes through :func:`as_start` and :func:`flatten`, so the rules
are the same everywhere: a list of numbers is one vector, integer leaves become the pytree's
float dtype (JAX's default float where it has none) and are optimised, and the unravelled
result keeps the structure of the input.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

Array = jax.Array


def as_start(x0: Any) -> Any:
    """A list or tuple of numbers becomes one array (as scipy users expect); pytrees stay.

    Dtype rule: integer leaves are promoted to the float dtype of the pytree's floating
    leaves (the widest of them), or to JAX's default float where there are none, so that they
    are optimised like every other parameter (``{"a": [1., 2.], "n": 3}`` optimises ``n``
    too). Boolean and complex leaves are refused with a ``TypeError`` naming the leaf.
    """
    if isinstance(x0, jax.Array) and jnp.issubdtype(x0.dtype, jnp.floating):
        return x0  # the common case, with nothing to convert (a solve's Python cost counts)
    leaves = jax.tree_util.tree_leaves(x0)
    if isinstance(x0, (list, tuple)) and all(np.ndim(v) == 0 for v in leaves):
        x0 = jnp.asarray(x0)
    x0 = jax.tree_util.tree_map(jnp.asarray, x0)
    with_paths = jax.tree_util.tree_leaves_with_path(x0)
    floats = [leaf.dtype for _, leaf in with_paths if jnp.issubdtype(leaf.dtype, jnp.floating)]
    for path, leaf in with_paths:
        if leaf.dtype == jnp.bool_ or jnp.issubdtype(leaf.dtype, jnp.complexfloating):
            kind = "boolean" if leaf.dtype == jnp.bool_ else "complex"
            where = jax.tree_util.keystr(path) or "x0"
            raise TypeError(f"x0{where if where != 'x0' else ''} is {kind} ({leaf.dtype}); "
                            "parameters must be real numbers (floats, or integers, which "
                            "are promoted to float)")
    if len(floats) == len(with_paths):
        return x0
    target = jnp.result_type(*floats) if floats else jnp.result_type(float)
    return jax.tree_util.tree_map(
        lambda a: a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(target), x0)


def flatten(x: Any) -> tuple[Array, Callable[[Array], Any]]:
    """``(flat, unravel)``: ``x`` (after :func:`as_start`) as one float vector in
    ``ravel_pytree`` order, and the inverse map. Integer leaves become JAX's default float."""
    x = as_start(x)
    if isinstance(x, jax.Array) and x.ndim == 1:
        # already one float vector: ravel_pytree would run two eager operations on it
        return x, _same_vector
    if not jax.tree_util.tree_leaves(x):
        raise ValueError("x0 has no array leaves")
    flat, unravel = ravel_pytree(x)
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        x = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.result_type(float)), x)
        flat, unravel = ravel_pytree(x)
    return flat, unravel


def _same_vector(flat: Array) -> Array:
    """The inverse of flattening a vector."""
    return flat


def unravel_like(template: Any, flat: Any) -> Any:
    """``flat`` (a vector of as many entries as ``template`` has) in the structure of
    ``template``, keeping the dtype of ``flat`` (``ravel_pytree``'s inverse casts back)."""
    flat = jnp.asarray(flat)
    leaves, treedef = jax.tree_util.tree_flatten(template)
    pieces, offset = [], 0
    for leaf in leaves:
        shape = jnp.shape(leaf)
        size = math.prod(shape)
        pieces.append(flat[offset:offset + size].reshape(shape))
        offset += size
    return jax.tree_util.tree_unflatten(treedef, pieces)


class Unraveller:
    """A hashable stand-in for ``unravel`` (a static jit argument), equal for every pytree of
    the same structure, shapes and dtypes, so a compiled program is reused per shape."""

    def __init__(self, unravel: Callable[[Array], Any], x0: Any) -> None:
        self.unravel = unravel
        leaves, self.treedef = jax.tree_util.tree_flatten(x0)
        self.key = (self.treedef, tuple((jnp.shape(l), jnp.result_type(l)) for l in leaves))

    def __call__(self, flat: Array) -> Any:
        return self.unravel(flat)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unraveller) and self.key == other.key
