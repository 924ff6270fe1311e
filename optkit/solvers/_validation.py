"""Checks of what a caller asks of a solve, made in Python before anything is traced.

The compiled loop counts in int32 and trusts its inputs: a ``max_steps`` past
:data:`optkit._limits.MAX_STEPS` wraps its trip counter, a NaN tolerance never compares true,
a negative step walks uphill. These checks turn each such request into one ``ValueError`` (or
``TypeError``) naming the keyword and the value, and refuse a record buffer too large to
allocate with its estimate and the knob (``OPTKIT_MAX_ARRAY_BYTES``).

A ``grad_tol`` below what the dtype can resolve is not an error but is raised to the
dtype's floor, :func:`grad_tol_floor` (ten machine epsilons: below that even the gradient of
a unit-scaled problem is rounding noise), with one :class:`ToleranceWarning`; exactly 0 is
kept (stop on the gradient only where it is exactly 0: run to the other rules). Values that are
JAX tracers (a tolerance vmapped by the caller) are left alone: they cannot be inspected
outside the compiled program.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from .. import _limits


class ToleranceWarning(UserWarning):
    """A tolerance below what the dtype can resolve was raised to the dtype's floor."""


#: options that are counts (≥ 1, and int32 inside the program), by name, for every method
COUNT_OPTIONS = ("memory_size", "max_linesearch_steps", "max_cg_steps", "max_trials")
#: options that are lengths or scales and must be positive and finite
POSITIVE_OPTIONS = ("step_size", "initial_radius", "max_radius", "escape_length")
#: options that must lie in [0, 1)
FRACTION_OPTIONS = ("eta",)


def _is_tracer(value: Any) -> bool:
    import jax

    return isinstance(value, jax.core.Tracer)


