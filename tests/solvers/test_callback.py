"""Callbacks from inside the compiled loop: what they receive, how often, and early stops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit

Status = optkit.Status


def rosenbrock_tree(p):
    """Rosenbrock's function of a dict {"a": x, "b": y}: minimum 0 at (1, 1)."""
    return (1 - p["a"]) ** 2 + 100 * (p["b"] - p["a"] ** 2) ** 2


def rosenbrock_grad_norm(a, b):
    return np.hypot(-2 * (1 - a) - 400 * a * (b - a ** 2), 200 * (b - a ** 2))


class Recorder:
    """One callback object for several solves (so they share one compiled program): records
    every call and asks each solve to stop from step ``stop_at`` on."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.stop_at: int | None = None

    def __call__(self, step, x, f, grad_norm):
        self.calls.append((step, x, f, grad_norm))
        # a scalar for one solve, one flag per start for a batch
        return None if self.stop_at is None else np.asarray(step) >= self.stop_at


RECORDER = Recorder()
START = {"a": jnp.asarray(-1.2), "b": jnp.asarray(1.0)}


def solve(x0=START, **kw):
    return optkit.minimize(rosenbrock_tree, x0, callback=RECORDER, callback_every=3,
                           classify=False, **kw)


def test_callback_sees_every_third_step_and_can_stop_the_solve():
    RECORDER.calls.clear()
    RECORDER.stop_at = None
    res = solve()
    assert res.status == Status.CONVERGED
    steps = [c[0] for c in RECORDER.calls]
    assert steps == list(range(3, int(res.num_steps) + 1, 3))
    for step, x, f, grad_norm in RECORDER.calls:
        assert isinstance(step, int) and set(x) == {"a", "b"}   # x in the pytree of x0
        a, b = float(x["a"]), float(x["b"])
        np.testing.assert_allclose(f, (1 - a) ** 2 + 100 * (b - a ** 2) ** 2, rtol=1e-12,
                                   atol=1e-20)
        np.testing.assert_allclose(grad_norm, rosenbrock_grad_norm(a, b), rtol=1e-6, atol=1e-12)
    # a True return ends the solve at that step with STOPPED, keeping its iterate
    RECORDER.calls.clear()
    RECORDER.stop_at = 6
    stopped = solve()
    assert stopped.status == Status.STOPPED and not stopped.converged
    assert int(stopped.num_steps) == 6 and [c[0] for c in RECORDER.calls] == [3, 6]
    np.testing.assert_array_equal(stopped.x["a"], RECORDER.calls[-1][1]["a"])


def test_callback_every_must_be_a_positive_integer():
    with pytest.raises(ValueError, match="callback_every must be a positive integer"):
        optkit.minimize(rosenbrock_tree, START, callback=RECORDER, callback_every=0)


@pytest.mark.slow
def test_batched_callbacks_receive_the_batch_and_stop_the_running_starts():
    starts = {"a": jnp.asarray([-1.2, 1.0, 2.0]), "b": jnp.asarray([1.0, 1.0, 2.0])}
    RECORDER.calls.clear()
    RECORDER.stop_at = 3
    batch = optkit.minimize_batch(rosenbrock_tree, starts, callback=RECORDER,
                                  callback_every=3, classify=False)
    # start 1 is the minimum (CONVERGED after 0 steps); the others stop at step 3
    np.testing.assert_array_equal(batch.status_code, [Status.STOPPED, Status.CONVERGED,
                                                      Status.STOPPED])
    np.testing.assert_array_equal(batch.num_steps, [3, 0, 3])
    step, x, f, grad_norm = RECORDER.calls[0]
    assert step.shape == (3,) and x["a"].shape == (3,) and f.shape == grad_norm.shape == (3,)
    np.testing.assert_allclose(grad_norm, rosenbrock_grad_norm(x["a"], x["b"]), rtol=1e-9)
    # jax.vmap of minimize: the same one call per trip with the whole batch
    RECORDER.calls.clear()
    mapped = jax.vmap(solve)(starts)
    np.testing.assert_array_equal(mapped.status_code, batch.status_code)
    assert len(RECORDER.calls) == 1 and RECORDER.calls[0][0].shape == (3,)
