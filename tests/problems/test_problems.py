"""The problem registry: every problem evaluates in float32 and float64, every listed critical
point is critical (‖∇f‖ < 1e-8), has the listed value and the listed kind by optkit.classify,
and the closed forms behind them hold."""

from __future__ import annotations

import itertools
import math
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit import problems
from optkit.problems import KnownPoint, Problem
from tests.helpers import jit, ravel_numpy

REQUIRED = {
    "log_sum_exp", "quartic", "gaussian_bump", "composed", "cubic_saddle", "linear",
    "quadratic_form", "matrix_factorization", "rosenbrock", "himmelblau", "beale", "booth",
    "matyas", "six_hump_camel", "styblinski_tang", "quadratic", "monkey_saddle",
}
KINDS = {"minimum", "maximum", "saddle", "degenerate"}

# every problem with its defaults, then other parameters (one compiled program each: slow part)
CASES = [(name, {}) for name in problems.names()] + [
    pytest.param(name, params, marks=pytest.mark.slow) for name, params in [
        ("rosenbrock", {"dim": 5}),
        ("styblinski_tang", {"dim": 3}),
        ("styblinski_tang", {"dim": 6}),
        ("quadratic", {"dim": 4, "condition": 1e3}),
        ("quadratic_form", {"A": [[1.0, 2.0], [2.0, 1.0]]}),
        ("quadratic_form", {"A": [[1.0, 1.0], [1.0, 1.0]]}),
        ("linear", {"beta": [0.0, 0.0, 0.0]}),
    ]
]


def _to_float32(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float32), tree)


def test_registry_has_every_required_problem():
    assert set(problems.names()) == REQUIRED
    assert problems.parameters("quadratic") == {"dim": 2, "condition": 100.0}
    assert problems.parameters("himmelblau") == {}


@pytest.mark.parametrize(("name", "params"), CASES, ids=lambda v: str(v) if v else "")
def test_problem_record_and_known_critical_points(name, params):
    problem = problems.get(name, **params)
    assert isinstance(problem, Problem)
    assert problem.name == name and problem.source
    flat_start = ravel_numpy(problem.start)
    assert flat_start.shape == (problem.dim,)
    lower, upper = (np.asarray(b) for b in problem.box)
    assert lower.shape == upper.shape == (problem.dim,) and np.all(lower < upper)

    # One compiled program per problem (compiling dominates the cost): the vmapped
    # classification of every known point and of the start (so that problems without known
    # points also go through jit, vmap and the Hessian), and f at the start in float64 and
    # float32.
    def run(points, start64, start32):
        classified = jax.vmap(lambda z: optkit.classify(problem.fun, problem.unravel(z)))(points)
        return classified, problem.fun(start64), problem.fun(start32)

    known = problem.critical_points
    points = np.array([p.x for p in known] + [flat_start], dtype=np.float64)
    found, value64, value32 = jit(run)(points, problem.start, _to_float32(problem.start))
    assert value64.dtype == jnp.float64 and value64.shape == ()
    assert value32.dtype == jnp.float32 and value32.shape == ()
    assert np.isfinite(value64) and np.isfinite(value32)
    np.testing.assert_allclose(value32, value64, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(found.eigenvalues))
    if not known:
        return
    assert all(p.kind in KINDS for p in known)
    assert np.all((points[:-1] >= lower) & (points[:-1] <= upper)), "known point outside box"
    distances = np.linalg.norm(points[:-1, None] - points[None, :-1], axis=-1)
    assert np.all(distances[~np.eye(len(known), dtype=bool)] > 1e-6), "duplicate points"
    grad_norm = np.asarray(found.grad_norm)[:-1]
    assert np.all(grad_norm < 1e-8), grad_norm
    np.testing.assert_allclose(np.asarray(found.value)[:-1], [p.value for p in known],
                               rtol=1e-10, atol=1e-12)
    assert list(found.kind[:-1]) == [p.kind for p in known]


