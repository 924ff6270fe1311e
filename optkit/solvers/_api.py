"""minimize and minimize_batch: the public ways to run the driver's loop.

Method names are looked up in the method registry (``_registry``); parameters are flattened
to one vector by ``optkit._pytree``; the loop itself is ``_driver.Loop``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._pytree import as_start, flatten
from .._sharding import shard_starts
from . import _validation
from ._base import Solver
from ._bounded import bounded
from ._driver import solve_flat
from ._least_squares import SumOfSquares
from ._registry import default_grad_tol, default_max_steps, get_method, make_solver
from ._result import Result
from ._status import Status


class OptimizationError(RuntimeError):
    """Raised by ``minimize(..., throw=True)`` when a solve does not converge."""


def flat_objective(fun: Callable[[Any], jax.Array],
                   unravel: Callable[[jax.Array], Any]) -> Callable[[jax.Array], jax.Array]:
    """f of the flat vector z, its value in z's dtype: the dtype rule of every solve is that
    results come in the dtype of x0, so float64 constants inside a function of float32
    parameters do not turn the solve into a mixed-precision one (the value is rounded to
    float32; derivatives w.r.t. float32 parameters already are float32)."""
    if isinstance(fun, SumOfSquares):  # least-squares solvers step on r itself: keep it
        return fun.flat(unravel)

    def objective(z: jax.Array) -> jax.Array:
        return jnp.asarray(fun(unravel(z))).astype(z.dtype)

    return objective


@functools.partial(
    jax.jit, static_argnames=("fun", "solver", "max_steps", "record", "classify", "unravel")
)
def _solve_jit(fun, solver, x0_flat, grad_tol, x_tol, f_tol, max_steps, record, classify,
               unravel):
    return solve_flat(flat_objective(fun, unravel), x0_flat, solver, grad_tol=grad_tol,
                      x_tol=x_tol, f_tol=f_tol, max_steps=max_steps, record=record,
                      classify=classify, unravel=unravel)


class _Unraveller:
    """Hashable stand-in for ``unravel`` so the jitted solve can be cached per pytree shape."""

    def __init__(self, unravel: Callable[[jax.Array], Any], x0: Any) -> None:
        self.unravel = unravel
        leaves, self.treedef = jax.tree_util.tree_flatten(x0)
        self.key = (self.treedef, tuple((jnp.shape(l), jnp.result_type(l)) for l in leaves))

    def __call__(self, flat: jax.Array) -> Any:
        return self.unravel(flat)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unraveller) and self.key == other.key


def minimize(
    fun: Callable[[Any], jax.Array],
    x0: Any,
    method: str | Solver = "newton",
    *,
    grad_tol: float | None = None,
    x_tol: float = 0.0,
    f_tol: float = 0.0,
    max_steps: int | None = None,
    record: bool = False,
    classify: bool | None = None,
    throw: bool = False,
    bounds: Any = None,
    **options: Any,
) -> Result:
    """Minimise ``fun`` from ``x0`` in one compiled loop.

    Args:
        fun: JAX-traceable f(x) → scalar; x is a pytree of float arrays shaped like ``x0``.
        x0: the start; its pytree structure and dtype are kept (Python floats follow JAX's
            default float, float64 once optkit is imported).
        method: "newton" (default), "gradient_descent", "newton_cg", "trust_region", "bfgs",
            "lbfgs", a solver object (``optkit.Newton(...)``) or an optax transformation.
        grad_tol: stop when ‖∇f(x)‖₂ ≤ grad_tol (default 1e-8 in float64, 1e-4 in float32).
        x_tol, f_tol: optional step and decrease tolerances (see the driver's stopping rule).
        max_steps: cap on accepted steps (default 1000 for second-order methods, 20000 for
            first-order ones).
        record: keep the per-step trajectory in ``result.trajectory``.
        classify: classify the end point from the Hessian's eigenvalues (default: on; above
            64 entries the extreme eigenvalues come from 20 Lanczos Hessian–vector products).
        throw: raise :class:`OptimizationError` if the solve did not converge (outside
            jit/vmap only).
        bounds: ``(lower, upper)`` box constraints lower ≤ x ≤ upper, each a scalar, None or
            a pytree like ``x0`` (±inf allowed) with methods "gradient_descent" (projected
            gradient), "newton" (projected Newton) and "lbfgs" (projected L-BFGS); x0 is
            projected into the box, CONVERGED means ‖x − P(x − ∇f)‖₂ ≤ grad_tol (a KKT
            point), ``grad_norm`` is that residual and ``critical_point`` a KKT
            classification (``optkit/solvers/_bounded.py``).
        **options: passed to the method's solver, e.g. ``line_search="none"``, ``step_size``,
            ``regularization="levenberg"``.

    Returns:
        A :class:`Result`; under ``jax.vmap`` each start gets its own status.
    """
    solver = make_solver(method, **options) if bounds is None else bounded(
        method, bounds, as_start(x0), **options)
    x0 = as_start(x0)
    flat, unravel = flatten(x0)
    grad_tol, max_steps, classify = _defaults(method, flat, grad_tol, max_steps, classify)
    _validation.check_solve(x_tol, f_tol, record, max_steps, flat)
    result = _solve_jit(_hashable(fun), solver, flat, grad_tol, x_tol, f_tol, max_steps,
                        bool(record), classify, _Unraveller(unravel, x0))
    if throw and not isinstance(result.status_code, jax.core.Tracer):
        codes = np.asarray(result.status_code)
        if np.any(codes != Status.CONVERGED):
            raise OptimizationError(f"minimize did not converge: {result.message}")
    return result


def _defaults(method: str | Solver, flat: jax.Array, grad_tol: float | None,
              max_steps: int | None, classify: bool | None) -> tuple[float, int, bool]:
    """The documented defaults of minimize's grad_tol, max_steps and classify."""
    if grad_tol is None:
        grad_tol = (get_method(method).default_grad_tol(flat.dtype) if isinstance(method, str)
                    else default_grad_tol(flat.dtype))
    if max_steps is None:
        max_steps = default_max_steps(method)
    if classify is None:  # above 64 entries by Lanczos (no n×n matrix): on at every size
        classify = True
    grad_tol, max_steps = _validation.check_stop(grad_tol, max_steps, flat.dtype)
    return grad_tol, int(max_steps), bool(classify)


