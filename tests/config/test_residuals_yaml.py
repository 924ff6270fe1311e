"""YAML: problem.residuals (expressions or a user function) with gauss_newton /
levenberg_marquardt, and optax optimisers by name (solver: {method: optax, optimizer: ...}).

The end-to-end run goes through ``optkit run`` in-process and checks the fit against the
normal equations of the (linear) problem; the rest resolve configs only (nothing compiles)
and check that every error is one line naming its key.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from optkit.cli import app
from optkit.config import ConfigError, resolve
from optkit.solvers import SumOfSquares

# y ≈ p·t + q at t = 0, 1, 2, 3: residuals p·tᵢ + q − yᵢ (a linear least-squares problem)
T = np.array([0.0, 1.0, 2.0, 3.0])
Y = np.array([1.1, 2.9, 5.2, 6.8])
RESIDUALS = [f"p*{t} + q - {y}" for t, y in zip(T, Y, strict=True)]


def config(**sections) -> dict:
    data = {"problem": {"residuals": RESIDUALS, "variables": ["p", "q"]},
            "solver": {"method": "gauss_newton"}}
    data.update(sections)
    return data


@pytest.mark.slow
def test_optkit_run_fits_residual_expressions(tmp_path: Path) -> None:
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config(start={"point": [0.0, 0.0]},
                                          stop={"max_steps": 20})))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "runs"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    design = np.stack([T, np.ones_like(T)], axis=1)
    exact = np.linalg.lstsq(design, Y, rcond=None)[0]
    best = summary["best"]
    np.testing.assert_allclose(best["x"], exact, rtol=1e-10)
    np.testing.assert_allclose(best["value"], 0.5 * np.sum((design @ exact - Y) ** 2),
                               rtol=1e-10)
    assert best["status"] == "CONVERGED" and best["num_steps"] == 1


def test_residuals_problem_is_half_the_squared_norm() -> None:
    resolved = resolve(config())
    fun = resolved.problem.fun
    assert isinstance(fun, SumOfSquares)
    x = np.array([0.7, -0.2])
    r = T * x[0] + x[1] - Y
    assert float(fun(x)) == pytest.approx(0.5 * np.sum(r**2), rel=1e-14)
    assert resolved.config.solver.method == "gauss_newton"


def test_residual_function_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "model.py").write_text(
        "import jax.numpy as jnp\n\ndef residuals(x):\n    return jnp.stack([x[0] - 1.0, "
        "10.0 * (x[1] - x[0] ** 2)])\n\ndef scalar(x):\n    return jnp.sum(x)\n")
    spec = {"problem": {"residuals": "model.py:residuals", "dim": 2},
            "solver": {"method": "levenberg_marquardt"}}
    resolved = resolve(spec, base_dir=tmp_path)
    assert float(resolved.problem.fun(np.array([1.0, 1.0]))) == 0.0
    assert resolved.config.problem.residuals == f"{tmp_path / 'model.py'}:residuals"
    bad = {**spec, "problem": {"residuals": "model.py:scalar", "dim": 2}}
    with pytest.raises(ConfigError) as err:
        resolve(bad, base_dir=tmp_path)
    assert err.value.problems[0].startswith("problem.residuals: ")
    assert "must return a float vector" in err.value.problems[0]


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"problem": {"residuals": ["p - 1", "q +* 2"], "variables": ["p", "q"]}},
         "problem.residuals[1]"),
        ({"problem": {"residuals": ["p - 1"]}}, "problem.variables"),
        ({"problem": {"residuals": "model.py:r"}}, "problem.dim"),
        ({"problem": {"expression": "p**2 + q**2", "variables": ["p", "q"]},
          "solver": {"method": "levenberg_marquardt"}}, "solver.method"),
    ],
)
def test_residual_config_errors_name_their_key(override: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(config(**override))
    assert len(err.value.problems) == 1
    line = err.value.problems[0]
    assert line.startswith(key + ":") and "\n" not in line, line


def adam(**solver) -> dict:
    return {"problem": {"name": "rosenbrock"},
            "solver": {"method": "optax", "optimizer": "adam", "learning_rate": 1e-3, **solver}}


def test_optax_optimizer_by_name_resolves() -> None:
    resolved = resolve(adam(b1=0.8, nesterov=True))
    options = resolved.config.solver.options
    assert options == {"optimizer": "adam", "learning_rate": 1e-3, "b1": 0.8, "nesterov": True}


@pytest.mark.parametrize(
    ("solver", "key", "words"),
    [
        ({"optimizer": "Adam"}, "solver.optimizer", "did you mean 'adam'"),
        ({"optimizer": "eval"}, "solver.optimizer", "unknown optax optimizer 'eval'"),
        ({"lr": 0.1}, "solver.lr", "did you mean 'learning_rate'"),
        ({"beta1": 0.9}, "solver.beta1", "optax.adam has no argument 'beta1'"),
        ({"learning_rate": None}, "solver.learning_rate", "optax.adam needs learning_rate"),
        ({"learning_rate": [0.1]}, "solver.learning_rate", "expected a number"),
    ],
)
def test_optax_errors_name_the_key(solver: dict, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(adam(**solver))
    (line,) = err.value.problems
    assert line.startswith(key + ":") and words in line, line