def test_rosenbrock_gradient_matches_closed_form():
    problem = problems.get("rosenbrock", dim=5)
    x = np.random.default_rng(0).uniform(-2, 2, size=(8, 5))
    grad = jit(jax.vmap(jax.grad(problem.fun)))(x)
    expected = np.zeros_like(x)
    expected[:, :-1] += -400.0 * x[:, :-1] * (x[:, 1:] - x[:, :-1] ** 2) - 2.0 * (1 - x[:, :-1])
    expected[:, 1:] += 200.0 * (x[:, 1:] - x[:, :-1] ** 2)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(problem.start, [-1.2, 1.0, -1.2, 1.0, -1.2])
    with pytest.raises(ValueError, match=r"shape \(5,\)"):
        problem.fun(np.ones(3))


def test_composed_value_by_hand_and_its_closed_form():
    problem = problems.get("composed")
    np.testing.assert_array_equal(problem.start, [-1.0, 0.0, -2.0, 1.0])
    x = np.random.default_rng(1).normal(size=(6, 4))
    at_start, values = jit(lambda s, x: (problem.fun(s), jax.vmap(problem.fun)(x)))(
        problem.start, x)
    # a = (−1 + 0 − 2 + 1)² = 4, b = (−1 + 0 + 2 − 1)² = 0, u = v = 16, f = 32² = 1024.
    assert float(at_start) == 1024.0
    s = x.sum(axis=1)
    t = x[:, 0] + x[:, 1] - x[:, 2] - x[:, 3]
    np.testing.assert_allclose(values, 4 * (s**4 + t**4) ** 2, rtol=1e-12)


def test_quartic_critical_points_and_curvatures():
    problem = problems.get("quartic")
    x = np.array([[-1.0], [0.0], [2.0]])
    derivatives = jit(jax.vmap(lambda z: (problem.fun(z), jax.grad(problem.fun)(z),
                                              jax.hessian(problem.fun)(z))))
    value, grad, hess = derivatives(x)
    np.testing.assert_array_equal(value, [-5.0, 0.0, -32.0])
    np.testing.assert_array_equal(grad, np.zeros((3, 1)))
    # f″(x) = 36x² − 24x − 24.
    np.testing.assert_array_equal(np.asarray(hess)[:, 0, 0], [36.0, -24.0, 72.0])
    assert problem.box == ((-2.0,), (3.0,))


def test_gaussian_bump_gradient_and_extremes():
    problem = problems.get("gaussian_bump")
    z = np.random.default_rng(2).uniform(-2, 2, size=(8, 2))
    x, y = z.T
    e = np.exp(-(x**2) - y**2)
    np.testing.assert_allclose(jit(jax.vmap(jax.grad(problem.fun)))(z),
                               np.stack([e * (1 - 2 * x**2), -2 * x * y * e], axis=1),
                               rtol=1e-12, atol=1e-15)
    values = sorted(p.value for p in problem.critical_points)
    np.testing.assert_allclose(values, [-math.exp(-0.5) / math.sqrt(2),
                                        math.exp(-0.5) / math.sqrt(2)], rtol=1e-15)


def test_log_sum_exp_gradient_is_softmax_and_it_does_not_overflow():
    problem = problems.get("log_sum_exp")
    z = np.array([[0.3, -1.2], [2.0, 2.0], [1000.0, 999.0]])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)  # softmax
    value, grad, hess = jit(jax.vmap(lambda x: (problem.fun(x), jax.grad(problem.fun)(x),
                                                    jax.hessian(problem.fun)(x))))(z)
    np.testing.assert_allclose(grad, p, rtol=1e-13)
    np.testing.assert_allclose(hess, np.array([np.diag(q) for q in p])
                               - p[:, :, None] * p[:, None, :], atol=1e-15)
    np.testing.assert_allclose(np.asarray(value)[2], 1000.0 + np.log1p(np.exp(-1.0)),
                               rtol=1e-15)


