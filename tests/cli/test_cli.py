"""The `optkit` command line end to end, as a user drives it (typer's runner + one subprocess)."""

from __future__ import annotations

import inspect
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import optkit
from optkit.cli import app
from optkit.storage import INCOMPLETE, load_run
from tests.helpers import CONFIGS

ROSENBROCK_START = (-1.2, 1.0)


def make_runner(**kwargs) -> CliRunner:
    """A runner that keeps stderr apart (click 8.1, under typer < 0.16, mixes it in unless
    told not to)."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        kwargs["mix_stderr"] = False
    return CliRunner(**kwargs)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One persistent compilation cache for the module, never the user's own."""
    return tmp_path_factory.mktemp("jax-cache")


@pytest.fixture()
def cli(cache_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Invoke ``optkit ARGS`` in tmp_path; returns the typer Result."""
    monkeypatch.setenv("OPTKIT_CACHE_DIR", str(cache_dir))
    monkeypatch.chdir(tmp_path)
    runner = make_runner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(scope="module")
def newton_run(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``optkit run configs/newton.yaml --out DIR`` once for the module: (run dir, stdout)."""
    out = tmp_path_factory.mktemp("runs")
    env = {"OPTKIT_CACHE_DIR": str(cache_dir)}
    result = make_runner(env=env).invoke(app, ["run", str(CONFIGS / "newton.yaml"), "--out",
                                             str(out)])
    assert result.exit_code == 0, result.output
    (path,) = out.iterdir()
    return path, result.stdout


def rosenbrock(x: np.ndarray) -> float:
    return float(100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2)


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


@pytest.mark.slow
def test_newton_config_writes_the_documented_run_directory(newton_run):
    path, stdout = newton_run
    assert path.name.endswith("-rosenbrock-newton")
    assert {"config.yaml", "summary.json", "trajectories.npz",
            "critical_points.json"} <= {p.name for p in path.iterdir()}
    assert not (path / INCOMPLETE).exists()
    assert "CONVERGED" in stdout and "minimum" in stdout

    summary = json.loads((path / "summary.json").read_text())
    best = summary["best"]
    assert best["status"] == "CONVERGED" and best["kind"] == "minimum"
    np.testing.assert_allclose(best["x"], [1.0, 1.0], atol=1e-8)  # Rosenbrock's minimiser
    assert best["value"] < 1e-16 and best["grad_norm"] <= 1e-10
    assert summary["status_counts"]["CONVERGED"] == 1 and summary["kind_counts"]["minimum"] == 1
    assert summary["optkit_version"] == optkit.__version__
    assert summary["jax_version"] == jax.__version__
    assert summary["device"]["platform"] == jax.devices()[0].platform
    assert summary["precision"] == "float64" and summary["num_starts"] == 1
    assert {"compile_seconds", "solve_seconds"} <= set(summary["timings"])

    with np.load(path / "trajectories.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    steps = int(arrays["num_steps"][0])
    assert steps == best["num_steps"] and 0 < steps < 100
    assert arrays["x"].shape == (1, steps + 1, 2)
    assert arrays["value"].shape == arrays["grad_norm"].shape == (1, steps + 1)
    assert arrays["num_steps"].shape == arrays["status"].shape == (1,)
    assert arrays["status"][0] == optkit.Status.CONVERGED
    np.testing.assert_array_equal(arrays["x"][0, 0], ROSENBROCK_START)
    assert arrays["value"][0, 0] == pytest.approx(24.2)  # f(−1.2, 1) = 4.84 + 19.36
    # every recorded row is an iterate: its value is f at its x
    recorded = [rosenbrock(x) for x in arrays["x"][0]]
    np.testing.assert_allclose(arrays["value"][0], recorded, rtol=1e-12, atol=1e-15)
    # the last steps are full Newton steps (t = 1) and converge quadratically:
    # ‖∇f(x_{k+1})‖ ≤ C·‖∇f(x_k)‖² with a modest C (it is about 43 and 2.4 here)
    g = arrays["grad_norm"][0]
    np.testing.assert_array_equal(arrays["step_size"][0, -3:], 1.0)
    assert g[-1] <= 1e-10 and g[-3] < 1e-3
    assert g[-2] <= 100 * g[-3] ** 2 and g[-1] <= 100 * g[-2] ** 2
    # Newton's aux arrays come along
    assert arrays["aux_min_eigenvalue"].shape == (1, steps + 1)


@pytest.mark.slow
def test_newton_run_is_shown_and_loaded_back(newton_run, cli):
    path, _ = newton_run
    result = cli("show", path)
    assert result.exit_code == 0, result.output
    assert "rosenbrock" in result.stdout and "CONVERGED" in result.stdout
    assert "minimum" in result.stdout

    run = optkit.load_run(path) if hasattr(optkit, "load_run") else load_run(path)
    saved = yaml.safe_load((path / "config.yaml").read_text())
    assert run.config == saved and run.config["stop"]["max_steps"] == 100
    assert run.summary["best"]["kind"] == "minimum"
    assert run.trajectories["x"].shape[-1] == 2
    assert [p["kind"] for p in run.critical_points] == ["minimum"]
    assert run.critical_points[0]["known"] == "minimum"


@pytest.mark.slow
def test_resaved_config_reproduces_the_run(newton_run, cli, tmp_path):
    path, _ = newton_run
    result = cli("run", path / "config.yaml", "--out", tmp_path / "again", "--quiet")
    assert result.exit_code == 0, result.output
    again = load_run(result.stdout.strip())
    first = load_run(path)
    np.testing.assert_array_equal(again.trajectories["x"], first.trajectories["x"])
    assert again.config == first.config | {"output": {**first.config["output"],
                                                      "dir": str(tmp_path / "again")}}


@pytest.mark.slow
def test_max_steps_override_stops_early(cli, tmp_path):
    result = cli("run", CONFIGS / "newton.yaml", "stop.max_steps=2", "--out", tmp_path, "-q")
    # no start converged: exit 1, with the run directory written and named
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: no start converged (MAX_STEPS 1)")
    run = load_run(result.stdout.strip())
    assert run.summary["best"]["status"] == "MAX_STEPS"
    assert run.summary["status_counts"]["MAX_STEPS"] == 1
    assert run.trajectories["num_steps"].tolist() == [2]
    assert run.trajectories["x"].shape == (1, 3, 2)
    assert run.config["stop"]["max_steps"] == 2


@pytest.mark.slow
def test_quiet_prints_only_the_run_directory(cli, tmp_path):
    result = cli("run", CONFIGS / "newton.yaml", "stop.max_steps=2", "--out", tmp_path,
                 "--quiet")
    assert result.exit_code == 1  # no start converged; the path is still printed
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and Path(lines[0]).is_dir() and Path(lines[0]).parent == tmp_path


def test_misspelt_key_is_one_line_with_a_suggestion(cli, tmp_path):
    result = cli("run", CONFIGS / "newton.yaml", "stop.maxsteps=3", "--out", tmp_path)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert line.startswith("error: ") and "stop.maxsteps" in line
    assert "did you mean 'stop.max_steps'?" in line
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())


def test_missing_config_file_is_one_line(cli, tmp_path):
    result = cli("run", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "nope.yaml" in line and "no such config file" in line
    assert "Traceback" not in result.output


def test_every_problem_is_reported_at_once(cli):
    result = cli("validate", CONFIGS / "newton.yaml", "stop.maxsteps=3", "precision=float16",
                 "start.point=[1, 2, 3]", "solver.regularisation=levenberg")
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 4 and all(line.startswith("error: ") for line in lines)
    text = "\n".join(lines)
    for key in ("stop.maxsteps", "precision", "start.point", "solver.regularisation"):
        assert f": {key}: " in text
    assert "did you mean 'solver.regularization'?" in text
    assert "dimension 2" in text


def test_injected_expression_is_refused_and_runs_nothing(cli, tmp_path):
    expression = ("problem={expression: \"__import__('os').system('touch pwned')\", "
                  "variables: [x, y]}")
    result = cli("run", CONFIGS / "newton.yaml", expression, "--out", tmp_path / "runs")
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "problem.expression" in line
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_expression_problem_runs(cli, tmp_path):
    expression = "problem={expression: 'log(exp(x) + exp(y))', variables: [x, y]}"
    # solver.method=... alone keeps newton.yaml's Newton-only options: refused, naming them
    result = cli("run", CONFIGS / "newton.yaml", expression, "solver.method=gradient_descent",
                 "--out", tmp_path, "-q")
    assert result.exit_code == 2 and "solver.regularization: unknown option" in result.stderr
    result = cli("run", CONFIGS / "newton.yaml", expression, "start.point=[1.0, -1.0]",
                 "stop.max_steps=5", "solver={method: gradient_descent}", "--out", tmp_path,
                 "-q")
    assert result.exit_code == 1, result.output  # no start converged (none can)
    run = load_run(result.stdout.strip())
    # log-sum-exp has no critical point: ∇f = softmax(x, y) has norm ≥ 1/√2
    assert run.summary["best"]["kind"] == "not_critical"
    assert run.summary["best"]["status"] == "MAX_STEPS"
    assert np.all(run.trajectories["grad_norm"] >= 1 / math.sqrt(2) - 1e-12)
    x = run.trajectories["x"][0]
    np.testing.assert_allclose(run.trajectories["value"][0], np.logaddexp(x[:, 0], x[:, 1]))
    assert np.all(np.diff(run.trajectories["value"][0]) < 0)  # Armijo: every step goes down


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_validates_and_documents_itself(cli, config):
    result = cli("validate", config)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: ")
    head = config.read_text().splitlines()
    assert head[0].startswith("# ")
    assert f"# Run: optkit run configs/{config.name}" in head


def test_required_configs_exist():
    names = {p.name for p in CONFIGS.glob("*.yaml")}
    assert {"newton.yaml", "gradient_descent.yaml", "multistart.yaml", "log_sum_exp.yaml",
            "quartic.yaml", "gaussian_bump.yaml", "cubic_saddle.yaml",
            "matrix_factorization.yaml"} <= names


def test_validate_resolved_prints_every_default(cli):
    result = cli("validate", CONFIGS / "newton.yaml", "--resolved")
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    assert data["solver"] == {"method": "newton", "line_search": "backtracking",
                              "regularization": "eigen", "escape_length": 1.0}
    assert data["stop"] == {"grad_tol": 1e-10, "rel_grad_tol": 0.0, "x_tol": 0.0, "f_tol": 0.0,
                            "max_steps": 100}


def test_problems_lists_the_registry(cli):
    result = cli("problems")
    assert result.exit_code == 0
    for name in optkit.problems.names():
        assert name in result.stdout
    himmelblau = next(line for line in result.stdout.splitlines() if "himmelblau" in line)
    assert "4 minimum" in himmelblau and "4 saddle" in himmelblau and "1 maximum" in himmelblau


def test_show_refuses_an_incomplete_directory(cli, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / INCOMPLETE).write_text("")
    result = cli("show", tmp_path / "broken")
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "broken" in line and "incomplete" in line


@pytest.mark.slow
def test_critical_command_writes_the_atlas(cli, tmp_path):
    result = cli("critical", CONFIGS / "quartic.yaml", "analysis.num_starts=32", "--out",
                 tmp_path)
    assert result.exit_code == 0, result.output
    assert "maximum" in result.stdout
    (path,) = tmp_path.iterdir()
    run = load_run(path)
    # 3x⁴ − 4x³ − 12x²: f′ = 12x(x + 1)(x − 2)
    found = sorted((round(p["x"][0], 6), p["kind"]) for p in run.critical_points)
    assert found == [(-1.0, "minimum"), (0.0, "maximum"), (2.0, "minimum")]
    assert run.summary["kind_counts"] == {"minimum": 2, "maximum": 1, "saddle": 0,
                                          "degenerate": 0, "not_critical": 0, "flat": 0}


def test_unavailable_device_is_bad_input(cli, tmp_path):
    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("this machine has a GPU")
    result = cli("run", CONFIGS / "newton.yaml", "device=gpu", "--out", tmp_path)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "device" in line and "GPU" in line
    assert not list(tmp_path.iterdir())


def test_a_trajectory_too_large_to_record_is_refused_before_compiling(cli, tmp_path):
    result = cli("run", CONFIGS / "multistart.yaml", "start.uniform.count=100000",
                 "stop.max_steps=5000", "--out", tmp_path)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert "record.trajectory" in line and "GiB" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_a_failing_solve_exits_1_and_debug_shows_the_traceback(cli, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(optkit.BatchSolve, "start", broken)
    result = cli("run", CONFIGS / "newton.yaml", "--out", tmp_path)
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "run failed" in line and "solver exploded" in line
    (path,) = tmp_path.iterdir()
    assert (path / INCOMPLETE).exists()  # marked, so load_run refuses it
    result = cli("run", CONFIGS / "newton.yaml", "--out", tmp_path, "--debug")
    assert result.exit_code == 1 and "Traceback" in result.stderr


@pytest.mark.parametrize("command", ["run", "validate", "show", "problems", "critical", "plot"])
def test_every_command_has_help_with_an_example(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout


@pytest.mark.slow
def test_installed_console_script(newton_run, cache_dir, tmp_path):
    script = shutil.which("optkit", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the optkit console script is not installed next to this Python")
    env = {**os.environ, "OPTKIT_CACHE_DIR": str(cache_dir), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run([script, "run", str(CONFIGS / "newton.yaml"), "--out",
                           str(tmp_path), "-q"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    # a fresh process (reading the compiled program from the persistent cache) gives the
    # same iterates as the in-process run
    again, first = load_run(done.stdout.strip()), load_run(newton_run[0])
    np.testing.assert_array_equal(again.trajectories["x"], first.trajectories["x"])
    assert again.summary["best"] == first.summary["best"]

    done = subprocess.run([script, "validate", str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
