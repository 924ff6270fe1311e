"""The method registry: every method name ``minimize`` and YAML accept, registered once.

A :class:`Method` holds what the rest of optkit needs to know about a name: the factory that
builds the solver from the method's options, the default step cap and gradient tolerance,
and its options (read from the factory's signature and docstring, so the config schema,
``optkit validate`` and the docs follow the code). Nothing else lists method names.

Methods from outside the package register with :func:`register_method` (in code, or in a
module a YAML config lists under ``imports``) or through the Python entry-point group
``optkit.methods`` of an installed package (each entry point names a :class:`Method`, or a
function that registers methods when called).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np
import optax

from .._names import check_new_entry
from .._text import suggestion
from ._base import LARGE_N_MAX_STEPS, Solver
from ._bfgs import BFGS
from ._gradient_descent import GradientDescent
from ._least_squares import GaussNewton, LevenbergMarquardt
from ._newton import Newton
from ._newton_cg import NewtonCG
from ._optax import Optax, optax_alias
from ._trust_region import TrustRegion
from ._validation import check_options

ENTRY_POINT_GROUP = "optkit.methods"
#: stopping gradient tolerance by floating-point width: (≥ 64 bits, below)
DEFAULT_GRAD_TOL = (1e-8, 1e-4)


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a method: its default (``inspect.Parameter.empty`` if required), the
    annotation as written in the factory, and the sentence the factory's docstring gives."""

    name: str
    default: Any
    annotation: str
    doc: str


@dataclasses.dataclass(frozen=True)
class Method:
    """A named method.

    Attributes:
        name: what ``minimize(method=...)`` and YAML ``solver.method`` say.
        factory: ``factory(**options) -> Solver``.
        max_steps: the default cap on accepted steps.
        grad_tol: the default stopping tolerance on ‖∇f‖₂ in (float64, float32).
        summary: one line for listings and docs.
    """

    name: str
    factory: Callable[..., Solver]
    max_steps: int = 1000
    grad_tol: tuple[float, float] = DEFAULT_GRAD_TOL
    summary: str = ""

    def options(self) -> dict[str, Option]:
        """The options the factory accepts (keyword parameters), in signature order."""
        return dict(_options_of(self.factory)[0])

    @property
    def takes_any_option(self) -> bool:
        """Whether the factory takes ``**options`` (then any option name is passed on)."""
        return _options_of(self.factory)[1]

    def default_grad_tol(self, dtype: Any) -> float:
        return default_grad_tol(dtype, self.grad_tol)

    def make(self, **options: Any) -> Solver:
        return self.factory(**options)


def _options_of(factory: Callable[..., Solver]) -> tuple[dict[str, Option], bool]:
    """A factory's options and whether it takes ``**options``, read once per factory: every
    ``minimize`` call checks its options against them, and reading a signature and parsing a
    docstring cost more than a small batched solve (0.3 ms against 4 ms for W1 at 1,000
    starts). An unhashable factory (a callable object) is read every time."""
    try:
        hash(factory)
    except TypeError:
        return _read_options(factory)
    return _cached_options(factory)


def _read_options(factory: Callable[..., Solver]) -> tuple[dict[str, Option], bool]:
    docs = _arg_docs(inspect.getdoc(factory) or "")
    found, takes_any = {}, False
    for name, param in inspect.signature(factory).parameters.items():
        takes_any |= param.kind is param.VAR_KEYWORD
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        annotation = param.annotation
        if not isinstance(annotation, str):
            annotation = getattr(annotation, "__name__", str(annotation))
        found[name] = Option(name, param.default, annotation, docs.get(name, ""))
    return found, takes_any


_cached_options = functools.cache(_read_options)


def default_grad_tol(dtype: Any, tolerances: tuple[float, float] = DEFAULT_GRAD_TOL) -> float:
    """The stopping tolerance on ‖∇f‖₂ for ``dtype``: 1e-8 in float64, 1e-4 in float32 (and
    narrower floats) unless a method registers its own."""
    return tolerances[0] if np.finfo(np.dtype(dtype)).bits >= 64 else tolerances[1]


def _arg_docs(doc: str) -> dict[str, str]:
    """``name: sentence`` entries of a Google-style ``Args:`` section (continuations joined;
    ``a, b: text`` documents both)."""
    match = re.search(r"^Args:\n((?:[ \t]+.*\n?|\n)+)", doc, flags=re.MULTILINE)
    if match is None:
        return {}
    entries: dict[str, str] = {}
    names: list[str] = []
    for line in match.group(1).splitlines():
        head = re.match(r"^\s{2,4}([\w, ]+):\s*(.*)$", line)
        if head and not line.startswith(" " * 5):
            names = [n.strip() for n in head.group(1).split(",")]
            for name in names:
                entries[name] = head.group(2).strip()
        elif names and line.strip():
            for name in names:
                entries[name] += " " + line.strip()
    return entries


def _lbfgs(memory_size: int = 10, max_linesearch_steps: int = 20) -> Solver:
    """optax's L-BFGS with its zoom line search (strong Wolfe conditions), optax's defaults.

    Args:
        memory_size: number of (s, y) pairs kept for the inverse-Hessian estimate.
        max_linesearch_steps: trials of the zoom line search per step.
    """
    return _lbfgs_solver(memory_size, max_linesearch_steps)


@functools.lru_cache(maxsize=16)
def _lbfgs_solver(memory_size: int, max_linesearch_steps: int) -> Solver:
    # exactly optax.lbfgs(memory_size) with its default search (20 trials, each search from
    # t = 1, "one"), so that "lbfgs" and Optax(optax.lbfgs()) are one compiled program (Optax
    # compares by structure). "keep" (the step of the last search) took 170 steps where "one"
    # takes 38 on extended Rosenbrock n = 1,000, as many as optax.lbfgs() by hand
    # (experiments/benchmarks/lbfgs.py).
    return Optax(
        optax.lbfgs(
            memory_size=memory_size,
            linesearch=optax.scale_by_zoom_linesearch(
                max_linesearch_steps=max_linesearch_steps, initial_guess_strategy="one"),
        )
    )