def test_matrix_factorization_pytree_and_gradient():
    problem = problems.get("matrix_factorization")
    assert set(problem.start) == {"U", "V"}
    assert problem.start["U"].shape == (4, 2) and problem.start["V"].shape == (2, 3)
    assert problem.dim == 4 * 2 + 2 * 3
    minimum = jax.tree_util.tree_map(
        np.asarray, problem.unravel(np.asarray(problem.critical_points[0].x)))
    target = minimum["U"] @ minimum["V"]
    assert np.linalg.matrix_rank(target) == 2
    u, v = np.asarray(problem.start["U"]), np.asarray(problem.start["V"])
    # Every known point of the symmetric orbit (UG, G⁻¹V) is a minimum too.
    g = np.array([[2.0, 1.0], [0.0, 0.5]])
    moved = {"U": minimum["U"] @ g, "V": np.linalg.solve(g, minimum["V"])}
    grad, moved_value = jit(lambda s, m: (jax.grad(problem.fun)(s), problem.fun(m)))(
        problem.start, moved)
    residual = target - u @ v
    np.testing.assert_allclose(grad["U"], -2 * residual @ v.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad["V"], -2 * u.T @ residual, rtol=1e-12, atol=1e-14)
    assert float(moved_value) < 1e-25
    # A wide rank-1 variant: X = U*V* of rank 1, and f(0) = ‖X‖²_F.
    wide = problems.get("matrix_factorization", m=3, n=5, rank=1, seed=3)
    assert wide.dim == 8 and wide.start["V"].shape == (1, 5)
    u_star = np.asarray(wide.critical_points[0].x[:3]).reshape(3, 1)
    v_star = np.asarray(wide.critical_points[0].x[3:]).reshape(1, 5)
    np.testing.assert_allclose(wide.critical_points[1].value, np.sum((u_star @ v_star) ** 2))
    # Same seed, same problem; another seed, another target.
    again = problems.get("matrix_factorization")
    np.testing.assert_array_equal(again.critical_points[0].x, problem.critical_points[0].x)
    other = problems.get("matrix_factorization", seed=1)
    assert other.critical_points[0].x != problem.critical_points[0].x


def test_quadratic_form_kind_follows_the_symmetric_part():
    # xᵀAx only sees S = (A + Aᵀ)/2; here S = [[−1, 1/4], [1/4, −2]] is negative definite.
    assert problems.get("quadratic_form", A=[[-1.0, 0.5], [0.0, -2.0]]).critical_points[0].kind \
        == "maximum"
    skew = problems.get("quadratic_form", A=[[0.0, 1.0], [-1.0, 0.0]])  # S = 0
    assert skew.critical_points[0].kind == "degenerate"
    assert abs(float(jit(skew.fun)(np.array([0.3, -1.7])))) < 1e-15


def test_quadratic_condition_number():
    problem = problems.get("quadratic", dim=3, condition=1e3)
    hess = jit(jax.hessian(problem.fun))(np.zeros(3))
    np.testing.assert_allclose(np.diag(hess), [1.0, np.sqrt(1e3), 1e3], rtol=1e-12)
    np.testing.assert_allclose(np.linalg.cond(hess), 1e3, rtol=1e-12)


def _counts(problem):
    return {kind: sum(p.kind == kind for p in problem.critical_points) for kind in KINDS}


def test_himmelblau_has_its_nine_critical_points():
    problem = problems.get("himmelblau")
    assert _counts(problem) == {"minimum": 4, "maximum": 1, "saddle": 4, "degenerate": 0}
    (maximum,) = [p for p in problem.critical_points if p.kind == "maximum"]
    np.testing.assert_allclose(maximum.x, (-0.270845, -0.923039), atol=1e-6)
    np.testing.assert_allclose(maximum.value, 181.617, atol=1e-3)
    assert KnownPoint((3.0, 2.0), 0.0, "minimum", "global minimum") in problem.critical_points


def test_six_hump_camel_global_minima():
    problem = problems.get("six_hump_camel")
    assert _counts(problem) == {"minimum": 6, "maximum": 2, "saddle": 7, "degenerate": 0}
    best = sorted(problem.critical_points, key=lambda p: p.value)[:2]
    np.testing.assert_allclose(sorted(p.x for p in best),
                               [(-0.0898, 0.7126), (0.0898, -0.7126)], atol=1e-4)
    np.testing.assert_allclose([p.value for p in best], -1.0316, atol=1e-4)


