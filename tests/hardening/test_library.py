"""The library refuses what the compiled program cannot represent, before tracing: one-line
errors naming the keyword, an estimate and the knob for record buffers; integer leaves of x0
are promoted and optimised; a grad_tol below the dtype's floor is raised with a warning."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit import _limits
from optkit._pytree import as_start
from optkit.solvers._status import Status
from optkit.solvers._validation import ToleranceWarning, check_stop, grad_tol_floor


def bowl(x):
    return jnp.sum((x - 1.0) ** 2)


X0 = np.zeros(2)

CASES = [
    # (keywords, exception type, words in the message)
    (dict(max_steps=-5), ValueError, ("max_steps", "at least 0")),
    (dict(max_steps=3_000_000_000), ValueError, ("max_steps", "21,474,835", "int32")),
    (dict(max_steps=_limits.MAX_STEPS + 1), ValueError, ("max_steps", "int32")),
    (dict(max_steps=2.5), TypeError, ("max_steps", "whole number")),
    (dict(max_steps=True), TypeError, ("max_steps", "whole number")),
    (dict(max_steps="10"), TypeError, ("max_steps", "whole number")),
    (dict(grad_tol=float("nan")), ValueError, ("grad_tol", "finite")),
    (dict(grad_tol=-1.0), ValueError, ("grad_tol", "≥ 0")),
    (dict(grad_tol=float("inf")), ValueError, ("grad_tol", "finite")),
    (dict(grad_tol="small"), TypeError, ("grad_tol", "number")),
    (dict(x_tol=float("nan")), ValueError, ("x_tol", "finite")),
    (dict(f_tol=-1e-9), ValueError, ("f_tol", "≥ 0")),
    (dict(method="gradient_descent", step_size=-1.0), ValueError, ("step_size", "positive")),
    (dict(method="gradient_descent", step_size=float("nan")), ValueError,
     ("step_size", "finite")),
    (dict(method="lbfgs", memory_size=0), ValueError, ("memory_size", "at least 1")),
    (dict(method="lbfgs", memory_size=2**40), ValueError, ("memory_size", "int32")),
    (dict(method="newton_cg", max_cg_steps=-1), ValueError, ("max_cg_steps", "at least 1")),
    (dict(method="trust_region", eta=1.0), ValueError, ("eta", "[0, 1)")),
    (dict(method="trust_region", initial_radius=0.0), ValueError,
     ("initial_radius", "positive")),
    (dict(maxiter=10), TypeError, ("maxiter", "max_steps")),
    (dict(tol=1e-6), TypeError, ("'tol'", "grad_tol")),
    (dict(jac=True), TypeError, ("jac", "autodiff")),
    (dict(hess=None), TypeError, ("hess", "autodiff")),
    (dict(max_step=10), TypeError, ("max_step", "max_steps")),
    (dict(record=True, max_steps=10**7), ValueError,
     ("record=True", "610.4 MiB", "OPTKIT_MAX_ARRAY_BYTES")),
]


@pytest.mark.parametrize(("keywords", "kind", "words"), CASES,
                         ids=[",".join(f"{k}={v!r}"[:30] for k, v in c[0].items())
                              for c in CASES])
def test_minimize_refuses_bad_keywords_in_one_line(keywords, kind, words, monkeypatch):
    # record buffers: 10⁷ steps of 2 variables are 610 MiB; the limit is lowered to 64 MiB
    monkeypatch.setenv(_limits.MAX_ARRAY_BYTES.env, str(64 * 2**20))
    with pytest.raises(kind) as info:
        optkit.minimize(bowl, X0, **keywords)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


BATCH_CASES = [
    (dict(max_steps=-1), ValueError, "max_steps"),
    (dict(grad_tol=float("nan")), ValueError, "grad_tol"),
    (dict(record=True, max_steps=200_000), ValueError, "1,000 starts"),
]


@pytest.mark.parametrize(("keywords", "kind", "word"), BATCH_CASES,
                         ids=["max_steps", "grad_tol", "record"])
def test_minimize_batch_checks_before_tracing(keywords, kind, word, monkeypatch):
    monkeypatch.setenv(_limits.MAX_ARRAY_BYTES.env, str(64 * 2**20))
    with pytest.raises(kind, match=word):
        optkit.minimize_batch(bowl, np.zeros((1000, 2)), **keywords)


def test_tolerance_floor_is_ten_epsilons_with_one_warning():
    assert grad_tol_floor(np.float32) == pytest.approx(10 * np.finfo(np.float32).eps)
    with pytest.warns(ToleranceWarning, match="float32") as caught:
        grad_tol, _ = check_stop(1e-10, 100, np.float32)
    assert len(caught) == 1 and grad_tol == grad_tol_floor(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_stop(1e-10, 100, np.float64)[0] == 1e-10  # reachable in float64
        assert check_stop(0.0 + grad_tol_floor(np.float32), 5, np.float32)[1] == 5


def test_float32_with_a_tiny_grad_tol_converges_at_the_floor():
    """float32, grad_tol 1e-10: raised to 1.2e-6 with a warning, and the solve converges
    (instead of ending LINE_SEARCH_FAILED) to x* = 1."""
    with pytest.warns(ToleranceWarning):
        result = optkit.minimize(bowl, np.full(2, 3.0, np.float32), "gradient_descent",
                                 grad_tol=1e-10, classify=False)
    assert result.status == Status.CONVERGED
    assert result.x.dtype == np.float32
    np.testing.assert_allclose(result.x, 1.0, atol=1e-5)


def test_integer_leaves_are_promoted_and_optimised():
    """f = ‖a − (1, 2)‖² + (n − 2)²; n starts as the int 3 and must move to 2 (it used to stay
    frozen at 3 with a gradient of 2 while the status said CONVERGED)."""
    def f(p):
        a = jnp.asarray(p["a"])  # a list in a pytree is a node: its entries are leaves
        return jnp.sum((a - jnp.array([1.0, 2.0])) ** 2) + (p["n"] - 2.0) ** 2

    result = optkit.minimize(f, {"a": [1.0, 2.0], "n": 3}, "gradient_descent", classify=False)
    assert result.status == Status.CONVERGED
    assert jnp.issubdtype(result.x["n"].dtype, jnp.floating)
    np.testing.assert_allclose(result.x["n"], 2.0, atol=1e-8)
    np.testing.assert_allclose(result.x["a"], [1.0, 2.0], atol=1e-8)


def test_integer_leaves_take_the_float_dtype_of_the_pytree():
    start = as_start({"w": np.zeros(2, np.float32), "k": 3, "m": np.arange(2)})
    assert {leaf.dtype for leaf in (start["w"], start["k"], start["m"])} == {
        np.dtype(np.float32)}
    assert as_start([1, 2]).dtype == np.float64


@pytest.mark.parametrize(("x0", "word"), [({"a": 1.0, "flag": True}, "['flag']"),
                                          ({"z": np.ones(2, np.complex64)}, "complex")],
                         ids=["bool", "complex"])
def test_boolean_and_complex_leaves_are_refused(x0, word):
    with pytest.raises(TypeError) as info:
        optkit.minimize(lambda p: 0.0, x0)
    assert word in str(info.value) and "\n" not in str(info.value)
