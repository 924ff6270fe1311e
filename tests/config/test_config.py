"""Config schema, overrides, resolution and error messages (no solving here)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import yaml

import optkit
from optkit.config import (
    ConfigError,
    RunConfig,
    apply_overrides,
    load_config,
    make_starts,
    method_options,
    parse_override,
    resolve,
)
from tests.helpers import CONFIGS

BASE = {"problem": {"name": "rosenbrock"}, "start": {"point": [-1.2, 1.0]}}


def problems_of(data: dict, *overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        resolve(data, overrides)
    assert str(info.value).splitlines() == info.value.problems
    return info.value.problems


# ------------------------------------------------------------------------------ overrides


@pytest.mark.parametrize(("text", "key", "value"), [
    ("stop.max_steps=50", ["stop", "max_steps"], 50),
    ("stop.grad_tol=1.0e-6", ["stop", "grad_tol"], 1e-6),
    ("record.trajectory=false", ["record", "trajectory"], False),
    ("name=a=b", ["name"], "a=b"),
    ("start.point=[1, 2.5]", ["start", "point"], [1, 2.5]),
    ('problem={expression: "x**2 + 3*y**2", variables: [x, y]}', ["problem"],
     {"expression": "x**2 + 3*y**2", "variables": ["x", "y"]}),
])
def test_override_value_is_yaml(text, key, value):
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text", ["stop.max_steps", "=3", "stop..max_steps=3", "a.b=[1"])
def test_malformed_override_is_an_error(text):
    with pytest.raises(ValueError, match="override"):
        parse_override(text)


def test_override_replaces_the_value_whole_and_creates_parents():
    data = {"problem": {"name": "rosenbrock", "dim": 2}, "stop": {"max_steps": 5}}
    out = apply_overrides(data, ["problem={expression: 'x**2', variables: [x]}",
                                 "analysis.box.lower=[-1]", "stop.max_steps=7"])
    assert out["problem"] == {"expression": "x**2", "variables": ["x"]}  # no leftover keys
    assert out["analysis"] == {"box": {"lower": [-1]}}
    assert out["stop"] == {"max_steps": 7}
    assert data["stop"] == {"max_steps": 5}  # the input is not modified


def test_override_through_a_non_mapping_is_an_error():
    with pytest.raises(ConfigError, match=r"override stop.max_steps: stop is int"):
        apply_overrides({"stop": 5}, ["stop.max_steps=3"])


# ------------------------------------------------------------------------------ errors


def test_unknown_key_suggests_the_nearest_valid_key():
    assert problems_of(BASE, "stop.maxsteps=3") == [
        "stop.maxsteps: unknown key; did you mean 'stop.max_steps'?"]
    assert problems_of(BASE, "recrod.trajectory=true") == [
        "recrod: unknown key; did you mean 'record'?"]
    (line,) = problems_of(BASE, "stop.zzz=3")
    assert line == ("stop.zzz: unknown key; valid keys: f_tol, grad_tol, max_steps, rel_grad_tol, "
                    "x_tol")


def test_every_problem_is_reported_at_once():
    lines = problems_of(BASE, "stop.maxsteps=3", "precision=float16", "device=quantum",
                        "start.point=[1, 2, 3]", "solver.line_serach=none",
                        "analysis.box={lower: [0, 0], upper: [1, -1]}")
    keys = sorted(line.split(":")[0] for line in lines)
    assert keys == ["analysis.box", "device", "precision", "solver.line_serach",
                    "start.point", "stop.maxsteps"]


@pytest.mark.parametrize(("override", "expected"), [
    ("problem={nmae: rosenbrock}", "problem.nmae: unknown key; did you mean 'problem.name'?"),
    ("problem={name: rosenbrock, expression: x}",
     "problem: give exactly one of 'name', 'expression' or 'function' (got 'name', 'expression')"),
    ("problem.dimm=3", "problem.dimm: problem 'rosenbrock' has no parameter 'dimm'; "
                       "did you mean 'problem.dim'?"),
    ("problem={expression: x + y, variables: [x, y], dim: 2}",
     "problem.dim: unknown key; valid keys: bounds, expression, variables"),
    ("problem={expression: x}", "problem.variables: required key missing"),
    ("start={point: [1, 2], uniform: {count: 3}}",
     "start: give exactly one of 'point', 'uniform' or 'grid' (got 'point', 'uniform')"),
    ("start={uniform: {count: 0}}",
     "start.uniform.count: Input should be greater than or equal to 1 (got 0)"),
    ("start={grid: {num: [3, 3, 3]}}",
     "start.grid.num: has 3 entries but the problem has dimension 2 (give 1 number or 2)"),
    ("start={grid: {num: 4000}}", "start.grid.num: 16,000,000 grid points, more than the "
                                  "limit on starts 10,000,000 (set OPTKIT_MAX_STARTS to raise it)"),
    ("start={uniform: {low: 1, high: 0, count: 2}}",
     "start.uniform: needs low < high in every coordinate (got low=[1.0], high=[0.0])"),
    ("start.point=[1, .nan]", "start.point[1]: Input should be a finite number (got nan)"),
    ("stop.grad_tol=-1", "stop.grad_tol: Input should be greater than or equal to 0 (got -1)"),
    ("solver.record=true", "solver.record: belongs in record.trajectory"),
    ("solver.step_size=0.1", "solver.step_size: unknown option for method 'newton'; "
                             "valid keys: escape_below, escape_length, line_search, method, "
                             "regularization"),
    ("solver.regularization=foo", "solver.regularization: unknown regularization 'foo'; "
                                  "expected one of ('eigen', 'levenberg', 'steepest', 'none')"),
    ("solver={method: gradient_descent, step_size: fast}",
     "solver.step_size: expected a number, got 'fast'"),
    ("solver.method=adam", "solver.method: 'adam' is an optax optimiser; write method: optax, "
                           "optimizer: adam (and its arguments, e.g. learning_rate)"),
    ("solver.method=adamw", "solver.method: 'adamw' is an optax optimiser; write method: "
                            "optax, optimizer: adamw (and its arguments, e.g. learning_rate)"),
    ("solver.method=newtn", "solver.method: unknown method 'newtn' (did you mean 'newton'?); "
                            "expected one of newton, gradient_descent, newton_cg, trust_region, "
                            "bfgs, lbfgs, gauss_newton, levenberg_marquardt, optax (or a module "
                            "in 'imports' that registers it)"),
    ("solver.line_search=wolf", "solver.line_search: unknown line search 'wolf' (did you mean "
                                "'wolfe'?); expected one of armijo, backtracking, none, wolfe"),
    ("solver={method: trust_region, line_search: wolfe}",
     "solver.line_search: method 'trust_region' takes no line search (its options: "
     "initial_radius, max_radius, eta)"),
    ("stop=5", "stop: expected a mapping, got 5"),
])
def test_error_lines_name_the_key(override, expected):
    assert problems_of(BASE, override) == [expected]


def test_unknown_problem_name_is_reported_by_the_registry():
    (line,) = problems_of(BASE, "problem.name=rosenbrok")
    assert line.startswith("problem: unknown problem 'rosenbrok'")
    assert "rosenbrock" in line


@pytest.mark.parametrize("expression", [
    "__import__('os').system('touch pwned')",
    "x.__class__",
    "(lambda: 1)()",
    "open('f')",
    "x[0]",
])
def test_unsafe_expressions_are_refused_without_running(expression, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = {"problem": {"expression": expression, "variables": ["x", "y"]}}
    (line,) = problems_of(data)
    assert line.startswith("problem.expression: ")
    assert not list(tmp_path.iterdir())


def test_missing_unreadable_and_malformed_files_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r": is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("problem: {name: rosenbrock\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML: .*line 2"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: expected a mapping"):
        load_config(bad)
    bad.write_text("problem: {name: rosenbrock}\nstop: {maxsteps: 3}\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(info.value) == (f"{bad}: stop.maxsteps: unknown key; did you mean "
                               "'stop.max_steps'?")


# ------------------------------------------------------------------------------ resolution


def test_resolution_fills_every_default():
    resolved = resolve({"problem": {"name": "rosenbrock"}})
    data = resolved.config.to_data()
    problem = optkit.problems.get("rosenbrock")
    assert data["name"] == "rosenbrock-newton"
    assert data["problem"] == {"name": "rosenbrock", "dim": 2}
    assert data["start"] == {"point": np.ravel(problem.start).tolist()}
    assert data["solver"] == {"method": "newton", "line_search": "backtracking",
                              "regularization": "eigen", "escape_length": 1.0}
    assert data["stop"] == {"grad_tol": 1e-8, "rel_grad_tol": 0.0, "x_tol": 0.0, "f_tol": 0.0,
                            "max_steps": 1000}
    assert data["precision"] == "float64" and data["device"] == "auto"
    assert data["record"] == {"trajectory": True}
    assert data["analysis"] == {"classify": True,
                                "box": {"lower": list(problem.box[0]),
                                        "upper": list(problem.box[1])},
                                "num_starts": 1024, "seed": 0, "taylor_at": "best"}
    assert data["output"] == {"dir": "runs", "checkpoint_every": 60.0}
    # resolving the resolved config changes nothing (config.yaml reproduces the run)
    assert resolve(yaml.safe_load(resolved.config.to_yaml())).config.to_data() == data


def test_defaults_follow_precision_and_method():
    stop = resolve(BASE, ["precision=float32", "solver.method=gradient_descent"]).config.stop
    assert stop.grad_tol == 1e-4 and stop.max_steps == 20_000
    solver = resolve(BASE, ["solver={method: gradient_descent, line_search: wolfe}"]).config
    assert solver.solver.options == {"line_search": "wolfe", "step_size": 1.0,
                                     "initial_step": "bb"}
    # Wolfe fits every line-search method, Newton and BFGS included
    for method in ("newton", "bfgs", "newton_cg"):
        options = resolve(BASE, [f"solver={{method: {method}, line_search: wolfe}}"]).config
        assert options.solver.options["line_search"] == "wolfe"


def test_stopping_keys_are_accepted_in_the_solver_section():
    # DESIGN.md's example: optkit.run("configs/newton.yaml", overrides=["solver.max_steps=50"])
    config = resolve(BASE, ["solver.max_steps=50", "solver.grad_tol=1.0e-6"]).config
    assert config.stop.max_steps == 50 and config.stop.grad_tol == 1e-6
    assert "max_steps" not in config.solver.options
    # as an override it addresses stop.max_steps, so it also works on a config that sets
    # stop.max_steps (the shipped newton.yaml does); the later override wins
    config = resolve(BASE, ["stop.max_steps=40", "solver.max_steps=50"]).config
    assert config.stop.max_steps == 50
    newton = load_config(CONFIGS / "newton.yaml")
    assert resolve(newton, ["solver.max_steps=50"]).config.stop.max_steps == 50
    # written in the file in both places, it is ambiguous
    both = {**BASE, "solver": {"method": "newton", "max_steps": 50}, "stop": {"max_steps": 40}}
    assert problems_of(both) == [
        "solver.max_steps: also given as stop.max_steps; give it once, in stop"]


def test_method_options_follow_the_solver_signatures():
    for method in ("newton", "bfgs", "lbfgs"):
        factory = optkit.solvers.METHODS[method].factory
        names = set(inspect.signature(factory).parameters) - {"self"}
        assert set(method_options(method)) == names
    assert set(method_options("gradient_descent")) == {"step_size", "line_search",
                                                       "initial_step"}
    assert method_options("newton")["regularization"] == "eigen"


def test_pytree_problem_is_run_on_flat_vectors():
    resolved = resolve({"problem": {"name": "matrix_factorization", "m": 4, "n": 3, "rank": 2}})
    problem = resolved.problem
    assert resolved.starts.shape == (1, problem.dim) == (1, 14)
    flat = resolved.starts[0]
    assert float(resolved.flat_fun(flat)) == pytest.approx(
        float(problem.fun(problem.unravel(flat))), rel=1e-15)
    assert resolved.config.problem.model_dump(exclude_none=True) == {
        "name": "matrix_factorization", "m": 4, "n": 3, "rank": 2, "seed": 0}


# ------------------------------------------------------------------------------ starts


def test_point_start_is_one_row():
    np.testing.assert_array_equal(resolve(BASE).starts, [[-1.2, 1.0]])
    quartic = resolve({"problem": {"name": "quartic"}, "start": {"point": 0.5}})
    np.testing.assert_array_equal(quartic.starts, [[0.5]])


def test_uniform_starts_are_seeded_and_inside_the_box():
    spec = "start={uniform: {low: [-1, 10], high: [1, 11], count: 500, seed: 3}}"
    starts = resolve(BASE, [spec]).starts
    assert starts.shape == (500, 2)
    assert np.all((starts[:, 0] >= -1) & (starts[:, 0] < 1))
    assert np.all((starts[:, 1] >= 10) & (starts[:, 1] < 11))
    np.testing.assert_array_equal(starts, resolve(BASE, [spec]).starts)
    other = resolve(BASE, [spec.replace("seed: 3", "seed: 4")]).starts
    assert not np.array_equal(starts, other)
    # mean of U(a, b) is (a + b)/2; 500 samples: standard error ≈ 0.58/√500 ≈ 0.026
    np.testing.assert_allclose(starts.mean(axis=0), [0.0, 10.5], atol=0.1)


def test_uniform_defaults_to_the_problem_box():
    resolved = resolve({"problem": {"name": "himmelblau"},
                        "start": {"uniform": {"count": 64}}})
    box = resolved.problem.box
    uniform = resolved.config.start.uniform
    assert (uniform.low, uniform.high) == (list(box[0]), list(box[1]))
    assert np.all((resolved.starts >= box[0]) & (resolved.starts <= box[1]))


def test_grid_is_the_tensor_product_with_the_last_axis_fastest():
    starts = resolve(BASE, ["start={grid: {low: [0, -1], high: [1, 1], num: [2, 3]}}"]).starts
    np.testing.assert_array_equal(starts, [[0, -1], [0, 0], [0, 1], [1, -1], [1, 0], [1, 1]])
    broadcast = resolve(BASE, ["start={grid: {low: -1, high: 1, num: 3}}"])
    assert broadcast.starts.shape == (9, 2)
    assert broadcast.config.start.grid.num == [3, 3]
    assert make_starts(broadcast.config.start).tolist() == broadcast.starts.tolist()


# ------------------------------------------------------------------------------ shipped files


def test_shipped_configs_resolve(tmp_path):
    for path in sorted(CONFIGS.glob("*.yaml")):
        config = load_config(path)
        assert isinstance(config, RunConfig) and config.name
