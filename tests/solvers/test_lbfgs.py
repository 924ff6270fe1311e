"""L-BFGS ("lbfgs", optax's with its zoom search): the minimiser of Rosenbrock, iterations
against optax.lbfgs run by hand, and no recompilation for equal solver objects."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optkit
from optkit._compile import jit
from optkit.solvers import make_solver
from optkit.solvers._api import _solve_jit


def extended_rosenbrock(x):
    a, b = x[::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def _optax_by_hand(fun, x0, grad_tol, max_steps=1000):
    """optax.lbfgs() as its documentation runs it, in a jitted while loop; its step count."""
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    def cond(carry):
        _, state, k, g_norm = carry
        return (k < max_steps) & (g_norm > grad_tol)

    def body(carry):
        x, state, k, _ = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=fun)
        x = optax.apply_updates(x, updates)
        return x, state, k + 1, jnp.linalg.norm(optax.tree_utils.tree_get(state, "grad"))

    def run(x0):
        g0 = jnp.linalg.norm(jax.grad(fun)(x0))
        return jax.lax.while_loop(cond, body, (x0, opt.init(x0), 0, g0))

    # compiled as optkit compiles its own programs (optkit._compile), so that both loops do
    # the same arithmetic: under XLA's other CPU emitters the last bits differ, and a solve
    # that ends near ‖∇f‖ = grad_tol can take one step more or less either way
    x, _, k, _ = jit(run)(x0)
    return x, int(k)


@pytest.mark.slow
def test_rosenbrock_minimiser_in_no_more_steps_than_optax_by_hand():
    x0 = np.tile([-1.2, 1.0], 10)
    res = optkit.minimize(extended_rosenbrock, x0, "lbfgs", classify=False, max_steps=1000)
    assert res.converged
    np.testing.assert_allclose(res.x, np.ones(20), atol=1e-7)
    x_optax, steps_optax = _optax_by_hand(extended_rosenbrock, x0, 1e-8)
    np.testing.assert_allclose(x_optax, np.ones(20), atol=1e-7)
    assert 0 < int(res.num_steps) <= steps_optax


def test_optax_solvers_compare_by_construction():
    same = [optkit.Optax(optax.lbfgs()), optkit.Optax(optax.lbfgs()), make_solver("lbfgs"),
            make_solver(optax.lbfgs())]
    assert all(s == same[0] and hash(s) == hash(same[0]) for s in same)
    assert make_solver("lbfgs", memory_size=5) != same[0]
    assert optkit.Optax(optax.adam(1e-3)) == optkit.Optax(optax.adam(1e-3))
    assert optkit.Optax(optax.adam(1e-3)) != optkit.Optax(optax.adam(1e-2))
    assert optkit.Optax(optax.adam(1e-3)) != optkit.Optax(optax.sgd(1e-3))
    # numbers of different types are different programs (1 vs 1.0 may change dtypes)
    assert optkit.Optax(optax.sgd(1)) != optkit.Optax(optax.sgd(1.0))


@pytest.mark.parametrize("make", [lambda: "lbfgs", lambda: optkit.Optax(optax.lbfgs()),
                                  lambda: optax.lbfgs()], ids=["name", "Optax", "optax"])
def test_a_second_solve_does_not_recompile(make):
    # max_steps given: a name's default (1000) and a solver object's (20000) differ. A new
    # start, the same function and shapes: the program compiled for the first solve (the
    # test above's, when it ran) serves every one of the three spellings
    # (numpy starts: float64 and never weakly typed, as the test above's)
    starts = np.tile([-1.2, 1.0], 10), np.full(20, 0.5)
    optkit.minimize(extended_rosenbrock, starts[0], make(), classify=False, max_steps=1000)
    before = _solve_jit._cache_size()
    res = optkit.minimize(extended_rosenbrock, starts[1], make(), classify=False,
                          max_steps=1000)
    assert _solve_jit._cache_size() == before
    assert res.converged
    np.testing.assert_allclose(res.x, np.ones(20), atol=1e-7)
