"""check_derivatives: three ways to a gradient, and what each one catches."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit  # noqa: F401  (float64)
from optkit.analysis.derivatives import check_derivatives


def rosenbrock(v):
    return jnp.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)


def rosenbrock_grad(v):
    """Closed form: ∂/∂vᵢ of Σ 100(vᵢ₊₁ − vᵢ²)² + (1 − vᵢ)²."""
    g = np.zeros_like(v)
    g[:-1] += -400 * v[:-1] * (v[1:] - v[:-1] ** 2) - 2 * (1 - v[:-1])
    g[1:] += 200 * (v[1:] - v[:-1] ** 2)
    return g


def test_three_methods_agree_with_the_closed_form():
    x = np.array([-1.2, 1.0, 0.5, 2.0, -0.3])
    report = check_derivatives(rosenbrock, x)
    expected = rosenbrock_grad(x)
    np.testing.assert_allclose(report.reverse, expected, rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(report.forward, expected, rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(report.finite_difference, expected, rtol=1e-7)
    assert report.passes == {"reverse": 1, "forward": 5, "finite_difference": 20}
    assert report.max_forward_reverse <= report.ad_tol
    assert report.max_reverse_fd <= report.fd_tol
    assert report.hessian_asymmetry <= 1e-12 and report.ok
    np.testing.assert_allclose(report.fd_step, 6.055454e-6 * np.maximum(1, np.abs(x)),
                               rtol=1e-6)
    assert report.value == pytest.approx(float(rosenbrock(x)))


@jax.custom_jvp
def buggy_sin(x):
    return jnp.sin(x)


@buggy_sin.defjvp
def _buggy_sin_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return jnp.sin(x), 2 * jnp.cos(x) * t  # wrong: the derivative of sin is cos


def test_buggy_custom_jvp_is_caught_by_finite_differences():
    """Both autodiff modes use the same (wrong) rule and agree; only FD disagrees."""
    x = jnp.array([0.3, 1.0, -2.0])
    report = check_derivatives(lambda v: jnp.sum(buggy_sin(v)) + v[0] ** 2, x)
    assert not report.ok
    np.testing.assert_allclose(report.reverse, 2 * np.cos(x) + [0.6, 0, 0], rtol=1e-14)
    assert report.max_forward_reverse <= report.ad_tol
    np.testing.assert_allclose(report.finite_difference, np.cos(x) + [0.6, 0, 0], rtol=1e-8)
    assert report.max_reverse_fd == pytest.approx(np.max(np.abs(np.cos(x))), rel=1e-8)
    assert report.worst_coordinate == int(np.argmax(np.abs(np.cos(x))))
    assert "DERIVATIVES DISAGREE" in str(report)


@jax.custom_jvp
def not_a_gradient(v):
    return v[0] * v[1]


@not_a_gradient.defjvp
def _not_a_gradient_jvp(primals, tangents):
    (v,), (t,) = primals, tangents
    # claims ∇ = (v₁, 2v₀): not the gradient of any function (∂²/∂x∂y ≠ ∂²/∂y∂x)
    return v[0] * v[1], v[1] * t[0] + 2 * v[0] * t[1]


def test_asymmetric_hessian_is_reported():
    report = check_derivatives(not_a_gradient, jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(report.hessian, [[0, 1], [2, 0]])
    assert report.hessian_asymmetry == pytest.approx(1.0)
    assert not report.hessian_symmetric and not report.ok


@jax.custom_vjp
def reverse_only(x):
    return jnp.sin(x)


reverse_only.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (jnp.cos(x) * g,))


def test_custom_vjp_has_no_forward_mode():
    x = jnp.array([0.3, 1.0])
    report = check_derivatives(lambda v: jnp.sum(reverse_only(v)), x)
    assert report.forward is None and "forward" in report.forward_error
    assert report.passes["forward"] == 0
    np.testing.assert_allclose(report.reverse, np.cos(x), rtol=1e-14)
    assert report.ok
    assert "unavailable" in str(report)


def test_pytree_point():
    params = {"w": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "b": 3}
    report = check_derivatives(lambda p: jnp.sum(p["w"] ** 2) * p["b"], params)
    # ravel order: "b" then "w" (sorted keys)
    np.testing.assert_allclose(report.reverse, [30.0, 6.0, 12.0, 18.0, 24.0], rtol=1e-14)
    assert report.passes == {"reverse": 1, "forward": 5, "finite_difference": 20}
    assert report.ok


def test_float32():
    x = np.array([0.5, -0.25], dtype=np.float32)
    report = check_derivatives(lambda v: jnp.sum(jnp.exp(v) * jnp.sin(v)), x)
    expected = np.exp(x) * (np.sin(x) + np.cos(x))
    np.testing.assert_allclose(report.reverse, expected, rtol=1e-6)
    np.testing.assert_allclose(report.finite_difference, expected, rtol=1e-3)
    assert report.ad_tol > 1e-5 and report.ok


def test_report_table():
    report = check_derivatives(rosenbrock, np.linspace(-1, 1, 25))
    text = str(report)
    assert "1 backward pass (all 25 partials)" in text
    assert "25 JVP passes" in text and "100 evaluations of f" in text
    assert "... " in text  # 25 coordinates: the table is cut at 20 rows


def test_bad_input():
    with pytest.raises(ValueError, match="eps"):
        check_derivatives(rosenbrock, np.ones(3), eps=-1.0)
    with pytest.raises(ValueError, match="scalar"):
        check_derivatives(lambda v: v**2, np.ones(3))
    with pytest.raises(ValueError, match="no entries"):
        check_derivatives(lambda v: 0.0, {})


def test_checking_again_at_another_point_does_not_recompile():
    from optkit.analysis.derivatives import _directional, _reverse_shifted_hessian

    def cubic(x):
        return x[0] ** 3 + x[0] * x[1] ** 2

    check_derivatives(cubic, jnp.array([0.5, -1.0]))
    sizes = (_reverse_shifted_hessian._cache_size(), _directional._cache_size())
    report = check_derivatives(cubic, [2.0, 3.0])
    assert (_reverse_shifted_hessian._cache_size(), _directional._cache_size()) == sizes
    # ∇f = (3x₀² + x₁², 2x₀x₁) = (21, 12); ∇²f = [[6x₀, 2x₁], [2x₁, 2x₀]]
    np.testing.assert_allclose(report.reverse, [21.0, 12.0], rtol=1e-15)
    np.testing.assert_allclose(report.forward, [21.0, 12.0], rtol=1e-15)
    np.testing.assert_allclose(report.hessian, [[12.0, 6.0], [6.0, 4.0]], rtol=1e-15)


def test_large_third_derivatives_are_not_reported_as_wrong_gradients():
    # Rosenbrock at its minimum: ∇f = 0 exactly, but ∂³f/∂x₀³ = 2400, so the central
    # difference with h = ε^(1/3) is off by h²·2400/6 ≈ 1.5e-8, above 100·ε^(2/3)
    def rosenbrock(x):
        return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2

    report = check_derivatives(rosenbrock, jnp.array([1.0, 1.0]))
    h = np.finfo(np.float64).eps ** (1.0 / 3.0)
    np.testing.assert_allclose(report.finite_difference[0], h**2 * 2400.0 / 6.0, rtol=1e-3)
    assert report.max_reverse_fd > 100 * np.finfo(np.float64).eps ** (2.0 / 3.0)
    assert report.ok


def test_a_shifted_point_outside_the_domain_keeps_the_tolerance_a_number():
    # log at 1e-7: x − h < 0, so the central difference of coordinate 0 is NaN and fails;
    # coordinate 1 (x = 1) still has its truncation estimate
    report = check_derivatives(lambda x: jnp.sum(jnp.log(x)), jnp.array([1e-7, 1.0]))
    assert np.isnan(report.finite_difference[0]) and np.isfinite(report.fd_tol)
    np.testing.assert_allclose(report.finite_difference[1], 1.0, rtol=1e-9)
    assert not report.ok and "DERIVATIVES DISAGREE" in str(report)
