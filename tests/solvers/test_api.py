"""The public entry points: minimize's arguments and errors, shorthands, batches, optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optkit
from tests.helpers import rosenbrock

Status = optkit.Status


def shifted_bowl(x):
    """½‖x − (1, −2)‖²: minimum at (1, −2)."""
    return 0.5 * jnp.sum((x - jnp.array([1.0, -2.0])) ** 2)


# ------------------------------------------------------------------------------ throw


def test_throw_raises_on_non_convergence():
    with pytest.raises(optkit.OptimizationError, match="max_steps"):
        optkit.minimize(rosenbrock, [-1.2, 1.0], method="gradient_descent", max_steps=2,
                        record=True, throw=True)


def test_throw_is_silent_on_success():
    res = optkit.minimize(rosenbrock, [-1.2, 1.0], method="newton", throw=True)
    assert res.status == Status.CONVERGED


def test_throw_under_vmap_returns_per_start_results():
    starts = jnp.array([[-1.2, 1.0], [jnp.nan, 1.0], [1.0, 1.0]])
    res = jax.vmap(lambda x0: optkit.minimize(rosenbrock, x0, method="gradient_descent",
                                              max_steps=50, classify=False, throw=True))(starts)
    np.testing.assert_array_equal(res.status_code,
                                  [Status.MAX_STEPS, Status.NONFINITE, Status.CONVERGED])


def test_minimize_batch_throw_raises_when_a_start_fails():
    with pytest.raises(optkit.OptimizationError):
        optkit.minimize_batch(rosenbrock, np.array([[-1.2, 1.0], [np.nan, 1.0], [1.0, 1.0]]),
                              method="gradient_descent", max_steps=50, classify=False,
                              throw=True)


# ------------------------------------------------------------------- bad arguments


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="'newtn'"):
        optkit.minimize(rosenbrock, [0.0, 0.0], method="newtn")


@pytest.mark.parametrize("options, bad", [({"regularization": "cholesky"}, "'cholesky'"),
                                          ({"line_search": "golden"}, "'golden'")])
def test_unknown_solver_option_value_is_named(options, bad):
    with pytest.raises(ValueError, match=bad):
        optkit.minimize(rosenbrock, [0.0, 0.0], method="newton", **options)


def test_options_with_a_solver_object_are_refused():
    with pytest.raises(TypeError, match="regularization"):
        optkit.minimize(rosenbrock, [0.0, 0.0], method=optkit.Newton(),
                        regularization="levenberg")


def test_inconsistent_batch_axes_are_refused():
    with pytest.raises(ValueError, match="leading"):
        optkit.minimize_batch(lambda p: jnp.sum(p["a"]) + jnp.sum(p["b"]),
                              {"a": jnp.zeros((3, 2)), "b": jnp.zeros((4,))})


# ------------------------------------------------------------- shorthands and inputs


def test_shorthands_match_minimize():
    a = optkit.newton(rosenbrock, [-1.2, 1.0])
    b = optkit.minimize(rosenbrock, [-1.2, 1.0], method="newton")
    np.testing.assert_array_equal(a.x, b.x)
    assert int(a.num_steps) == int(b.num_steps)
    c = optkit.gradient_descent(rosenbrock, [-1.2, 1.0], max_steps=2, record=True)
    d = optkit.minimize(rosenbrock, [-1.2, 1.0], method="gradient_descent", max_steps=2,
                        record=True)
    np.testing.assert_array_equal(c.x, d.x)


def test_solver_object_equals_method_name():
    a = optkit.minimize(rosenbrock, [-1.2, 1.0], method=optkit.Newton())
    b = optkit.minimize(rosenbrock, [-1.2, 1.0], method="newton")
    np.testing.assert_array_equal(a.x, b.x)


def test_list_of_ints_becomes_a_float64_vector():
    res = optkit.minimize(rosenbrock, [-1, 1], method="newton")
    assert res.x.dtype == jnp.float64 and res.x.shape == (2,)
    assert res.status == Status.CONVERGED


def test_result_passes_through_jit():
    x = jax.jit(lambda x0: optkit.minimize(rosenbrock, x0, method="newton").x)(
        jnp.array([-1.2, 1.0]))
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-8)


def test_minimize_batch_matches_one_start_at_a_time():
    starts = np.array([[-1.2, 1.0], [np.nan, 1.0], [1.0, 1.0]])
    batch = optkit.minimize_batch(rosenbrock, starts, method="gradient_descent", max_steps=50,
                                  classify=False)
    for i, x0 in enumerate(starts):
        one = optkit.minimize(rosenbrock, x0, method="gradient_descent", max_steps=50,
                              classify=False)
        np.testing.assert_allclose(batch.x[i], one.x, rtol=1e-12, atol=1e-14)
        assert int(batch.status_code[i]) == int(one.status_code)
        assert int(batch.num_steps[i]) == int(one.num_steps)


# ------------------------------------------------------------------- status and message


def test_status_messages():
    messages = [s.message for s in Status]
    assert all(messages) and len(set(messages)) == len(messages)
    assert Status.CONVERGED.success and not Status.MAX_STEPS.success


def test_result_status_and_message_scalar_and_batched():
    res = optkit.minimize(rosenbrock, [-1.2, 1.0], method="gradient_descent", max_steps=2,
                          record=True)
    assert res.status is Status.MAX_STEPS
    assert res.message == Status.MAX_STEPS.message
    batch = optkit.minimize_batch(rosenbrock, np.array([[-1.2, 1.0], [np.nan, 1.0], [1.0, 1.0]]),
                                  method="gradient_descent", max_steps=50, classify=False)
    np.testing.assert_array_equal(batch.status, [1, 2, 0])
    assert batch.message == [Status.MAX_STEPS.message, Status.NONFINITE.message,
                             Status.CONVERGED.message]


# ------------------------------------------------------------------------------ optax


def test_wolfe_gradient_descent_converges():
    res = optkit.minimize(shifted_bowl, jnp.zeros(2), method="gradient_descent",
                          line_search="wolfe", classify=False)
    assert res.status == Status.CONVERGED
    np.testing.assert_allclose(res.x, [1.0, -2.0], atol=1e-8)


def test_optax_adam_converges_on_a_quadratic():
    res = optkit.minimize(shifted_bowl, jnp.zeros(2), optkit.Optax(optax.adam(1e-2)),
                          grad_tol=1e-6, max_steps=5000, classify=False)
    assert res.status == Status.CONVERGED
    np.testing.assert_allclose(res.x, [1.0, -2.0], atol=1e-5)


def test_status_prints_its_name():
    # IntEnum prints its value ("0") by default; a status should read as what it is
    assert str(Status.CONVERGED) == "CONVERGED"
    assert f"{Status.MAX_STEPS}" == "MAX_STEPS"
    assert Status.CONVERGED == 0 and Status.MAX_STEPS.message.startswith("the step limit")
