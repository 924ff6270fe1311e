"""optkit's programs compile with XLA:CPU's classic emitters at top level (optkit._compile), and
the same solves traced inside a user's jit or vmap, where jax takes no compiler options, still
work and agree."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit import _compile


def rosenbrock(x):
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def test_solves_inside_a_user_jit_and_vmap_agree_with_top_level_solves():
    starts = jnp.array([[-1.2, 1.0], [0.5, -0.3]])
    top = [optkit.minimize(rosenbrock, x0, method="newton") for x0 in starts]
    inside_jit = jax.jit(lambda x0: optkit.minimize(rosenbrock, x0, method="newton").x)
    inside_vmap = jax.vmap(lambda x0: optkit.minimize(rosenbrock, x0, method="newton").x)
    for r, x0 in zip(top, starts, strict=True):
        assert r.status == optkit.Status.CONVERGED
        np.testing.assert_allclose(r.x, [1.0, 1.0], atol=1e-10)
        # two compilations of the same solve: equal to rounding, not necessarily bit for bit
        np.testing.assert_allclose(inside_jit(x0), r.x, atol=1e-12)
    np.testing.assert_allclose(inside_vmap(starts), jnp.stack([r.x for r in top]), atol=1e-12)


def test_an_xla_without_the_option_gets_plain_programs(monkeypatch):
    _compile.compiler_options.cache_clear()
    monkeypatch.setattr(_compile, "_CLASSIC_CPU_EMITTERS", {"xla_cpu_no_such_option": True})
    try:
        assert _compile.compiler_options() is None
        double = _compile.jit(lambda x: 2.0 * x)
        assert float(double(jnp.float64(3.25))) == 6.5
    finally:
        _compile.compiler_options.cache_clear()


@pytest.mark.parametrize("value, classic", [("0", False), ("off", False), ("1", True),
                                            ("", True)])
def test_the_environment_can_turn_the_classic_emitters_off(monkeypatch, value, classic):
    _compile.compiler_options.cache_clear()
    monkeypatch.setenv(_compile.CLASSIC_EMITTERS_ENV, value)
    try:
        options = _compile.compiler_options()
        assert (options == {"xla_cpu_use_fusion_emitters": False}) is classic
        assert classic or options is None
        assert float(_compile.jit(lambda x: x + 1.0)(jnp.float64(1.5))) == 2.5
    finally:
        _compile.compiler_options.cache_clear()


@pytest.mark.parametrize("nested", [False, True])
def test_the_jit_wrapper_keeps_jax_jit_s_interface(nested):
    @_compile.jit
    def square_sum(x):
        """Σ xᵢ²."""
        return jnp.sum(x**2)

    x = jnp.arange(3.0)
    assert square_sum.__doc__ == "Σ xᵢ²." and square_sum.__name__ == "square_sum"
    assert float(square_sum.lower(x).compile()(x)) == 5.0
    value = jax.jit(square_sum)(x) if nested else square_sum(x)
    assert float(value) == 5.0
    # the gradient traces through it (a nested call)
    np.testing.assert_array_equal(jax.grad(square_sum)(x), 2.0 * x)


def test_a_jit_of_a_vmap_of_a_jitted_function_batches():
    # jax.vmap copies the wrapped function's attributes (functools.wraps); the outer jit must
    # still compile the vmapped function, not the inner one
    inner = _compile.jit(lambda x: jnp.sum(x**2))
    outer = _compile.jit(jax.vmap(inner))
    np.testing.assert_array_equal(outer(jnp.arange(6.0).reshape(3, 2)), [1.0, 13.0, 41.0])