METHODS: dict[str, Method] = {}
_entry_points_loaded = False


def register_method(
    name: str,
    factory: Callable[..., Solver],
    *,
    max_steps: int = 1000,
    grad_tol: tuple[float, float] = DEFAULT_GRAD_TOL,
    summary: str = "",
    replace: bool = False,
) -> Method:
    """Register ``factory`` under ``name`` for ``minimize(method=name)`` and YAML.

    Args:
        name: an identifier, e.g. "scaled_steepest".
        factory: ``factory(**options) -> Solver``; its keyword parameters (with defaults and
            ``Args:`` docstring entries) become the method's options in YAML and the docs.
        max_steps: the default cap on accepted steps.
        grad_tol: the default stopping tolerance on ‖∇f‖₂ in (float64, float32).
        summary: one line for listings (default: the factory docstring's first line).
        replace: allow replacing an existing registration.

    Returns:
        The registered :class:`Method`.
    """
    check_new_entry("method", name, factory, METHODS, replace)
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"method {name!r}: max_steps must be a non-negative integer")
    summary = summary or (inspect.getdoc(factory) or "").split("\n")[0]
    method = Method(name, factory, max_steps, tuple(grad_tol), summary)  # type: ignore[arg-type]
    METHODS[name] = method
    return method


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        target = entry.load()
        if isinstance(target, Method):
            METHODS.setdefault(target.name, target)
        elif callable(target):
            target()


def method_names() -> list[str]:
    """Every registered method name (built-in ones first)."""
    _load_entry_points()
    return list(METHODS)


def get_method(name: str) -> Method:
    """The registered method ``name``; ``ValueError`` with a suggestion otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"method must be a name or a solver object, got {name!r}")
    if name not in METHODS:
        _load_entry_points()
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}{suggestion(name, METHODS)}; expected one "
                         f"of {', '.join(METHODS)} or a solver object") from None


def make_solver(method: str | Solver | optax.GradientTransformation, **options: Any) -> Solver:
    """The solver object for a method name (with its options) or a solver object as is."""
    if isinstance(method, optax.GradientTransformation):
        method = Optax(method)
    if isinstance(method, Solver):
        if options:
            raise TypeError(f"options {sorted(options)} given with a solver object; "
                            "set them on the solver instead")
        return method
    spec = get_method(method)
    accepted = spec.options()
    for key in options:
        if key not in accepted and not spec.takes_any_option:
            raise TypeError(unknown_option(key, method, accepted))
    check_options(method, options)
    return spec.make(**options)


#: scipy.optimize.minimize's names for what minimize calls otherwise
SCIPY_NAMES = {"maxiter": "max_steps", "tol": "grad_tol", "gtol": "grad_tol",
               "xtol": "x_tol", "ftol": "f_tol", "options": "keyword arguments"}
#: keywords of minimize itself (not options of a method)
MINIMIZE_KEYWORDS = ("grad_tol", "x_tol", "f_tol", "max_steps", "record", "classify", "throw")


def unknown_option(key: str, method: str, accepted: Any) -> str:
    """One line for an option ``method`` does not take, with the nearest name."""
    if key in SCIPY_NAMES:
        hint = f" (scipy's {key!r} is {SCIPY_NAMES[key]!r} here)"
    elif key in ("jac", "hess", "hessp"):
        hint = " (derivatives come from JAX's autodiff; pass only the function)"
    elif key == "callback":
        hint = (" (callback is a keyword of minimize and minimize_batch, not a method option; "
                "BatchSolve.run takes its own per-chunk callback)")
    else:
        hint = suggestion(key, [*accepted, *MINIMIZE_KEYWORDS])
    names = ", ".join([*accepted, *MINIMIZE_KEYWORDS])
    return f"unknown option {key!r} for method {method!r}{hint}; it takes {names}"


def default_max_steps(method: str | Solver | optax.GradientTransformation) -> int:
    """The default step cap: the registered one for a name, the solver class's otherwise."""
    if isinstance(method, str):
        return get_method(method).max_steps
    if isinstance(method, optax.GradientTransformation):
        return Optax.default_max_steps
    return type(method).default_max_steps


register_method("newton", Newton, summary="Newton's method with the exact Hessian, "
                "saddle-free by default")
register_method("gradient_descent", GradientDescent, max_steps=20_000,
                summary="steepest descent with a line search or a constant step")
register_method("newton_cg", NewtonCG, max_steps=LARGE_N_MAX_STEPS,
                summary="matrix-free Newton–CG (Hessian-vector products only)")
register_method("trust_region", TrustRegion, summary="trust-region Newton, exact subproblem")
register_method("bfgs", BFGS, max_steps=LARGE_N_MAX_STEPS,
                summary="BFGS quasi-Newton (dense inverse-Hessian estimate)")
register_method("lbfgs", _lbfgs, max_steps=LARGE_N_MAX_STEPS,
                summary="optax's L-BFGS with a zoom line search")
register_method("gauss_newton", GaussNewton, summary="Gauss–Newton on a residual vector "
                "(least squares only) with an Armijo line search")
register_method("levenberg_marquardt", LevenbergMarquardt, summary="Levenberg–Marquardt on a "
                "residual vector (least squares only), Moré's trust region")
register_method("optax", optax_alias, max_steps=20_000, summary="any optax optimiser by name "
                "(optimizer: adam, learning_rate: 1e-3, ...)")
