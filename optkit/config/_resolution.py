"""Resolution: a validated config becomes a :class:`Resolved` run, every default filled.

Resolution builds the problem (:func:`build_problem`), checks every start and box against its
dimension, checks the solver's options against the method registry, and fills every default
(name, start, grad_tol, max_steps, the method's option defaults, the analysis box). Every
problem found is reported at once, in one :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .. import _limits
from .._text import one_line, suggestion
from ..problems import Problem
from ._errors import ConfigError, format_validation_errors, unknown_key
from ._loading import apply_overrides, read_config_file
from ._schema import (
    STOP_KEYS,
    AnalysisConfig,
    BoxConfig,
    ExpressionProblem,
    FunctionProblem,
    NamedProblem,
    ResidualsProblem,
    RunConfig,
    SolverConfig,
    StartConfig,
)

#: keywords of ``minimize`` that belong in the ``record`` / ``analysis`` sections
_MINIMIZE_KEYWORDS = {"record": "record.trajectory", "classify": "analysis.classify"}
#: the default limit on starts (grid points included); ``OPTKIT_MAX_STARTS`` moves it
MAX_GRID_POINTS = _limits.MAX_STARTS.default


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A config ready to run: the resolved config, its problem and its starts.

    ``starts`` is float64 [count, dim]: flat vectors, made when first read (``optkit
    validate`` never makes them; their size was checked during resolution). ``num_starts``
    is their count without making them. ``flat_fun`` is the problem's function of such a
    flat vector (for a pytree problem it unravels the vector first).
    """

    config: RunConfig
    problem: Problem
    flat_fun: Callable[[Any], Any]

    @functools.cached_property
    def starts(self) -> np.ndarray:
        assert self.config.start is not None
        return make_starts(self.config.start)

    @property
    def num_starts(self) -> int:
        return start_count(self.config.start)


def load_config(
    path: str | os.PathLike[str], overrides: Iterable[str] = (), out: str | None = None
) -> RunConfig:
    """Read, override, validate and resolve the config at ``path``; every default is filled.

    Raises:
        ConfigError: with one line per problem (file, YAML, unknown keys, bad values,
            dimensions, solver options).
    """
    return resolve_file(path, overrides, out).config


def resolve_file(
    path: str | os.PathLike[str], overrides: Iterable[str] = (), out: str | None = None
) -> Resolved:
    """:func:`load_config`, also returning the built problem and starts."""
    data = read_config_file(path)
    try:
        return resolve(data, overrides, out, base_dir=Path(path).resolve().parent)
    except ConfigError as err:
        raise ConfigError(err.problems, source=str(path)) from None


