"""find_critical_points against critical points computed exactly by computer algebra.

Each test function is a sympy expression. Its critical points are solved exactly: for
polynomial gradients (after dividing out positive factors such as exp(−x² − y²)) with a lex
Gröbner basis, real roots of the eliminated univariate polynomial and back-substitution at 60
digits; for gradients whose factors are univariate (sin(x)·cos(y)) with solveset per factor on
the box. Kinds come from the exact Hessian's eigenvalues at 50 digits (both signs → saddle,
else a zero eigenvalue → degenerate, else minimum/maximum). The atlas must find every point to
1e-6 with the right kind and nothing else, with 128 starts per function.
"""

from __future__ import annotations

import functools
import itertools
import warnings

import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
import sympy as sp

import optkit  # noqa: F401  (turns on float64)
from optkit.analysis._classify import Kind, classify
from optkit.analysis.critical_points import _search, find_critical_points, scrambled_halton
from tests.helpers import jit

x, y, z = sp.symbols("x y z", real=True)

# name: (expression, variables, lower, upper); scalar bounds make a 1-D box of 0-d arrays
ATLAS = {
    "cubic_saddle": (x**3 - 3 * x + y**2, (x, y), [-2, -2], [2, 2]),
    "double_well": ((x**2 - 1) ** 2 + (y**2 - 1) ** 2, (x, y), [-2, -2], [2, 2]),
    "coupled_quartic": (x**4 - 2 * x**2 + y**4 - 2 * y**2 + x * y, (x, y), [-2, -2], [2, 2]),
    "sin_cos": (sp.sin(x) * sp.cos(y), (x, y), [-2, -2], [4, 2]),
    "x2y_plus_xy2": (x**2 * y + x * y**2, (x, y), [-1, -1], [1, 1]),
    "monkey_saddle": (x**3 - 3 * x * y**2, (x, y), [-1, -1], [1, 1]),
    "quartic_bowl": (x**4 + y**4, (x, y), [-1, -1], [1, 1]),
    "cubic_valley": (x**3 + y**2, (x, y), [-1, -1], [1, 1]),
    "himmelblau": ((x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2, (x, y), [-5, -5], [5, 5]),
    "gaussian_bump": (x * sp.exp(-(x**2) - y**2), (x, y), [-2, -2], [2, 2]),
    "rosenbrock": ((1 - x) ** 2 + 100 * (y - x**2) ** 2, (x, y), [-2, -1], [2, 3]),
    "three_d": ((x**2 - 1) ** 2 + y**2 + z**3 - 3 * z + x * y * z / 2, (x, y, z),
                [-2, -2, -2], [2, 2, 2]),
    "quartic_1d": (3 * x**4 - 4 * x**3 - 12 * x**2, (x,), -2, 3),
}

DIGITS = 60


def _drop_positive_factors(expr: sp.Expr) -> sp.Expr:
    """The gradient component without constant factors and factors exp(·) > 0."""
    factors = sp.Mul.make_args(sp.factor(sp.powsimp(expr)))
    kept = [f for f in factors if not (f.is_number or isinstance(f, sp.exp))]
    return sp.Mul(*kept)


def _common_real_roots(polys: list[list], tol: float = 1e-25) -> list:
    """Real common roots of univariate polynomials given by coefficient lists (60 digits)."""
    polys = [_chop(c) for c in polys]
    polys = [c for c in polys if c]
    if any(len(c) == 1 for c in polys):
        return []  # a nonzero constant
    first = min(polys, key=len)
    roots = mpmath.polyroots(first, maxsteps=500, extraprec=4 * DIGITS, error=False)
    real = []
    for r in roots:
        r = mpmath.mpmathify(r)
        if abs(mpmath.im(r)) > 1e-12:
            continue
        r = mpmath.re(r)
        if all(abs(mpmath.polyval(c, r)) < 1e-12 * max(1, *map(abs, c)) for c in polys) and all(
            abs(r - s) > 1e-12 for s in real
        ):
            real.append(r)
    return real


def _chop(coeffs: list) -> list:
    coeffs = [mpmath.mpf(0) if abs(c) < mpmath.mpf(10) ** (-40) else c for c in coeffs]
    while coeffs and coeffs[0] == 0:
        coeffs = coeffs[1:]
    return coeffs


@mpmath.workdps(DIGITS)
def _solve_polynomial(eqs: list, variables: tuple) -> list[dict]:
    basis = sp.groebner(eqs, *variables, order="lex")
    if list(basis.exprs) == [1]:
        return []
    if not basis.is_zero_dimensional:
        raise ValueError("non-isolated critical points")
    solutions: list[dict] = [{}]
    for k in reversed(range(len(variables))):
        v = variables[k]
        polys = [p for p in basis.exprs
                 if v in p.free_symbols and p.free_symbols <= set(variables[k:])]
        extended = []
        for sol in solutions:
            reduced = [sp.Poly(sp.expand(p.subs(sol)), v) for p in polys]
            if all(c.is_Rational for p in reduced for c in p.all_coeffs()):
                # exact: real roots of the gcd, multiplicities and all (x⁴ − y² at y = 0)
                common = functools.reduce(sp.gcd, reduced)
                roots = sorted(set(common.real_roots())) if common.degree() > 0 else []
                roots = [r if r.is_Rational else sp.Float(r.evalf(DIGITS), DIGITS)
                         for r in roots]
            else:
                coeffs = [[mpmath.mpf(sp.Float(c, DIGITS)) for c in p.all_coeffs()]
                          for p in reduced]
                roots = [sp.Float(r, DIGITS) for r in _common_real_roots(coeffs)]
            extended.extend({**sol, v: r} for r in roots)
        solutions = extended
    return solutions


def _solve_separable(eqs: list, variables: tuple, lower: list, upper: list) -> list[dict]:
    """Each equation a product of univariate factors: enumerate which factor vanishes."""
    boxes = {v: sp.Interval(sp.nsimplify(lo), sp.nsimplify(hi))
             for v, lo, hi in zip(variables, lower, upper, strict=True)}
    options = []
    for eq in eqs:
        factors = [f for f in sp.Mul.make_args(eq) if not f.is_number]
        assert all(len(f.free_symbols) == 1 for f in factors), f"not separable: {eq}"
        options.append([(f, next(iter(f.free_symbols))) for f in factors])
    points = set()
    for combo in itertools.product(*options):
        allowed: dict = {}
        for factor, v in combo:
            roots = sp.solveset(factor, v, boxes[v])
            assert isinstance(roots, sp.FiniteSet), f"{factor}: {roots}"
            allowed[v] = allowed[v] & roots if v in allowed else roots
        if any(roots.is_empty for roots in allowed.values()):
            continue
        if set(allowed) != set(variables):
            raise ValueError("non-isolated critical points")
        for values in itertools.product(*(sorted(allowed[v], key=float) for v in variables)):
            points.add(values)
    return [dict(zip(variables, p, strict=True)) for p in points]


def _kind(hessian: sp.Matrix, point: dict) -> str:
    with mpmath.workdps(50):
        matrix = mpmath.matrix(hessian.subs(point).evalf(50).tolist())
        spectrum = mpmath.eigsy(matrix, eigvals_only=True)
        eigenvalues = [spectrum[i] for i in range(spectrum.rows)]
    positive = any(lam > 1e-20 for lam in eigenvalues)
    negative = any(lam < -1e-20 for lam in eigenvalues)
    if positive and negative:
        return "saddle"
    if any(abs(lam) <= 1e-20 for lam in eigenvalues):
        return "degenerate"
    return "minimum" if positive else "maximum"


@functools.cache
def exact_atlas(name: str) -> list[tuple[np.ndarray, str]]:
    """The exact critical points in the box, with their kinds (cached per function)."""
    expr, variables, lower, upper = ATLAS[name]
    lower, upper = np.atleast_1d(lower).tolist(), np.atleast_1d(upper).tolist()
    eqs = [_drop_positive_factors(sp.diff(expr, v)) for v in variables]
    if all(eq.is_polynomial(*variables) for eq in eqs):
        solutions = _solve_polynomial(eqs, variables)
    else:
        solutions = _solve_separable(eqs, variables, lower, upper)
    hessian = sp.hessian(expr, variables)
    atlas = []
    for sol in solutions:
        point = np.array([float(sol[v]) for v in variables])
        if np.all(point >= np.array(lower) - 1e-12) and np.all(point <= np.array(upper) + 1e-12):
            atlas.append((point, _kind(hessian, sol)))
    return atlas


@functools.cache
def jax_function(name: str):
    expr, variables, lower, _ = ATLAS[name]
    compiled = sp.lambdify(variables, expr, "jax")
    if np.ndim(lower) == 0:
        return compiled
    return lambda v: compiled(*v)


def assert_same_atlas(found, exact, tol=1e-6):
    found_x = [np.atleast_1d(np.asarray(p.x, dtype=float)) for p in found]
    found_kind = [p.kind for p in found]
    pairs = zip(found_x, found_kind, strict=True)
    report = (f"found {[(np.round(a, 7).tolist(), k) for a, k in pairs]}, "
              f"exact {[(np.round(a, 7).tolist(), k) for a, k in exact]}")
    assert len(found) == len(exact), report
    for point, kind in exact:
        matches = [i for i, a in enumerate(found_x) if np.linalg.norm(a - point) <= tol]
        assert len(matches) == 1, f"{point} matched {len(matches)} times; {report}"
        assert found_kind[matches[0]] == kind, f"{point}: {found_kind[matches[0]]} ≠ {kind}"


@functools.cache
def atlas(name: str, seed: int = 0) -> list:
    """find_critical_points with 128 starts, as the external check runs it (cached)."""
    _, _, lower, upper = ATLAS[name]
    return find_critical_points(jax_function(name), lower, upper, num_starts=128, seed=seed)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ATLAS))
