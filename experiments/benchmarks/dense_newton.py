"""Dense Newton at n = 1,000: optkit's Newton against a plain Cholesky damped Newton, one process.

    OPENBLAS_NUM_THREADS=1 python experiments/benchmarks/dense_newton.py [--n 1000] [--eigen]

Problems (float64, ‖∇f‖ ≤ 1e-8):

* extended Rosenbrock (MGH 21) from the standard start (−1.2, 1, −1.2, 1, …);
* a convex quadratic ½xᵀAx − bᵀx, A = QᵀQ/n + I with Q standard normal (fixed seed), from 0.

Solvers, each one jitted program, compiled before timing:

* ``optkit``: ``optkit.minimize(f, x0, method="newton", classify=False)`` — Cholesky first,
  eigendecomposition only where the factorisation is refused;
* ``reference``: a plain damped Newton written here — Cholesky of H + τI with τ raised
  (τ ← max(2τ, β), β = 1e-3·max|diag H|, Nocedal & Wright algorithm 3.3) until it succeeds, then
  Armijo backtracking (c₁ = 1e-4, halving) — in one ``lax.while_loop``;
* ``--eigen``: optkit's Newton descent forced onto its eigendecomposition path (what every step
  cost before Cholesky came first), for the record; slow (seconds).

Times are the median of ``--repeats`` runs (block_until_ready). Answers are verified: ‖∇f‖
recomputed at the returned x must be ≤ 1e-8 and, for the quadratic, x must solve Ax = b.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

import optkit  # noqa: E402  (turns on float64)
from optkit.solvers._newton import NewtonDescent  # noqa: E402

GRAD_TOL = 1e-8


def extended_rosenbrock(x: jax.Array) -> jax.Array:
    a, b = x[0::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def quadratic(n: int, seed: int = 0) -> tuple[Callable[[jax.Array], jax.Array], np.ndarray,
                                               np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, n))
    a = q.T @ q / n + np.eye(n)
    b = rng.standard_normal(n)
    a_j, b_j = jnp.asarray(a), jnp.asarray(b)

    def f(x: jax.Array) -> jax.Array:
        return 0.5 * x @ (a_j @ x) - b_j @ x

    return f, a, b


def reference_newton(fun: Callable[[jax.Array], jax.Array], x0: jax.Array,
                     max_steps: int = 1000) -> tuple[jax.Array, jax.Array]:
    """Damped Newton with a Cholesky-with-added-identity modification and Armijo backtracking;
    returns (x, steps)."""
    grad, hess = jax.grad(fun), jax.hessian(fun)

    def factor(h: jax.Array) -> jax.Array:
        beta = 1e-3 * jnp.max(jnp.abs(jnp.diagonal(h)))
        tau0 = jnp.where(jnp.min(jnp.diagonal(h)) > 0, 0.0, beta)

        def attempt(tau: jax.Array) -> jax.Array:
            return jnp.linalg.cholesky(h + tau * jnp.eye(h.shape[0], dtype=h.dtype))

        def cond(c: tuple[jax.Array, jax.Array]) -> jax.Array:
            return ~jnp.all(jnp.isfinite(c[1]))

        def body(c: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            tau = jnp.maximum(2 * c[0], beta)
            return tau, attempt(tau)

        return lax.while_loop(cond, body, (tau0, attempt(tau0)))[1]

    def step(c: tuple[jax.Array, jax.Array, jax.Array, jax.Array]):  # noqa: ANN202
        x, f, g, k = c
        low = factor(hess(x))
        d = -jax.scipy.linalg.cho_solve((low, True), g)
        slope = g @ d

        def shrink(t: jax.Array) -> jax.Array:
            return (fun(x + t * d) > f + 1e-4 * t * slope) & (t > 1e-12)

        t = lax.while_loop(shrink, lambda t: 0.5 * t, jnp.ones((), x.dtype))
        x = x + t * d
        return x, fun(x), grad(x), k + 1

    def running(c: tuple[jax.Array, jax.Array, jax.Array, jax.Array]) -> jax.Array:
        return (jnp.linalg.norm(c[2]) > GRAD_TOL) & (c[3] < max_steps)

    x, _, _, k = lax.while_loop(running, step, (x0, fun(x0), grad(x0), jnp.int32(0)))
    return x, k


@dataclasses.dataclass(frozen=True)
class EigenOnly(NewtonDescent):
    """optkit's Newton descent with the Cholesky path switched off (the old every-step cost)."""

    def direction(self, fun, x, g, state):  # noqa: ANN001, ANN201
        hess = jax.hessian(fun)(x)
        return self._eigen(0.5 * (hess + hess.T), x, g, state)


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    out = jax.block_until_ready(run())  # compile (and warm up)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--eigen", action="store_true",
                        help="also time the eigendecomposition-only path (slow)")
    args = parser.parse_args()
    n = args.n
    quad, a, b = quadratic(n)
    problems = {
        "extended_rosenbrock": (extended_rosenbrock, jnp.tile(jnp.array([-1.2, 1.0]), n // 2)),
        "convex_quadratic": (quad, jnp.zeros(n)),
    }
    print(f"n = {n}, float64, grad_tol {GRAD_TOL:g}, median of {args.repeats}; "
          f"jax {jax.__version__}, {jax.default_backend()}")
    print(f"{'problem':22s} {'solver':10s} {'time [s]':>9s} {'steps':>6s} {'|grad|':>9s} "
          f"{'ratio':>6s}")
    for name, (fun, x0) in problems.items():
        grad = jax.jit(jax.grad(fun))
        ref = jax.jit(lambda x, fun=fun: reference_newton(fun, x))
        runs = {
            "reference": lambda ref=ref, x0=x0: ref(x0),
            "optkit": lambda fun=fun, x0=x0: optkit.minimize(fun, x0, method="newton",
                                                             classify=False),
        }
        if args.eigen:
            eigen = optkit.DescentSolver(EigenOnly(), optkit.Newton.tuned_backtracking)
            runs["eigen-only"] = lambda fun=fun, x0=x0, s=eigen: optkit.minimize(
                fun, x0, method=s, classify=False)
        base = None
        for label, run in runs.items():
            seconds, out = median_seconds(run, args.repeats)
            if label == "reference":
                x, steps = out
                base = seconds
            else:
                x, steps = out.x, out.num_steps
                assert out.status == optkit.Status.CONVERGED, (label, name, out.status)
            grad_norm = float(jnp.linalg.norm(grad(x)))
            assert grad_norm <= GRAD_TOL, (label, name, grad_norm)
            if name == "convex_quadratic":
                np.testing.assert_allclose(a @ np.asarray(x), b, atol=1e-7)
            print(f"{name:22s} {label:10s} {seconds:9.3f} {int(steps):6d} {grad_norm:9.1e} "
                  f"{seconds / base:6.2f}", flush=True)


if __name__ == "__main__":
    main()