def resolve(
    config: RunConfig | dict[str, Any], overrides: Iterable[str] = (), out: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Resolved:
    """Validate ``config`` (a dict or a RunConfig) with ``overrides`` applied, import its
    ``imports``, build its problem and starts, and fill every default. ``out`` replaces
    ``output.dir``. Relative file paths (``problem.function: file.py:f``, ``imports``) are
    resolved against ``base_dir`` (the config file's folder; default the working directory)
    and written absolute into the resolved config, so that it reruns from anywhere."""
    data = config.to_data() if isinstance(config, RunConfig) else config
    if not isinstance(data, dict):
        raise ConfigError([f"expected a mapping of config keys, got {type(data).__name__}"])
    data = apply_overrides(data, overrides)
    # an empty section (``stop:`` with nothing under it) means its defaults
    data = {key: value for key, value in data.items() if value is not None}
    problems: list[str] = _move_stop_keys(data)
    if out is not None:
        output = data.get("output")
        data["output"] = {**(output if isinstance(output, dict) else {}), "dir": str(out)}
    try:
        parsed = RunConfig.model_validate(data)
    except ValidationError as err:
        problems += format_validation_errors(err)
        parsed = None
    sections = _valid_sections(data) if parsed is None else dict(parsed)
    base = Path(base_dir) if base_dir is not None else Path.cwd()

    imports = sections.get("imports")
    if isinstance(imports, list):
        problems += _import_modules(imports, base)
    problem = None
    if "problem" in sections:
        try:
            problem = build_problem(sections["problem"], base_dir=base)
        except ConfigError as err:
            problems += err.problems
    solver = sections.get("solver")
    if isinstance(solver, SolverConfig):
        bounded = getattr(sections.get("problem"), "bounds", None) is not None
        problems += _check_solver(solver, bounded)
        if problem is not None:
            problems += _check_residual_method(solver, problem)
    if problem is not None:
        start = sections.get("start", None)
        if isinstance(start, StartConfig) or start is None and "start" in sections:
            problems += _check_start(start, problem)
        bounds = getattr(sections.get("problem"), "bounds", None)
        if bounds is not None:
            problems += _check_bounds(bounds, problem.dim, solver)
        analysis = sections.get("analysis")
        if isinstance(analysis, AnalysisConfig) and analysis.box is not None:
            problems += _check_box(analysis.box, problem.dim, "analysis.box")
    if parsed is not None:
        problems += _check_devices(parsed)
    if problems:
        raise ConfigError(problems)
    assert parsed is not None and problem is not None
    return _fill_defaults(parsed, problem, base)


def _check_devices(config: RunConfig) -> list[str]:
    """The requested platform and devices exist here (``optkit validate`` says so before a
    run would fail)."""
    from .._devices import DeviceError, select_devices

    try:
        select_devices(config.device, config.devices)
    except DeviceError as err:
        return [str(err)]
    return []


def _move_stop_keys(data: dict[str, Any]) -> list[str]:
    """Accept the stopping keys in the solver section too (``solver.max_steps=50``, as
    ``minimize(..., max_steps=50)`` takes them): they move to ``stop``, where the resolved
    config keeps them. Given in both places they are an error."""
    solver, stop = data.get("solver"), data.get("stop", {})
    if not isinstance(solver, dict) or not isinstance(stop, dict):
        return []
    problems = []
    for key in STOP_KEYS:
        if key in solver:
            if key in stop:
                problems.append(f"solver.{key}: also given as stop.{key}; give it once, in stop")
            else:
                stop = data["stop"] = {**stop, key: solver[key]}
            data["solver"] = solver = {k: v for k, v in solver.items() if k != key}
    return problems


def _valid_sections(data: Any) -> dict[str, Any]:
    """Top-level sections that validate on their own (so that one bad section does not hide
    the problems of another)."""
    if not isinstance(data, dict):
        return {}
    valid = {}
    for name, field in RunConfig.model_fields.items():
        if name not in data:
            if not field.is_required():
                valid[name] = field.get_default(call_default_factory=True)
            continue
        try:
            valid[name] = RunConfig.__pydantic_validator__.validate_assignment(
                RunConfig.model_construct(), name, data[name]
            ).__dict__[name]
        except ValidationError:
            continue
    return valid


def build_problem(spec: NamedProblem | ExpressionProblem | FunctionProblem | dict[str, Any],
                  base_dir: str | os.PathLike[str] | None = None,
                  allow_user_code: bool = True) -> Problem:
    """The problem of a ``problem`` section, without making any starts.

    Built-in problems and expressions (parsed by a whitelist, never ``eval``) are always
    built. A user function (``problem.function``) is imported, which runs its module's code:
    with ``allow_user_code=False`` (plots, ``show``) that is refused with a ``ConfigError``.
    A relative ``file.py`` is looked for in ``base_dir`` (default: the working directory).

    Raises:
        ConfigError: one line naming the key (unknown problem or parameter, bad expression,
            missing file, import failure, user code not allowed).
    """
    from .. import problems as registry
    from ..problems._user_function import absolute_spec

    if isinstance(spec, dict):
        from ._schema import ProblemSection

        try:
            spec = ProblemSection.validate_python(spec)
        except ValidationError as err:
            raise ConfigError(format_validation_errors(err)) from None
    try:
        if isinstance(spec, NamedProblem):
            key = "problem"
            unknown = _unknown_params(spec, registry) + _too_large_params(spec)
            if unknown:
                raise ConfigError(unknown)
            return registry.get(spec.name, **spec.params)
        if isinstance(spec, ExpressionProblem):
            key = "problem.expression"
            return registry.from_expression(spec.expression, spec.variables)
        if isinstance(spec, ResidualsProblem):
            key = "problem.residuals"
            return _residuals_problem(spec, base_dir, allow_user_code)
        key = "problem.function"
        if not allow_user_code:
            raise ConfigError([f"{key}: {spec.function!r} is user code, which is not imported "
                               "here (only optkit run, critical and validate import it)"])
        return registry.from_function(absolute_spec(spec.function, base_dir), spec.dim,
                                      base_dir=base_dir)
    except ConfigError:
        raise
    except Exception as err:  # user code (problem.function) may raise anything at import
        raise ConfigError([f"{key}: {one_line(err)}"]) from None


def _residuals_problem(spec: ResidualsProblem, base_dir: str | os.PathLike[str] | None,
                       allow_user_code: bool) -> Problem:
    """The least-squares problem of ``problem.residuals``; errors name their key."""
    from ..problems._residuals import from_residuals
    from ..problems._user_function import absolute_spec

    residuals = spec.residuals
    if isinstance(residuals, str):
        if not allow_user_code:
            raise ConfigError([f"problem.residuals: {residuals!r} is user code, which is not "
                               "imported here (only optkit run, critical and validate import "
                               "it)"])
        residuals = absolute_spec(residuals, base_dir)
    try:
        return from_residuals(residuals, spec.variables, dim=spec.dim, base_dir=base_dir)
    except ValueError as err:
        text = one_line(err)
        named = text.startswith(("residuals[", "variables:", "dim:"))
        raise ConfigError([f"problem.{text}" if named else f"problem.residuals: {text}"]
                          ) from None


def _check_residual_method(solver: SolverConfig, problem: Problem) -> list[str]:
    """gauss_newton and levenberg_marquardt step on residuals: only with problem.residuals."""
    from ..solvers import METHODS, SumOfSquares

    method = METHODS.get(solver.method)
    needs = getattr(getattr(method, "factory", None), "needs_residuals", False)
    if needs and not isinstance(problem.fun, SumOfSquares):
        return [f"solver.method: {solver.method!r} steps on a residual vector: give the "
                "problem as problem.residuals (a list of expressions or 'file.py:fn'), or "
                "choose a method for a scalar f"]
    return []


def _import_modules(imports: list[str], base: Path) -> list[str]:
    """Import each ``imports`` entry (a module name or a .py file relative to ``base``) so
    that it can register methods, line searches or problems; one line per failure."""
    from ..problems._user_function import load_module

    problems = []
    for index, spec in enumerate(imports):
        try:
            load_module(spec, base)
        except Exception as err:
            problems.append(f"imports[{index}]: {one_line(err)}")
    return problems


def _unknown_params(spec: NamedProblem, registry: Any) -> list[str]:
    """One line per parameter that problem ``spec.name`` does not take (all at once)."""
    try:
        accepted = registry.parameters(spec.name)
    except ValueError:  # unknown name: get() says so, with a suggestion
        return []
    return [unknown_key(f"problem.{key}", ["name", *accepted],
                         f"problem {spec.name!r} has no parameter {key!r}")
            for key in spec.params if key not in accepted]


#: parameters of built-in problems that size an array (checked before the problem is built)
_SIZE_PARAMETERS = ("dim", "m", "n", "rank")


def _too_large_params(spec: NamedProblem) -> list[str]:
    """A size parameter above ``OPTKIT_MAX_DIM`` is refused before the problem allocates its
    start and box."""
    limit = _limits.MAX_DIM
    return [f"problem.{key}: {value:,} is more than the limit on variables {limit.value:,} "
            f"({limit.knob()})"
            for key, value in spec.params.items()
            if key in _SIZE_PARAMETERS and isinstance(value, int) and value > limit.value]


def _plain(value: Any) -> Any:
    """``value`` as YAML-able data (tuples become lists), or None if it is not plain data."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return None if any(v is None for v in items) else items
    return None


def method_options(method: str) -> dict[str, Any]:
    """The options a registered method accepts, with their defaults
    (``inspect.Parameter.empty`` where an option has none), from the method registry."""
    from ..solvers import get_method

    return {name: option.default for name, option in get_method(method).options().items()}


def solver_options(method: str, bounded: bool = False) -> dict[str, Any]:
    """The options ``method`` accepts with their defaults: its registered options, or with
    ``problem.bounds`` those of its bounded variant (``optkit.solvers._bounded``)."""
    from ..solvers._bounded import BOUNDED_METHODS

    if bounded and method in BOUNDED_METHODS:
        return {f.name: f.default for f in dataclasses.fields(BOUNDED_METHODS[method])
                if f.name != "box"}
    return method_options(method)


def _check_solver(solver: SolverConfig, bounded: bool = False) -> list[str]:
    from ..solvers import METHODS, line_search_names, method_names
    from ..solvers._bounded import BOUNDED_METHODS

    method, options = solver.method, solver.options
    if method not in method_names():
        from ..solvers._optax import optax_aliases

        if method in optax_aliases():
            return [f"solver.method: {method!r} is an optax optimiser; write method: optax, "
                    f"optimizer: {method} (and its arguments, e.g. learning_rate)"]
        return [f"solver.method: unknown method {method!r}{suggestion(method, METHODS)}; "
                f"expected one of {', '.join(METHODS)} (or a module in 'imports' that "
                "registers it)"]
    bounded = bounded and method in BOUNDED_METHODS  # otherwise _check_bounds says why
    accepted = solver_options(method, bounded)
    line_search = options.get("line_search")
    if (isinstance(line_search, str) and "line_search" in accepted
            and line_search not in line_search_names()):
        return [f"solver.line_search: unknown line search {line_search!r}"
                f"{suggestion(line_search, line_search_names())}; expected one of "
                f"{', '.join(line_search_names())}"]
    problems = []
    for key, value in options.items():
        if key in _MINIMIZE_KEYWORDS:
            problems.append(f"solver.{key}: belongs in {_MINIMIZE_KEYWORDS[key]}")
        elif key == "line_search" and key not in accepted:
            problems.append(f"solver.line_search: method {method!r} takes no line search "
                            f"(its options: {', '.join(accepted) or 'none'})")
        elif key not in accepted and not _takes_any(method):
            problems.append(unknown_key(f"solver.{key}", ["method", *accepted],
                                        f"unknown option for method {method!r}"))
        elif key in accepted and not _matches_default_type(value, accepted[key]):
            expected = _type_word(accepted[key])
            problems.append(f"solver.{key}: expected {expected}, got {value!r}")
    if problems or bounded:  # a bounded solver is built (and checked) with its box
        return problems
    from ..solvers import make_solver

    try:
        make_solver(method, **options)
    except (TypeError, ValueError) as err:
        # name the option when the solver's message mentions exactly one
        named = [key for key in options if key in str(err)]
        if getattr(err, "option", None) in options:  # the solver says which (optax's aliases)
            named = [err.option]  # type: ignore[attr-defined]
        return [f"solver{'.' + named[0] if len(named) == 1 else ''}: {one_line(err)}"]
    return []


def _takes_any(method: str) -> bool:
    """The method's factory takes any keyword (``**kwargs``, as ``optax`` does) and checks
    them itself."""
    from ..solvers import get_method

    return get_method(method).takes_any_option


def _matches_default_type(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty or default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if isinstance(default, str):
        return isinstance(value, str)
    return True


def _type_word(default: Any) -> str:
    for kind, word in ((bool, "true or false"), (int, "an integer"), (float, "a number"),
                       (str, "a string")):
        if isinstance(default, kind):
            return word
    return type(default).__name__


def _check_vector(values: list[float] | None, dim: int, key: str, broadcast: bool) -> list[str]:
    if values is None or len(values) == dim or broadcast and len(values) == 1:
        return []
    hint = f" (give 1 number or {dim})" if broadcast and dim != 1 else ""
    return [f"{key}: has {len(values)} entries but the problem has dimension {dim}{hint}"]


def _check_box(box: BoxConfig | Any, dim: int, key: str, lower: str = "lower",
               upper: str = "upper") -> list[str]:
    lo, hi = getattr(box, lower), getattr(box, upper)
    problems = (_check_vector(lo, dim, f"{key}.{lower}", True)
                + _check_vector(hi, dim, f"{key}.{upper}", True))
    if not problems and lo is not None and hi is not None:
        lo_b, hi_b = np.broadcast_to(lo, dim), np.broadcast_to(hi, dim)
        if np.any(lo_b >= hi_b):
            problems.append(f"{key}: needs {lower} < {upper} in every coordinate "
                            f"(got {lower}={lo}, {upper}={hi})")
        elif not _finite_width(lo_b, hi_b):
            problems.append(f"{key}: the box is wider than float64 can represent "
                            f"(got {lower}={lo}, {upper}={hi})")
    return problems


def _check_bounds(bounds: Any, dim: int, solver: SolverConfig | None) -> list[str]:
    """problem.bounds: one number or one per variable, lower ≤ upper, and a method that
    solves with bounds."""
    from ..solvers._bounded import BOUNDED_METHODS

    problems = (_check_vector(bounds.lower, dim, "problem.bounds.lower", True)
                + _check_vector(bounds.upper, dim, "problem.bounds.upper", True))
    if not problems and np.any(np.broadcast_to(bounds.lower, dim)
                               > np.broadcast_to(bounds.upper, dim)):
        problems.append(f"problem.bounds: needs lower ≤ upper in every coordinate (got "
                        f"lower={bounds.lower}, upper={bounds.upper})")
    method = solver.method if isinstance(solver, SolverConfig) else "newton"
    if method not in BOUNDED_METHODS:
        problems.append(f"solver.method: method {method!r} does not take problem.bounds; "
                        f"methods with bounds: {', '.join(BOUNDED_METHODS)}")
    return problems


def _finite_width(lower: np.ndarray, upper: np.ndarray) -> bool:
    """upper − lower is a float64 number (uniform starts and grids are drawn from it)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.all(np.isfinite(np.subtract(upper, lower, dtype=np.float64))))


