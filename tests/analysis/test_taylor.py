"""Taylor models: exactness on quadratics, error orders, the chapter's example, pytrees."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import optkit  # noqa: F401  (float64)
from optkit.analysis._taylor import taylor, taylor_error
from tests.helpers import jit, ravel_numpy

E = np.exp(-1.0)


def gaussian_bump(v):
    return v[0] * jnp.exp(-v[0] ** 2 - v[1] ** 2)


def test_chapter_quadratic_model_of_gaussian_bump():
    """At (−1, 0): m = e⁻¹(−1 − (x+1) + (x+1)² + y²), to 1e-12 in float64."""
    model = taylor(gaussian_bump, (-1.0, 0.0), order=2)
    rng = np.random.default_rng(0)
    points = rng.uniform(-2, 1, size=(20, 2))
    values = np.asarray(jit(jax.vmap(model))(points))
    for (x, y), value in zip(points, values, strict=True):
        expected = E * (-1 - (x + 1) + (x + 1) ** 2 + y**2)
        assert float(value) == pytest.approx(expected, abs=1e-12)
    np.testing.assert_allclose(model.hessian, np.diag([2 * E, 2 * E]), atol=1e-15)
    np.testing.assert_allclose(model.gradient, [-E, 0.0], atol=1e-15)


def test_first_order_model_is_the_tangent_plane():
    model = taylor(gaussian_bump, np.array([-1.0, 0.0]), order=1)
    assert model.hessian is None and model.order == 1
    points = np.array([(-0.5, 0.3), (0.2, -1.0)])
    values = np.asarray(jit(jax.vmap(model))(points))
    for (x, _), value in zip(points, values, strict=True):
        assert float(value) == pytest.approx(E * (-1 - (x + 1)), abs=1e-15)


def test_quadratic_function_is_its_own_second_order_model():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 4))
    b, c = rng.normal(size=4), 0.7

    def quadratic(x):
        return 0.5 * x @ a @ x + b @ x + c

    model = taylor(quadratic, rng.normal(size=4), order=2)
    np.testing.assert_allclose(model.hessian, 0.5 * (a + a.T), atol=1e-14)
    points = rng.normal(size=(10, 4)) * 5
    comparison = model.compare(points)
    assert np.max(comparison.error) < 1e-12
    assert np.max(taylor(quadratic, np.zeros(4), 1).compare(points).error) > 1.0


@pytest.mark.parametrize("order, ratio", [(1, 4.0), (2, 8.0)])
def test_error_falls_as_the_order_predicts(order, ratio):
    """Halving δ divides the error by 2^(order+1) as δ → 0."""
    x0 = np.array([0.3, -0.2])
    direction = np.array([0.6, 0.8])
    comparison = taylor_error(gaussian_bump, x0, [x0 + direction * 0.05 / 2**k for k in range(5)],
                              order=order)
    ratios = comparison.error[:-1] / comparison.error[1:]
    np.testing.assert_allclose(ratios[-2:], ratio, rtol=0.05)
    np.testing.assert_allclose(comparison.distance, 0.05 / 2.0 ** np.arange(5), rtol=1e-12)


def test_pytree_parameters():
    """A model on {"w": matrix, "b": vector}: the same numbers as on the ravelled vector."""
    rng = np.random.default_rng(2)
    inputs, targets = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))

    @jit
    def loss(p):
        return jnp.sum(jnp.tanh(inputs @ p["w"] + p["b"]) - targets) ** 2

    x0 = {"w": rng.normal(size=(3, 2)), "b": rng.normal(size=2)}
    model = taylor(loss, x0, order=2)
    assert jax.tree_util.tree_structure(model.gradient) == jax.tree_util.tree_structure(x0)
    assert model.hessian.shape == (8, 8)

    def flat_derivatives(p):
        flat0, unravel = ravel_pytree(p)
        flat_loss = lambda z: loss(unravel(z))  # noqa: E731
        return flat_loss(flat0), jax.grad(flat_loss)(flat0), jax.hessian(flat_loss)(flat0)

    f0, g, h = (np.asarray(a) for a in jit(flat_derivatives)(x0))
    np.testing.assert_allclose(ravel_numpy(model.gradient), g, atol=1e-13)

    step = {"w": np.full((3, 2), 0.01), "b": np.array([-0.02, 0.03])}
    point = jax.tree_util.tree_map(np.add, x0, step)
    delta = ravel_numpy(step)
    expected = f0 + g @ delta + 0.5 * delta @ h @ delta
    assert float(jit(lambda p: model(p))(point)) == pytest.approx(float(expected), abs=1e-12)

    comparison = model.compare([x0, point])  # a list of pytrees
    assert comparison.error[0] == pytest.approx(0.0, abs=1e-14)
    assert comparison.true[1] == pytest.approx(float(loss(point)), abs=1e-14)
    assert comparison.error[1] < 1e-4  # third order in a 0.05-sized step
    single = model.compare(point)  # one point, shaped like x0
    assert single.model.shape == (1,)


def test_model_is_traceable():
    model = taylor(gaussian_bump, np.array([-1.0, 0.0]), order=2)
    points = np.array([[-0.9, 0.1], [-1.2, 0.0]])
    np.testing.assert_allclose(jit(jax.vmap(model))(points),
                               [float(model(p)) for p in points], atol=1e-15)
    grad = np.asarray(jit(jax.grad(model))(np.array([-1.0, 0.0])))
    assert float(grad[0]) == pytest.approx(-E, abs=1e-15)


def test_comparison_table_and_integer_point():
    model = taylor(lambda v: jnp.sum(v**3), [1, 2], order=1)  # integers become floats
    assert model.x0.dtype == jnp.float64
    text = str(model.compare([[1.1, 2.0], [1.0, 2.2]]))
    assert "order-1 Taylor model" in text and len(text.splitlines()) == 4


@pytest.mark.parametrize("order", [0, 3, True])
def test_bad_order(order):
    with pytest.raises(ValueError, match="order"):
        taylor(gaussian_bump, np.zeros(2), order=order)


def test_point_of_the_wrong_shape():
    model = taylor(gaussian_bump, np.zeros(2))
    with pytest.raises(ValueError, match="entries"):
        model(np.zeros(3))
    with pytest.raises(ValueError, match="structure"):
        taylor(lambda p: p["a"] ** 2, {"a": 1.0})({"b": 1.0})


def test_compare_compiles_once_per_function_and_shapes():
    from optkit.analysis._taylor import _compare

    def cubic(x):
        return x[0] ** 3 + x[0] * x[1]

    model = optkit.taylor(cubic, np.array([1.0, 2.0]), order=2)
    model.compare([[1.1, 2.0], [1.0, 2.1]])
    before = _compare._cache_size()
    # other points of the same batch size, and another model of the same f: no new program
    again = model.compare([[0.9, 2.0], [1.0, 1.8]])
    optkit.taylor(cubic, np.array([0.0, 1.0]), order=2).compare([[0.1, 1.0], [0.0, 1.2]])
    assert _compare._cache_size() == before
    # f − m₂ at x₀ + δ is the cubic remainder δ₀³ (the x₀x₁ term is quadratic)
    np.testing.assert_allclose(again.error, [1e-3, 0.0], atol=1e-15)
    with pytest.raises(ValueError, match="compare takes a point shaped like x0"):
        model.compare([{"a": 1.0}])
