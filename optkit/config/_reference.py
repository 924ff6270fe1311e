"""The config reference (docs/config-reference.md), generated from the code that defines it.

Every key comes from the pydantic models of ``_schema`` (walked recursively, the three
``problem`` forms included); its type, default and constraints are read from the model, and
its description from the field's ``description`` or, where the schema has none, from
:data:`DESCRIPTIONS` below. Methods and their options come from the method registry
(``optkit.solvers.METHODS``), line searches from ``LINE_SEARCHES`` and built-in problems from
the problem registry, so the reference cannot drift from the code: a test compares the
committed file with :func:`config_reference` and fails on a schema key without a
description. Only what optkit itself registers is listed, so the output does not depend on
installed plugins or on modules imported earlier in the process.

Regenerate with ``python -m optkit.config._reference > docs/config-reference.md``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import numpy as np
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .. import _limits
from . import _schema
from ._resolution import MAX_GRID_POINTS
from ._schema import RunConfig

REGENERATE = "python -m optkit.config._reference > docs/config-reference.md"

#: descriptions of the keys whose schema field has no ``description``, by dotted path
#: (``problem.<parameter>`` and ``solver.<option>`` stand for the free-form keys)
DESCRIPTIONS: dict[str, str] = {
    "name": "Name of the run: the run directory is `<UTC time>-<name>` (an `optkit critical` "
            "directory `<UTC time>-<name>-critical`).",
    "imports": "Python modules (`package.module`) or files (`path/file.py`, relative to the "
               "config file's folder) imported before the config is resolved, so that they "
               "can register methods, line searches or problems. Only `optkit run`, `critical` "
               "and `validate` import them; relative files are written absolute into the "
               "run's config.yaml.",
    "problem": "What to minimise: a built-in problem (`name`), a math expression "
               "(`expression`), a Python function (`function`) or least-squares residuals "
               "(`residuals`); exactly one of the four.",
    "problem.name": "A built-in problem (list below; `optkit problems` prints them).",
    "problem.<parameter>": "Any other key is a parameter of the named problem (e.g. "
                           "`rosenbrock`'s `dim`); unknown parameters are an error.",
    "problem.expression": "f as a math string: numbers, the variables, `+ - * / **`, "
                          "parentheses and whitelisted functions (exp, log, sin, ...). It is "
                          "translated from its syntax tree, never passed to `eval`.",
    "problem.variables": "The variable names in the order of the coordinates of x.",
    "problem.residuals": "A least-squares problem f = ½‖r‖²: a list of math strings (one "
                         "residual rᵢ each, in `variables`, parsed like `expression`) or "
                         "`path/file.py:fn` (with `dim`), a JAX-traceable `fn(x) -> vector` "
                         "of residuals. Every method minimises f; `gauss_newton` and "
                         "`levenberg_marquardt` (residual problems only) step on r itself.",
    "problem.bounds": "Box constraints lower ≤ x ≤ upper (any problem form); the methods "
                      "`gradient_descent`, `newton` and `lbfgs` solve with them (projected "
                      "gradient, projected Newton, projected L-BFGS) and the end points are "
                      "classified as KKT points: `active` and `multipliers` in "
                      "critical_points.json.",
    "problem.bounds.lower": "Lower bounds, one number for every variable or one per variable; "
                            "`-.inf` for none.",
    "problem.bounds.upper": "Upper bounds, one number for every variable or one per variable; "
                            "`.inf` for none.",
    "problem.function": "`package.module:fn` or `path/file.py:fn` (relative to the config "
                        "file's folder): a JAX-traceable `fn(x) -> scalar` of a vector of "
                        "`dim` floats. See docs/user-functions.md.",
    "problem.dim": "Number of variables of the user function; its box is [−2, 2]^dim and "
                   "its default start 0.5 in every coordinate. At most "
                   f"{_limits.MAX_DIM.default:,} (`{_limits.MAX_DIM.env}`; docs/api.md, "
                   "Limits).",
    "start": "Where the solves start: one `point`, `uniform` random starts or a `grid`.",
    "start.point": "One start, `dim` numbers (a lone number is a 1-vector).",
    "start.uniform": "Random starts drawn uniformly from a box.",
    "start.uniform.low": "Lower corner of the box; a lone number applies to every coordinate.",
    "start.uniform.high": "Upper corner of the box; a lone number applies to every coordinate.",
    "start.uniform.count": f"Number of starts; at most {_limits.MAX_STARTS.default:,} "
                           f"(`{_limits.MAX_STARTS.env}`), and count × dim × 8 bytes at most "
                           f"`{_limits.MAX_ARRAY_BYTES.env}` (docs/api.md, Limits). "
                           "`optkit validate` checks the count without drawing the starts.",
    "start.uniform.seed": "Seed of `numpy.random.default_rng`.",
    "start.grid": "Starts on a tensor grid (last coordinate varying fastest); at most "
                  f"{MAX_GRID_POINTS:,} points (`{_limits.MAX_STARTS.env}`).",
    "start.grid.low": "Lower end of each axis (included); a lone number applies to every axis.",
    "start.grid.high": "Upper end of each axis (included); a lone number applies to every axis.",
    "start.grid.num": "Points per axis; a lone number applies to every axis.",
    "solver": "The method and its options.",
    "solver.method": "A registered method name (see [Methods and their options]"
                     "(#methods-and-their-options)).",
    "solver.<option>": "Any other key is an option of the method (see [Methods and their "
                       "options](#methods-and-their-options)); unknown options and values "
                       "of the wrong type are an error. `grad_tol`, `x_tol`, `f_tol` and "
                       "`max_steps` given here move to `stop`.",
    "stop": "When a solve stops (the driver's stopping rule, docs/statuses.md).",
    "stop.grad_tol": "Converged when ‖∇f(x)‖₂ ≤ grad_tol after an accepted step.",
    "stop.rel_grad_tol": "Scale-aware convergence as well: converged also when ‖∇f(x)‖₂ ≤ "
                         "rel_grad_tol·max(1, |f(x)|)/max(1, ‖x‖₂), a test that does not "
                         "depend on the units of f and x (0: off).",
    "stop.x_tol": "SMALL_STEP when an accepted step has ‖Δx‖₂ ≤ x_tol·(1 + ‖x‖₂); 0 stops "
                  "only on Δx = 0.",
    "stop.f_tol": "SMALL_DECREASE when f_tol > 0 and an accepted step has "
                  "|Δf| ≤ f_tol·(1 + |f|).",
    "stop.max_steps": "Cap on accepted steps (MAX_STEPS when reached); at most "
                      f"{_limits.MAX_STEPS:,}: the compiled loop allows 100 trips per step "
                      "and counts them in int32.",
    "precision": "Floating-point type of the solve and of the saved arrays.",
    "device": "Where to solve: `auto` picks TPU, then GPU, then CPU; `cpu`, `gpu`, `tpu` "
              "must be available (an error otherwise, also from `optkit validate`).",
    "devices": "Which of that platform's local devices share the starts: `all`, a count N "
               "(the first N) or a list of device ids. The batch is padded to a multiple of "
               "the device count; the results are those of one device. Under `--distributed` "
               "this is per process.",
    "record": "What is kept of each solve.",
    "record.trajectory": "Keep every iterate in trajectories.npz; `false` keeps the start and "
                         "the end point only.",
    "analysis": "Classification of end points and the `optkit critical` search.",
    "analysis.classify": "Classify each end point from the Hessian's eigenvalues (minimum, "
                         "maximum, saddle, degenerate, not_critical) and write "
                         "critical_points.json.",
    "analysis.box": "The box searched by `optkit critical`, also used to merge nearby end "
                    "points and to draw the figures.",
    "analysis.box.lower": "Lower corner; a lone number applies to every coordinate.",
    "analysis.box.upper": "Upper corner; a lone number applies to every coordinate.",
    "analysis.num_starts": "Starts of the `optkit critical` search; at most "
                           f"{_limits.MAX_STARTS.default:,} (`{_limits.MAX_STARTS.env}`).",
    "analysis.seed": "Seed of the `optkit critical` starts.",
    "output": "Where run directories go.",
    "output.dir": "Parent folder of the run directories (`--out` overrides it).",
    "output.checkpoint_every": "Seconds between checkpoints of the solve's state "
                               "(`checkpoint.npz`, for `optkit resume`); 0 writes one only "
                               "when the run is interrupted.",
}

#: keys whose resolved default depends on the problem or the method
RESOLVED_DEFAULTS: dict[str, str] = {
    "name": "`<problem>-<method>`, e.g. `rosenbrock-newton` (a user function: its "
            "`function` string as written)",
    "problem.<parameter>": "the problem's parameter defaults",
    "start": "`{point: <the problem's start>}`",
    "start.uniform.low": "the problem's box",
    "start.uniform.high": "the problem's box",
    "start.grid.low": "the problem's box",
    "start.grid.high": "the problem's box",
    "solver.<option>": "the method's option defaults (numbers, strings, booleans)",
    "stop.grad_tol": "the method's, by precision ({grad_tol})",
    "stop.max_steps": "the method's ({max_steps})",
    "analysis.box": "the problem's box",
}

#: one example per section (a YAML mapping of top-level keys), by section path
EXAMPLES: dict[str, str] = {
    "": "name: himmelblau-newton\nimports: [my_methods.py]\nprecision: float32\ndevice: cpu\n",
    "problem.name": "problem: {name: rosenbrock, dim: 5}\n",
    "problem.expression": 'problem: {expression: "x**2 + 3*y**2 - x*y", variables: [x, y]}\n',
    "problem.function": 'problem: {function: "models/loss.py:f", dim: 3}\n',
    "problem.residuals": 'problem: {residuals: ["x - 1", "10*(y - x**2)"], variables: [x, y]}\n',
    "problem.bounds": "problem:\n  name: rosenbrock\n  bounds: {lower: -1.5, upper: [0.5, .inf]}\n",
    "start": "start: {point: [-1.2, 1.0]}\n",
    "start.uniform": "start:\n  uniform: {low: [-5.0, -5.0], high: [5.0, 5.0], count: 64, "
                     "seed: 0}\n",
    "start.grid": "start:\n  grid: {low: -2.0, high: 3.0, num: 11}\n",
    "solver": "solver: {method: gradient_descent, line_search: wolfe, initial_step: bb}\n",
    "stop": "stop: {grad_tol: 1.0e-10, x_tol: 0.0, f_tol: 0.0, max_steps: 500}\n",
    "record": "record: {trajectory: false}\n",
    "analysis": "analysis:\n  classify: true\n  box: {lower: [-5.0, -5.0], upper: [5.0, 5.0]}\n"
                "  num_starts: 256\n  seed: 0\n",
    "output": "output: {dir: runs}\n",
}

#: the config whose resolved form is shown as the complete example
MINIMAL_EXAMPLE: dict[str, Any] = {
    "problem": {"name": "rosenbrock"},
    "start": {"point": [-1.2, 1.0]},
    "stop": {"grad_tol": 1e-10},
}

#: the free-form keys of models that allow extra keys
EXTRA_KEYS = {"NamedProblem": "problem.<parameter>", "SolverConfig": "solver.<option>"}


@dataclasses.dataclass(frozen=True)
class Key:
    """One config key: its dotted path, rendered type and default, and description."""

    path: str
    type: str
    default: str
    description: str
    section: type[BaseModel] | None = None  # the model of a section key


# ------------------------------------------------------------------------------ the schema


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _annotated_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip_optional(annotation)
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def problem_forms() -> list[tuple[str, type[BaseModel]]]:
    """The ``problem`` union's forms: (tag key, model), in schema order."""
    annotation = RunConfig.model_fields["problem"].annotation
    forms = []
    for member in get_args(annotation):
        model = _annotated_model(member)
        tag = next((m.tag for m in get_args(member)[1:] if hasattr(m, "tag")), None)
        assert model is not None and tag is not None
        forms.append((tag, model))
    return forms


