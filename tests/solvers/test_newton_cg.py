"""Newton–CG: the truncated-CG direction against closed forms (exact Newton step on a positive
definite quadratic, the negative-curvature rules on an indefinite one), the preconditioner,
the forcing terms and end-to-end solves."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit.solvers._newton_cg import EW_ALPHA, EW_GAMMA, NewtonCGDescent, forcing_term
from tests.helpers import jit

RNG = np.random.default_rng(7)
N = 6
_Q, _ = np.linalg.qr(RNG.normal(size=(N, N)))
SPD = _Q @ np.diag([0.5, 1.0, 2.0, 5.0, 9.0, 30.0]) @ _Q.T
B = RNG.normal(size=N)
# indefinite: eigenvalues 2 and −1 along the axes
INDEF = np.diag([2.0, -1.0])
SCALES = np.logspace(0.0, 6.0, 40)  # a badly scaled diagonal quadratic, condition 1e6


def spd_quadratic(x):
    return 0.5 * x @ SPD @ x - B @ x


def indefinite_quadratic(x):
    return 0.5 * x @ INDEF @ x


def convex_nonquadratic(x):
    # f = log Σ exp(x) + ½‖x‖²: Hessian diag(softmax) − softmax softmaxᵀ + I, positive definite
    return jax.nn.logsumexp(x) + 0.5 * x @ x + B[: x.size] @ x


def scaled_quadratic(x):
    return 0.5 * jnp.sum(SCALES * (x - 1.0) ** 2)


def double_well(x):
    # saddle at 0 (f = 0), minima at (0, ±1) with f = −¼
    return 0.5 * x[0] ** 2 - 0.5 * x[1] ** 2 + 0.25 * x[1] ** 4


def rosenbrock(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2


def _direction(fun, x, **options):
    return _directions(fun, x, options, with_grad=True)


def _directions(fun, x, *option_sets, with_grad=False):
    """The Newton–CG direction at x for each option set (and ∇f), in one compiled program."""
    descents = [optkit.NewtonCG(**options).descent for options in option_sets]

    def directions(x):
        g = jax.grad(fun)(x)
        found = [d.direction(fun, x, g, d.init(x, g)) for d in descents]
        return (*found, g) if with_grad else found

    return jit(directions)(x)


def test_full_cg_is_the_exact_newton_step_on_a_positive_definite_quadratic():
    x = RNG.normal(size=N)
    direction, g = _direction(spd_quadratic, x, forcing=0.0)
    newton = -np.linalg.solve(np.asarray(SPD), np.asarray(g))
    np.testing.assert_allclose(direction.d, newton, rtol=1e-9, atol=1e-12)
    # CG needs at most n products; dᵀHd, kept by conjugacy, is the exact quadratic form
    assert 1 <= float(direction.aux["cg_steps"]) <= N
    assert float(direction.aux["hvps"]) == float(direction.aux["cg_steps"])
    np.testing.assert_allclose(direction.curvature, newton @ np.asarray(SPD) @ newton, rtol=1e-9)


def test_hessian_vector_products_of_a_nonquadratic_function():
    # the linearised gradient is the Hessian: full CG gives −H⁻¹∇f with the closed form
    # H = diag(s) − s sᵀ + I, s = softmax(x)
    x = RNG.normal(size=N)
    direction, g = _direction(convex_nonquadratic, x, forcing=0.0)
    soft = np.exp(np.asarray(x)) / np.sum(np.exp(np.asarray(x)))
    hess = np.diag(soft) - np.outer(soft, soft) + np.eye(N)
    np.testing.assert_allclose(direction.d, -np.linalg.solve(hess, np.asarray(g)), rtol=1e-9)


def test_truncated_cg_meets_the_forcing_term():
    x = RNG.normal(size=N)
    direction, g = _direction(spd_quadratic, x)  # η = min(½, √‖∇f‖)
    eta = min(0.5, np.sqrt(np.linalg.norm(g)))
    residual = np.asarray(SPD) @ np.asarray(direction.d) + np.asarray(g)
    assert np.linalg.norm(residual) <= eta * np.linalg.norm(g) * (1 + 1e-12)
    assert float(np.asarray(g) @ np.asarray(direction.d)) < 0


def test_negative_curvature_on_the_first_direction_is_followed_downhill():
    # at (0, y) the first CG direction −∇f = (0, y) has curvature −y² < 0: the step along it
    # with |curvature| is d = (‖g‖²/|gᵀHg|)(−g) = (0, y), away from the saddle
    # (both rules agree there: the CG iterate is still 0)
    direction, _ = _direction(indefinite_quadratic, np.array([0.0, 0.3]),
                              negative_curvature="stop")
    np.testing.assert_allclose(direction.d, [0.0, 0.3], atol=1e-15)
    np.testing.assert_allclose(direction.curvature, -(0.3**2))
    assert float(direction.aux["cg_steps"]) == 1


def test_negative_curvature_later_in_cg_textbook_and_followed():
    # at (1, 0.5): −∇f = (−2, 0.5) has positive curvature (8 − 0.25); the second CG direction
    # has negative curvature (H is indefinite and n = 2); η = 0 so that CG gets there
    x = np.array([1.0, 0.5])
    stop, follow = _directions(indefinite_quadratic, x,
                               {"negative_curvature": "stop", "forcing": 0.0},
                               {"negative_curvature": "follow", "forcing": 0.0})
    h = np.asarray(INDEF)
    g = h @ np.asarray(x)
    # textbook: the CG iterate after one step, the model's minimiser along −∇f
    np.testing.assert_allclose(stop.d, -(g @ g) / (g @ h @ g) * g, rtol=1e-12)
    # followed: the iterate plus a step along a direction that is H-conjugate to it, downhill
    # and of negative curvature, so the direction is more downhill than the textbook's
    extra = np.asarray(follow.d) - np.asarray(stop.d)
    assert abs(extra @ h @ np.asarray(stop.d)) <= 1e-12 * np.linalg.norm(extra)
    assert extra @ h @ extra < 0 and g @ extra < 0
    assert float(follow.curvature) < float(stop.curvature)


def test_a_start_beside_a_saddle_leaves_it_for_a_minimum():
    # Newton with the exact Hessian would step onto the saddle; Newton–CG goes downhill along
    # the negative curvature into the well on the start's side
    for start, well in (([0.5, 1e-6], 1.0), ([0.0, -1e-3], -1.0)):
        res = optkit.minimize(double_well, np.array(start), "newton_cg", classify=False)
        assert res.converged
        np.testing.assert_allclose(res.x, [0.0, well], atol=1e-8)
        np.testing.assert_allclose(res.value, -0.25, atol=1e-14)


def test_diagonal_preconditioner_cuts_cg_steps_on_a_badly_scaled_quadratic():
    plain, diagonal, user = _directions(
        scaled_quadratic, np.zeros(SCALES.size), {"forcing": 1e-8},
        {"forcing": 1e-8, "preconditioner": "diagonal", "num_probes": 2},
        {"forcing": 1e-8, "preconditioner": lambda x, v: v / SCALES})
    # the Rademacher estimate of a diagonal Hessian is exact, so M = H and one step solves it
    assert float(diagonal.aux["cg_steps"]) == 1 == float(user.aux["cg_steps"])
    assert float(diagonal.aux["hvps"]) == 1 + 2
    for direction in (diagonal, user):  # the exact Newton step to the minimiser (1, …, 1)
        np.testing.assert_allclose(direction.d, np.ones(SCALES.size), rtol=1e-12)
    # without it CG spends many steps (40 distinct eigenvalues over six decades)
    assert float(plain.aux["cg_steps"]) >= 20


def test_eisenstat_walker_choice_two():
    term = jit(forcing_term, static_argnums=0)
    f64 = np.float64
    nan = f64(np.nan)
    assert float(term("ew2", f64(3.0), (nan, nan))) == 0.5  # η₀
    # gradient fell tenfold after η = 0.5: γ·0.1² = 0.009, but the safeguard γ·0.5² = 0.225
    eta = term("ew2", f64(0.1), (f64(1.0), f64(0.5)))
    np.testing.assert_allclose(eta, EW_GAMMA * 0.5**EW_ALPHA)
    # after a tight solve the safeguard is off: η = γ(‖∇fₖ‖/‖∇fₖ₋₁‖)^α
    eta = term("ew2", f64(0.01), (f64(0.1), f64(0.01)))
    np.testing.assert_allclose(eta, EW_GAMMA * 0.1**EW_ALPHA)
    np.testing.assert_allclose(term("sqrt", f64(0.04), (nan, nan)), 0.2)


@pytest.mark.slow
def test_rosenbrock_in_fewer_steps_than_the_textbook_rule():
    follow = optkit.minimize(rosenbrock, np.array([-1.2, 1.0]), "newton_cg", classify=False)
    stop = optkit.minimize(rosenbrock, np.array([-1.2, 1.0]), "newton_cg", classify=False,
                           negative_curvature="stop")
    for res in (follow, stop):
        assert res.converged
        np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-8)
    assert int(follow.num_steps) < int(stop.num_steps)


def test_bad_options_are_one_line_errors():
    with pytest.raises(ValueError, match="forcing"):
        optkit.NewtonCG(forcing="fast")
    with pytest.raises(ValueError, match="forcing"):
        optkit.NewtonCG(forcing=1.5)
    with pytest.raises(ValueError, match="preconditioner"):
        optkit.NewtonCG(preconditioner="jacobi")
    with pytest.raises(ValueError, match="negative_curvature"):
        optkit.NewtonCG(negative_curvature="ignore")
    with pytest.raises(ValueError, match="num_probes"):
        optkit.NewtonCG(num_probes=0)
    assert NewtonCGDescent() == optkit.NewtonCG().descent  # hashable, compared by value