def test_atlas_matches_exact_critical_points(name):
    _, _, lower, _ = ATLAS[name]
    found = atlas(name)
    assert_same_atlas(found, exact_atlas(name))
    values = [float(p.value) for p in found]
    assert values == sorted(values)
    for p in found:  # the reported value and shape are those of the point itself
        assert np.shape(p.x) == np.shape(lower)
        assert float(p.value) == pytest.approx(float(jax_function(name)(p.x)), abs=1e-12)


def test_exact_solver_knows_the_textbook_answers():
    """The harness itself: Himmelblau has 9 critical points, the quartic 3 (hand-checked)."""
    kinds = sorted(k for _, k in exact_atlas("himmelblau"))
    assert kinds == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4
    quartic = sorted((p[0], k) for p, k in exact_atlas("quartic_1d"))
    assert [(round(p, 12), k) for p, k in quartic] == [
        (-1.0, "minimum"), (0.0, "maximum"), (2.0, "minimum")]
    sin_cos = {(round(p[0], 9), round(p[1], 9)) for p, _ in exact_atlas("sin_cos")}
    half = round(np.pi / 2, 9)
    assert sin_cos == {(half, 0.0), (-half, 0.0), (0.0, half), (0.0, -half),
                       (round(np.pi, 9), half), (round(np.pi, 9), -half)}


