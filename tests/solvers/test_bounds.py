"""Box constraints: ``minimize(..., bounds=)`` for gradient descent, Newton and L-BFGS.

Every solve is checked against mathematics (the KKT conditions, closed-form minimisers where
the active set is known) and against scipy's L-BFGS-B run in the test.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize as scipy_minimize

import optkit
from optkit.analysis._classify import kind_label
from tests.helpers import jit, rosenbrock

METHODS = ("gradient_descent", "newton", "lbfgs")


def quick(*fast):
    """The methods, all but ``fast`` marked slow (each solve is one ~3 s compilation)."""
    return [m if m in fast else pytest.param(m, marks=pytest.mark.slow) for m in METHODS]


@functools.cache
def value_and_grad(fun):
    """f and ∇f, one compiled program per function."""
    return jit(jax.value_and_grad(fun))


def kkt_residual(fun, x, lower, upper):
    """‖x − clip(x − ∇f(x), l, u)‖₂ in numpy (0 exactly at a KKT point of the box)."""
    g = np.asarray(value_and_grad(fun)(np.asarray(x))[1])
    return float(np.linalg.norm(x - np.clip(x - g, lower, upper)))


def scipy_lbfgsb(fun, x0, lower, upper):
    value = value_and_grad(fun)
    out = scipy_minimize(lambda z: tuple(np.asarray(v) for v in value(z)),
                         np.asarray(x0, float), jac=True, method="L-BFGS-B",
                         bounds=list(zip(lower, upper, strict=True)),
                         options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000})
    return out.x, out.fun


# -- Rosenbrock on [−1.5, 0.5]²: x* = (0.5, 0.25), x₁ held at its upper bound ---------------
# f = (1 − x)² + 100(y − x²)²: y = x² is optimal for any x, and along it f = (1 − x)² falls
# until the bound x = 0.5; there ∂f/∂x = −2(1 − x) = −1 (multiplier 1), ∂²f/∂y² = 200.

@pytest.mark.parametrize("method", quick("lbfgs"))
def test_rosenbrock_box_closed_form_kkt_and_scipy(method):
    r = optkit.minimize(rosenbrock, np.array([-1.2, 1.0]), method, bounds=(-1.5, 0.5))
    assert r.status == optkit.Status.CONVERGED
    np.testing.assert_allclose(r.x, [0.5, 0.25], atol=1e-8)
    assert abs(float(r.value) - 0.25) < 1e-12
    assert kkt_residual(rosenbrock, np.asarray(r.x), [-1.5] * 2, [0.5] * 2) <= 1e-8
    x_s, f_s = scipy_lbfgsb(rosenbrock, [-1.2, 1.0], [-1.5] * 2, [0.5] * 2)
    np.testing.assert_allclose(r.x, x_s, atol=1e-6)
    assert float(r.value) <= f_s + 1e-10
    cp = r.critical_point
    assert cp.kind == "minimum"
    np.testing.assert_array_equal(cp.active, [1, 0])
    np.testing.assert_allclose(cp.multipliers, [1.0, 0.0], atol=1e-7)
    # the reduced Hessian is ∂²f/∂y² = 200; the held variable's slot is NaN
    np.testing.assert_allclose(cp.eigenvalues[0], 200.0, rtol=1e-9)
    assert np.isnan(cp.eigenvalues[1])


# -- A quadratic with a known active set ----------------------------------------------------
# f = ½(x − c)ᵀA(x − c) on [0, 1]³. With S = {0 at 1, 2 at 0} held, the free x₁ solves
# A₁₁(x₁ − c₁) + A₁₀(1 − c₀) + A₁₂(0 − c₂) = 0; the test checks that this point is KKT
# (multipliers of the right sign) before asking the solvers for it.

A = np.array([[2.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 3.0]])
C = np.array([2.0, 0.4, -1.0])


def quadratic(x):
    d = x - jnp.asarray(C)
    return 0.5 * d @ (jnp.asarray(A) @ d)


def quadratic_minimiser():
    x1 = C[1] - (A[1, 0] * (1 - C[0]) + A[1, 2] * (0 - C[2])) / A[1, 1]
    x = np.array([1.0, x1, 0.0])
    g = A @ (x - C)
    assert 0 < x1 < 1 and g[0] < 0 and g[2] > 0 and abs(g[1]) < 1e-14
    return x, g


@pytest.mark.parametrize("method", quick("newton"))
def test_quadratic_known_active_set(method):
    x_star, g = quadratic_minimiser()
    r = optkit.minimize(quadratic, np.array([0.5, 0.5, 0.5]), method, bounds=(0.0, 1.0))
    assert r.converged
    np.testing.assert_allclose(r.x, x_star, atol=1e-8)
    cp = r.critical_point
    assert cp.kind == "minimum"
    np.testing.assert_array_equal(cp.active, [1, 0, -1])
    np.testing.assert_allclose(cp.multipliers, [-g[0], 0.0, g[2]], atol=1e-7)
    eigenvalues = np.asarray(cp.eigenvalues)
    np.testing.assert_allclose(eigenvalues[0], A[1, 1], rtol=1e-9)
    assert np.all(np.isnan(eigenvalues[1:]))


@pytest.mark.slow
def test_interior_minimum_is_the_unconstrained_one():
    # bounds that do not bind change nothing: same point, no active bound, full spectrum
    r = optkit.minimize(quadratic, np.array([0.5, 0.5, 0.5]), "newton",
                        bounds=(-10.0, 10.0))
    np.testing.assert_allclose(r.x, C, atol=1e-10)
    np.testing.assert_array_equal(r.critical_point.active, [0, 0, 0])
    np.testing.assert_allclose(r.critical_point.eigenvalues, np.linalg.eigvalsh(A),
                               rtol=1e-9)


# -- A bounded least-squares fit, against scipy's L-BFGS-B -----------------------------------
# y = a·exp(−b·t) + c fitted with c ≥ 0 to data whose unconstrained fit has c < 0.

T = np.linspace(0.0, 4.0, 25)
Y = 2.0 * np.exp(-0.7 * T) - 0.3 + 0.02 * np.sin(7 * T)
FIT_LOWER, FIT_UPPER = [0.0, 0.0, 0.0], [10.0, 5.0, np.inf]


def fit_loss(p):
    return 0.5 * jnp.sum((p[0] * jnp.exp(-p[1] * T) + p[2] - Y) ** 2)


@pytest.mark.parametrize("method", quick("lbfgs"))
def test_bounded_fit_matches_scipy(method):
    x0 = np.array([1.0, 1.0, 0.5])
    r = optkit.minimize(fit_loss, x0, method, bounds=(FIT_LOWER, FIT_UPPER), max_steps=20_000)
    x_s, f_s = scipy_lbfgsb(fit_loss, x0, FIT_LOWER, FIT_UPPER)
    assert r.converged
    assert x_s[2] == 0.0  # the bound binds
    assert float(r.value) <= f_s * (1 + 1e-9)
    np.testing.assert_allclose(r.x, x_s, rtol=1e-5, atol=1e-7)
    assert float(np.asarray(r.x)[2]) == 0.0
    np.testing.assert_array_equal(r.critical_point.active, [0, 0, -1])


# -- A separable quadratic in 200 variables (L-BFGS, Lanczos classification) -----------------

N = 200
WEIGHTS = np.linspace(1.0, 10.0, N)
CENTRE = np.sin(np.arange(N))  # in [−1, 1]; the box [−0.5, 0.5] cuts most of it


def separable(x):
    return 0.5 * jnp.sum(jnp.asarray(WEIGHTS) * (x - jnp.asarray(CENTRE)) ** 2)


@pytest.mark.slow
def test_large_separable_quadratic_clipped():
    r = optkit.minimize(separable, np.zeros(N), "lbfgs", bounds=(-0.5, 0.5))
    assert r.converged
    np.testing.assert_allclose(r.x, np.clip(CENTRE, -0.5, 0.5), atol=1e-8)
    cp = r.critical_point
    expected = np.where(CENTRE > 0.5, 1, np.where(CENTRE < -0.5, -1, 0))
    np.testing.assert_array_equal(cp.active, expected)
    assert cp.kind == "minimum"
    ritz = np.asarray(cp.eigenvalues)
    ritz = ritz[np.isfinite(ritz)]
    free = WEIGHTS[expected == 0]
    # Ritz values of the reduced Hessian lie inside its spectrum
    assert ritz.min() >= free.min() - 1e-8 and ritz.max() <= free.max() + 1e-8


# -- Pytrees, batches, the start's projection -----------------------------------------------

def tree_fun(p):
    return jnp.sum((p["w"] - 2.0) ** 2) + (p["b"] + 3.0) ** 2


@pytest.mark.slow
def test_pytree_bounds_and_projected_start():
    x0 = {"w": np.array([5.0, -5.0]), "b": np.array(0.0)}  # w starts outside the box
    bounds = ({"w": np.array([0.0, 0.0]), "b": None}, {"w": 1.0, "b": -1.0})
    r = optkit.minimize(tree_fun, x0, "gradient_descent", bounds=bounds, record=True)
    assert r.converged
    np.testing.assert_allclose(r.x["w"], [1.0, 1.0], atol=1e-10)
    np.testing.assert_allclose(r.x["b"], -3.0, atol=1e-8)
    # rule: x0 ← clip(x0, l, u), and every iterate stays in the box
    np.testing.assert_allclose(np.asarray(r.trajectory.x["w"])[0], [1.0, 0.0])
    w = np.asarray(r.trajectory.x["w"])[: int(r.trajectory.length)]
    assert np.all((w >= 0.0) & (w <= 1.0))


@pytest.mark.slow
def test_batch_with_bounds():
    starts = np.array([[-1.2, 1.0], [0.0, -1.0], [0.5, 0.5]])
    r = optkit.minimize_batch(rosenbrock, starts, "lbfgs", bounds=(-1.5, 0.5))
    assert np.all(np.asarray(r.converged))
    np.testing.assert_allclose(r.x, np.tile([0.5, 0.25], (3, 1)), atol=1e-8)
    np.testing.assert_array_equal(r.critical_point.active, np.tile([1, 0], (3, 1)))


# -- KKT classification of given points ------------------------------------------------------

def saddle(x):
    return x[0] ** 2 - x[1] ** 2


def hill(x):
    return -x[0] ** 2 - x[1] ** 2


def bowl(x):
    return x[0] ** 2 + x[1] ** 2


BOX = (-1.0, 1.0)


@functools.cache
def kkt_classifier(fun):
    # one compiled program per function (op-by-op classification is slow)
    return jit(lambda x: optkit.classify(fun, x, bounds=BOX))


def classify_in_box(fun, x):
    cp = kkt_classifier(fun)(np.asarray(x))
    return cp, kind_label(cp.kind_code)


def test_classify_with_bounds():
    # x² − y² at (0, 1): y held by its upper bound (multiplier 2), x² left → minimum
    cp, kind = classify_in_box(saddle, [0.0, 1.0])
    assert kind == "minimum"
    np.testing.assert_array_equal(cp.active, [0, 1])
    np.testing.assert_allclose(cp.multipliers, [0.0, 2.0])
    # at the origin no bound is near: the unconstrained saddle
    assert classify_in_box(saddle, [0.0, 0.0])[1] == "saddle"
    # −x² − y²: the corner (1, 1) is a minimum held by two positive multipliers, the
    # origin a maximum, and (0, 1) a saddle (−x² along the free x, a bound on y)
    assert classify_in_box(hill, [1.0, 1.0])[1] == "minimum"
    assert classify_in_box(hill, [0.0, 0.0])[1] == "maximum"
    assert classify_in_box(hill, [0.0, 1.0])[1] == "saddle"
    # x² − y² at (0, −1): held by the lower bound (λ = ∂f/∂y = 2)
    cp, kind = classify_in_box(saddle, [0.0, -1.0])
    assert kind == "minimum"
    np.testing.assert_array_equal(cp.active, [0, -1])
    np.testing.assert_allclose(cp.multipliers, [0.0, 2.0])
    # x² + y² at (0, 1): on the bound, but −∇f points into the box: λ = −2 < 0, no KKT point
    cp, kind = classify_in_box(bowl, [0.0, 1.0])
    assert kind == "not_critical"
    np.testing.assert_array_equal(cp.active, [0, 1])
    np.testing.assert_allclose(cp.multipliers, [0.0, -2.0])
    assert float(cp.grad_norm) == pytest.approx(2.0)  # the KKT residual ‖x − P(x − ∇f)‖


# -- Refused input ---------------------------------------------------------------------------

@pytest.mark.parametrize("bounds, message", [
    ((1.0, 0.0), "lower > upper"),
    ((np.nan, 1.0), "NaN"),
    (([0.0, 0.0, 0.0], 1.0), "shape"),
    ((np.inf, np.inf), "no feasible point"),
    ("box", "pair"),
])
def test_bad_bounds(bounds, message):
    with pytest.raises(ValueError, match=message):
        optkit.minimize(rosenbrock, np.zeros(2), "lbfgs", bounds=bounds)


def test_unsupported_method_and_option():
    with pytest.raises(ValueError, match="bounds= works with the methods"):
        optkit.minimize(rosenbrock, np.zeros(2), "trust_region", bounds=(0.0, 1.0))
    with pytest.raises(TypeError, match="unknown option 'line_search'"):
        optkit.minimize(rosenbrock, np.zeros(2), "newton", bounds=(0.0, 1.0),
                        line_search="wolfe")
