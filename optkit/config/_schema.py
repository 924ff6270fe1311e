"""The run-config schema: pydantic models of every section, unknown keys forbidden.

This is the single source of truth for config keys: resolution (``_resolution``), the error
messages (``_errors``) and the generated reference (docs/config-reference.md, checked by a
test) all read these models. Method names and their options are not listed here: they come
from the method registry (``optkit.solvers.METHODS``) and are checked during resolution.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

#: keys of the ``stop`` section, also accepted (and moved there) in ``solver``
STOP_KEYS = ("grad_tol", "x_tol", "f_tol", "max_steps")

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


PROBLEM_TAGS = {"name": NamedProblem, "expression": ExpressionProblem, "function": FunctionProblem}


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
    | Annotated[FunctionProblem, Tag("function")],
    Discriminator(_problem_tag),
]


#: validates a ``problem`` section on its own (``build_problem`` from a plain dict)
ProblemSection: TypeAdapter[Any] = TypeAdapter(ProblemConfig)


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
    and ``seed`` are used by ``optkit critical`` (the box defaults to the problem's);
    ``taylor_at`` by ``optkit plot --taylor``."""

    classify: bool = True
    box: BoxConfig | None = None
    num_starts: int = Field(default=1024, ge=1)
    seed: int = 0
    taylor_at: Literal["best", "first"] | list[FiniteFloat] = Field(
        default="best",
        description="Where `optkit plot --taylor` expands f: `best` (the end point, or found "
                    "critical point, with the lowest f), `first` (the first start) or a point "
                    "(n numbers; a lone number in 1 variable).")

    _taylor_at = field_validator("taylor_at", mode="before")(_as_list)


class OutputConfig(_Section):
    """``dir``: the parent of the run directories (``optkit run --out`` overrides it)."""

    dir: str = "runs"


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


