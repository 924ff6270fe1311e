"""The chapter's numbers, as printed by experiments/chapter_*.py, against hand-derived forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

import optkit  # noqa: F401  (float64)
from tests.helpers import load_experiment


def test_first_order_approximation_of_log_sum_exp():
    r = load_experiment("chapter_first_order").main(verbose=False)
    assert r["value"] == pytest.approx(math.log(3), abs=1e-15)
    np.testing.assert_allclose(r["gradient"], [1 / 3, 2 / 3], atol=1e-15)
    assert r["approx"] == pytest.approx(math.log(3) + (1 / 3) * 0.01 + (2 / 3) * (-0.03),
                                        abs=1e-15)
    assert r["true"] == pytest.approx(math.log(math.exp(0.01) + 2 * math.exp(-0.03)), abs=1e-15)
    # the error is the second-order term ½εᵀ(diag(p) − ppᵀ)ε = ½·(2/9)·(0.01 + 0.03)² + O(ε³)
    second = 0.5 * (2 / 9) * 0.04**2
    assert r["second_order_term"] == pytest.approx(second, rel=1e-12)
    assert r["error"] == pytest.approx(second, rel=0.01)
    ratios = r["shrinking_errors"][:-1] / r["shrinking_errors"][1:]
    np.testing.assert_allclose(ratios, 4.0, rtol=0.02)


def test_first_order_prints_the_comparison(capsys):
    load_experiment("chapter_first_order").main()
    out = capsys.readouterr().out
    assert "1.081945622001" in out and "1.082124181896" in out


def test_quartic_critical_points():
    r = load_experiment("chapter_quartic").main(verbose=False)
    points = r["points"]
    assert [p[2] for p in points] == ["minimum", "maximum", "minimum"]
    np.testing.assert_allclose([p[0] for p in points], [-1, 0, 2], atol=1e-12)
    np.testing.assert_allclose([p[1] for p in points], [-5, 0, -32], atol=1e-12)
    # f''(x) = 36x² − 24x − 24
    np.testing.assert_allclose([p[3] for p in points], [36, -24, 72], atol=1e-10)
    assert r["global_minimum"] == pytest.approx(2.0, abs=1e-12)
    assert r["global_minimum_value"] == pytest.approx(-32.0, abs=1e-12)


def chain_rule(w, x, y, z):
    """f and ∂f/∂(w, x, y, z) by the chain rule, in plain Python (no JAX).

    s = w+x+y+z, t = w+x−y−z, a = s², b = t², u = (a+b)², v = (a−b)², f = (u+v)².
    ∂f/∂u = ∂f/∂v = 2(u+v); ∂f/∂a = 2(u+v)(2(a+b) + 2(a−b)) = 8a(u+v);
    ∂f/∂b = 2(u+v)(2(a+b) − 2(a−b)) = 8b(u+v); ∂a/∂(w,x,y,z) = 2s(1,1,1,1);
    ∂b/∂(w,x,y,z) = 2t(1,1,−1,−1).
    """
    s, t = w + x + y + z, w + x - y - z
    a, b = s * s, t * t
    u, v = (a + b) ** 2, (a - b) ** 2
    f = (u + v) ** 2
    fa, fb = 8 * a * (u + v), 8 * b * (u + v)
    dw = fa * 2 * s + fb * 2 * t
    dy = fa * 2 * s - fb * 2 * t
    return f, [dw, dw, dy, dy]


def test_backprop_composed_function():
    module = load_experiment("chapter_backprop")
    r = module.main(verbose=False)
    f, grad = chain_rule(-1.0, 0.0, -2.0, 1.0)
    assert (f, grad) == (1024.0, [-4096.0] * 4)
    assert r["f"] == f
    assert r["intermediates"] == {"a": 4.0, "b": 0.0, "u": 16.0, "v": 16.0, "f": 1024.0}
    assert r["adjoints"] == {"u": 64.0, "v": 64.0, "a": 1024.0, "b": 0.0}
    for name in ("staged_gradient", "reverse", "forward"):
        np.testing.assert_allclose(r[name], grad, rtol=1e-15)
    np.testing.assert_allclose(r["finite_difference"], grad, rtol=1e-8)
    # central differences at steps h and 2h (the second estimates the truncation error)
    assert r["passes"] == {"reverse": 1, "forward": 4, "finite_difference": 16}
    assert r["max_forward_reverse"] == 0.0 and r["ok"]


def test_backprop_at_random_points_against_the_chain_rule():
    """b ≠ 0 away from the chapter's point, so every term of the chain rule counts."""
    module = load_experiment("chapter_backprop")
    rng = np.random.default_rng(0)
    for p in rng.uniform(-1, 1, size=(5, 4)):
        f, grad = chain_rule(*p)
        staged = module.backprop_by_hand(p)
        assert staged["forward"]["f"] == pytest.approx(f, rel=1e-13)
        np.testing.assert_allclose(staged["gradient"], grad, rtol=1e-12)


def test_hessian_quadratic_model():
    r = load_experiment("chapter_hessian").main(verbose=False)
    e = math.exp(-1)
    assert r["value"] == pytest.approx(-e, abs=1e-15)
    np.testing.assert_allclose(r["gradient"], [-e, 0.0], atol=1e-15)
    np.testing.assert_allclose(r["hessian"], [[2 * e, 0], [0, 2 * e]], atol=1e-15)
    x, y = r["points"][:, 0], r["points"][:, 1]
    formula = e * (-1 - (x + 1) + (x + 1) ** 2 + y**2)
    np.testing.assert_allclose(r["model"], formula, atol=1e-12)
    doubled = e * (-1 - (x + 1) + 2 * ((x + 1) ** 2 + y**2))  # the slip without the ½
    assert np.max(np.abs(r["model"] - doubled)) > 0.1
    np.testing.assert_allclose(r["true"], x * np.exp(-x**2 - y**2), atol=1e-15)


@pytest.mark.slow
def test_matrix_calculus_identities():
    r = load_experiment("chapter_matrix_calculus").main(verbose=False)
    assert len(r["errors"]) == 3
    for name, error in r["errors"].items():
        assert error < 1e-12, name
    assert r["two_ax_error"] > 0.1  # (A + Aᵀ)x is not 2Ax for the non-symmetric A


@pytest.mark.slow
def test_exercises():
    r = load_experiment("chapter_exercises").main(verbose=False)
    assert r["norm_grad_error"] < 1e-15
    # JAX at v = 0: √′(0)·0 = ∞·0 = NaN; the safe norm gives 0, inside the unit ball
    assert np.all(np.isnan(r["norm_grad_at_zero"]))
    np.testing.assert_array_equal(r["safe_norm_grad_at_zero"], 0.0)
    assert r["softmax_sum_error"] < 1e-15
    [(point, kind)] = r["cubic_points"]
    assert kind == "degenerate" and np.max(np.abs(point)) < 1e-12
    np.testing.assert_allclose(r["cubic_diagonal"], [2 * (-0.1) ** 3, 2 * 0.1**3], rtol=1e-12)
    assert r["cubic_diagonal"][0] < 0 < r["cubic_diagonal"][1]
    assert r["sum_converged"]
    assert r["gradient_balance"] < 1e-12
    np.testing.assert_allclose(r["grad_g"], -r["grad_h"], atol=1e-12)
    assert abs(np.sum(r["grad_g"]) - 1) < 1e-12  # ∇g is a softmax: so Σ(c − x*) = 1
    np.testing.assert_allclose(np.sum(np.array([1.0, -2.0, 0.5]) - r["sum_minimizer"]), 1.0,
                               atol=1e-12)
