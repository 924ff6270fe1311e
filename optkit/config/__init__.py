"""Run configs: schema, loading with overrides, resolution, error rendering.

A config is read in three passes, and every problem found is reported at once:

1. ``_loading``: YAML → a plain dict, then each ``KEY=VALUE`` override replaces the value at
   the dotted KEY whole;
2. ``_schema``: the pydantic models (unknown keys forbidden) check keys, types and ranges;
3. ``_resolution``: imports the config's ``imports``, builds the problem, checks every start
   and box against its dimension and the solver options against the method registry, and
   fills every default.

The resolved config (``RunConfig.to_data()``) is plain YAML-able data; saving and reloading it
reproduces the run. Errors are a :class:`ConfigError` (``_errors``) whose message has one line
per problem, ``key.path: message``. docs/config-reference.md lists every key.
"""

from ._errors import ConfigError
from ._loading import apply_overrides, parse_override, read_config_file
from ._resolution import (
    MAX_GRID_POINTS,
    Resolved,
    build_problem,
    load_config,
    make_starts,
    method_options,
    resolve,
    resolve_file,
)
from ._schema import (
    STOP_KEYS,
    AnalysisConfig,
    BoxConfig,
    ExpressionProblem,
    FunctionProblem,
    GridStart,
    NamedProblem,
    OutputConfig,
    RecordConfig,
    RunConfig,
    SolverConfig,
    StartConfig,
    StopConfig,
    UniformStart,
)

__all__ = [
    "MAX_GRID_POINTS", "STOP_KEYS", "AnalysisConfig", "BoxConfig", "ConfigError",
    "ExpressionProblem", "FunctionProblem", "GridStart", "NamedProblem", "OutputConfig",
    "RecordConfig", "Resolved", "RunConfig", "SolverConfig", "StartConfig", "StopConfig",
    "UniformStart", "apply_overrides", "build_problem", "load_config", "make_starts",
    "method_options", "parse_override", "read_config_file", "resolve", "resolve_file",
]