def _check_start(start: StartConfig | None, problem: Any) -> list[str]:
    dim = problem.dim
    if start is None:
        return []
    if start.point is not None:
        return _check_vector(start.point, dim, "start.point", False)
    if start.uniform is not None:
        return _check_box(start.uniform, dim, "start.uniform", "low", "high")
    grid = start.grid
    assert grid is not None
    problems = _check_box(grid, dim, "start.grid", "low", "high")
    problems += _check_vector(grid.num, dim, "start.grid.num", True)
    if not problems:
        total = math.prod(np.broadcast_to(grid.num, dim).tolist())
        limit = _limits.MAX_STARTS
        if total > limit.value:
            problems.append(f"start.grid.num: {total:,} grid points, more than the limit on "
                            f"starts {limit.value:,} ({limit.knob()})")
    return problems


def _fill_defaults(config: RunConfig, problem: Problem, base: Path) -> Resolved:
    from .. import problems as registry
    from .._pytree import flatten
    from ..problems._user_function import absolute_module, absolute_spec
    from ..solvers import get_method

    flat_start = np.asarray(flatten(problem.start)[0], dtype=np.float64)
    lower, upper = (np.asarray(b, dtype=np.float64) for b in problem.box)
    data = config.to_data()

    if isinstance(config.problem, NamedProblem):
        for key, default in registry.parameters(config.problem.name).items():
            if key not in data["problem"] and _plain(default) is not None:
                data["problem"][key] = _plain(default)

    if isinstance(config.problem, FunctionProblem):
        data["problem"]["function"] = absolute_spec(config.problem.function, base)
    if isinstance(config.problem, ResidualsProblem) and isinstance(config.problem.residuals, str):
        data["problem"]["residuals"] = absolute_spec(config.problem.residuals, base)
    data["imports"] = [absolute_module(spec, base) for spec in config.imports]

    method = config.solver.method
    accepted = solver_options(method, getattr(config.problem, "bounds", None) is not None)
    defaults = {k: v for k, v in accepted.items()
                if isinstance(v, (bool, int, float, str)) and k not in data["solver"]}
    data["solver"].update(defaults)

    stop = data["stop"]
    if stop.get("grad_tol") is None:
        stop["grad_tol"] = get_method(method).default_grad_tol(np.dtype(config.precision))
    if stop.get("max_steps") is None:
        stop["max_steps"] = get_method(method).max_steps

    start = data.get("start")
    if start is None:
        start = data["start"] = {"point": flat_start.tolist()}
    for kind in ("uniform", "grid"):
        if start.get(kind) is not None:
            spec = start[kind]
            spec["low"] = _full(spec.get("low"), lower, problem.dim)
            spec["high"] = _full(spec.get("high"), upper, problem.dim)
            if kind == "grid":
                spec["num"] = _full(spec["num"], None, problem.dim)

    box = data["analysis"].get("box") or {"lower": lower.tolist(), "upper": upper.tolist()}
    data["analysis"]["box"] = {k: _full(box[k], None, problem.dim) for k in ("lower", "upper")}

    if not data.get("name"):
        # a user function is named as the config wrote it, not by its absolute path
        shown = (config.problem.function if isinstance(config.problem, FunctionProblem)
                 else problem.name)
        if isinstance(config.problem, ResidualsProblem):
            shown = config.problem.name
        data["name"] = f"{_slug(shown)}-{method}"
    resolved = RunConfig.model_validate(data)

    def flat_fun(z: Any) -> Any:
        return problem.fun(problem.unravel(z))

    is_vector = np.ndim(problem.start) == 1 and not isinstance(problem.start, (dict, list, tuple))
    problems = _check_sizes(resolved, problem)
    if problems:
        raise ConfigError(problems)
    return Resolved(config=resolved, problem=problem,
                    flat_fun=problem.fun if is_vector else flat_fun)


