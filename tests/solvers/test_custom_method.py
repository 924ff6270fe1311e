"""A method defined outside the package: one file with a Descent and one registration, run
through minimize, minimize_batch and a YAML config (docs/architecture.md, "Adding a method")."""

from __future__ import annotations

import textwrap

import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit.solvers import METHODS

# The file a user would write: a diagonally scaled steepest descent (Jacobi-preconditioned
# gradient), d_i = −g_i / max(|H_ii|, 1e-12), with the Armijo line search.
METHOD_FILE = textwrap.dedent('''
    import dataclasses

    import jax
    import jax.numpy as jnp

    import optkit


    @dataclasses.dataclass(frozen=True)
    class DiagonalNewton(optkit.Descent):
        """d = −diag(∇²f)⁻¹ ∇f (the Hessian's diagonal from one forward-over-reverse pass per
        coordinate)."""

        floor: float = 1e-12

        def direction(self, fun, x, g, state):
            basis = jnp.eye(x.size, dtype=x.dtype)
            hvp = jax.vmap(lambda v: jax.jvp(jax.grad(fun), (x,), (v,))[1])(basis)
            diag = jnp.abs(jnp.diagonal(hvp))
            d = -g / jnp.maximum(diag, self.floor)
            return optkit.Direction(d=d, curvature=jnp.zeros((), x.dtype),
                                    escape=jnp.asarray(False), aux={}, state=state)


    def diagonal_newton(floor: float = 1e-12, line_search: str = "backtracking"):
        """Diagonally scaled steepest descent.

        Args:
            floor: smallest |H_ii| divided by.
            line_search: a registered line-search name.
        """
        return optkit.DescentSolver(DiagonalNewton(floor), line_search)


    optkit.register_method("diagonal_newton", diagonal_newton, max_steps=500,
                           replace=True)
''')

# f = Σ cᵢ (xᵢ − aᵢ)²: separable, so the diagonal Newton step lands on a in one step.
SCALES = np.array([1.0, 10.0, 100.0])
CENTRE = np.array([1.0, -2.0, 0.5])


def separable(x):
    return jnp.sum(SCALES * (x - CENTRE) ** 2)


@pytest.fixture(scope="module")
def method_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    path = folder / "my_methods.py"
    path.write_text(METHOD_FILE)
    from optkit.problems._user_function import load_module

    load_module(str(path))
    yield path
    METHODS.pop("diagonal_newton", None)


def test_registered_method_runs_from_minimize(method_file):
    res = optkit.minimize(separable, jnp.zeros(3), method="diagonal_newton")
    assert res.status == optkit.Status.CONVERGED
    np.testing.assert_allclose(res.x, CENTRE, atol=1e-12)
    assert int(res.num_steps) == 1  # exact on a separable quadratic
    assert res.critical_point.kind == "minimum"


def test_registered_method_runs_batched_with_its_defaults(method_file):
    starts = np.random.default_rng(0).uniform(-3, 3, (8, 3))
    res = optkit.minimize_batch(separable, starts, method="diagonal_newton", line_search="wolfe")
    assert np.all(np.asarray(res.status_code) == optkit.Status.CONVERGED)
    np.testing.assert_allclose(np.asarray(res.x), np.broadcast_to(CENTRE, (8, 3)), atol=1e-10)
    assert optkit.solvers.default_max_steps("diagonal_newton") == 500
    assert set(optkit.solvers.get_method("diagonal_newton").options()) == {"floor", "line_search"}


@pytest.mark.slow
def test_registered_method_runs_from_yaml_imports(method_file, tmp_path):
    config = tmp_path / "custom.yaml"
    config.write_text(textwrap.dedent(f'''
        imports: [{method_file.name}]
        problem: {{expression: "(x - 1)**2 + 10*(y + 2)**2", variables: [x, y]}}
        start: {{point: [4.0, 4.0]}}
        solver: {{method: diagonal_newton, floor: 1.0e-10}}
    '''))
    # the config sits elsewhere than the plugin: relative imports resolve against its folder
    (tmp_path / method_file.name).write_text(method_file.read_text())
    path = optkit.run(config, out=tmp_path / "runs", quiet=True, progress=False)
    record = optkit.load_run(path)
    assert record.summary["status_counts"]["CONVERGED"] == 1
    np.testing.assert_allclose(record.summary["best"]["x"], [1.0, -2.0], atol=1e-10)
    assert record.config["solver"] == {"method": "diagonal_newton", "floor": 1e-10,
                                       "line_search": "backtracking"}
    assert record.config["stop"]["max_steps"] == 500
