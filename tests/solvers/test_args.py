"""Data arguments: ``fun(x, *args)`` with args traced, so new data of the same shapes reuses the
compiled solve; shared and per-start data in batches. Checked against closed-form minimisers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit

RNG = np.random.default_rng(5)


def ridge(x, lam, a, b):
    """½‖Ax − b‖² + ½λ‖x‖², minimised at x* = (AᵀA + λI)⁻¹Aᵀb."""
    return 0.5 * jnp.sum((a @ x - b) ** 2) + 0.5 * lam * jnp.sum(x ** 2)


def ridge_closed_form(lam, a, b):
    return np.linalg.solve(a.T @ a + lam * np.eye(a.shape[1]), a.T @ b)


def data(m=8, n=3):
    return RNG.normal(size=(m, n)), RNG.normal(size=m)


@contextlib.contextmanager
def compilations() -> Iterator[list[str]]:
    """The XLA compilations (of any program) made inside the block."""
    events: list[str] = []

    def listener(event: str, duration: float, **kwargs: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_new_data_of_the_same_shapes_reuses_the_compiled_solve():
    (a1, b1), (a2, b2) = data(), data()
    first = optkit.minimize(ridge, jnp.zeros(3), args=(0.5, a1, b1), classify=False)
    with compilations() as compiled:
        second = optkit.minimize(ridge, jnp.zeros(3), args=(2.0, a2, b2), classify=False)
    assert compiled == []
    np.testing.assert_allclose(first.x, ridge_closed_form(0.5, a1, b1), rtol=1e-10)
    np.testing.assert_allclose(second.x, ridge_closed_form(2.0, a2, b2), rtol=1e-10)


def test_batch_args_must_have_the_starts_axis():
    with pytest.raises(ValueError, match="batch_args: every leaf needs the leading"):
        optkit.minimize_batch(ridge, jnp.zeros((4, 3)), args=(0.5, jnp.ones((8, 3))),
                              batch_args=jnp.ones((3, 8)))


@pytest.mark.slow
def test_one_non_tuple_argument_and_lbfgs_reuse_their_programs():
    # scipy's rule: a dict (any non-tuple) is one argument
    def loss(x, d):
        return ridge(x, d["lam"], d["a"], d["b"])

    for method in ("newton", "lbfgs"):
        results = []
        for lam in (0.5, 2.0):
            a, b = data()
            with compilations() as compiled:
                res = optkit.minimize(loss, jnp.zeros(3), method, classify=False,
                                      args={"lam": lam, "a": a, "b": b})
            results.append((res, ridge_closed_form(lam, a, b)))
        assert compiled == [], method  # the second call
        for res, want in results:
            np.testing.assert_allclose(res.x, want, rtol=1e-6)


@pytest.mark.slow
def test_batch_with_shared_and_per_start_data():
    a, _ = data()
    bs = RNG.normal(size=(5, 8))          # start i fits its own right-hand side b_i
    starts = RNG.normal(size=(5, 3))
    res = optkit.minimize_batch(ridge, starts, args=(0.5, a), batch_args=(bs,),
                                classify=False)
    assert bool(res.converged.all())
    np.testing.assert_allclose(res.x, [ridge_closed_form(0.5, a, b) for b in bs], rtol=1e-10)
    # new data of the same shapes: the same program
    a2, _ = data()
    with compilations() as compiled:
        again = optkit.minimize_batch(ridge, starts, args=(3.0, a2), batch_args=(bs + 1,),
                                      classify=False)
    assert compiled == []
    np.testing.assert_allclose(again.x, [ridge_closed_form(3.0, a2, b + 1) for b in bs],
                               rtol=1e-10)
    # chunked over starts (lax.map over starts and their data): the same solutions
    chunked = optkit.minimize_batch(ridge, starts, args=(0.5, a), batch_args=(bs,),
                                    classify=False, chunk_size=2)
    np.testing.assert_allclose(chunked.x, res.x, rtol=1e-12)


def test_a_solve_with_traced_data_leaks_no_tracer():
    # nothing optkit caches may keep the objective (which closes over the traced args) alive
    # after the solve's trace: jax's leak checker fails the trace otherwise
    a, b = data()
    with jax.checking_leaks():
        res = optkit.minimize(ridge, jnp.zeros(3), args=(0.5, a, b), method="newton")
    np.testing.assert_allclose(res.x, ridge_closed_form(0.5, a, b), rtol=1e-10)