@pytest.mark.slow
def test_himmelblau_default_starts():
    """The issue's acceptance check: 9 points, 4 minima, 1 maximum, 4 saddles."""
    found = find_critical_points(jax_function("himmelblau"), [-5, -5], [5, 5])
    kinds = [p.kind for p in found]
    assert len(found) == 9
    assert (kinds.count("minimum"), kinds.count("maximum"), kinds.count("saddle")) == (4, 1, 4)
    assert_same_atlas(found, exact_atlas("himmelblau"))


def test_quartic_1d_vector_box_and_values():
    quartic = jax_function("quartic_1d")
    found = find_critical_points(lambda v: quartic(v[0]), [-2.0], [3.0], num_starts=128)
    assert [(round(float(p.x[0]), 10), p.kind) for p in found] == [
        (2.0, "minimum"), (-1.0, "minimum"), (0.0, "maximum")]
    assert [float(p.value) for p in found] == pytest.approx([-32.0, -5.0, 0.0], abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["coupled_quartic", "three_d", "sin_cos", "himmelblau"])
def test_other_seeds_find_the_same_atlas(name):
    """Other starts; the same function and shapes reuse the compiled program."""
    atlas(name)
    compiled = _search._cache_size()
    for seed in (1, 2, 3):
        assert_same_atlas(atlas(name, seed), exact_atlas(name))
    assert _search._cache_size() == compiled


def test_float32_search():
    found = find_critical_points(jax_function("himmelblau"), np.float32([-5, -5]),
                                 np.float32([5, 5]), num_starts=128)
    assert all(p.x.dtype == jnp.float32 for p in found)
    assert_same_atlas(found, exact_atlas("himmelblau"), tol=1e-3)


def ring(v):
    return (v[0] ** 2 + v[1] ** 2 - 1) ** 2


def test_ring_of_minima_is_one_degenerate_representative():
    """(x² + y² − 1)²: the origin is a maximum; the unit circle is a continuum of minima.

    Default ("merge"): one representative on the circle, kind degenerate (the Hessian is
    singular along the circle), and a warning. "drop" leaves the isolated points only;
    "keep" gives every distinct point found, all on the circle.
    """
    with pytest.warns(UserWarning, match="non-isolated"):
        merged = find_critical_points(ring, [-2, -2], [2, 2], num_starts=128)
    assert len(merged) == 2
    on_ring, origin = merged
    assert origin.kind == "maximum" and np.allclose(origin.x, 0.0, atol=1e-12)
    assert on_ring.kind == "degenerate"
    assert float(jnp.linalg.norm(on_ring.x)) == pytest.approx(1.0, abs=1e-10)
    assert float(on_ring.value) == pytest.approx(0.0, abs=1e-20)

    with pytest.warns(UserWarning, match="dropped"):
        dropped = find_critical_points(ring, [-2, -2], [2, 2], num_starts=128,
                                       non_isolated="drop")
    assert [p.kind for p in dropped] == ["maximum"]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = find_critical_points(ring, [-2, -2], [2, 2], num_starts=128, non_isolated="keep")
    radii = np.array([float(jnp.linalg.norm(p.x)) for p in kept[:-1]])
    assert len(kept) > 20 and np.allclose(radii, 1.0, atol=1e-10)
    angles = np.sort(np.arctan2([float(p.x[1]) for p in kept[:-1]],
                                [float(p.x[0]) for p in kept[:-1]]))
    assert np.max(np.diff(angles)) < 1.0  # the points spread round the whole circle