def _real(name: str, value: Any) -> float | None:
    """``value`` as a float, None for a tracer; TypeError when it is not a real number."""
    if _is_tracer(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    array = np.asarray(value)
    if array.shape != () or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must be a single number, got {value!r}")
    return float(array)


def check_count(name: str, value: Any, low: int = 0, high: int = _limits.INT32_MAX,
                why: str = "the largest int32") -> int:
    """``value`` as an int in [low, high]; one-line TypeError/ValueError naming ``name``."""
    if _is_tracer(value):
        raise TypeError(f"{name} must be a Python integer (it sets the compiled program's "
                        "shape), got a traced value")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    value = int(value)
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    if value > high:
        raise ValueError(f"{name}={value:,} is more than {high:,}, {why}")
    return value


def check_max_steps(max_steps: Any) -> int:
    """0 ≤ max_steps ≤ MAX_STEPS: the driver runs up to 100·(max_steps + 1) trips round its
    loop and counts them in int32."""
    return check_count("max_steps", max_steps, 0, _limits.MAX_STEPS,
                       "the most the compiled loop can count (it allows 100 trips per step "
                       "and counts them in int32)")


def check_tolerance(name: str, value: Any) -> None:
    """A stopping tolerance: a finite number ≥ 0 (NaN never compares true, so it would
    silently never stop)."""
    number = _real(name, value)
    if number is None:
        return
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number ≥ 0, got {number!r}")
    if number < 0:
        raise ValueError(f"{name} must be ≥ 0, got {number!r}")


def grad_tol_floor(dtype: Any) -> float:
    """The smallest ``grad_tol`` a solve in ``dtype`` is held to: 10·ε (float64 2.2e-15,
    float32 1.2e-6). A gradient norm below that is rounding noise even for a problem with
    |x| ≈ 1 and unit curvature; problems of larger scale stop above it (ROUNDING_FLOOR)."""
    return 10.0 * float(np.finfo(np.dtype(dtype)).eps)


def check_stop(grad_tol: Any, max_steps: Any, dtype: Any, stacklevel: int = 4) -> tuple[Any, int]:
    """``(grad_tol, max_steps)`` checked; a grad_tol below :func:`grad_tol_floor` is raised to
    it with a :class:`ToleranceWarning`."""
    max_steps = check_max_steps(max_steps)
    check_tolerance("grad_tol", grad_tol)
    if _is_tracer(grad_tol):
        return grad_tol, max_steps
    floor = grad_tol_floor(dtype)
    if 0 < float(grad_tol) < floor:
        name = np.dtype(dtype).name
        warnings.warn(f"grad_tol={float(grad_tol):g} is below what {name} can resolve; "
                      f"using the {name} floor {floor:.2g} instead", ToleranceWarning,
                      stacklevel=stacklevel)
        grad_tol = floor
    return grad_tol, max_steps


def check_record(record: Any, max_steps: int, size: int, dtype: Any, starts: int = 1) -> None:
    """Refuse a trajectory buffer of ``starts`` × (max_steps + 1) rows of x (``size`` entries)
    plus value, grad_norm, step size and three solver extras that would exceed
    ``OPTKIT_MAX_ARRAY_BYTES``, before it is allocated."""
    if not record:
        return
    nbytes = starts * (max_steps + 1) * (size + 6) * np.dtype(dtype).itemsize
    limit = _limits.MAX_ARRAY_BYTES
    if nbytes > limit.value:
        rows = f"{starts:,} starts x " if starts > 1 else ""
        raise ValueError(
            f"record=True with max_steps={max_steps:,}: {rows}{max_steps + 1:,} steps of "
            f"{size:,} variables would record {_limits.size(nbytes)}, more than the limit "
            f"{_limits.size(limit.value)} ({limit.knob()}, or pass record=False or a lower "
            "max_steps)")


def check_options(method: str, options: dict[str, Any]) -> None:
    """The options of a registered method: counts are whole numbers in [1, int32], lengths
    and scales positive and finite, ``eta`` in [0, 1), and every number finite."""
    for key, value in options.items():
        if value is None or isinstance(value, (str, bool)) or _is_tracer(value):
            continue
        if key in COUNT_OPTIONS:
            check_count(key, value, 1)
        elif isinstance(value, numbers.Real):
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"{key} must be a finite number, got {number!r}")
            if key in POSITIVE_OPTIONS and number <= 0:
                raise ValueError(f"{key} must be positive, got {value!r} (method {method!r})")
            if key in FRACTION_OPTIONS and not 0 <= number < 1:
                raise ValueError(f"{key} must be in [0, 1), got {value!r} (method {method!r})")
            if isinstance(value, numbers.Integral) and abs(int(value)) > _limits.INT32_MAX:
                raise ValueError(f"{key}={int(value):,} does not fit the compiled program's "
                                 "int32")


def check_solve(x_tol: Any, f_tol: Any, record: Any, max_steps: int, flat: Any,
                rel_grad_tol: Any = 0.0) -> None:
    """minimize's and least_squares' keywords not covered by :func:`check_stop`: the step,
    decrease and relative gradient tolerances, and the size of the record buffer of one solve
    of the flat vector ``flat``."""
    check_tolerance("x_tol", x_tol)
    check_tolerance("f_tol", f_tol)
    check_tolerance("rel_grad_tol", rel_grad_tol)
    check_record(record, max_steps, int(np.size(flat)), flat.dtype)


def check_batch(x0s: Any, keywords: dict[str, Any]) -> None:
    """minimize_batch's keywords, before its program is traced: the tolerances and the step
    cap, and the record buffers of every start together."""
    import jax

    leaves = jax.tree_util.tree_leaves(x0s)
    starts = int(leaves[0].shape[0])
    size = sum(int(np.prod(leaf.shape[1:])) for leaf in leaves)
    dtype = np.result_type(*[leaf.dtype for leaf in leaves])
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(float)
    max_steps = check_max_steps(keywords["max_steps"])
    for name in ("grad_tol", "rel_grad_tol", "x_tol", "f_tol"):
        if keywords.get(name) is not None:
            check_tolerance(name, keywords[name])
    check_record(keywords.get("record"), max_steps, size, dtype, starts)
