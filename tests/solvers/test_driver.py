"""The driver's stopping rule (optkit/solvers/_driver.py) status by status: NaN, step caps,
x_tol/f_tol, divergence, failed line searches, and per-start statuses in a batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from tests.helpers import jit, rosenbrock

Status = optkit.Status


# --------------------------------------------------------------- functions that turn NaN


def sqrt_objective(x):
    """√x: decreasing towards 0 and NaN below it."""
    return jnp.sqrt(x[0])


def log_objective(x):
    """log x: unbounded below as x → 0⁺ and NaN below it."""
    return jnp.log(x[0])


def nan_beyond_radius(x):
    """−‖x‖² inside the disc ‖x‖ < 2 and NaN outside it."""
    r2 = jnp.sum(x**2)
    return jnp.where(r2 < 4.0, -r2, jnp.nan)


# name: (function, x0, constant step t, accepted steps before the first non-finite iterate)
CONSTANT_STEP_INTO_NAN = {
    "sqrt": (sqrt_objective, [1.0], 4.0, 0),  # x₁ = 1 − 4·½ = −1
    "log": (log_objective, [1.0], 2.0, 0),  # x₁ = 1 − 2·1 = −1
    "radius": (nan_beyond_radius, [0.1, 0.2], 0.5, 3),  # x₊ = 2x until ‖x‖ ≥ 2
}


@pytest.mark.parametrize("name", sorted(CONSTANT_STEP_INTO_NAN))
def test_constant_step_into_nan_is_nonfinite_and_keeps_last_finite_iterate(name):
    fun, x0, step, finite_steps = CONSTANT_STEP_INTO_NAN[name]
    res = optkit.minimize(fun, np.array(x0), method="gradient_descent", line_search="none",
                          step_size=step, max_steps=100, classify=False)
    assert res.status == Status.NONFINITE and not bool(res.converged)
    assert int(res.num_steps) == finite_steps
    x = np.asarray(res.x)
    np.testing.assert_array_equal(x, np.asarray(x0) * 2.0**finite_steps)
    value, value_next = jit(lambda z: (fun(z), fun(z - step * jax.grad(fun)(z))))(x)
    assert np.isfinite(float(res.value)) and float(res.value) == float(value)
    # x is the last finite iterate: one more step of the same iteration is not finite
    assert not np.isfinite(float(value_next))


@pytest.mark.parametrize("batch", [False, True])
def test_gradient_whose_norm_overflows_is_finite(batch):
    # ∇f = (1e160, 1e160): every entry finite, ‖∇f‖² = 2e320 overflows to ∞. Rule 1 reads
    # ∇f's finiteness off its norm only where that is finite; here it must read the entries
    def steep_plane(x):
        return 1e160 * jnp.sum(x)

    kw = dict(method="gradient_descent", line_search="none", step_size=1e-160, max_steps=3,
              classify=False)
    x0 = np.array([10.0, 20.0])  # f stays positive: nothing diverges in three steps
    res = (optkit.minimize_batch(steep_plane, x0[None], **kw) if batch
           else optkit.minimize(steep_plane, x0, **kw))
    assert np.all(np.asarray(res.status_code) == Status.MAX_STEPS)
    np.testing.assert_allclose(np.asarray(res.x).reshape(2), x0 - 3.0, rtol=1e-14)


@pytest.mark.parametrize("batch", [False, True])
def test_step_to_infinity_is_nonfinite_and_keeps_last_finite_iterate(batch):
    # x₁ = 1 + 1e10·1e300 overflows to +∞ (no NaN anywhere): max|x| = ∞ is rule 1's test
    def falling_plane(x):
        return -1e300 * x[0]

    kw = dict(method="gradient_descent", line_search="none", step_size=1e10, max_steps=5,
              classify=False)
    res = (optkit.minimize_batch(falling_plane, np.array([[1.0]]), **kw) if batch
           else optkit.minimize(falling_plane, np.array([1.0]), **kw))
    assert np.all(np.asarray(res.status_code) == Status.NONFINITE)
    assert np.all(np.asarray(res.num_steps) == 0)
    np.testing.assert_array_equal(np.asarray(res.x).reshape(1), [1.0])


@pytest.mark.parametrize("fun, method", [(sqrt_objective, "gradient_descent"),
                                         (log_objective, "newton")])
def test_line_search_towards_nan_never_converges(fun, method):
    # both decrease towards x = 0, where f or ∇f blow up, and are NaN beyond it
    res = optkit.minimize(fun, [1.0], method=method, classify=False)
    assert res.status in (Status.NONFINITE, Status.LINE_SEARCH_FAILED)
    assert not bool(res.converged)
    x = float(np.asarray(res.x)[0])
    assert 0.0 < x < 1.0
    assert np.isfinite(float(res.value)) and float(res.value) < float(jit(fun)(np.array([1.0])))


def test_nan_start_is_nonfinite_after_zero_steps():
    res = optkit.minimize(rosenbrock, [np.nan, 1.0], method="newton")
    assert res.status == Status.NONFINITE and not bool(res.converged)
    assert int(res.num_steps) == 0 and int(res.num_evals) == 1


def test_failing_start_does_not_stop_the_batch():
    starts = np.array([[-1.2, 1.0], [np.nan, 1.0], [1.0, 1.0]])
    res = optkit.minimize_batch(rosenbrock, starts, method="gradient_descent", max_steps=50,
                                classify=False)
    np.testing.assert_array_equal(res.status_code,
                                  [Status.MAX_STEPS, Status.NONFINITE, Status.CONVERGED])
    np.testing.assert_array_equal(res.num_steps, [50, 0, 0])
    value = np.asarray(res.value)
    assert np.isfinite(float(value[0])) and float(value[0]) < rosenbrock(starts[0])
    np.testing.assert_array_equal(np.asarray(res.x)[2], [1.0, 1.0])  # ∇f(1, 1) = 0 exactly


# --------------------------------------------------------------------- step caps and tols


@pytest.mark.parametrize("method", ["newton", "bfgs", "trust_region", "lbfgs"])
def test_zero_max_steps_evaluates_the_start_and_moves_nowhere(method):
    # line-search methods and the trust region evaluate x₀ on the loop's first trip
    # (evaluates_start_in_loop), lbfgs (Optax) in init: either way f(x₀) and ∇f(x₀),
    # MAX_STEPS, one evaluation
    x0 = np.array([-1.2, 1.0])
    res = optkit.minimize(rosenbrock, x0, method=method, max_steps=0, record=True,
                          classify=False)
    assert res.status == Status.MAX_STEPS and int(res.num_steps) == 0
    assert int(res.num_evals) == 1
    np.testing.assert_array_equal(res.x, x0)
    assert float(res.value) == pytest.approx(24.2, rel=1e-15)  # (1 + 1.2)² + 100·(1 − 1.44)²
    # ∇f(x₀) = (−2(1 − x) − 400x(y − x²), 200(y − x²)) = (−215.6, −88)
    assert float(res.grad_norm) == pytest.approx(np.hypot(215.6, 88.0), rel=1e-14)
    assert int(res.trajectory.length) == 1
    np.testing.assert_array_equal(np.asarray(res.trajectory.x)[0], x0)
    assert float(np.asarray(res.trajectory.value)[0]) == pytest.approx(24.2, rel=1e-15)


def test_batch_start_is_evaluated():
    starts = np.array([[-1.2, 1.0], [1.0, 1.0]])
    solve = optkit.BatchSolve(rosenbrock, starts, method="newton", max_steps=0, classify=False)
    carry = solve.start()
    _, value, grad_norm = solve.values(carry)
    np.testing.assert_allclose(value, [24.2, 0.0], rtol=1e-15)
    np.testing.assert_allclose(grad_norm, [np.hypot(215.6, 88.0), 0.0], rtol=1e-14)
    assert list(solve.chunks(carry)) == []  # max_steps 0: nothing to step
    res = solve.finish(carry)
    np.testing.assert_array_equal(res.status_code, [Status.MAX_STEPS, Status.CONVERGED])
    np.testing.assert_allclose(res.value, [24.2, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(res.num_evals, [1, 1])


def test_max_steps_caps_accepted_steps():
    res = optkit.minimize(rosenbrock, [-1.2, 1.0], method="gradient_descent", max_steps=2,
                          record=True)
    assert res.status == Status.MAX_STEPS and not bool(res.converged)
    assert int(res.num_steps) == 2
    assert int(res.trajectory.length) == 3 and res.trajectory.value.shape == (3,)
    assert float(res.value) < rosenbrock(np.array([-1.2, 1.0]))


def _tolerance_run(x_tol: float, f_tol: float):
    return optkit.minimize(rosenbrock, [-1.2, 1.0], method="gradient_descent", x_tol=x_tol,
                           f_tol=f_tol, max_steps=2000, record=True, classify=False)


def test_x_tol_stops_with_small_step_at_the_first_small_step():
    x_tol = 1e-3
    res = _tolerance_run(x_tol, 0.0)
    assert res.status == Status.SMALL_STEP and not bool(res.converged)
    tr = jax.tree_util.tree_map(np.asarray, res.trajectory)
    x = np.asarray(tr.x[: int(tr.length)])
    # rule 4: ‖Δx‖ ≤ x_tol·(1 + ‖x‖), met by the last accepted step and by no earlier one
    small = np.linalg.norm(np.diff(x, axis=0), axis=1) <= x_tol * (
        1 + np.linalg.norm(x[1:], axis=1))
    assert small[-1] and not np.any(small[:-1])
    assert float(res.grad_norm) > 1e-8


def test_f_tol_stops_with_small_decrease_at_the_first_small_decrease():
    f_tol = 1e-6
    res = _tolerance_run(0.0, f_tol)
    assert res.status == Status.SMALL_DECREASE and not bool(res.converged)
    tr = jax.tree_util.tree_map(np.asarray, res.trajectory)
    f = np.asarray(tr.value[: int(tr.length)])
    # rule 5: |Δf| ≤ f_tol·(1 + |f|), met by the last accepted step and by no earlier one
    small = np.abs(np.diff(f)) <= f_tol * (1 + np.abs(f[1:]))
    assert small[-1] and not np.any(small[:-1])
    assert float(res.grad_norm) > 1e-8


def test_trajectory_rows_are_the_iterates_and_padding_is_nan():
    res = _tolerance_run(0.0, 1e-6)
    tr = jax.tree_util.tree_map(np.asarray, res.trajectory)
    n = int(tr.length)
    assert n == int(res.num_steps) + 1 and tr.value.shape == (2001,)
    x = tr.x[:n]
    value, grad = jit(jax.vmap(jax.value_and_grad(rosenbrock)))(x)
    np.testing.assert_array_equal(x[0], [-1.2, 1.0])
    np.testing.assert_array_equal(x[-1], res.x)
    np.testing.assert_allclose(tr.value[:n], value, rtol=1e-12)
    np.testing.assert_allclose(tr.grad_norm[:n], np.linalg.norm(grad, axis=1), rtol=1e-10)
    assert float(tr.step_size[0]) == 0.0 and np.all(np.asarray(tr.step_size[1:n]) > 0)
    for padding in (tr.x[n:], tr.value[n:], tr.grad_norm[n:], tr.step_size[n:]):
        assert np.all(np.isnan(padding))


# ----------------------------------------------------------------- unbounded below


def negative_square(x):
    return -jnp.sum(x**2)


def linear(x):
    return x[0] + 2 * x[1]


@pytest.mark.parametrize("fun, method", [(negative_square, "gradient_descent"),
                                         (linear, "gradient_descent"),
                                         (negative_square, "newton")])
def test_unbounded_below_diverges(fun, method):
    res = optkit.minimize(fun, [0.1, 0.2], method=method, classify=False)
    assert res.status in (Status.DIVERGED, Status.NONFINITE) and not bool(res.converged)
    if res.status == Status.DIVERGED:
        # rule 6: ‖x‖_∞ or −f beyond 1e30
        assert np.max(np.abs(res.x)) > 1e30 or float(res.value) < -1e30


def test_newton_on_a_linear_function_never_converges():
    # H = 0 everywhere: Newton falls back to steepest descent and walks downhill by ‖∇f‖ a
    # step, so f = −∞ is not reached within max_steps; the status must say so
    res = optkit.minimize(linear, [0.1, 0.2], method="newton", max_steps=50, classify=False)
    assert res.status in (Status.MAX_STEPS, Status.DIVERGED)
    assert int(res.num_steps) == 50
    assert float(res.value) < linear(np.array([0.1, 0.2])) - 40


# ---------------------------------------------------------------- failed line searches


@jax.custom_jvp
def uphill_gradient(x):
    """‖x‖² whose custom derivative is the negated gradient, −2x: −∇f points uphill."""
    return jnp.sum(x**2)


@uphill_gradient.defjvp
def _uphill_gradient_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return uphill_gradient(x), -2 * jnp.dot(x, dx)


def kink(x):
    """|x − 0.3|: the gradient ±1 never vanishes, so Armijo fails at the kink."""
    return jnp.abs(x[0] - 0.3)


def test_uphill_gradient_fails_the_line_search_without_moving():
    x0 = np.array([1.0, 0.5])
    res = optkit.minimize(uphill_gradient, x0, method="gradient_descent", classify=False)
    assert res.status == Status.LINE_SEARCH_FAILED and not bool(res.converged)
    assert int(res.num_steps) == 0
    np.testing.assert_array_equal(res.x, x0)


def test_a_failed_search_spends_max_trials_evaluations_alone_and_in_a_batch():
    """A single solve runs a step's trials in a loop inside the step, a batch one trial per
    trip; both stop after max_trials rejections and count every evaluation."""
    solver = optkit.GradientDescent(line_search=optkit.Backtracking(max_trials=7))
    x0 = np.array([1.0, 0.5])
    alone = optkit.minimize(uphill_gradient, x0, method=solver, classify=False)
    batch = optkit.minimize_batch(uphill_gradient, np.stack([x0, 2 * x0]), method=solver,
                                  classify=False)
    assert alone.status == Status.LINE_SEARCH_FAILED
    np.testing.assert_array_equal(batch.status_code, [Status.LINE_SEARCH_FAILED] * 2)
    assert int(alone.num_evals) == 1 + 7  # x₀, then the seven rejected trials
    np.testing.assert_array_equal(batch.num_evals, [1 + 7] * 2)
    np.testing.assert_array_equal(alone.x, x0)


GRADIENTS_TAKEN: list[int] = []


@jax.custom_vjp
def counted_rosenbrock(x):
    """Rosenbrock whose reverse pass reports itself: one report per ∇f computed."""
    return rosenbrock(x)


def _counted_forward(x):
    return rosenbrock(x), x


def _counted_backward(x, cotangent):
    jax.debug.callback(lambda: GRADIENTS_TAKEN.append(1))
    return (cotangent * jax.grad(rosenbrock)(x),)


counted_rosenbrock.defvjp(_counted_forward, _counted_backward)


def test_a_backtracking_trial_rejected_on_its_value_costs_no_gradient():
    """∇f is computed at the start and at each accepted step only: the rejected trials of
    gradient descent on Rosenbrock fail Armijo by far, which f alone shows."""
    GRADIENTS_TAKEN.clear()
    res = optkit.minimize(counted_rosenbrock, [-1.2, 1.0], method="gradient_descent",
                          max_steps=40, classify=False, hessian=False)
    jax.effects_barrier()
    steps, evals = int(res.num_steps), int(res.num_evals)
    assert evals > steps + 1 + 10  # many trials were rejected
    assert len(GRADIENTS_TAKEN) == steps + 1


# two step lengths per trial make Newton reject some from (−1.2, 1); its default four do not
SEARCHES = {"newton": optkit.Newton(line_search=optkit.Backtracking(num_candidates=2)),
            "newton_cg": "newton_cg", "bfgs": "bfgs"}


@pytest.mark.parametrize("method", sorted(SEARCHES))
def test_a_solve_and_a_batch_take_the_same_steps_and_trials(method):
    """The trials loop inside a single solve's step and the one-trial-per-trip loop of a
    batch are the same search: same iterates, steps and evaluations (Rosenbrock from
    (−1.2, 1) rejects trials on the way; Newton tries several step lengths per trial,
    Newton–CG screens trials on f alone, BFGS searches for the Wolfe conditions)."""
    x0 = np.array([-1.2, 1.0])
    solver = SEARCHES[method]
    alone = optkit.minimize(rosenbrock, x0, method=solver, classify=False)
    batch = optkit.minimize_batch(rosenbrock, x0[None], method=solver, classify=False)
    assert alone.status == Status.CONVERGED
    assert int(alone.num_evals) > int(alone.num_steps) + 1  # some trials were rejected
    assert int(batch.num_steps[0]) == int(alone.num_steps)
    assert int(batch.num_evals[0]) == int(alone.num_evals)
    np.testing.assert_allclose(batch.x[0], alone.x, rtol=0, atol=1e-14)


def test_kink_fails_the_line_search_at_the_kink():
    res = optkit.minimize(kink, [0.77], method="gradient_descent", classify=False)
    assert res.status == Status.LINE_SEARCH_FAILED and not bool(res.converged)
    np.testing.assert_allclose(res.x, [0.3], atol=1e-6)


def _scaled_rosenbrock(c: float, s: float):
    # c·g(u/s) with g = Rosenbrock + 1 (so |f| ≥ c): Newton's iterates are u_k = s·x_k
    def f(u):
        x = u / s
        return c * ((1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2 + 1.0)
    return f


def test_rel_grad_tol_stops_at_the_same_step_whatever_the_units():
    # ‖∇f‖ scales by c/s and the relative test's r·max(1, |f|)/max(1, ‖u‖) by c/s too (|f| ≥ 1,
    # ‖u‖ ≥ 1 near the minimum): the same step passes it in every unit system, while an
    # absolute grad_tol would stop at different steps (or never, at the rounding floor)
    steps = set()
    for c, s in ((1.0, 1.0), (1e6, 1e3)):
        res = optkit.minimize(_scaled_rosenbrock(c, s), np.array([-1.2, 1.0]) * s,
                              method="newton", grad_tol=0.0, rel_grad_tol=1e-6,
                              classify=False, hessian=False)
        assert res.status == optkit.Status.CONVERGED
        scale = max(1.0, abs(float(res.value))) / max(1.0, float(np.linalg.norm(res.x)))
        assert 0.0 < float(res.grad_norm) <= 1e-6 * scale
        np.testing.assert_allclose(np.asarray(res.x) / s, [1.0, 1.0], rtol=1e-5)
        steps.add(int(res.num_steps))
    assert len(steps) == 1


def test_rel_grad_tol_is_validated():
    with pytest.raises(ValueError, match="rel_grad_tol"):
        optkit.minimize(lambda x: jnp.sum(x**2), np.ones(2), rel_grad_tol=-1.0)