def test_styblinski_tang_points_are_the_products_of_the_cubic_roots():
    roots = np.sort(np.roots([4.0, 0.0, -32.0, 5.0]).real)
    g = 0.5 * (roots**4 - 16 * roots**2 + 5 * roots)
    problem = problems.get("styblinski_tang", dim=2)
    expected = {(a, b): g[a] + g[b] for a, b in itertools.product(range(3), repeat=2)}
    assert len(problem.critical_points) == 9
    for point in problem.critical_points:
        index = tuple(int(np.argmin(np.abs(roots - t))) for t in point.x)
        np.testing.assert_allclose(point.x, roots[list(index)], rtol=1e-14)
        np.testing.assert_allclose(point.value, expected[index], rtol=1e-13)
        kind = {0: "minimum", 2: "maximum"}.get(index.count(1), "saddle")
        assert point.kind == kind
    np.testing.assert_allclose(problem.critical_points[0].value, 2 * g[0], rtol=1e-14)
    np.testing.assert_allclose(g[0], -39.16616570377142, rtol=1e-12)


@pytest.mark.parametrize("name", ["himmelblau", "six_hump_camel", "beale"])
def test_listed_critical_points_are_all_that_newton_finds_in_the_box(name):
    """Independent check of completeness: Newton's iteration on ∇f = 0 from a 40×40 grid."""
    problem = problems.get(name)
    grad, hess = jax.grad(problem.fun), jax.hessian(problem.fun)

    def newton(z):
        """60 Newton steps on ∇f = 0, and ‖∇f‖ where they end (one compiled program)."""
        z = jax.lax.fori_loop(0, 60, lambda _, z: z - jnp.linalg.solve(hess(z), grad(z)), z)
        return z, jnp.linalg.norm(grad(z))

    lower, upper = (np.asarray(b) for b in problem.box)
    axes = [np.linspace(lo, hi, 40) for lo, hi in zip(lower, upper, strict=True)]
    starts = np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, 2)
    ends, grad_norm = map(np.asarray, jit(jax.vmap(newton))(starts))
    ok = np.all(np.isfinite(ends), axis=1)
    ok[ok] &= np.all((ends[ok] >= lower) & (ends[ok] <= upper), axis=1)
    ok[ok] &= grad_norm[ok] < 1e-9
    known = np.array([p.x for p in problem.critical_points])
    distance = np.linalg.norm(ends[ok][:, None] - known[None], axis=-1)
    assert np.all(distance.min(axis=1) < 1e-7), ends[ok][distance.min(axis=1) >= 1e-7]
    assert np.all(distance.min(axis=0) < 1e-7), "a listed point was never reached"


def test_unknown_names_and_parameters_are_named_with_a_suggestion():
    with pytest.raises(ValueError, match="unknown problem 'rosenbrok'.*did you mean 'rosenbrock'"):
        problems.get("rosenbrok")
    with pytest.raises(ValueError, match="no parameter 'dims'.*did you mean 'dim'"):
        problems.get("rosenbrock", dims=3)
    with pytest.raises(ValueError, match="'himmelblau' has no parameter 'dim'.*no parameters"):
        problems.get("himmelblau", dim=3)
    with pytest.raises(ValueError, match="problem name must be a string"):
        problems.get(3)


@pytest.mark.parametrize(("name", "params", "message"), [
    ("rosenbrock", {"dim": 1}, "'dim' must be ≥ 2"),
    ("rosenbrock", {"dim": 2.5}, "'dim' must be an integer"),
    ("rosenbrock", {"dim": True}, "'dim' must be an integer"),
    ("quadratic", {"condition": 0.5}, "'condition' must be a finite number ≥ 1"),
    ("quadratic", {"condition": float("nan")}, "'condition' must be a finite number"),
    ("quadratic", {"dim": 1, "condition": 10.0}, "'condition' must be 1 when dim = 1"),
    ("quadratic_form", {"A": [[1.0, 2.0]]}, "'A' must be a square matrix"),
    ("quadratic_form", {"A": [[1.0, "a"], [0.0, 1.0]]}, "'A' must be a list of lists"),
    ("quadratic_form", {"A": [1.0, 2.0]}, "'A' must be a non-empty matrix"),
    ("linear", {"beta": []}, "'beta' must be a non-empty vector"),
    ("linear", {"beta": [1.0, float("inf")]}, "'beta' has non-finite entries"),
    ("matrix_factorization", {"rank": 4}, r"'rank' must be ≤ min\(m, n\) = 3"),
    ("matrix_factorization", {"seed": -1}, "'seed' must be ≥ 0"),
    ("styblinski_tang", {"dim": 0}, "'dim' must be ≥ 1"),
])
def test_bad_parameter_values_are_named(name, params, message):
    with pytest.raises(ValueError, match=message) as info:
        problems.get(name, **params)
    assert "\n" not in str(info.value) and repr(name) in str(info.value)


