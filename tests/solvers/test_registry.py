"""The method and line-search registries: one place that knows every name."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

import optkit
from optkit.solvers import Backtracking, Wolfe, get_method, make_solver, method_names
from optkit.solvers._linesearch import LINE_SEARCHES
from tests.helpers import jit


def quadratic(x):
    """½ xᵀ diag(1, 10) x: the minimiser is 0."""
    return 0.5 * (x[0] ** 2 + 10.0 * x[1] ** 2)


def test_builtin_methods_and_their_defaults():
    assert method_names()[:6] == ["newton", "gradient_descent", "newton_cg", "trust_region",
                                  "bfgs", "lbfgs"]
    assert get_method("gradient_descent").max_steps == 20_000
    assert get_method("newton").max_steps == 1000
    assert get_method("newton").default_grad_tol(np.float64) == 1e-8
    assert get_method("newton").default_grad_tol(np.float32) == 1e-4


def test_options_come_from_the_factory_signature_and_docstring():
    options = get_method("newton").options()
    assert list(options) == ["line_search", "regularization", "escape_length", "escape_below"]
    assert options["regularization"].default == "eigen"
    assert "eigen" in options["regularization"].doc
    assert set(get_method("lbfgs").options()) == {"memory_size", "max_linesearch_steps"}


def test_unknown_method_suggests_the_nearest():
    with pytest.raises(ValueError, match=r"unknown method 'newtn' \(did you mean 'newton'\?\)"):
        make_solver("newtn")


def test_registering_a_taken_name_needs_replace():
    with pytest.raises(ValueError, match="already registered"):
        optkit.register_method("newton", optkit.Newton)
    with pytest.raises(ValueError, match="identifier"):
        optkit.register_method("not a name", optkit.Newton)


def test_lbfgs_preset_is_one_object_per_option_set():
    # Optax solvers compare by identity: a new object per call would recompile every solve
    assert make_solver("lbfgs") is make_solver("lbfgs")
    assert make_solver("lbfgs", memory_size=5) is not make_solver("lbfgs")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["newton", "bfgs", "newton_cg", "gradient_descent"])
@pytest.mark.parametrize("line_search", ["backtracking", "wolfe", Wolfe(c2=0.1),
                                         Backtracking(c1=0.3)])
def test_every_line_search_fits_every_line_search_method(method, line_search):
    res = optkit.minimize(quadratic, np.array([3.0, -2.0]), method=method,
                          line_search=line_search, classify=False)
    assert res.status == optkit.Status.CONVERGED
    np.testing.assert_allclose(np.asarray(res.x), [0.0, 0.0], atol=1e-8)


def test_wolfe_steps_satisfy_the_strong_wolfe_conditions():
    """Every accepted BFGS step with the folded Wolfe search meets both conditions."""
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2

    res = optkit.minimize(rosenbrock, np.array([-1.2, 1.0]), method="bfgs",
                          line_search="wolfe", record=True, classify=False)
    assert res.status == optkit.Status.CONVERGED
    xs = np.asarray(res.trajectory.x)[: int(res.num_steps) + 1]
    grad = jit(jax.grad(rosenbrock))
    for x, x_next in zip(xs[:-1], xs[1:], strict=True):
        d = x_next - x  # t·d: the conditions are invariant to splitting t from d
        f0, f1 = rosenbrock(x), rosenbrock(x_next)
        g0, g1 = np.asarray(grad(x)), np.asarray(grad(x_next))
        slope = float(g0 @ d)
        assert slope < 0
        eps = np.finfo(np.float64).eps
        sufficient = f1 <= f0 + 1e-4 * slope or (f1 <= f0 + 4 * eps * abs(f0)
                                                  and np.linalg.norm(g1) < np.linalg.norm(g0))
        assert sufficient
        assert abs(float(g1 @ d)) <= 0.9 * abs(slope) + 1e-12


@dataclasses.dataclass(frozen=True)
class HalfSteps(Backtracking):
    """Backtracking that always halves (no interpolation)."""

    def next_step(self, trial, state):
        return 0.5 * trial.t, state


def test_a_registered_line_search_is_usable_by_name():
    optkit.register_line_search("halving", HalfSteps, replace=True)
    try:
        res = optkit.minimize(quadratic, np.array([3.0, -2.0]), method="gradient_descent",
                              line_search="halving", classify=False)
        assert res.status == optkit.Status.CONVERGED
    finally:
        LINE_SEARCHES.pop("halving")


def test_presets_are_plain_frozen_dataclasses():
    newton = optkit.Newton(regularization="levenberg", line_search="wolfe")
    assert dataclasses.fields(newton)
    assert newton == optkit.Newton(regularization="levenberg", line_search="wolfe")
    assert hash(newton) == hash(optkit.Newton(regularization="levenberg", line_search="wolfe"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        newton.regularization = "eigen"  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown line_search 'wolf'"):
        optkit.BFGS(line_search="wolf")


@pytest.mark.parametrize(("keyword", "hint"), [
    ("maxiter", "scipy's 'maxiter' is 'max_steps' here"),
    ("tol", "scipy's 'tol' is 'grad_tol' here"),
    ("jac", "derivatives come from JAX's autodiff"),
    ("regularisation", "did you mean 'regularization'"),
])
def test_unknown_keywords_of_minimize_name_the_right_one(keyword, hint):
    with pytest.raises(TypeError, match=f"unknown option '{keyword}' for method 'newton'") as err:
        optkit.minimize(quadratic, np.array([1.0, 1.0]), **{keyword: 1})
    assert hint in str(err.value)