def _constraints(items: Any) -> list[Any]:
    found = []
    for item in items:
        found += item.metadata if isinstance(item, FieldInfo) else [item]
    return found


def render_type(annotation: Any, metadata: Any = ()) -> str:
    """A readable type: ``list[float]``, ``int ≥ 1``, ``"float32" | "float64"``."""
    constraints = _constraints(metadata)
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return render_type(base, [*_constraints(extra), *constraints])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return " | ".join(render_type(a) for a in members)
    if origin is Literal:
        return " | ".join(f'"{v}"' if isinstance(v, str) else repr(v)
                          for v in get_args(annotation))
    if origin is list:
        text = f"list[{render_type(get_args(annotation)[0])}]"
        min_length = [getattr(c, "min_length", None) for c in constraints]
        if any(n for n in min_length):
            text = f"non-empty {text}"
        return text
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    text = getattr(annotation, "__name__", str(annotation))
    for c in constraints:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(c, attr, None)
            if bound is not None:
                text += f" {sign} {bound}"
    return text


def _lone_number_fields(model: type[BaseModel]) -> set[str]:
    """Fields of ``model`` where a lone number stands for a list (``_schema._as_list``)."""
    names: set[str] = set()
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if decorator.func is _schema._as_list:
            names.update(decorator.info.fields)
    return names