def _hashable(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` as a static jit argument: unhashable callables are keyed by identity."""
    try:
        hash(fun)
    except TypeError:
        return _HashById(fun)
    return fun


class _HashById:
    def __init__(self, fun: Callable[..., Any]) -> None:
        self.fun = fun

    def __call__(self, *args: Any) -> Any:
        return self.fun(*args)

    def __hash__(self) -> int:
        return id(self.fun)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _HashById) and other.fun is self.fun


def newton(fun: Callable[[Any], jax.Array], x0: Any, **kw: Any) -> Result:
    """``minimize(fun, x0, method="newton", **kw)``."""
    return minimize(fun, x0, method="newton", **kw)


def gradient_descent(fun: Callable[[Any], jax.Array], x0: Any, **kw: Any) -> Result:
    """``minimize(fun, x0, method="gradient_descent", **kw)``."""
    return minimize(fun, x0, method="gradient_descent", **kw)


def _chunk_size(chunk_size: int | None, num_starts: int) -> int | None:
    if chunk_size is None:
        return None
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    return chunk_size if chunk_size < num_starts else None


@functools.lru_cache(maxsize=64)
def _batch_program(fun: Callable[..., Any], solver: Solver, chunk: int | None,
                   options: tuple[tuple[str, Any], ...]) -> Callable[[Any], Result]:
    def solve_one(x0: Any) -> Result:
        return minimize(fun, x0, solver, **dict(options))

    if chunk is None:
        return jax.jit(jax.vmap(solve_one))
    return jax.jit(lambda x0s: jax.lax.map(solve_one, x0s, batch_size=chunk))


def minimize_batch(
    fun: Callable[[Any], jax.Array],
    x0s: Any,
    method: str | Solver = "newton",
    *,
    chunk_size: int | None = None,
    devices: list[jax.Device] | None = None,
    **kw: Any,
) -> Result:
    """Solve from every start in ``x0s`` (leading axis = starts) in one compiled program.

    Each start gets its own status; a failing start never stops the batch. Keywords are those
    of :func:`minimize`. The starts are split over ``devices`` (default: every local device),
    padded to a multiple of their number; the padding never reaches the result. With
    ``chunk_size`` the starts are vmapped in chunks of that size inside one ``lax.map``: each
    chunk stops when its own slowest start does, and a chunk's working set can stay in cache.
    On one CPU core that halves the time of 10,000 small solves; with two or more cores XLA
    already spreads one big vmapped batch over them and chunking loses, so the default is
    no chunking.
    """
    x0s = as_start(x0s)
    sizes = {a.shape[0] if a.ndim else None for a in jax.tree_util.tree_leaves(x0s)}
    if len(sizes) != 1 or None in sizes:
        raise ValueError("x0s: every leaf needs the same leading (starts) axis")
    throw = kw.pop("throw", False)
    bounds = kw.pop("bounds", None)
    if kw.get("max_steps") is None:  # by method name: "lbfgs" becomes an Optax object below
        kw["max_steps"] = default_max_steps(method)
    options = {k: kw.pop(k) for k in list(kw) if k not in _MINIMIZE_KW}
    solver = (make_solver(method, **options) if bounds is None else
              bounded(method, bounds, jax.tree_util.tree_map(lambda a: a[0], x0s), **options))
    _validation.check_batch(x0s, kw)
    x0s, n, _ = shard_starts(x0s, devices)
    chunk = _chunk_size(chunk_size, n)
    result = _batch_program(_hashable(fun), solver, chunk, tuple(sorted(kw.items())))(x0s)
    if jax.tree_util.tree_leaves(x0s)[0].shape[0] != n:
        result = jax.tree_util.tree_map(lambda a: a[:n], result)
    if throw and np.any(np.asarray(result.status_code) != Status.CONVERGED):
        raise OptimizationError("minimize_batch: some starts did not converge")
    return result


_MINIMIZE_KW = ("grad_tol", "x_tol", "f_tol", "max_steps", "record", "classify")