def _full(values: list[Any] | None, fallback: np.ndarray | None, dim: int) -> list[Any]:
    if values is None:
        assert fallback is not None
        return fallback.tolist()
    return list(values) * dim if len(values) == 1 and dim != 1 else list(values)


def start_count(start: StartConfig | None) -> int:
    """How many starts a resolved ``start`` section makes, without making them."""
    if start is None or start.point is not None:
        return 1
    if start.uniform is not None:
        return start.uniform.count
    assert start.grid is not None
    return math.prod(start.grid.num)


def _check_sizes(config: RunConfig, problem: Problem) -> list[str]:
    """Requests whose size is known before anything is made: the starts array and, with
    ``record.trajectory``, the recorded trajectories (starts × (max_steps + 1) rows of x and
    six more numbers), each against ``OPTKIT_MAX_ARRAY_BYTES``."""
    limit = _limits.MAX_ARRAY_BYTES
    count, dim = start_count(config.start), problem.dim
    start_key = ("start.uniform.count" if config.start is not None
                 and config.start.uniform is not None else "start.grid.num")
    problems = []
    starts_bytes = count * dim * 8
    if starts_bytes > limit.value:
        problems.append(f"{start_key}: {count:,} starts of {dim:,} variables take "
                        f"{_limits.size(starts_bytes)}, more than the limit "
                        f"{_limits.size(limit.value)} ({limit.knob()})")
    atlas = config.analysis.num_starts * dim * 8
    if atlas > limit.value:
        problems.append(f"analysis.num_starts: {config.analysis.num_starts:,} starts of {dim:,} "
                        f"variables take {_limits.size(atlas)}, more than the limit "
                        f"{_limits.size(limit.value)} ({limit.knob()})")
    steps = config.stop.max_steps
    if config.record.trajectory and steps is not None:
        itemsize = np.dtype(config.precision).itemsize
        recorded = count * (steps + 1) * (dim + 6) * itemsize
        if recorded > limit.value:
            problems.append(
                f"record.trajectory: {count:,} starts x {steps + 1:,} steps of {dim:,} "
                f"variables would record {_limits.size(recorded)}, more than the limit "
                f"{_limits.size(limit.value)}; set record.trajectory=false, lower "
                f"stop.max_steps or {limit.knob()}")
    return problems


def make_starts(start: StartConfig) -> np.ndarray:
    """The starts of a resolved ``start`` section as float64 [count, dim].

    uniform: ``default_rng(seed).uniform(low, high, (count, dim))``; grid: the tensor product
    of ``linspace(low_i, high_i, num_i)`` with the last coordinate varying fastest.
    """
    if start.point is not None:
        return np.asarray(start.point, dtype=np.float64)[None, :]
    if start.uniform is not None:
        u = start.uniform
        low, high = np.asarray(u.low, np.float64), np.asarray(u.high, np.float64)
        return np.random.default_rng(u.seed).uniform(low, high, size=(u.count, low.size))
    g = start.grid
    assert g is not None and g.low is not None and g.high is not None
    axes = [np.linspace(lo, hi, n) for lo, hi, n in zip(g.low, g.high, g.num, strict=True)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1)


def _slug(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return slug[:limit] or "run"