def _yaml(value: Any) -> str:
    """``value`` as a YAML flow value (``true``, ``[]``, ``newton``, ``1.0e-10``)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("...").strip()


def number(value: float) -> str:
    """A float as people write it: ``1e-8``, ``0.15``, ``1000.0``."""
    value = float(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
        return np.format_float_scientific(value, trim="-", exp_digits=1)
    return repr(value)


def _builtin(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).startswith("optkit.")


def builtin_methods() -> dict[str, Any]:
    """The methods optkit registers itself (name → ``Method``), in registration order."""
    from ..solvers import METHODS

    return {name: method for name, method in METHODS.items() if _builtin(method.factory)}


def builtin_line_searches() -> dict[str, Callable[[], Any]]:
    from ..solvers._linesearch import LINE_SEARCHES

    return {name: factory for name, factory in LINE_SEARCHES.items() if _builtin(factory)}


def _resolved_default(path: str) -> str | None:
    text = RESOLVED_DEFAULTS.get(path)
    if text is None:
        return None
    from ..solvers._registry import DEFAULT_GRAD_TOL

    methods = builtin_methods()
    usual = max({m.max_steps for m in methods.values()},
                key=[m.max_steps for m in methods.values()].count)
    others = ", ".join(f"{n} {m.max_steps}" for n, m in methods.items() if m.max_steps != usual)
    text = text.replace(
        "{grad_tol}", f"{number(DEFAULT_GRAD_TOL[0])} in float64, "
                      f"{number(DEFAULT_GRAD_TOL[1])} in float32 for every built-in method",
    ).replace("{max_steps}", f"{usual}" + (f"; {others}" if others else ""))
    return f"filled during resolution: {text}"


def _description(path: str, field: FieldInfo | None) -> str:
    if field is not None and field.description:
        return " ".join(field.description.split())
    return DESCRIPTIONS.get(path, "")


def _key(path: str, field: FieldInfo, model: type[BaseModel]) -> Key:
    section = _annotated_model(field.annotation)
    name = path.rsplit(".", 1)[-1]
    if path == "problem":
        type_text = "mapping (one of three forms)"
    elif section is not None:
        type_text = "mapping"
    else:
        type_text = render_type(field.annotation, field.metadata)
        if name in _lone_number_fields(model):
            type_text += " | float" if "float" in type_text else " | int"
    default = _resolved_default(path)
    if default is None:
        if field.is_required():
            default = "required"
        elif section is not None and field.default_factory is not None:
            default = "all defaults"
        else:
            value = field.get_default(call_default_factory=True)
            default = "—" if value is None else f"`{_yaml(value)}`"
    return Key(path, type_text, default, _description(path, field), section)


def _extra_key(model: type[BaseModel]) -> Key | None:
    path = EXTRA_KEYS.get(model.__name__)
    if path is None or model.model_config.get("extra") != "allow":
        return None
    return Key(path, "any", _resolved_default(path) or "—", DESCRIPTIONS.get(path, ""))


def model_keys(model: type[BaseModel], prefix: str = "") -> list[Key]:
    """The keys of ``model`` (not of its sub-sections), dotted under ``prefix``."""
    keys = [_key(f"{prefix}{name}", field, model) for name, field in model.model_fields.items()]
    extra = _extra_key(model)
    return keys + ([extra] if extra is not None else [])


def schema_keys() -> Iterator[Key]:
    """Every key of the schema, depth first, the three problem forms included."""

    def walk(model: type[BaseModel], prefix: str) -> Iterator[Key]:
        for key in model_keys(model, prefix):
            yield key
            if key.path == "problem":
                for _, form in problem_forms():
                    yield from (k for k in walk(form, "problem.") if k.path != "problem")
            elif key.section is not None:
                yield from walk(key.section, key.path + ".")

    seen: set[str] = set()
    for key in walk(RunConfig, ""):
        if key.path not in seen:
            seen.add(key.path)
            yield key


def missing_descriptions() -> list[str]:
    return [key.path for key in schema_keys() if not key.description]


# ------------------------------------------------------------------------------ rendering


def _markdown(doc: str) -> str:
    """A docstring as Markdown: paragraphs joined into lines, ``code`` as `code`."""
    doc = inspect.cleandoc(doc)
    doc = re.sub(r":(?:func|class|meth|data|attr):`~?([^`]+)`", r"`\1`", doc)
    doc = doc.replace("``", "`")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc) if p.strip()]
    return "\n\n".join(paragraphs)


def _first_paragraph(doc: str | None) -> str:
    """The first paragraph, with the next one where it ends in a colon (a formula)."""
    paragraphs = _markdown(doc or "").split("\n\n")
    taken = [paragraphs[0]]
    while taken[-1].endswith(":") and len(taken) < len(paragraphs):
        taken.append(paragraphs[len(taken)])
    return " ".join(taken)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _key_table(keys: list[Key]) -> list[str]:
    return _table(("key", "type", "default", "description"),
                  [(f"`{k.path}`", f"`{k.type}`", k.default, k.description) for k in keys])


def _example(section: str) -> list[str]:
    return ["Example:", "", "```yaml", EXAMPLES[section].rstrip("\n"), "```"]


def _anchor(path: str) -> str:
    """GitHub's anchor of a heading ``path`` (code marks and dots dropped)."""
    return re.sub(r"[^a-z0-9 _-]", "", path.lower()).replace(" ", "-")


