"""Batched Newton on 2-D Rosenbrock against scipy.optimize and optimistix, in one process.

    pip install -e '.[bench]' && python experiments/benchmark_batch.py [--starts 10000]

10,000 uniform starts in [−2, 2]², float64, solved to ‖∇f‖ ≤ 1e-8:

* optkit: ``jax.jit(jax.vmap(optkit.minimize(..., method="newton")))``, one XLA program,
  without and with the end-point classification (minimize's default);
* scipy.optimize.minimize(method="trust-exact") in a Python loop, with the closed-form
  scipy.optimize.rosen_der / rosen_hess (the fastest derivatives scipy can be given);
* optimistix.BFGS, vmapped and jitted (tolerances tight enough to reach the same accuracy);
* optimistix.Newton as a root-finder on ∇f, vmapped and jitted.

Every answer is verified: a start counts as solved when it ends within 1e-6 of (1, 1), the only
critical point of 2-D Rosenbrock, with ‖∇f‖ ≤ 1e-6. Compile time is measured separately (ahead-
of-time ``.lower().compile()``); solve times are the best of ``--repeat`` runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # threaded OpenBLAS is 7–30× slower here
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import optkit  # noqa: E402  (turns on float64)

SOLUTION = np.array([1.0, 1.0])


def rosenbrock(x: jax.Array) -> jax.Array:
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def verify(xs: np.ndarray) -> np.ndarray:
    """Solved = within 1e-6 of (1, 1) with a gradient norm ≤ 1e-6."""
    xs = np.asarray(xs, dtype=np.float64)
    grads = np.asarray(jax.vmap(jax.grad(rosenbrock))(jnp.asarray(xs)))
    return (np.linalg.norm(xs - SOLUTION, axis=1) <= 1e-6) & (
        np.linalg.norm(grads, axis=1) <= 1e-6
    )


def time_compiled(batched: Callable, starts: jax.Array, repeat: int) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    compiled = jax.jit(batched).lower(starts).compile()
    compile_s = time.perf_counter() - t0
    best = np.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(starts))
        best = min(best, time.perf_counter() - t0)
    return compile_s, best, out


def run_optkit(starts: jax.Array, repeat: int, classify: bool = False) -> dict:
    def batched(x0s: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        res = jax.vmap(
            lambda x0: optkit.minimize(rosenbrock, x0, method="newton", grad_tol=1e-8,
                                       classify=classify)
        )(x0s)
        return res.x, res.num_steps, res.converged

    compile_s, solve_s, (x, steps, converged) = time_compiled(batched, starts, repeat)
    # classified: every end point also gets its Hessian spectrum and kind (the default of
    # minimize and of `optkit run`), which the peers do not compute
    name = "optkit Newton (vmap, classified)" if classify else "optkit Newton (vmap)"
    return dict(name=name, compile=compile_s, solve=solve_s, x=np.asarray(x),
                steps=np.asarray(steps), reported=np.asarray(converged))


def run_optimistix_bfgs(starts: jax.Array, repeat: int) -> dict:
    import optimistix as optx

    solver = optx.BFGS(rtol=1e-13, atol=1e-13)

    def batched(x0s: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        def one(x0: jax.Array):
            sol = optx.minimise(lambda y, _: rosenbrock(y), solver, x0, max_steps=1000,
                                throw=False)
            return sol.value, sol.stats["num_steps"], sol.result == optx.RESULTS.successful

        return jax.vmap(one)(x0s)

    compile_s, solve_s, (x, steps, ok) = time_compiled(batched, starts, repeat)
    return dict(name="optimistix BFGS (vmap)", compile=compile_s, solve=solve_s, x=np.asarray(x),
                steps=np.asarray(steps), reported=np.asarray(ok))


def run_optimistix_newton_root(starts: jax.Array, repeat: int) -> dict:
    import optimistix as optx

    solver = optx.Newton(rtol=1e-13, atol=1e-13)
    grad = jax.grad(rosenbrock)

    def batched(x0s: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        def one(x0: jax.Array):
            sol = optx.root_find(lambda y, _: grad(y), solver, x0, max_steps=1000, throw=False)
            return sol.value, sol.stats["num_steps"], sol.result == optx.RESULTS.successful

        return jax.vmap(one)(x0s)

    compile_s, solve_s, (x, steps, ok) = time_compiled(batched, starts, repeat)
    return dict(name="optimistix Newton root of ∇f (vmap)", compile=compile_s, solve=solve_s,
                x=np.asarray(x), steps=np.asarray(steps), reported=np.asarray(ok))


def run_scipy(starts: np.ndarray) -> dict:
    from scipy.optimize import minimize, rosen, rosen_der, rosen_hess

    xs, steps, ok = [], [], []
    t0 = time.perf_counter()
    for x0 in starts:
        res = minimize(rosen, x0, method="trust-exact", jac=rosen_der, hess=rosen_hess,
                       options={"gtol": 1e-8, "maxiter": 1000})
        xs.append(res.x)
        steps.append(res.nit)
        ok.append(res.success)
    solve_s = time.perf_counter() - t0
    return dict(name="scipy trust-exact (loop)", compile=0.0, solve=solve_s, x=np.array(xs),
                steps=np.array(steps), reported=np.array(ok))


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["scipy", "bfgs", "root"])
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    starts_np = rng.uniform(-2.0, 2.0, size=(args.starts, 2))
    starts = jnp.asarray(starts_np)
    print(f"{args.starts} starts of 2-D Rosenbrock in [-2, 2]^2, float64, "
          f"JAX {jax.__version__} on {jax.devices()[0].platform}, "
          f"optkit {optkit.__version__}")

    rows = [run_optkit(starts, args.repeat), run_optkit(starts, args.repeat, classify=True)]
    if "bfgs" not in args.skip:
        rows.append(run_optimistix_bfgs(starts, args.repeat))
    if "root" not in args.skip:
        rows.append(run_optimistix_newton_root(starts, args.repeat))
    if "scipy" not in args.skip:
        rows.append(run_scipy(starts_np))

    base = rows[0]["solve"]
    header = (f"{'method':38s} {'compile s':>9s} {'solve s':>9s} {'µs/start':>9s} "
              f"{'solved':>8s} {'reported':>9s} {'med steps':>9s} {'time/optkit':>11s}")
    print(header)
    print("-" * len(header))
    for row in rows:
        row["solved"] = verify(row["x"])
        print(f"{row['name']:38s} {row['compile']:9.2f} {row['solve']:9.3f} "
              f"{1e6 * row['solve'] / args.starts:9.1f} {row['solved'].mean():8.2%} "
              f"{row['reported'].mean():9.2%} {np.median(row['steps']):9.0f} "
              f"{row['solve'] / base:10.1f}x")
    return rows


if __name__ == "__main__":
    main()
