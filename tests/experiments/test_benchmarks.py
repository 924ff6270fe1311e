"""experiments/benchmarks/suite.py at tiny sizes: its independent derivatives, its verifier,
its skip rules, one real row end to end, and the README generator."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import jit, load_experiment

suite = load_experiment("benchmarks/suite")
W = suite._workloads
P = suite._peers


def _central_differences(fun, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """∂fun/∂xᵢ ≈ (fun(x + heᵢ) − fun(x − heᵢ)) / 2h, stacked along the last axis."""
    eye = np.eye(x.size)
    return np.stack([(fun(x + h * e) - fun(x - h * e)) / (2 * h) for e in eye], axis=-1)


def test_numpy_functions_are_the_jax_ones_and_their_derivatives():
    # the verifier's f and ∇f are hand-written numpy: f must be the function the solvers get
    # (compared with the JAX f, one evaluation) and ∇f (and W1's Hessian) its derivative
    rng = np.random.default_rng(1)
    workloads = W.suite(quick=True)
    points = [(w.x0[0] if w.batch else w.x0) + 0.3 * rng.standard_normal(w.n) for w in workloads]
    # one program for every JAX f (op-by-op dispatch would compile each operation apart)
    every_f = jit(lambda xs, args: [
        w.fun(x, *a) for w, x, a in zip(workloads, xs, args, strict=True)])
    f_jax = every_f(points, [w.args for w in workloads])
    for w, x, f_j in zip(workloads, points, f_jax, strict=True):
        f_np = w.value_np(x, *w.args_np)
        np.testing.assert_allclose(f_np, f_j, rtol=1e-12, err_msg=w.name)
        fd = _central_differences(lambda z, w=w: w.value_np(z, *w.args_np), x)
        np.testing.assert_allclose(w.grad_np(x, *w.args_np), fd,
                                   rtol=1e-6, atol=1e-6 * max(1.0, abs(float(f_np))),
                                   err_msg=w.name)
        if w.hess_np is not None:
            fd = _central_differences(lambda z, w=w: w.grad_np(z, *w.args_np), x)
            np.testing.assert_allclose(w.hess_np(x, *w.args_np), fd, rtol=1e-6, atol=1e-5)


def _double_well() -> W.Workload:
    """f = (x² − 1)² + x/10: two minima, the one near x = −1 lower."""
    def fun(x):
        return jnp.sum((x**2 - 1) ** 2 + 0.1 * x)

    return W.Workload("double well", "test", fun, np.zeros(1),
                      lambda x: np.sum((x**2 - 1) ** 2 + 0.1 * x, axis=-1),
                      lambda x: 4 * x**3 - 4 * x + 0.1)


def test_verifier_rejects_a_higher_minimum_and_a_large_gradient():
    w = _double_well()
    roots = np.sort(np.roots([4.0, 0.0, -4.0, 0.1]).real)  # f′ = 4x³ − 4x + 1/10
    low, high = roots[0], roots[2]  # the two minima (roots[1] is the maximum)
    rows = [{"starts": 1} for _ in range(3)]
    suite.check_answers(w, rows, {0: np.array([low]), 1: np.array([high]),
                                  2: np.array([0.5])})
    assert rows[0]["verified"] and rows[0]["grad_norm"] <= 1e-12
    assert not rows[1]["verified"] and "f above" in rows[1]["why"]
    assert not rows[2]["verified"] and "‖∇f‖" in rows[2]["why"]


def test_rows_that_cannot_run_are_listed_with_their_reason():
    big = W.extended(2 * P.DENSE_MAX + 2)
    dense = next(p for p in P.peers() if p.label == "optkit newton (dense)")
    rows = suite.run_suite([(big, dense)], repeats=1, budget_s=1.0, log=lambda s: None)
    assert rows[0]["status"] == "skipped" and "GiB" in rows[0]["reason"]
    assert "| skipped: forms and factors" in suite.table(rows)[-1]
    # what --quick runs never needs a skip, and every pair is one of the table's rows
    pairs = suite.plan(W.suite(quick=True), P.peers(), only="W1")
    assert pairs and all(w.family == "w1" and p.skip(w) is None for w, p in pairs)


def test_one_row_end_to_end_and_the_readme(tmp_path):
    out = tmp_path / "r"
    rows = suite.main(["--quick", "--only", "W1.*floor", "--repeats", "1", "--out", str(out)])
    (row,) = rows
    assert row["status"] == "ok" and row["verified"] and row["ratio"] == 1.0
    assert row["grad_norm"] <= W.GRAD_TOL and row["solve_s"] > 0 and row["iters"] >= 1
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["meta"]["OPENBLAS_NUM_THREADS"] == "1" and data["rows"][0]["verified"]
    assert "| floor: closed-form 2×2 Newton |" in out.with_suffix(".md").read_text()

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{suite.MARK_START}\nold table\n{suite.MARK_END}\nafter\n")
    with pytest.raises(SystemExit, match="quick"):
        suite.update_readme(out.with_suffix(".json"), readme)
    data["meta"]["quick"] = False
    full = tmp_path / "full.json"
    full.write_text(json.dumps(data))
    suite.update_readme(full, readme)
    once = readme.read_text()
    suite.update_readme(full, readme)
    assert readme.read_text() == once  # idempotent
    assert once.startswith("# x\n\nbefore\n") and once.endswith(f"{suite.MARK_END}\nafter\n")
    assert "old table" not in once and "| floor: closed-form 2×2 Newton |" in once
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="needs one"):
        suite.update_readme(full, readme)