def _section(key: Key, level: int) -> list[str]:
    """A section key's heading, docstring, table, example and sub-sections."""
    model = key.section
    assert model is not None
    lines = ["", f"{'#' * level} `{key.path}`", ""]
    if model.__doc__:
        lines += [_markdown(model.__doc__), ""]
    keys = model_keys(model, key.path + ".")
    lines += _key_table(keys)
    if key.path in EXAMPLES:
        lines += ["", *_example(key.path)]
    for sub in keys:
        if sub.section is not None:
            lines += _section(sub, level + 1)
    return lines


def _problem_section(key: Key) -> list[str]:
    lines = ["", "## `problem`", "", key.description]
    for tag, model in problem_forms():
        lines += ["", f"### `problem.{tag}`: {_FORM_TITLES.get(tag, tag)}", ""]
        if model.__doc__:
            lines += [_markdown(model.__doc__), ""]
        lines += _key_table(model_keys(model, "problem."))
        if tag == "name":
            lines += ["", "Built-in problems (parameters with their defaults; dim and box "
                      "with the default parameters):", "", *_problems_table()]
        lines += ["", *_example(f"problem.{tag}")]
    # problem.bounds belongs to every form: its section once, after them
    bounds = next(k for k in model_keys(problem_forms()[0][1], "problem.")
                  if k.path == "problem.bounds")
    return lines + _section(bounds, 3)


