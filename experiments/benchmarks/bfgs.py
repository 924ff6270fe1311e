"""BFGS at n = 1,000: optkit's O(n²)-per-step BFGS against scipy.optimize's BFGS, one process.

    OPENBLAS_NUM_THREADS=1 python experiments/benchmarks/bfgs.py [--n 1000] [--repeats 3]

Extended Rosenbrock (MGH 21) from the standard start (−1.2, 1, −1.2, 1, …), float64, stopped at
‖∇f‖ ≤ 1e-5 (the tolerance scipy's BFGS reaches reliably here; its ``gtol`` is on ‖∇f‖_∞,
given as 1e-5/√n so that it implies the same 2-norm bound):

* ``optkit``: ``optkit.minimize(f, x0, method="bfgs", line_search=...)``, one jitted program;
  with the default Armijo backtracking and with the strong Wolfe search;
* ``scipy``: ``scipy.optimize.minimize(method="BFGS")`` with f and ∇f from jitted JAX
  functions (its own strong Wolfe search; its inverse-Hessian update is two n×n matrix
  products per step, O(n³)).

optkit's times are medians of ``--repeats`` runs after one warm-up (compile) run; scipy's
is a single run (f and ∇f compiled beforehand). Answers are verified:
‖∇f‖ is recomputed at each returned x.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

import optkit  # noqa: E402  (turns on float64)

GRAD_TOL = 1e-5


def extended_rosenbrock(x: jax.Array) -> jax.Array:
    a, b = x[0::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def median_seconds(run: Callable[[], object], repeats: int, warm: bool = True
                   ) -> tuple[float, object]:
    if warm:  # compile
        jax.block_until_ready(getattr(run(), "x", None))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        jax.block_until_ready(getattr(out, "x", None))
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    x0 = jnp.tile(jnp.array([-1.2, 1.0]), n // 2)
    value = jax.jit(extended_rosenbrock)
    grad = jax.jit(jax.grad(extended_rosenbrock))

    def scipy_bfgs() -> scipy.optimize.OptimizeResult:
        return scipy.optimize.minimize(
            lambda x: float(value(x)), np.asarray(x0), jac=lambda x: np.asarray(grad(x)),
            method="BFGS", options={"gtol": GRAD_TOL / np.sqrt(n), "maxiter": 5000})

    runs = {
        "scipy BFGS": scipy_bfgs,
        "optkit bfgs (armijo)": lambda: optkit.minimize(
            extended_rosenbrock, x0, method="bfgs", grad_tol=GRAD_TOL, max_steps=5000,
            classify=False),
        "optkit bfgs (wolfe)": lambda: optkit.minimize(
            extended_rosenbrock, x0, method="bfgs", line_search="wolfe", grad_tol=GRAD_TOL,
            max_steps=5000, classify=False),
    }
    print(f"extended Rosenbrock, n = {n}, float64, ‖∇f‖ ≤ {GRAD_TOL:g}, median of "
          f"{args.repeats}; jax {jax.__version__}, scipy {scipy.__version__}")
    print(f"{'solver':22s} {'time [s]':>9s} {'iters':>6s} {'f evals':>8s} {'|grad|':>9s} "
          f"{'vs scipy':>8s}")
    base = None
    value(x0), grad(x0)  # compiled before scipy's clock starts
    for label, run in runs.items():
        # scipy has nothing to compile and takes tens of seconds: one run, no warm-up
        scipy_run = label == "scipy BFGS"
        seconds, out = median_seconds(run, 1 if scipy_run else args.repeats, not scipy_run)
        if label == "scipy BFGS":
            base = seconds
            iters, evals = out.nit, out.nfev
        else:
            assert out.status == optkit.Status.CONVERGED, (label, out.status)
            iters, evals = int(out.num_steps), int(out.num_evals)
        grad_norm = float(jnp.linalg.norm(grad(jnp.asarray(out.x))))
        assert grad_norm <= GRAD_TOL * (1 + 1e-9), (label, grad_norm)
        print(f"{label:22s} {seconds:9.3f} {iters:6d} {evals:8d} {grad_norm:9.1e} "
              f"{seconds / base:8.2f}", flush=True)


if __name__ == "__main__":
    main()
