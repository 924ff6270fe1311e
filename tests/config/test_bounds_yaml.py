"""YAML problem.bounds: box constraints from a config, checked at resolution and solved by the
bounded methods; the end point reported as a KKT point (active bounds and multipliers).

The run is Rosenbrock on [−1.5, 0.5]²: its unconstrained minimum (1, 1) is outside, and the
solution is x* = (0.5, 0.25) on the bound x = 0.5 with f* = 0.25. There ∂f/∂y = 0 and
∂f/∂x = −2(1 − x) − 400x(y − x²) = −1, so the upper bound on x holds with multiplier 1, and the
reduced Hessian (the y–y entry) is 200.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optkit.cli import app
from optkit.config import ConfigError, resolve

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def config(**problem) -> dict:
    return {"problem": {"name": "rosenbrock", "bounds": {"lower": -1.5, "upper": 0.5},
                        **problem},
            "solver": {"method": "newton"}}


def problems_of(data: dict, *overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        resolve(data, overrides)
    assert str(info.value).splitlines() == info.value.problems
    return info.value.problems


def test_bounds_resolve_with_the_bounded_method_options() -> None:
    resolved = resolve(config(), ["problem.bounds.upper=[.inf, 0.5]"])
    assert resolved.config.problem.bounds.upper == [float("inf"), 0.5]
    # the bounded Newton's options, not the line-search Newton's
    assert "active_tol" in resolved.config.solver.options
    assert "line_search" not in resolved.config.solver.options


@pytest.mark.parametrize(("override", "expected"), [
    ("problem.bounds.lower=[0, 0, 0]",
     "problem.bounds.lower: has 3 entries but the problem has dimension 2 (give 1 number or 2)"),
    ("problem.bounds.lower=1",
     "problem.bounds: needs lower ≤ upper in every coordinate (got lower=[1.0], upper=[0.5])"),
    ("solver.method=bfgs",
     "solver.method: method 'bfgs' does not take problem.bounds; methods with bounds: "
     "gradient_descent, newton, lbfgs"),
])
def test_bad_bounds_are_one_line_naming_the_key(override: str, expected: str) -> None:
    assert problems_of(config(), override) == [expected]


def test_nan_bound_is_refused() -> None:
    (problem,) = problems_of(config(), "problem.bounds.upper=.nan")
    assert problem.startswith("problem.bounds.upper") and "NaN" in problem


@pytest.mark.slow
def test_bounded_run_ends_at_the_kkt_point(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(CONFIGS / "bounded.yaml"), "--out",
                                      str(tmp_path), "--quiet", "start.uniform.count=4"])
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    points = json.loads((run / "critical_points.json").read_text())["points"]
    (point,) = points
    np.testing.assert_allclose(point["x"], [0.5, 0.25], atol=1e-10)
    assert point["value"] == pytest.approx(0.25, abs=1e-12)
    assert point["kind"] == "minimum"
    assert point["active"] == [1, 0]
    np.testing.assert_allclose(point["multipliers"], [1.0, 0.0], atol=1e-8)
    assert point["eigenvalues"][0] == pytest.approx(200.0, rel=1e-8)