_FORM_TITLES = {"name": "a built-in problem", "expression": "a math expression",
                "function": "a Python function"}


def _box_text(box: tuple[Any, Any]) -> str:
    lower, upper = (np.asarray(b, dtype=float) for b in box)
    if np.all(lower == lower[0]) and np.all(upper == upper[0]):
        return f"[{number(lower[0])}, {number(upper[0])}]" + (
            f"^{lower.size}" if lower.size > 1 else "")
    return " × ".join(f"[{number(lo)}, {number(hi)}]" for lo, hi in zip(lower, upper,
                                                                         strict=True))


def _problems_table() -> list[str]:
    from ..config._resolution import _plain
    from ..problems import _registry as registry

    rows = []
    for name, factory in registry.REGISTRY.items():
        if not _builtin(factory):
            continue
        params = registry.parameters(name)
        shown = ", ".join(f"`{k}: {_yaml(_plain(v))}`" for k, v in params.items()) or "—"
        problem = registry.get(name)
        rows.append((f"`{name}`", shown, str(problem.dim), _box_text(problem.box),
                     _first_paragraph(inspect.getdoc(factory))))
    return _table(("name", "parameters", "dim", "box", "f"), rows)


def _option_default(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "required"
    if value is None:
        return "`null`"
    if isinstance(value, float):
        return f"`{number(value)}`"
    return f"`{_yaml(value)}`"


def _methods_section() -> list[str]:
    lines = ["", "## Methods and their options", "",
             "`solver.method` names one of these; its options go next to it in the `solver` "
             "section (and are the keyword options of `optkit.minimize`). Read from the method "
             "registry (`optkit.solvers.METHODS`): each option, its default and its text come "
             "from the method's factory (signature and `Args:` docstring). Methods registered "
             "by a module in `imports` or by an installed package (entry-point group "
             "`optkit.methods`) are used the same way but not listed here.", ""]
    methods = builtin_methods()
    lines += _table(("method", "summary", "max_steps", "grad_tol (float64 / float32)"),
                    [(f"[`{n}`](#{_anchor(n)})", m.summary, str(m.max_steps),
                      f"{number(m.grad_tol[0])} / {number(m.grad_tol[1])}")
                     for n, m in methods.items()])
    for name, method in methods.items():
        factory = method.factory
        where = (f"`optkit.{factory.__name__}`" if isinstance(factory, type)
                 else f"`{factory.__module__}.{factory.__name__}`")
        lines += ["", f"### `{name}`", "",
                  f"{method.summary}. Factory {where}; default `max_steps` {method.max_steps}, "
                  f"`grad_tol` {number(method.grad_tol[0])} (float64) / "
                  f"{number(method.grad_tol[1])} (float32).", ""]
        options = method.options()
        if options:
            lines += _table(("option", "type", "default", "description"),
                            [(f"`{o.name}`", f"`{o.annotation}`", _option_default(o.default),
                              _markdown(o.doc) or "(not described in the factory's docstring)")
                             for o in options.values()])
        else:
            lines.append("No options.")
        tuned = getattr(factory, "tuned_backtracking", None)
        if tuned is not None and "line_search" in options:
            lines += ["", f"For this method `line_search: backtracking` (or `armijo`) means "
                          f"`{_dataclass_call(tuned, changed_only=True)}`."]
    return lines


def _dataclass_call(obj: Any, changed_only: bool = False) -> str:
    parts = []
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if changed_only and value == field.default:
            continue
        parts.append(f"{field.name}={value!r}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def _constructor_defaults(factory: Callable[[], Any]) -> str:
    if isinstance(factory, type) and dataclasses.is_dataclass(factory):
        return ", ".join(f"`{f.name}={f.default!r}`" for f in dataclasses.fields(factory)
                         if f.default is not dataclasses.MISSING)
    params = inspect.signature(factory).parameters.values()
    return ", ".join(f"`{p.name}={p.default!r}`" for p in params
                     if p.default is not inspect.Parameter.empty) or "—"


def _line_searches_section() -> list[str]:
    users = [f"`{n}`" for n, m in builtin_methods().items() if "line_search" in m.options()]
    lines = ["", "## Line searches", "",
             f"`line_search` (an option of {', '.join(users[:-1])} and {users[-1]}) names one "
             "of these (`optkit.solvers._linesearch.LINE_SEARCHES`; "
             "`optkit.register_line_search` adds more). A name means the class built with its "
             "defaults; in Python, pass an instance (`optkit.Wolfe(c2=0.1)`) for other "
             "constants.", ""]
    searches = builtin_line_searches()
    first_name: dict[Any, str] = {}
    rows = []
    for name, factory in searches.items():
        if factory in first_name:
            rows.append((f"`{name}`", f"alias of `{first_name[factory]}`", "", ""))
            continue
        first_name[factory] = name
        rows.append((f"`{name}`", f"`optkit.{factory.__name__}`", _constructor_defaults(factory),
                     _first_paragraph(inspect.getdoc(factory))))
    lines += _table(("name", "class", "defaults", "description"), rows)
    return lines


def _complete_example() -> list[str]:
    from ._resolution import resolve

    minimal = yaml.safe_dump(MINIMAL_EXAMPLE, sort_keys=False, default_flow_style=None)
    resolved = resolve(MINIMAL_EXAMPLE).config.to_yaml()
    return ["", "## A complete config", "",
            "The minimal config", "", "```yaml", minimal.rstrip("\n"), "```", "",
            "resolves to this (what `optkit validate CONFIG --resolved` prints and what a run "
            "writes to its config.yaml; running it again reproduces the run):", "",
            "```yaml", resolved.rstrip("\n"), "```"]


def config_reference() -> str:
    """docs/config-reference.md: every config key, method, option and line search."""
    missing = missing_descriptions()
    if missing:
        raise ValueError(f"config keys without a description: {', '.join(missing)}; give "
                         "their schema field a description or add them to DESCRIPTIONS in "
                         "optkit/config/_reference.py")
    unknown = sorted(set(DESCRIPTIONS) - {k.path for k in schema_keys()})
    if unknown:
        raise ValueError(f"DESCRIPTIONS names keys the schema does not have: {', '.join(unknown)}")
    top = model_keys(RunConfig)
    lines = [
        "# Config reference",
        "",
        "> Generated by `optkit/config/_reference.py` from the config schema and the "
        "registries; do not edit by hand. Regenerate with",
        f"> `{REGENERATE}`",
        "",
        "A run config is a YAML mapping of the keys below; unknown keys are an error (with a "
        "suggestion), and every problem found is reported at once, one `key.path: message` "
        "line each. Numbers must be finite. `KEY=VALUE` arguments of `optkit run`, "
        "`critical` and `validate` replace the value at a dotted key with a YAML value "
        "(`stop.max_steps=50`). Resolution fills every default; the resolved config is "
        "written to the run directory's config.yaml. \"Filled during resolution\" marks "
        "defaults that depend on the problem or the method.",
        "",
        "## Top-level keys",
        "",
        *_key_table([dataclasses.replace(k, description=k.description + (
            f" See [`{k.path}`](#{_anchor(k.path)})." if k.section is not None
            or k.path == "problem" else ""))
            for k in top]),
        "",
        *_example(""),
    ]
    for key in top:
        if key.path == "problem":
            lines += _problem_section(key)
        elif key.section is not None:
            lines += _section(key, 2)
    lines += _complete_example()
    lines += _methods_section()
    lines += _line_searches_section()
    return "\n".join(lines) + "\n"


# the names a test may want to walk the same way
__all__ = ["DESCRIPTIONS", "EXAMPLES", "Key", "REGENERATE", "builtin_line_searches",
           "builtin_methods", "config_reference", "missing_descriptions", "model_keys",
           "problem_forms", "render_type", "schema_keys"]

if __name__ == "__main__":
    print(config_reference(), end="")
