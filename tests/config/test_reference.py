"""docs/config-reference.md is generated from the schema and the registries, and up to date."""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel

from optkit.config import RunConfig, resolve
from optkit.config import _reference as reference
from optkit.solvers import METHODS
from optkit.solvers._linesearch import LINE_SEARCHES
from tests.helpers import ROOT

DOC = ROOT / "docs" / "config-reference.md"


@pytest.fixture(scope="module")
def text() -> str:
    return reference.config_reference()


def _models(annotation: typing.Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (through Optional, unions and Annotated)."""
    if get_origin(annotation) is Annotated:
        return _models(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def schema_paths(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    """Every dotted key of the schema, walked independently of the generator."""
    paths = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.append(path)
        for sub in _models(field.annotation):
            paths += [p for p in schema_paths(sub, path + ".") if p not in paths]
    return paths


def table_rows(text: str) -> dict[str, list[str]]:
    """First cell (without its code marks) → cells, for every Markdown table row."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows.setdefault(cells[0].strip("`"), cells)
    return rows


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def section(text: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of any level."""
    start = text.index(heading + "\n")
    end = text.find("\n#", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


# ------------------------------------------------------------------------------ (a) up to date


def test_committed_reference_is_up_to_date(text):
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert committed == text, (
        f"{DOC.relative_to(ROOT)} is out of date with the config schema or the registries; "
        f"regenerate it with: {reference.REGENERATE}")


def test_reference_says_how_to_regenerate(text):
    assert reference.REGENERATE in "\n".join(text.splitlines()[:5])


def test_reference_is_deterministic(text):
    assert reference.config_reference() == text


# ------------------------------------------------------------------------------ (b) every key


def test_walk_finds_every_section_and_form():
    paths = schema_paths()
    for path in ("problem.name", "problem.expression", "problem.variables", "problem.function",
                 "problem.dim", "start.point", "start.uniform.count", "start.grid.num",
                 "stop.grad_tol", "analysis.box.lower", "output.dir"):
        assert path in paths
    assert {k.path for k in reference.schema_keys() if "<" not in k.path} == set(paths)


def test_every_schema_key_is_in_the_reference_with_a_description(text):
    rows = table_rows(text)
    missing = [p for p in schema_paths() if p not in rows]
    assert not missing, f"schema keys missing from the reference: {missing}"
    empty = [p for p in schema_paths() if not rows[p][-1]]
    assert not empty, (f"schema keys without a description: {empty}; give the field a "
                       "description or add it to DESCRIPTIONS in optkit/config/_reference.py")
    for path in schema_paths():
        assert rows[path][1].strip("`") and rows[path][2], f"{path}: no type or default"


def test_a_key_without_a_description_fails_the_generator(monkeypatch):
    monkeypatch.delitem(reference.DESCRIPTIONS, "stop.x_tol")
    with pytest.raises(ValueError, match=r"stop\.x_tol"):
        reference.config_reference()


def test_descriptions_name_only_schema_keys():
    free_form = {"problem.<parameter>", "solver.<option>"}
    stale = set(reference.DESCRIPTIONS) - set(schema_paths()) - free_form
    assert not stale, f"DESCRIPTIONS in optkit/config/_reference.py names unknown keys: {stale}"


@pytest.mark.parametrize(("path", "type_text"), [
    ("precision", '"float32" \\| "float64"'),
    ("start.uniform.count", "int ≥ 1"),
    ("start.point", "list[float] \\| float"),
    ("start.grid.num", "list[int ≥ 1] \\| int"),
    ("stop.grad_tol", "float ≥ 0"),
    ("problem.variables", "non-empty list[str]"),
    ("imports", "list[str]"),
])
def test_types_are_readable(text, path, type_text):
    assert table_rows(text)[path][1] == f"`{type_text}`"


@pytest.mark.parametrize("path", ["name", "start", "stop.grad_tol", "stop.max_steps",
                                  "analysis.box", "start.uniform.low", "start.grid.high"])
def test_problem_dependent_defaults_say_so(text, path):
    assert table_rows(text)[path][2].startswith("filled during resolution")


def test_required_and_plain_defaults(text):
    rows = table_rows(text)
    assert rows["problem.name"][2] == "required"
    assert rows["start.uniform.count"][2] == "required"
    assert rows["solver.method"][2] == "`newton`"
    assert rows["analysis.num_starts"][2] == "`1024`"
    assert rows["record.trajectory"][2] == "`true`"


# ------------------------------------------------------------------------------ (c) methods


def builtin_methods():
    return {n: m for n, m in METHODS.items() if m.factory.__module__.startswith("optkit.")}


def test_every_method_and_option_is_listed(text):
    methods = builtin_methods()
    assert {"newton", "gradient_descent", "newton_cg", "trust_region", "bfgs", "lbfgs"} <= set(
        methods)
    for name, method in methods.items():
        body = section(text, f"### `{name}`")
        assert f"default `max_steps` {method.max_steps}" in body
        assert reference.number(method.grad_tol[0]) in body
        assert reference.number(method.grad_tol[1]) in body
        rows = table_rows(body)
        for option in method.options().values():
            assert option.name in rows, f"method {name}: option {option.name} not listed"
            if option.doc:
                assert rows[option.name][-1].split()[0] in option.doc


def test_every_line_search_is_listed(text):
    rows = table_rows(section(text, "## Line searches"))
    for name, factory in LINE_SEARCHES.items():
        if factory.__module__.startswith("optkit."):
            assert name in rows, f"line search {name} not listed"
    assert "c2=0.9" in rows["wolfe"][2]


def test_plugins_do_not_change_the_reference(text, monkeypatch):
    def plugin(step: float = 1.0):
        """A plugin method."""

    monkeypatch.setitem(METHODS, "plugin_method", METHODS["newton"].__class__(
        "plugin_method", plugin))
    assert reference.config_reference() == text


# ------------------------------------------------------------------------------ (d) examples


def test_every_yaml_example_parses_and_validates(text):
    blocks = yaml_blocks(text)
    assert len(blocks) >= len(reference.EXAMPLES)
    for block in blocks:
        data = yaml.safe_load(block)
        assert isinstance(data, dict), block
        unknown = set(data) - set(RunConfig.model_fields)
        assert not unknown, f"example has unknown top-level keys {unknown}:\n{block}"
        RunConfig.model_validate({"problem": {"name": "rosenbrock"}, **data})


def test_complete_example_resolves_to_itself(text):
    complete = [yaml.safe_load(b) for b in yaml_blocks(text)
                if set(yaml.safe_load(b)) == set(RunConfig.model_fields)]
    assert len(complete) == 1, "expected one example with every top-level key"
    resolved = resolve(complete[0]).config
    assert resolved.to_data() == complete[0]


def test_section_examples_with_a_builtin_problem_resolve(text):
    for block in yaml_blocks(text):
        data = yaml.safe_load(block)
        if "imports" in data or "function" in (data.get("problem") or {}):
            continue  # names files that exist only in the example
        resolve({"problem": {"name": "himmelblau"}, **data})
