"""Bad values in a config or its overrides: `optkit validate` exits 2 with one line naming
the key; counts are checked against what the compiled program counts (int32) and against the
limits of optkit._limits before anything is allocated."""

from __future__ import annotations

import pytest

from optkit import _limits

from ._cli import base_config, invoke, one_error

CASES = [
    # integer limits of the compiled loop (100 trips per step, int32 counters)
    ("stop.max_steps=3000000000", "stop.max_steps", "21,474,835"),
    ("stop.max_steps=21474836", "stop.max_steps", "int32"),
    ("stop.max_steps=1e21", "stop.max_steps", "21,474,835"),
    ("stop.max_steps=1.0e21", "stop.max_steps", "21,474,835"),
    ("stop.max_steps=-5", "stop.max_steps", "0"),
    ("stop.max_steps=2.5", "stop.max_steps", "whole number"),
    ("stop.max_steps=true", "stop.max_steps", "whole number"),
    ("stop.max_steps=.inf", "stop.max_steps", "whole number"),
    ("solver.max_steps=3000000000", "stop.max_steps", "21,474,835"),
    ("stop.max_steps='many'", "stop.max_steps", "whole number"),
    # tolerances
    ("stop.grad_tol=.nan", "stop.grad_tol", "finite"),
    ("stop.grad_tol=-1", "stop.grad_tol", "0"),
    ("stop.grad_tol=.inf", "stop.grad_tol", "finite"),
    ("stop.x_tol=-1e-3", "stop.x_tol", "0"),
    ("stop.f_tol=.nan", "stop.f_tol", "finite"),
    ("stop.grad_tol=[1]", "stop.grad_tol", "number"),
    # counts of starts, with the limit and its knob
    ("start={uniform: {count: 1000000000}}", "start.uniform.count", "OPTKIT_MAX_STARTS"),
    ("start={uniform: {count: 1.0e12}}", "start.uniform.count", "OPTKIT_MAX_STARTS"),
    ("start={uniform: {count: 0}}", "start.uniform.count", "1"),
    ("start={uniform: {count: 3, seed: -1}}", "start.uniform.seed", "0"),
    ("start={grid: {num: 100000}}", "start.grid.num", "OPTKIT_MAX_STARTS"),
    ("start={grid: {num: [5, 0]}}", "start.grid.num", "1"),
    ("start={grid: {num: 1.0e30}}", "start.grid.num", "OPTKIT_MAX_STARTS"),
    ("analysis.num_starts=1000000000", "analysis.num_starts", "OPTKIT_MAX_STARTS"),
    ("analysis.num_starts=-3", "analysis.num_starts", "1"),
    ("analysis.seed=-1", "analysis.seed", "0"),
    ("start={uniform: {low: -1.0e308, high: .inf, count: 2}}", "start.uniform.high", "finite"),
    ("start.point=[1, .nan]", "start.point", "finite"),
    # sizes of problems, refused before the start vector is allocated
    ("problem={function: nowhere.py:f, dim: 1000000000}", "problem.dim", "OPTKIT_MAX_DIM"),
    ("problem={function: nowhere.py:f, dim: 0}", "problem.dim", "1"),
    ("problem={name: rosenbrock, dim: 1000000000}", "problem.dim", "OPTKIT_MAX_DIM"),
    ("problem={name: styblinski_tang, dim: 100000000000}", "problem.dim", "OPTKIT_MAX_DIM"),
    ("problem={name: matrix_factorization, m: 1000000000}", "problem.m", "OPTKIT_MAX_DIM"),
    # method options: counts, lengths, fractions
    ("solver={method: gradient_descent, step_size: -1.0}", "solver.step_size", "positive"),
    ("solver={method: gradient_descent, step_size: 0.0}", "solver.step_size", "positive"),
    ("solver={method: gradient_descent, step_size: .nan}", "solver.step_size", "number"),
    ("solver={method: lbfgs, memory_size: 0}", "solver.memory_size", "at least 1"),
    ("solver={method: lbfgs, memory_size: 3000000000}", "solver.memory_size", "int32"),
    ("solver={method: lbfgs, max_linesearch_steps: -1}", "solver.max_linesearch_steps",
     "at least 1"),
    ("solver={method: newton_cg, max_cg_steps: 10000000000000}", "solver.max_cg_steps",
     "int32"),
    ("solver={method: trust_region, eta: 1.5}", "solver.eta", "[0, 1)"),
    ("solver={method: trust_region, initial_radius: -2.0}", "solver.initial_radius",
     "positive"),
    ("solver={method: trust_region, max_radius: 0.0}", "solver.max_radius", "positive"),
    ("solver.maxiter=10", "solver.maxiter", "unknown option"),
    ("solver.tol=1e-3", "solver.tol", "unknown option"),
    # sections of the wrong shape
    ("stop=5", "stop", "mapping"),
    ("devices=-1", "devices", "greater than or equal to 1"),
    ("devices=[a]", "devices", "valid integer"),
    ("precision=float16", "precision", "float32"),
]


@pytest.mark.parametrize(("override", "key", "detail"), CASES,
                         ids=[case[0][:40] for case in CASES])
def test_bad_value_is_one_line_naming_the_key(tmp_path, override, key, detail):
    code, stderr = invoke("validate", base_config(tmp_path), override)
    assert code == 2, stderr
    one_error(stderr, key, detail)


def test_limits_move_with_their_environment_variable(tmp_path, monkeypatch):
    config = base_config(tmp_path)
    override = "start={uniform: {count: 5000}}"
    assert invoke("validate", config, override)[0] == 0
    monkeypatch.setenv(_limits.MAX_STARTS.env, "1000")
    code, stderr = invoke("validate", config, override)
    assert code == 2
    one_error(stderr, "start.uniform.count", "5,000", "1,000", "OPTKIT_MAX_STARTS")


def test_memory_of_the_starts_is_checked_with_the_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv(_limits.MAX_ARRAY_BYTES.env, str(2**20))
    code, stderr = invoke("validate", base_config(tmp_path),
                          "start={uniform: {count: 100000}}", "record.trajectory=false")
    assert code == 2
    # 100,000 starts × 2 variables × 8 bytes = 1.5 MiB
    one_error(stderr, "start.uniform.count", "1.5 MiB", "OPTKIT_MAX_ARRAY_BYTES")


def test_recorded_trajectories_are_checked_before_the_run(tmp_path):
    code, stderr = invoke("validate", base_config(tmp_path),
                          "start={uniform: {count: 1000000}}", "stop.max_steps=20000000")
    assert code == 2
    one_error(stderr, "record.trajectory", "OPTKIT_MAX_ARRAY_BYTES")


def test_validate_never_draws_the_starts(tmp_path, monkeypatch):
    """Ten million starts are within the limits, and validate counts them without drawing
    them (drawing would take 160 MB and seconds)."""
    import optkit.config._resolution as resolution

    def refuse(*args, **kwargs):
        raise AssertionError("validate drew the starts")

    monkeypatch.setattr(resolution, "make_starts", refuse)
    code, stdout_or_err = invoke("validate", base_config(tmp_path),
                                 "start={uniform: {count: 10000000}}",
                                 "record.trajectory=false")
    assert code == 0, stdout_or_err
