"""How optkit compiles its programs: ``jax.jit`` with XLA:CPU's classic fusion emitters.

Compiling, not solving, is most of the time of a short solve and of ``optkit run`` on a CPU:
XLA:CPU's default (MLIR) fusion emitters build every fused kernel through their own pipeline,
and a solve program holds about a hundred kernels. The classic emitters compile the same
optimised HLO in 40–60% of the CPU time (W1, 10,000 vmapped Newton solves of 2-D
Rosenbrock: 5.7 → 3.5 s). The programs they make are not always as fast: measured with both
versions of the same solve program compiled in one process and timed alternately (2 cores,
float64, minimum of 25 calls), the classic emitters' solve takes 1.0× the default's for
Newton at n = 2 and Newton–CG at n = 1,000, 1.0–1.2× for L-BFGS at n = 10⁵, 1.15–1.2× for
L-BFGS at n = 1,000, 1.15–1.4× for W1 and 1.35–1.4× for BFGS at n = 200. A first solve
saves far more compile time (0.5–2 s) than that costs; a program called thousands of times
(an outer loop over data with the same shapes, a long batch) may not, and
``OPTKIT_CLASSIC_EMITTERS=0`` in the environment (read at the first compile) gives the
default emitters instead. Results may differ between the two in the last bits (another
reduction order), never in status or kind; every guarantee that compares two programs (a
chunked run against one uninterrupted batch, bit for bit) holds because optkit compiles all
of its programs the same way within a process.

The option ``xla_cpu_use_fusion_emitters`` is asked for per program (``jax.jit``'s
``compiler_options``), so nothing global changes: the user's own programs, and optkit's
functions traced inside a user's ``jax.jit`` or ``jax.vmap`` (jax takes compiler options only
on a top-level jit), compile as the user chose. An XLA that does not
know the option (older jaxlib, or a future one without the classic emitters) is detected once,
by compiling a one-line probe, and then gets no options. Other backends ignore ``xla_cpu_``
options.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

_CLASSIC_CPU_EMITTERS: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}

try:  # jax has no public test for "not tracing"; without it optkit passes no options
    from jax._src.core import trace_state_clean as _trace_state_clean
except ImportError:  # pragma: no cover (a future jax)
    _trace_state_clean = None


#: environment variable: "0" (or "false", "no", "off") compiles optkit's programs with XLA's
#: default emitters (slower compiles, faster solves on some workloads; see the docstring)
CLASSIC_EMITTERS_ENV = "OPTKIT_CLASSIC_EMITTERS"


@functools.cache
def compiler_options() -> dict[str, Any] | None:
    """The ``compiler_options`` optkit's programs compile with, or None where this XLA does
    not know them or $OPTKIT_CLASSIC_EMITTERS turns them off (decided once per process, at
    the first compile: the probe needs a backend, and optkit must not start one at
    import)."""
    if os.environ.get(CLASSIC_EMITTERS_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        jax.jit(lambda x: x + 1, compiler_options=_CLASSIC_CPU_EMITTERS).lower(
            np.float32(0)).compile()
    except Exception:  # JaxRuntimeError "No such compile option" (its class moved in jax)
        return None
    return dict(_CLASSIC_CPU_EMITTERS)


def _at_top_level() -> bool:
    """True outside any trace: jax accepts ``compiler_options`` only on a top-level jit (a
    jit called while an outer one is traced is inlined into it and compiles as it does)."""
    return _trace_state_clean is not None and _trace_state_clean()


class _LazyJit:
    """``jax.jit(fun, **kwargs)`` with :func:`compiler_options` where called at top level and
    without them inside another trace, each built at first use (so that a module-level
    ``@jit`` does not start a backend at import). Attributes (``lower``, ``trace``,
    ``_cache_size``, …) are the top-level function's."""

    def __init__(self, fun: Callable[..., Any], kwargs: dict[str, Any]) -> None:
        # name and docstring only: copying fun's __dict__ would copy the fields of a wrapped
        # _LazyJit (jit(jax.vmap(lazy)) holds them through functools.wraps) over ours
        functools.update_wrapper(self, fun, updated=())
        self._fun = fun
        self._kwargs = kwargs
        self._top: Any = None
        self._nested: Any = None

    def _top_level(self) -> Any:
        if self._top is None:
            self._top = jax.jit(self._fun, compiler_options=compiler_options(), **self._kwargs)
        return self._top

    def _inside_trace(self) -> Any:
        if self._nested is None:
            self._nested = jax.jit(self._fun, **self._kwargs)
        return self._nested

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        jitted = self._top_level() if _at_top_level() else self._inside_trace()
        return jitted(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # only reached for names the wrapper does not hold itself (never its own fields: a
        # copy being built has none yet)
        if name in ("_fun", "_kwargs", "_top", "_nested"):
            raise AttributeError(name)
        return getattr(self._top_level(), name)


def jit(fun: Callable[..., Any] | None = None, **kwargs: Any) -> Any:
    """``jax.jit`` for optkit's own programs (same arguments; usable as ``@jit`` and
    ``functools.partial(jit, static_argnames=...)``), compiled with :func:`compiler_options`.
    """
    if fun is None:
        return functools.partial(jit, **kwargs)
    return _LazyJit(fun, kwargs)


def static_callable(fun: Callable[..., Any]) -> Callable[..., Any]:
    """``fun`` as a static jit argument: a hashable callable as it is, an unhashable one keyed
    by identity (the same object reuses its program; a new one compiles)."""
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