def test_two_parallel_lines_of_critical_points_stay_two_sets():
    """f = sin(x)² on a 2-D box: the lines x = 0 and x = ±π (value 0), x = ±π/2 (value 1)."""
    with pytest.warns(UserWarning, match="on 5 non-isolated"):
        found = find_critical_points(lambda v: jnp.sin(v[0]) ** 2, [-3.5, -1], [3.5, 1],
                                     num_starts=128)
    xs = sorted(round(float(p.x[0]), 8) for p in found)
    assert xs == pytest.approx([-np.pi, -np.pi / 2, 0, np.pi / 2, np.pi], abs=1e-8)


def test_tail_with_vanishing_gradient_is_not_a_critical_point():
    """x·e^(−x²−y²) on a wide box: far out the gradient is below any fixed tolerance but the
    Newton step never shrinks, so only the two true critical points are kept."""
    found = find_critical_points(jax_function("gaussian_bump"), [-7, -7], [7, 7],
                                 num_starts=128)
    assert [p.kind for p in found] == ["minimum", "maximum"]
    assert [float(p.x[0]) for p in found] == pytest.approx([-2**-0.5, 2**-0.5], abs=1e-12)


@pytest.mark.slow
def test_degenerate_points_are_degenerate_by_classify_too():
    """The polished points pass classify's own default test (the kind is not only ours)."""
    for name in ("x2y_plus_xy2", "monkey_saddle", "quartic_bowl"):
        (point,) = atlas(name)
        kind = jit(lambda v, name=name: classify(jax_function(name), v).kind_code)(point.x)
        assert kind == Kind.DEGENERATE
        assert float(jnp.linalg.norm(point.x)) < 1e-12


def test_scaled_cubic_is_degenerate():
    """100·x³: classify's default tolerance alone would call a point near 0 a minimum."""
    (point,) = find_critical_points(lambda t: 100 * t**3, -1.0, 1.0, num_starts=128)
    assert point.kind == "degenerate" and abs(float(point.x)) < 1e-12


def test_scalar_box_with_indexing_function_and_nan_region():
    """log(x) − x on [−1, 3]: NaN for x ≤ 0, one maximum at x = 1; fun indexes x[0]."""
    (point,) = find_critical_points(lambda v: jnp.log(v[0]) - v[0], -1.0, 3.0, num_starts=128)
    assert point.kind == "maximum" and point.x.shape == ()
    assert float(point.x) == pytest.approx(1.0, abs=1e-12)
    assert float(point.value) == pytest.approx(-1.0, abs=1e-12)


def test_no_critical_point():
    assert find_critical_points(lambda v: v[0] + jnp.exp(v[1]), [-1, -1], [1, 1],
                                num_starts=128) == []


def test_halton_points_fill_the_cube():
    points = scrambled_halton(256, 3, np.random.default_rng(0))
    assert points.shape == (256, 3) and np.all((points >= 0) & (points < 1))
    # every one of the 4³ sub-cubes of side 1/4 holds 4 ± 3 points (uniform random: often 0)
    counts = np.bincount(np.ravel_multi_index(tuple((points * 4).astype(int).T), (4, 4, 4)),
                         minlength=64)
    assert counts.min() >= 1 and counts.max() <= 7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lower": [0, 0], "upper": [1]}, "same length"),
        ({"lower": [1, 0], "upper": [0, 1]}, "lower < upper"),
        ({"lower": [0, np.nan], "upper": [1, 1]}, "finite"),
        ({"lower": [0, 0], "upper": [1, 1], "num_starts": 0}, "num_starts"),
        ({"lower": [0, 0], "upper": [1, 1], "non_isolated": "ignore"}, "non_isolated"),
        ({"lower": ["a", 0], "upper": [1, 1]}, "numbers"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_critical_points(lambda v: jnp.sum(v**2), **kwargs)


def test_vector_valued_function_is_an_error():
    with pytest.raises(ValueError, match="scalar"):
        find_critical_points(lambda v: v**2, [0, 0], [1, 1], num_starts=4)
