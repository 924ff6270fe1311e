"""Run configs: the pydantic schema, YAML loading, KEY=VALUE overrides and resolution.

A config is read in three passes, and every problem found is reported at once:

1. YAML → a plain dict, then each ``KEY=VALUE`` override replaces the value at the dotted KEY
   whole (VALUE is parsed with ``yaml.safe_load``; missing parent mappings are created);
2. the schema below (pydantic, unknown keys forbidden) checks keys, types and ranges;
3. resolution builds the problem, checks every start and box against its dimension, checks the
   solver options against the method, and fills every default (name, start, grad_tol,
   max_steps, the solver's option defaults, the analysis box).

The resolved config (``RunConfig.to_data()``) is plain YAML-able data; saving and reloading it
reproduces the run. Errors are a :class:`ConfigError` whose message has one line per problem,
``key.path: message``, with a "did you mean" suggestion for unknown keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import os
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

METHOD_NAMES = ("gradient_descent", "newton", "newton_cg", "trust_region", "bfgs", "lbfgs")
#: keys of the ``stop`` section, also accepted (and moved there) in ``solver``
STOP_KEYS = ("grad_tol", "x_tol", "f_tol", "max_steps")
#: keywords of ``minimize`` that belong in the ``record`` / ``analysis`` sections
_MINIMIZE_KEYWORDS = {"record": "record.trajectory", "classify": "analysis.classify"}
#: a grid start with more points than this is refused (it would not fit in memory anyway)
MAX_GRID_POINTS = 1_000_000


class ConfigError(ValueError):
    """A config that cannot be run. ``str(err)`` has one line per problem
    (``key.path: message``); ``err.problems`` holds those lines."""

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + p for p in self.problems))


# --------------------------------------------------------------------------------- schema

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _as_list(value: Any) -> Any:
    """A lone number stands for a 1-vector (or for every coordinate, where broadcast)."""
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NamedProblem(BaseModel):
    """A built-in problem: ``{name: rosenbrock, dim: 2}``. Every other key is a parameter of
    the problem (checked by the registry, which knows each problem's parameters)."""

    model_config = ConfigDict(extra="allow")
    name: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExpressionProblem(_Section):
    """``{expression: "x**2 + 3*y**2", variables: [x, y]}``: a math string, parsed safely."""

    expression: str
    variables: list[str] = Field(min_length=1)


class FunctionProblem(_Section):
    """``{function: "package.module:fn" | "path/file.py:fn", dim: N}``: user code."""

    function: str
    dim: int = Field(ge=1)


_PROBLEM_TAGS = {"name": NamedProblem, "expression": ExpressionProblem, "function": FunctionProblem}


def _problem_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        return None
    present = [tag for tag in _PROBLEM_TAGS if tag in value]
    return present[0] if len(present) == 1 else None


ProblemConfig = Annotated[
    Annotated[NamedProblem, Tag("name")]
    | Annotated[ExpressionProblem, Tag("expression")]
    | Annotated[FunctionProblem, Tag("function")],
    Discriminator(_problem_tag),
]


class UniformStart(_Section):
    """``count`` starts drawn uniformly from the box [low, high] (default: the problem's box)
    with ``numpy.random.default_rng(seed)``."""

    low: list[FiniteFloat] | None = None
    high: list[FiniteFloat] | None = None
    count: int = Field(ge=1)
    seed: int = 0

    _lists = field_validator("low", "high", mode="before")(_as_list)


class GridStart(_Section):
    """The tensor grid of ``num`` points per axis over [low, high] (default: the problem's
    box), both ends included; a lone number applies to every axis."""

    low: list[FiniteFloat] | None = None
    high: list[FiniteFloat] | None = None
    num: list[Annotated[int, Field(ge=1)]]

    _lists = field_validator("low", "high", "num", mode="before")(_as_list)


class StartConfig(_Section):
    """Exactly one of ``point``, ``uniform`` or ``grid``."""

    point: list[FiniteFloat] | None = None
    uniform: UniformStart | None = None
    grid: GridStart | None = None

    _point = field_validator("point", mode="before")(_as_list)

    @model_validator(mode="after")
    def _exactly_one(self) -> StartConfig:
        given = [k for k in ("point", "uniform", "grid") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'point', 'uniform' or 'grid'"
                + (f" (got {', '.join(repr(k) for k in given)})" if given else "")
            )
        return self


class SolverConfig(BaseModel):
    """``method`` plus that method's options (``line_search``, ``regularization``,
    ``step_size``, ...), passed to ``optkit.minimize(..., method, **options)``. The option
    names are checked against the method during resolution."""

    model_config = ConfigDict(extra="allow")
    method: Literal[
        "gradient_descent", "newton", "newton_cg", "trust_region", "bfgs", "lbfgs"
    ] = "newton"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StopConfig(_Section):
    """Stopping rule of the driver (``grad_tol`` defaults to 1e-8 in float64 and 1e-4 in
    float32; ``max_steps`` to 1000 for second-order methods and 20000 for gradient descent)."""

    grad_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    x_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    f_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    max_steps: Annotated[int, Field(ge=0)] | None = None


class RecordConfig(_Section):
    """``trajectory: true`` keeps every iterate (x, value, grad_norm, step size)."""

    trajectory: bool = True


class BoxConfig(_Section):
    """An axis-aligned box ``lower ≤ x ≤ upper``; a lone number applies to every axis."""

    lower: list[FiniteFloat]
    upper: list[FiniteFloat]

    _lists = field_validator("lower", "upper", mode="before")(_as_list)


class AnalysisConfig(_Section):
    """``classify`` the end points from the Hessian's eigenvalues; ``box``, ``num_starts``
    and ``seed`` are used by ``optkit critical`` (the box defaults to the problem's)."""

    classify: bool = True
    box: BoxConfig | None = None
    num_starts: int = Field(default=1024, ge=1)
    seed: int = 0


class OutputConfig(_Section):
    """``dir``: the parent of the run directories (``optkit run --out`` overrides it)."""

    dir: str = "runs"


class RunConfig(_Section):
    """A whole run. See DESIGN.md, section Config."""

    name: str | None = None
    problem: ProblemConfig
    start: StartConfig | None = None
    solver: SolverConfig = Field(default_factory=SolverConfig)
    stop: StopConfig = Field(default_factory=StopConfig)
    precision: Literal["float32", "float64"] = "float64"
    device: Literal["auto", "cpu", "gpu", "tpu"] = "auto"
    record: RecordConfig = Field(default_factory=RecordConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    def to_data(self) -> dict[str, Any]:
        """Plain YAML/JSON-able data (what ``config.yaml`` holds)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_data(), sort_keys=False, default_flow_style=None)


# ------------------------------------------------------------------------- reading + overrides


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The YAML mapping in ``path`` (an empty file is an empty mapping)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such config file"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a config file"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{path}: cannot read config file ({err})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: invalid YAML: {_one_line(err)}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of config keys at the top level, "
                           f"got {type(data).__name__}"])
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"stop.max_steps=50"`` → (["stop", "max_steps"], 50); VALUE is YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or not key or any(not p for p in parts):
        raise ValueError(f"override {text!r}: expected KEY=VALUE with a dotted KEY, "
                         "e.g. stop.max_steps=50")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ValueError(f"override {key}: VALUE is not valid YAML: {_one_line(err)}") from None
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with each ``KEY=VALUE`` applied in order: the value at KEY is
    replaced whole; missing parent mappings are created. ``solver.max_steps`` (and the other
    stopping keys) address ``stop.max_steps``, where the config keeps them."""
    data = _deep_copy(data)
    problems = []
    for text in overrides:
        try:
            parts, value = parse_override(text)
        except ValueError as err:
            problems.append(str(err))
            continue
        if len(parts) == 2 and parts[0] == "solver" and parts[1] in STOP_KEYS:
            parts = ["stop", parts[1]]
        node = data
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(parts[: depth + 1])
                problems.append(f"override {'.'.join(parts)}: {where} is "
                                f"{type(child).__name__}, not a mapping")
                break
            node = child
        else:
            node[parts[-1]] = value
    if problems:
        raise ConfigError(problems)
    return data


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


# ----------------------------------------------------------------------------- resolution


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A config ready to run: the resolved config, its problem and its starts.

    ``starts`` is float64 [count, dim]: flat vectors. ``flat_fun`` is the problem's function
    of such a flat vector (for a pytree problem it unravels the vector first).
    """

    config: RunConfig
    problem: Any
    starts: np.ndarray
    flat_fun: Any


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
        return resolve(data, overrides, out)
    except ConfigError as err:
        raise ConfigError(err.problems, source=str(path)) from None


def resolve(
    config: RunConfig | dict[str, Any], overrides: Iterable[str] = (), out: str | None = None
) -> Resolved:
    """Validate ``config`` (a dict or a RunConfig) with ``overrides`` applied, build its
    problem and starts, and fill every default. ``out`` replaces ``output.dir``."""
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
        problems += _format_validation_errors(err)
        parsed = None
    sections = _valid_sections(data) if parsed is None else dict(parsed)

    problem = None
    if "problem" in sections:
        problem, problem_errors = _build_problem(sections["problem"])
        problems += problem_errors
    solver = sections.get("solver")
    if isinstance(solver, SolverConfig):
        problems += _check_solver(solver)
    if problem is not None:
        start = sections.get("start", None)
        if isinstance(start, StartConfig) or start is None and "start" in sections:
            problems += _check_start(start, problem)
        analysis = sections.get("analysis")
        if isinstance(analysis, AnalysisConfig) and analysis.box is not None:
            problems += _check_box(analysis.box, problem.dim, "analysis.box")
    if problems:
        raise ConfigError(problems)
    assert parsed is not None and problem is not None
    return _fill_defaults(parsed, problem)


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


def _build_problem(spec: Any) -> tuple[Any, list[str]]:
    from . import problems as registry

    try:
        if isinstance(spec, NamedProblem):
            key = "problem"
            unknown = _unknown_params(spec, registry)
            if unknown:
                return None, unknown
            problem = registry.get(spec.name, **spec.params)
        elif isinstance(spec, ExpressionProblem):
            key = "problem.expression"
            problem = registry.from_expression(spec.expression, spec.variables)
        else:
            key = "problem.function"
            problem = registry.from_function(spec.function, spec.dim)
    except Exception as err:  # user code (problem.function) may raise anything at import
        return None, [f"{key}: {_one_line(err)}"]
    return problem, []


def _unknown_params(spec: NamedProblem, registry: Any) -> list[str]:
    """One line per parameter that problem ``spec.name`` does not take (all at once)."""
    try:
        accepted = registry.parameters(spec.name)
    except ValueError:  # unknown name: get() says so, with a suggestion
        return []
    return [_unknown_key(f"problem.{key}", ["name", *accepted],
                         f"problem {spec.name!r} has no parameter {key!r}")
            for key in spec.params if key not in accepted]


def _plain(value: Any) -> Any:
    """``value`` as YAML-able data (tuples become lists), or None if it is not plain data."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return None if any(v is None for v in items) else items
    return None


def method_options(method: str, line_search: Any = None) -> dict[str, Any]:
    """The options a method accepts, with their defaults (``inspect.Parameter.empty`` where
    an option has none). Read from the solver's signature, so it follows the solvers."""
    from .solvers import METHODS, GradientDescent

    if method == "gradient_descent":
        target: Any = GradientDescent.wolfe if line_search == "wolfe" else GradientDescent
        options = {"line_search": "backtracking"}
    elif method == "newton_cg":
        from .solvers.newton_cg import NewtonCG

        target, options = NewtonCG, {}
    elif method == "trust_region":
        from .solvers.trust_region import TrustRegion

        target, options = TrustRegion, {}
    else:
        target, options = METHODS[method], {}
    for name, param in inspect.signature(target).parameters.items():
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and name != "self":
            options.setdefault(name, param.default)
    return options


def _check_solver(solver: SolverConfig) -> list[str]:
    method, options = solver.method, solver.options
    try:
        accepted = method_options(method, options.get("line_search"))
    except ImportError:
        return [f"solver.method: {method!r} is not available in this build of optkit"]
    problems = []
    for key, value in options.items():
        if key in _MINIMIZE_KEYWORDS:
            problems.append(f"solver.{key}: belongs in {_MINIMIZE_KEYWORDS[key]}")
        elif key not in accepted:
            problems.append(_unknown_key(f"solver.{key}", ["method", *accepted],
                                         f"unknown option for method {method!r}"))
        elif not _matches_default_type(value, accepted[key]):
            expected = _type_word(accepted[key])
            problems.append(f"solver.{key}: expected {expected}, got {value!r}")
    if problems:
        return problems
    from .solvers import make_solver

    try:
        make_solver(method, **options)
    except (TypeError, ValueError) as err:
        # name the option when the solver's message mentions exactly one
        named = [key for key in options if key in str(err)]
        return [f"solver{'.' + named[0] if len(named) == 1 else ''}: {_one_line(err)}"]
    return []


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
    return problems


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
        if total > MAX_GRID_POINTS:
            problems.append(f"start.grid.num: {total} grid points, more than the limit "
                            f"{MAX_GRID_POINTS}")
    return problems


def _fill_defaults(config: RunConfig, problem: Any) -> Resolved:
    from jax.flatten_util import ravel_pytree

    from . import problems as registry
    from .solvers._api import default_grad_tol, default_max_steps

    flat_start = np.asarray(ravel_pytree(problem.start)[0], dtype=np.float64)
    lower, upper = (np.asarray(b, dtype=np.float64) for b in problem.box)
    data = config.to_data()

    if isinstance(config.problem, NamedProblem):
        for key, default in registry.parameters(config.problem.name).items():
            if key not in data["problem"] and _plain(default) is not None:
                data["problem"][key] = _plain(default)

    method = config.solver.method
    accepted = method_options(method, config.solver.options.get("line_search"))
    defaults = {k: v for k, v in accepted.items()
                if isinstance(v, (bool, int, float, str)) and k not in data["solver"]}
    data["solver"].update(defaults)

    stop = data["stop"]
    if stop.get("grad_tol") is None:
        stop["grad_tol"] = default_grad_tol(np.dtype(config.precision))
    if stop.get("max_steps") is None:
        stop["max_steps"] = default_max_steps(method)

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
        data["name"] = f"{_slug(problem.name)}-{method}"
    resolved = RunConfig.model_validate(data)

    def flat_fun(z: Any) -> Any:
        return problem.fun(problem.unravel(z))

    is_vector = np.ndim(problem.start) == 1 and not isinstance(problem.start, (dict, list, tuple))
    return Resolved(config=resolved, problem=problem, starts=make_starts(resolved.start),
                    flat_fun=problem.fun if is_vector else flat_fun)


def _full(values: list[Any] | None, fallback: np.ndarray | None, dim: int) -> list[Any]:
    if values is None:
        assert fallback is not None
        return fallback.tolist()
    return list(values) * dim if len(values) == 1 and dim != 1 else list(values)


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


# ------------------------------------------------------------------------- error messages


def _one_line(err: BaseException | str) -> str:
    if isinstance(err, yaml.MarkedYAMLError) and err.problem:
        mark = err.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        return f"{err.problem}{where}"
    text = str(err).strip() or type(err).__name__
    return " ".join(text.split())


def _path(loc: Sequence[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unknown_key(path: str, valid: Iterable[str], what: str = "unknown key") -> str:
    parent, _, key = path.rpartition(".")
    valid = sorted(set(valid))
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    prefix = f"{parent}." if parent else ""
    if match:
        return f"{path}: {what}; did you mean '{prefix}{match[0]}'?"
    return f"{path}: {what}; valid keys: {', '.join(valid)}"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    """The schema model that holds the keys at ``loc`` (a pydantic location with the tags of
    tagged unions still in it)."""
    model: type[BaseModel] | None = RunConfig
    pending_tags: dict[str, type[BaseModel]] = {}
    for part in loc:
        if pending_tags:
            model, pending_tags = pending_tags.get(str(part)), {}
            continue
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            return None
        candidates = _models_in(model.model_fields[part].annotation)
        if len(candidates) == 1:
            model = candidates[0]
        elif part == "problem":
            model, pending_tags = None, _PROBLEM_TAGS
        else:
            return None
    return None if pending_tags else model


def _strip_tags(loc: Sequence[Any]) -> list[Any]:
    loc = list(loc)
    if len(loc) > 1 and loc[0] == "problem" and loc[1] in _PROBLEM_TAGS:
        del loc[1]
    return loc


def _format_validation_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors(include_url=False):
        raw_loc, kind, value = e["loc"], e["type"], e.get("input")
        loc = _strip_tags(raw_loc)
        path = _path(loc) or "(top level)"
        if kind == "extra_forbidden":
            model = _model_at(raw_loc[:-1])
            valid = list(model.model_fields) if model is not None else []
            lines.append(_unknown_key(path, valid))
        elif kind == "missing":
            lines.append(f"{path}: required key missing")
        elif kind in ("union_tag_not_found", "union_tag_invalid") and loc == ["problem"]:
            lines.append(_problem_shape_error(value))
        elif kind == "model_type" and isinstance(e.get("ctx"), dict):
            lines.append(f"{path}: expected a mapping, got {value!r}")
        else:
            message = e["msg"].removeprefix("Value error, ")
            shown = f" (got {value!r})" if _short_scalar(value) else ""
            lines.append(f"{path}: {message}{shown}")
    return list(dict.fromkeys(lines))


def _problem_shape_error(value: Any) -> str:
    kinds = "'name', 'expression' or 'function'"
    if not isinstance(value, dict):
        return f"problem: expected a mapping with one of {kinds}, got {value!r}"
    present = [k for k in _PROBLEM_TAGS if k in value]
    if len(present) > 1:
        return f"problem: give exactly one of {kinds} (got {', '.join(map(repr, present))})"
    for key in value:
        match = difflib.get_close_matches(str(key), list(_PROBLEM_TAGS), n=1, cutoff=0.6)
        if match:
            return _unknown_key(f"problem.{key}", list(_PROBLEM_TAGS))
    return f"problem: needs one of {kinds}"


def _short_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str, types.NoneType)) and len(repr(value)) <= 60
