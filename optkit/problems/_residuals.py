"""Least-squares problems: f(x) = ½‖r(x)‖² from a residual vector r.

The residuals are a list of expressions in the safe expression language (``_expression``; one
expression per residual rᵢ, all in the same variables) or the user's function
``fn(x) -> residual vector`` ("package.module:fn" or "path/file.py:fn", loaded like
``problem.function``). The problem's ``fun`` is an :class:`optkit.SumOfSquares`: every method
minimises f = ½‖r‖², and ``gauss_newton`` / ``levenberg_marquardt`` step on r itself.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._expression import DEFAULT_LOWER, DEFAULT_START, DEFAULT_UPPER, translate
from ._problem import Problem
from ._user_function import load_and_trace

#: residuals shown in a problem's name before "…"
SHOWN = 3


def _expression_residual(expressions: Sequence[str], variables: Sequence[str]
                         ) -> Callable[[Any], jax.Array]:
    if isinstance(expressions, str) or not isinstance(expressions, Sequence) or not expressions:
        raise ValueError("residuals: expected a non-empty list of expressions or "
                         "'file.py:function'")
    if variables is None:
        raise ValueError("variables: required with a list of residual expressions")
    terms = []
    for index, text in enumerate(expressions):
        try:
            terms.append(translate(text, variables))
        except ValueError as err:
            raise ValueError(f"residuals[{index}]: {err}") from None

    def residual(x: Any) -> jax.Array:
        return jnp.stack([term(x) for term in terms])

    return residual


def _function_residual(spec: str, dim: int, base_dir: str | os.PathLike[str] | None
                       ) -> Callable[[Any], jax.Array]:
    fun, out = load_and_trace(spec, dim, base_dir, "residuals")
    if not (isinstance(out, jax.ShapeDtypeStruct) and out.ndim == 1 and out.shape[0] >= 1
            and jnp.issubdtype(out.dtype, jnp.floating)):
        shown = f"{getattr(out, 'shape', type(out).__name__)} {getattr(out, 'dtype', '')}"
        raise ValueError(f"residuals {spec!r}: must return a float vector (the residuals), got "
                         f"{shown.rstrip()}")
    return fun


def from_residuals(
    residuals: Sequence[str] | str,
    variables: Sequence[str] | None = None,
    *,
    dim: int | None = None,
    lower: float = DEFAULT_LOWER,
    upper: float = DEFAULT_UPPER,
    base_dir: str | os.PathLike[str] | None = None,
) -> Problem:
    """The least-squares :class:`Problem` f(x) = ½‖r(x)‖².

    Args:
        residuals: a list of expressions (rᵢ as math strings in ``variables``, parsed by the
            safe translator, never ``eval``), or "package.module:fn" / "path/file.py:fn", a
            JAX-traceable fn(x) → the residual vector (1-D, m ≥ 1 floats) of a flat x of
            ``dim`` floats (checked once with ``jax.eval_shape``).
        variables: the variable names (with expressions; ``dim`` = their number).
        dim: the number of variables (with a function).
        lower, upper: the box [lower, upper]ⁿ (default [−2, 2]ⁿ); the default start is 0.5
            in every coordinate (the box's midpoint if 0.5 is outside it).
        base_dir: where a relative file is looked for (default the working directory).

    Raises:
        ValueError: one line naming the key (``residuals[i]``, ``variables``, ``dim``).
    """
    from ..solvers import SumOfSquares

    for key, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(
                value):
            raise ValueError(f"{key} must be a finite number, got {value!r}")
    if not lower < upper:
        raise ValueError(f"lower must be below upper, got {lower!r} and {upper!r}")
    if isinstance(residuals, str):
        if variables is not None:
            raise ValueError("variables: only with a list of residual expressions (a function "
                             "takes dim)")
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim: a residual function needs dim, a positive integer "
                             f"(got {dim!r})")
        dim = int(dim)
        residual = _function_residual(residuals, dim, base_dir)
        name, params = residuals, {"residuals": residuals, "dim": dim}
        source = "user residual function"
    else:
        if dim is not None:
            raise ValueError("dim: only with a residual function (expressions take variables)")
        residual = _expression_residual(residuals, variables)  # type: ignore[arg-type]
        dim = len(variables)  # type: ignore[arg-type]
        texts = [text.strip() for text in residuals]
        shown = ", ".join(texts[:SHOWN]) + (", …" if len(texts) > SHOWN else "")
        name = f"½‖r‖², r = ({shown})"
        params = {"residuals": texts, "variables": list(variables)}  # type: ignore[arg-type]
        source = "residual expressions"
    point = np.full(dim, DEFAULT_START if lower <= DEFAULT_START <= upper else 0.5 * (
        lower + upper))
    return Problem(
        name=name, fun=SumOfSquares(residual), dim=dim, start=jnp.asarray(point),
        box=((float(lower),) * dim, (float(upper),) * dim), source=source,
        variables=tuple(variables) if variables is not None else (), params=params,
    )
