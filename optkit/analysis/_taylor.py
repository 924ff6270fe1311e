"""First- and second-order Taylor models, and how far they are from the function.

With δ = x − x₀ (ravelled, so pytrees work):

    order 1:  m₁(x) = f(x₀) + ∇f(x₀)ᵀδ
    order 2:  m₂(x) = f(x₀) + ∇f(x₀)ᵀδ + ½ δᵀ∇²f(x₀)δ

Taylor's theorem gives f(x) − m₁(x) = O(‖δ‖²) and f(x) − m₂(x) = O(‖δ‖³): halving δ divides
the error by about 4 and 8. :meth:`TaylorModel.compare` reports model, true value and error at
given points (the chapter's "approximation vs true value").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._compile import jit, static_callable

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class TaylorComparison:
    """Model value, true value and error at a batch of points (leading axis: points)."""

    order: int
    points: Any
    distance: np.ndarray  # ‖x − x₀‖ (ravelled)
    model: np.ndarray
    true: np.ndarray
    error: np.ndarray  # |f(x) − m(x)|

    @property
    def relative_error(self) -> np.ndarray:
        """|f(x) − m(x)| / max(|f(x)|, tiny)."""
        return self.error / np.maximum(np.abs(self.true), np.finfo(self.true.dtype).tiny)

    def __str__(self) -> str:
        lines = [f"order-{self.order} Taylor model vs f",
                 f"{'‖x − x₀‖':>12}  {'model':>22}  {'true':>22}  {'|error|':>10}"]
        for d, m, t, e in zip(self.distance, self.model, self.true, self.error, strict=True):
            lines.append(f"{d:12.4g}  {m:22.15g}  {t:22.15g}  {e:10.3e}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class TaylorModel:
    """The Taylor model of ``fun`` at ``x0``; call it like ``fun``.

    Attributes:
        fun: the function it approximates.
        x0: the expansion point (pytree, as given).
        order: 1 or 2.
        value: f(x₀).
        gradient: ∇f(x₀), same pytree structure as x0.
        hessian: ∇²f(x₀) of the ravelled parameters, an n × n matrix (None for order 1).
    """

    fun: Callable[[Any], Array]
    x0: Any
    order: int
    value: Array
    gradient: Any
    hessian: Array | None
    _flat_x0: Array = dataclasses.field(repr=False)
    _flat_grad: Array = dataclasses.field(repr=False)

    def __call__(self, x: Any) -> Array:
        """m(x) = f(x₀) + ∇f(x₀)ᵀδ [+ ½ δᵀ∇²f(x₀)δ], δ = x − x₀ (traceable)."""
        return _model_value(self.value, self._flat_grad, self.hessian, self._delta(x))

    def _delta(self, x: Any) -> Array:
        x = as_point(x)
        if jax.tree_util.tree_structure(x) != jax.tree_util.tree_structure(self.x0):
            raise ValueError(
                f"taylor: point has structure {jax.tree_util.tree_structure(x)}, expected that "
                f"of x0 {jax.tree_util.tree_structure(self.x0)}"
            )
        flat, _ = ravel_pytree(x)
        if flat.shape != self._flat_x0.shape:
            raise ValueError(f"taylor: point has {flat.size} entries, x0 has "
                             f"{self._flat_x0.size}")
        return flat - self._flat_x0

    def compare(self, points: Any) -> TaylorComparison:
        """Model, true value and |error| at ``points``.

        ``points`` is a list of points shaped like x0, or a batch whose leaves have a leading
        axis over the points; a single point shaped like x0 is a batch of one.
        """
        structure = jax.tree_util.tree_structure(self.x0)
        if isinstance(self.x0, jax.Array):  # nested lists or a list of arrays: one array
            try:
                points = jnp.asarray(points, self.x0.dtype)
            except (TypeError, ValueError):
                raise ValueError(f"taylor: compare takes a point shaped like x0 (an array of "
                                 f"shape {self.x0.shape}), a list of them, or a batch with a "
                                 f"leading axis; got {type(points).__name__} that is not "
                                 f"an array of numbers") from None
        elif (isinstance(points, list | tuple) and points
                and jax.tree_util.tree_structure(points) != structure
                and all(jax.tree_util.tree_structure(p) == structure for p in points)):
            points = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *points)
        points = jax.tree_util.tree_map(_as_float, points)
        shapes = [np.shape(p) for p in jax.tree_util.tree_leaves(points)]
        if shapes == [np.shape(p) for p in jax.tree_util.tree_leaves(self.x0)]:
            points = jax.tree_util.tree_map(lambda p: p[None], points)
        leaves = jax.tree_util.tree_leaves(points)
        # the structure and size checks of __call__, once (every point is shaped alike)
        if not leaves or any(np.ndim(leaf) == 0 for leaf in leaves):
            raise ValueError(f"taylor: compare takes a point shaped like x0 ({structure}), a "
                             f"list of them, or a batch with a leading axis; got "
                             f"{jax.tree_util.tree_structure(points)} with scalar leaves")
        if leaves[0].shape[0]:
            self._delta(jax.tree_util.tree_map(lambda p: p[0], points))
        model, true, distance = _compare(static_callable(self.fun), self.value,
                                         self._flat_grad, self.hessian, self._flat_x0, points)
        model, true = np.asarray(model), np.asarray(true)
        return TaylorComparison(self.order, points, np.asarray(distance), model, true,
                                np.abs(true - model))


@partial(jit, static_argnames=("fun",))
def _compare(fun: Callable[[Any], Array], value: Array, grad: Array, hessian: Array | None,
             flat_x0: Array, points: Any) -> tuple[Array, Array, Array]:
    """Model, f and ‖x − x₀‖ at each point of the batch: one program per function and
    shapes, so comparing again at other points (or another model of f) does not recompile."""

    def one(x: Any) -> tuple[Array, Array, Array]:
        delta = ravel_pytree(x)[0] - flat_x0
        return _model_value(value, grad, hessian, delta), fun(x), jnp.linalg.norm(delta)

    return jax.vmap(one)(points)


@jit
def _model_value(value: Array, grad: Array, hessian: Array | None, delta: Array) -> Array:
    model = value + jnp.dot(grad, delta)
    if hessian is not None:
        model = model + 0.5 * jnp.dot(delta, hessian @ delta)
    return model


@partial(jit, static_argnames=("fun", "order"))
def _expand(fun: Callable[[Array], Array], x: Array, order: int) -> tuple:
    """f(x), ∇f(x) (reverse mode) and, for order 2, ∇²f(x) (forward over reverse)."""
    value, grad = jax.value_and_grad(fun)(x)
    return value, grad, jax.hessian(fun)(x) if order == 2 else None


def _as_float(leaf: Any) -> Array:
    leaf = jnp.asarray(leaf)
    return leaf if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf.astype(float)


def as_point(x: Any) -> Any:
    """A list or tuple of numbers becomes one float vector (as in optkit.minimize); other
    pytrees keep their structure, with integer leaves cast to float."""
    if isinstance(x, list | tuple) and all(
        np.ndim(leaf) == 0 for leaf in jax.tree_util.tree_leaves(x)
    ) and jax.tree_util.tree_leaves(x):
        return _as_float(jnp.asarray(x))
    return jax.tree_util.tree_map(_as_float, x)


def taylor(fun: Callable[[Any], Array], x0: Any, order: int = 1) -> TaylorModel:
    """The order-1 or order-2 Taylor model of ``fun`` at ``x0`` (any pytree of float arrays;
    a list or tuple of numbers such as ``(-1, 0)`` is one vector, as in ``optkit.minimize``).

    m₁(x) = f(x₀) + ∇f(x₀)ᵀ(x − x₀);  m₂(x) = m₁(x) + ½ (x − x₀)ᵀ∇²f(x₀)(x − x₀).
    The gradient comes from reverse mode, the Hessian from forward-over-reverse autodiff.
    """
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"taylor: order={order!r}, expected 1 or 2")
    x0 = as_point(x0)
    if not jax.tree_util.tree_leaves(x0):
        raise ValueError("taylor: x0 has no array leaves")
    flat, unravel = ravel_pytree(x0)

    def flat_fun(z: Array) -> Array:
        return jnp.asarray(fun(unravel(z))).reshape(())

    value, grad, hessian = _expand(flat_fun, flat, order)
    return TaylorModel(
        fun=fun, x0=x0, order=order, value=value, gradient=unravel(grad), hessian=hessian,
        _flat_x0=flat, _flat_grad=grad,
    )


def taylor_error(
    fun: Callable[[Any], Array], x0: Any, points: Any, order: int = 1
) -> TaylorComparison:
    """``taylor(fun, x0, order).compare(points)``: model vs true value at the points."""
    return taylor(fun, x0, order).compare(points)