def test_unravel_round_trips():
    problem = problems.get("matrix_factorization", m=2, n=3, rank=1)
    flat = ravel_numpy(problem.start)
    tree = problem.unravel(flat.astype(np.float32))
    assert tree["U"].dtype == jnp.float32 and tree["V"].shape == (1, 3)
    np.testing.assert_allclose(tree["U"], problem.start["U"], rtol=1e-6)
    with pytest.raises(ValueError, match="flat vector of 5 entries"):
        problem.unravel(np.zeros(4))


def _write(path, body):
    path.write_text(textwrap.dedent(body))
    return path


def test_from_function_loads_a_module_or_a_file(tmp_path, monkeypatch):
    _write(tmp_path / "optkit_test_usermod.py", """
        import jax.numpy as jnp

        def bowl(x):
            return jnp.sum((x - 1.0) ** 2)

        class Holder:
            @staticmethod
            def shifted(x):
                return jnp.sum(x ** 2) + 3.0

        NOT_CALLABLE = 3

        def vector_valued(x):
            return x

        def broken(x):
            raise RuntimeError("boom")
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    problem = problems.from_function("optkit_test_usermod:bowl", 3)
    assert problem.dim == 3 and problem.source == "user function"
    np.testing.assert_allclose(problem.start, [0.5, 0.5, 0.5])
    np.testing.assert_allclose(jit(jax.grad(problem.fun))(np.zeros(3)), [-2.0, -2.0, -2.0])
    by_path = problems.from_function(f"{tmp_path / 'optkit_test_usermod.py'}:Holder.shifted", 2,
                                     lower=1.0, upper=3.0)
    assert float(jit(by_path.fun)(np.ones(2))) == 5.0
    np.testing.assert_allclose(by_path.start, [2.0, 2.0])
    assert by_path.box == ((1.0, 1.0), (3.0, 3.0))

    for spec, dim, message in [
        ("optkit_test_usermod:bowel", 2, "has no attribute 'bowel' .did you mean 'bowl'"),
        ("optkit_test_usermod:NOT_CALLABLE", 2, "is not callable"),
        ("optkit_test_usermod:vector_valued", 2, "must return a float scalar"),
        ("optkit_test_usermod:broken", 2, "RuntimeError: boom"),
        ("optkit_no_such_module:f", 2, "no module named 'optkit_no_such_module'"),
        (f"{tmp_path / 'missing.py'}:f", 2, "not found"),
        ("optkit_test_usermod", 2, "expected 'package.module:function'"),
        ("optkit_test_usermod:bowl", 0, "dim must be a positive integer"),
        ("not a module:f", 2, "neither a module name"),
    ]:
        with pytest.raises(ValueError, match=message) as info:
            problems.from_function(spec, dim)
        assert spec in str(info.value) and "\n" not in str(info.value)


def test_from_function_finds_a_module_in_the_working_directory(tmp_path, monkeypatch):
    _write(tmp_path / "optkit_test_cwd_module.py", """
        def cube_sum(x):
            return (x ** 3).sum()
    """)
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    problem = problems.from_function("optkit_test_cwd_module:cube_sum", 2)
    assert float(jit(problem.fun)(np.array([1.0, 2.0]))) == 9.0
    assert sys.path == path_before


def test_from_function_reports_a_module_that_fails_to_import(tmp_path):
    bad = _write(tmp_path / "bad_module.py", "raise ImportError('missing dependency')\n")
    with pytest.raises(ValueError, match="loading .* failed: ImportError: missing dependency"):
        problems.from_function(f"{bad}:f", 2)
