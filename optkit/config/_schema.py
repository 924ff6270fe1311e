"""The run-config schema: pydantic models of every section, unknown keys forbidden.

This is the single source of truth for config keys: resolution (``_resolution``), the error
messages (``_errors``) and the generated reference (docs/config-reference.md, checked by a
test) all read these models. Method names and their options are not listed here: they come
from the method registry (``optkit.solvers.METHODS``) and are checked during resolution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from .. import _limits
from .._limits import MAX_STEPS

#: keys of the ``stop`` section, also accepted (and moved there) in ``solver``
STOP_KEYS = ("grad_tol", "rel_grad_tol", "x_tol", "f_tol", "max_steps")

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


def _integer(low: int, high: Callable[[], int] | None = None, why: str = "") -> BeforeValidator:
    """A count checked before pydantic's own int parsing, so every bad value gets one message
    in the user's terms: not an integer (``'1e21'``, 2.5, true), below ``low``, or above
    ``high()`` (read when the value is checked: an environment variable can move it) with
    ``why`` it is the limit."""

    def check(value: Any) -> Any:
        value = _number_text(value)
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected a whole number")
        if value < low:  # Field(ge=low) says so, in pydantic's words like every bound
            return value
        if high is not None and value > high():
            shown = f"{value:,}" if value < 10**15 else f"{float(value):.3g}"
            raise ValueError(f"{shown} is more than {high():,}{why}")
        return value

    return BeforeValidator(check)


def _max_starts() -> int:
    return _limits.MAX_STARTS.value


def _max_dim() -> int:
    return _limits.MAX_DIM.value


def _starts_why() -> str:
    return f", the limit on starts ({_limits.MAX_STARTS.knob()})"


def _limited_count(high: Callable[[], int], why: Callable[[], str], low: int = 1) -> Any:
    def check(value: Any) -> Any:
        return _integer(low, high, why()).func(value)

    return BeforeValidator(check)


#: the driver's trip counter is int32 and runs 100 trips per accepted step
_STEPS_WHY = (", the most the compiled loop can count (100 trips per step, int32 counters)")


def _number_text(value: Any) -> Any:
    """YAML 1.1 reads ``1e21`` and ``1.0e21`` (no sign in the exponent) as text; such text is
    the number the user meant. Other values are returned as they are."""
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        number = float(value)
        return int(number) if math.isfinite(number) and number == int(number) and (
            "." not in value and "e" not in value.lower()) else number
    return value


_NUMBER = re.compile(r"[-+]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][-+]?\d+)?")


def _as_list(value: Any) -> Any:
    """A lone number stands for a 1-vector (or for every coordinate, where broadcast)."""
    value = _number_text(value)
    if isinstance(value, list):
        value = [_number_text(v) for v in value]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _bound_list(value: Any) -> Any:
    """A lone bound applies to every variable; YAML's ``.inf``/``-.inf`` and the strings
    "inf"/"-inf" are infinite bounds (no bound on that side)."""
    value = _as_list(value)
    if isinstance(value, list):
        return [float(v) if isinstance(v, str) and v.strip().lower().lstrip("+-") in
                ("inf", "infinity") else v for v in value]
    return value


class BoundsConfig(_Section):
    """Box constraints ``lower ≤ x ≤ upper`` on the variables (flat order), each a list of
    one number per variable or a lone number for all; ±inf (``.inf`` in YAML) means no
    bound on that side. Methods gradient_descent, newton and lbfgs solve with them."""

    lower: list[Annotated[float, Field(allow_inf_nan=True)]] = [-float("inf")]
    upper: list[Annotated[float, Field(allow_inf_nan=True)]] = [float("inf")]

    _lists = field_validator("lower", "upper", mode="before")(_bound_list)

    @field_validator("lower", "upper")
    @classmethod
    def _no_nan(cls, value: list[float]) -> list[float]:
        if any(v != v for v in value):
            raise ValueError("a bound cannot be NaN (use .inf or -.inf for no bound)")
        return value


class NamedProblem(BaseModel):
    """A built-in problem: ``{name: rosenbrock, dim: 2}``. Every other key is a parameter of
    the problem (checked by the registry, which knows each problem's parameters)."""

    model_config = ConfigDict(extra="allow")
    name: str
    bounds: BoundsConfig | None = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExpressionProblem(_Section):
    """``{expression: "x**2 + 3*y**2", variables: [x, y]}``: a math string, parsed safely."""

    expression: str
    variables: list[str] = Field(min_length=1)
    bounds: BoundsConfig | None = None


class FunctionProblem(_Section):
    """``{function: "package.module:fn" | "path/file.py:fn", dim: N}``: user code."""

    function: str
    dim: Annotated[int, Field(ge=1), _limited_count(
        _max_dim, lambda: ", the limit on variables (set OPTKIT_MAX_DIM to raise it)")]
    bounds: BoundsConfig | None = None


class ResidualsProblem(_Section):
    """``{residuals: ["x - 1", "10*(y - x**2)"], variables: [x, y]}`` (expressions, parsed
    safely) or ``{residuals: "path/file.py:fn", dim: N}`` (user code returning the residual
    vector): f = ½‖r‖², for every method, and for gauss_newton / levenberg_marquardt on r."""

    residuals: list[str] | str
    variables: list[str] | None = None
    dim: Annotated[int, Field(ge=1), _limited_count(
        _max_dim, lambda: ", the limit on variables (set OPTKIT_MAX_DIM to raise it)"),
    ] | None = None
    bounds: BoundsConfig | None = None

    @property
    def name(self) -> str:
        """How plots and run names show it."""
        if isinstance(self.residuals, str):
            return self.residuals
        return f"least squares ({len(self.residuals)} residuals)"


PROBLEM_TAGS = {"name": NamedProblem, "expression": ExpressionProblem, "function": FunctionProblem,
                "residuals": ResidualsProblem}


def _problem_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        return None
    present = [tag for tag in PROBLEM_TAGS if tag in value]
    return present[0] if len(present) == 1 else None


ProblemConfig = Annotated[
    Annotated[NamedProblem, Tag("name")]
    | Annotated[ExpressionProblem, Tag("expression")]
    | Annotated[FunctionProblem, Tag("function")]
    | Annotated[ResidualsProblem, Tag("residuals")],
    Discriminator(_problem_tag),
]


#: validates a ``problem`` section on its own (``build_problem`` from a plain dict)
ProblemSection: TypeAdapter[Any] = TypeAdapter(ProblemConfig)


class UniformStart(_Section):
    """``count`` starts drawn uniformly from the box [low, high] (default: the problem's box)
    with ``numpy.random.default_rng(seed)``."""

    low: list[FiniteFloat] | None = None
    high: list[FiniteFloat] | None = None
    count: Annotated[int, Field(ge=1), _limited_count(_max_starts, _starts_why)]
    seed: Annotated[int, Field(ge=0), _integer(0)] = 0

    _lists = field_validator("low", "high", mode="before")(_as_list)


class GridStart(_Section):
    """The tensor grid of ``num`` points per axis over [low, high] (default: the problem's
    box), both ends included; a lone number applies to every axis."""

    low: list[FiniteFloat] | None = None
    high: list[FiniteFloat] | None = None
    num: list[Annotated[int, Field(ge=1), _limited_count(_max_starts, _starts_why)]]

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
    """``method`` (a registered method name: newton, gradient_descent, newton_cg,
    trust_region, bfgs, lbfgs, or one registered by a module in ``imports``) plus that
    method's options (``line_search``, ``regularization``, ``step_size``, ...), passed to
    ``optkit.minimize(..., method, **options)``. The method and its options are checked
    against the method registry during resolution."""

    model_config = ConfigDict(extra="allow")
    method: str = "newton"

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StopConfig(_Section):
    """Stopping rule of the driver (``grad_tol`` defaults to 1e-8 in float64 and 1e-4 in
    float32; ``max_steps`` to the method's: 1000 for newton and trust_region, 10000 for
    newton_cg, bfgs and lbfgs, 20000 for gradient descent)."""

    grad_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    rel_grad_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    x_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    f_tol: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    max_steps: Annotated[int, Field(ge=0, le=MAX_STEPS), _integer(
        0, lambda: MAX_STEPS, _STEPS_WHY)] | None = None


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
    and ``seed`` are used by ``optkit critical`` (the box defaults to the problem's);
    ``taylor_at`` by ``optkit plot --taylor``."""

    classify: bool = True
    box: BoxConfig | None = None
    num_starts: Annotated[int, Field(ge=1), _limited_count(_max_starts, _starts_why)] = 1024
    seed: Annotated[int, Field(ge=0), _integer(0)] = 0
    taylor_at: Literal["best", "first"] | list[FiniteFloat] = Field(
        default="best",
        description="Where `optkit plot --taylor` expands f: `best` (the end point, or found "
                    "critical point, with the lowest f), `first` (the first start) or a point "
                    "(n numbers; a lone number in 1 variable).")

    _taylor_at = field_validator("taylor_at", mode="before")(_as_list)


class OutputConfig(_Section):
    """``dir``: the parent of the run directories (``optkit run --out`` overrides it);
    ``checkpoint_every``: seconds between checkpoints of a running solve (0: only when
    interrupted), which bounds what a SIGKILL can lose."""

    dir: str = "runs"
    checkpoint_every: FiniteFloat = Field(default=60.0, ge=0)


class RunConfig(_Section):
    """A whole run (docs/config-reference.md lists every key).

    ``imports`` names Python modules (``package.module``) or files (``path/file.py``, relative
    to the config file) imported before the config is resolved, so that they can register
    methods, line searches or problems; only ``optkit run``, ``critical`` and ``validate``
    import them, never ``plot``, ``show`` or ``load_run``.
    """

    name: str | None = None
    imports: list[str] = Field(default_factory=list)
    problem: ProblemConfig
    start: StartConfig | None = None
    solver: SolverConfig = Field(default_factory=SolverConfig)
    stop: StopConfig = Field(default_factory=StopConfig)
    precision: Literal["float32", "float64"] = "float64"
    device: Literal["auto", "cpu", "gpu", "tpu"] = "auto"
    devices: Literal["all"] | Annotated[int, Field(ge=1)] | list[
        Annotated[int, Field(ge=0)]] = "all"
    record: RecordConfig = Field(default_factory=RecordConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    def to_data(self) -> dict[str, Any]:
        """Plain YAML/JSON-able data (what ``config.yaml`` holds)."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_data(), sort_keys=False, default_flow_style=None)


