"""optkit.classify against closed-form gradients, Hessians and critical points."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit import Kind
from tests.helpers import himmelblau, himmelblau_hessian, himmelblau_points, jit

# classify compiles one program per function and shape itself (tests below also run it under
# a jit and jax.vmap)
classify = optkit.classify


def bowl(x):
    return x[0] ** 2 + x[1] ** 2


def cap(x):
    return -(x[0] ** 2) - x[1] ** 2


def saddle(x):
    return x[0] ** 2 - x[1] ** 2


def x2y_plus_xy2(x):
    return x[0] ** 2 * x[1] + x[0] * x[1] ** 2


def quartic(x):
    return x[0] ** 4 + x[1] ** 4


def monkey_saddle(x):
    return x[0] ** 3 - 3 * x[0] * x[1] ** 2


def saddle_3d(x):
    return -(x[0] ** 2) - x[1] ** 2 + x[2] ** 2


# name: (function, point, kind, Morse index, Hessian eigenvalues in closed form)
CASES = {
    "bowl": (bowl, [0.0, 0.0], "minimum", 0, [2.0, 2.0]),
    "cap": (cap, [0.0, 0.0], "maximum", 2, [-2.0, -2.0]),
    "saddle": (saddle, [0.0, 0.0], "saddle", 1, [-2.0, 2.0]),
    "saddle_3d": (saddle_3d, [0.0, 0.0, 0.0], "saddle", 2, [-2.0, -2.0, 2.0]),
    # ∇²f(0) = 0 in the next three: second order decides nothing
    "x2y_plus_xy2": (x2y_plus_xy2, [0.0, 0.0], "degenerate", 0, [0.0, 0.0]),
    "quartic": (quartic, [0.0, 0.0], "degenerate", 0, [0.0, 0.0]),
    "monkey_saddle": (monkey_saddle, [0.0, 0.0], "degenerate", 0, [0.0, 0.0]),
    # ∇f(1, 0) = (2, 0) ≠ 0
    "bowl_off_centre": (bowl, [1.0, 0.0], "not_critical", 0, [2.0, 2.0]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_known_points_are_classified(name):
    fun, point, kind, index, eigenvalues = CASES[name]
    cp = classify(fun, jnp.array(point))
    assert cp.kind == kind
    assert int(cp.kind_code) == Kind[kind.upper()]
    assert int(cp.index) == index
    np.testing.assert_allclose(cp.eigenvalues, eigenvalues, atol=1e-12)
    np.testing.assert_allclose(cp.value, fun(np.array(point)), atol=1e-15)
    np.testing.assert_allclose(cp.x, point)


def mixed(x):
    return x[0] ** 2 * x[1] + jnp.sin(x[1]) * x[2] + jnp.exp(x[0] * x[2])


def mixed_hessian(p):
    x, y, z = p
    e = np.exp(x * z)
    return np.array([
        [2 * y + z * z * e, 2 * x, e * (1 + x * z)],
        [2 * x, -np.sin(y) * z, np.cos(y)],
        [e * (1 + x * z), np.cos(y), x * x * e],
    ])


def mixed_grad(p):
    x, y, z = p
    e = np.exp(x * z)
    return np.array([2 * x * y + z * e, x * x + np.cos(y) * z, np.sin(y) + x * e])


def test_eigenvalues_and_gradient_match_closed_form():
    point = np.array([0.3, -0.7, 1.1])
    cp = classify(mixed, jnp.asarray(point))
    np.testing.assert_allclose(cp.eigenvalues, np.linalg.eigvalsh(mixed_hessian(point)),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cp.grad_norm, np.linalg.norm(mixed_grad(point)), rtol=1e-12)
    assert cp.kind == "not_critical"


def test_himmelblau_critical_points_vmapped():
    pts = himmelblau_points()
    points = np.concatenate([pts["minimum"], pts["saddle"], pts["maximum"]])
    cps = jit(jax.vmap(lambda p: optkit.classify(himmelblau, p)))(jnp.asarray(points))
    expected = [Kind.MINIMUM] * 4 + [Kind.SADDLE] * 4 + [Kind.MAXIMUM]
    np.testing.assert_array_equal(cps.kind_code, expected)
    np.testing.assert_array_equal(cps.kind, [Kind(k).label for k in expected])
    np.testing.assert_array_equal(cps.index, [0] * 4 + [1] * 4 + [2])
    closed_form = np.array([np.linalg.eigvalsh(himmelblau_hessian(p)) for p in points])
    np.testing.assert_allclose(cps.eigenvalues, closed_form, rtol=1e-10)


def test_pytree_point():
    # f = (w₀ − 1)² + 2w₁² − (s − 3)²: critical at w = (1, 0), s = 3 with Hessian
    # diag(2, 4, −2) in the variables (w₀, w₁, s)
    def fun(p):
        return (p["w"][0] - 1) ** 2 + 2 * p["w"][1] ** 2 - (p["s"] - 3) ** 2

    point = {"s": jnp.asarray(3.0), "w": jnp.array([1.0, 0.0])}
    cp = classify(fun, point)
    assert cp.kind == "saddle" and int(cp.index) == 1
    np.testing.assert_allclose(cp.eigenvalues, [-2.0, 2.0, 4.0], atol=1e-12)
    assert jax.tree.structure(cp.x) == jax.tree.structure(point)
    np.testing.assert_array_equal(cp.x["w"], point["w"])


def lifted_bowl(x):
    return x[0] ** 2 + x[1] ** 2 + 100.0


@pytest.mark.parametrize("fun, scale", [(bowl, 1.0), (lifted_bowl, 100.0)])
def test_default_gradient_tolerance_is_sqrt_epsilon_times_value(fun, scale):
    # documented default grad_tol = √ε·max(1, |f|); at (δ, 0) the gradient norm is 2δ
    grad_tol = np.sqrt(np.finfo(np.float64).eps) * scale
    inside = classify(fun, jnp.array([0.4 * grad_tol, 0.0]))
    outside = classify(fun, jnp.array([0.6 * grad_tol, 0.0]))
    assert inside.kind == "minimum" and outside.kind == "not_critical"
    np.testing.assert_allclose(inside.grad_tol, grad_tol, rtol=1e-6)


def test_explicit_tolerances_are_used():
    # at (10⁻³, 0): ‖∇f‖ = 2·10⁻³ is above the default grad_tol but below 10⁻²; the Hessian
    # is constant, so the eigenvalue tolerance stays at its rounding floor
    point = jnp.array([1e-3, 0.0])
    assert classify(bowl, point).kind == "not_critical"
    assert classify(bowl, point, grad_tol=1e-2).kind == "minimum"
    # eigenvalues 2 within tol = 3 count as zero
    assert classify(bowl, jnp.array([0.0, 0.0]), tol=3.0).kind == "degenerate"


def test_kind_under_jit_raises_type_error():
    with pytest.raises(TypeError, match="kind_code"):
        jax.jit(lambda x: optkit.classify(bowl, x).kind)(jnp.zeros(2))


def test_nan_point_is_not_critical():
    cp = classify(bowl, jnp.array([jnp.nan, 0.0]))
    assert cp.kind == "not_critical"


@pytest.mark.parametrize("n", [2, 100], ids=["dense", "lanczos"])
def test_a_point_where_f_is_infinite_is_not_critical(n):
    # ∇f = 0 and ∇²f = 2I there, but f = +∞ (and the default grad_tol with it)
    cp = classify(lambda x: jnp.sum(x**2) + jnp.inf, np.zeros(n))
    assert cp.kind == "not_critical" and not bool(cp.is_critical)


def test_linear_function_has_no_critical_point_far_from_the_origin():
    def linear(x):
        return x[0] + 2 * x[1]

    assert classify(linear, jnp.array([1e9, 1e9])).kind == "not_critical"


def test_newton_distance_matches_closed_form():
    # distance = ‖H⁻¹∇f‖ with the closed-form gradient and Hessian (not critical here)
    point = np.array([0.3, -0.7, 1.1])
    cp = classify(mixed, jnp.asarray(point))
    expected = np.linalg.norm(np.linalg.solve(mixed_hessian(point), mixed_grad(point)))
    np.testing.assert_allclose(cp.distance, expected, rtol=1e-10)


def gaussian_bump(x):
    return x[0] * jnp.exp(-x[0] ** 2 - x[1] ** 2)


def test_gaussian_bump_tail_is_flat_and_its_critical_points_are_not():
    # critical points of x·e^(−x²−y²): (∓1/√2, 0), minimum and maximum. On the circle r = 5.2
    # ‖∇f‖ ≤ 2r²e^(−r²) ≈ 1e-10 and Newton marches outwards: flat, never a critical point
    angles = np.linspace(0.1, 2 * np.pi, 7, endpoint=False)
    tail = 5.2 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    cps = jit(jax.vmap(lambda p: optkit.classify(gaussian_bump, p, grad_tol=1e-9)))(
        jnp.asarray(tail))
    assert np.all(np.asarray(cps.grad_norm) <= 1e-9)
    assert list(cps.kind) == ["flat"] * len(angles)
    assert not np.any(cps.is_critical)
    for sign, kind in ((-1.0, "minimum"), (1.0, "maximum")):
        cp = classify(gaussian_bump, jnp.array([sign / np.sqrt(2.0), 0.0]))
        assert cp.kind == kind and bool(cp.is_critical)
        assert float(cp.distance) < 1e-12


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def test_first_order_end_near_a_minimum_reads_minimum_with_its_distance():
    # gradient descent stopped at ‖∇f‖ ≤ 1e-4 next to Rosenbrock's minimum (1, 1), whose
    # Hessian has eigenvalues ≈ 0.4 and 1001.6: at x the zero tolerance of the Hessian's change
    # over the Newton step exceeds 0.4, at x + δ it does not
    res = optkit.minimize(rosenbrock, jnp.array([0.8, 0.6]), method="gradient_descent",
                          grad_tol=1e-4, max_steps=50_000)
    assert res.converged and float(res.grad_norm) > 1e-5
    cp = res.critical_point
    assert cp.kind == "minimum"
    true_distance = float(jnp.linalg.norm(res.x - 1.0))
    assert 0.5 * true_distance <= float(cp.distance) <= 2.0 * true_distance
    eigenvalues = np.linalg.eigvalsh(np.array([[802.0, -400.0], [-400.0, 200.0]]))
    np.testing.assert_allclose(cp.eigenvalues, eigenvalues, rtol=1e-2)


def test_near_a_degenerate_point_is_degenerate_not_flat():
    # x⁴ + y⁴ at (1e-3, 2e-3): Newton contracts by 2/3 a step towards the degenerate root
    cp = classify(quartic, jnp.array([1e-3, 2e-3]), grad_tol=1e-7)
    assert cp.kind == "degenerate"
    np.testing.assert_allclose(cp.distance, np.linalg.norm([1e-3, 2e-3]) / 3, rtol=1e-10)


def test_exactly_zero_derivatives_are_told_apart_by_probing_f():
    # far out on x·e^(−x²−y²) f, ∇f and ∇²f all underflow to 0 (as an end point of Newton in
    # docs/api.md's example): flat. At the root of x⁴ + y⁴ they are 0 too, but f moves by
    # ρ⁴ = 1e-4 ≫ √ε over the probe radius ρ = 0.1: a degenerate critical point, not flat
    far = classify(gaussian_bump, jnp.array([-116.0, 572.0]))
    assert float(far.grad_norm) == 0.0 and far.kind == "flat"
    root = classify(quartic, jnp.array([0.0, 0.0]))
    assert float(root.grad_norm) == 0.0 and root.kind == "degenerate"
    # a constant f (the linear problem with β = 0): critical everywhere, isolated nowhere
    constant = optkit.problems.get("linear", beta=[0.0, 0.0])
    assert classify(constant.fun, jnp.array([0.3, -0.2])).kind == "flat"


def test_classify_compiles_once_per_function_and_shape():
    from optkit.analysis._classify import _classify_jit

    first = classify(monkey_saddle, jnp.array([0.0, 0.0]))
    before = _classify_jit._cache_size()
    # another point, given as a list: the same program
    again = classify(monkey_saddle, [0.5, -0.25])
    assert _classify_jit._cache_size() == before
    assert first.kind == "degenerate" and again.kind == "not_critical"
    # ∇f(0.5, −0.25) = (3x² − 3y², −6xy) = (0.5625, 0.75)
    np.testing.assert_allclose(again.grad_norm, np.hypot(0.5625, 0.75), rtol=1e-14)
    # a tolerance is data: the first one given adds a program, other values reuse it
    loose = classify(monkey_saddle, [0.5, -0.25], grad_tol=1.0)
    classify(monkey_saddle, [0.5, -0.25], grad_tol=2.0)
    assert _classify_jit._cache_size() == before + 1
    assert loose.kind != "not_critical"
