"""Newton–CG: optkit's ``newton_cg`` against a textbook line-search Newton–CG and scipy's.

    OPENBLAS_NUM_THREADS=1 python experiments/benchmarks/newton_cg.py [--sizes 1000 100000]
        [--repeats 3] [--scipy-max-n 1000]

Problems (float64, stopped at ‖∇f‖₂ ≤ 1e-8, the default budget of 1,000 steps):
2-D Rosenbrock; extended Rosenbrock (MGH 21) and chained Rosenbrock
f = Σᵢ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)² at each size and chained at n = 2,000, all from
(−1.2, 1, −1.2, 1, …).

Solvers, in one process:

* ``optkit``: ``optkit.minimize(f, x0, "newton_cg", classify=False)`` (defaults: negative
  curvature followed, η = min(½, √‖∇f‖), halving Armijo search);
* ``optkit-stop``: the same with ``negative_curvature="stop"`` (the textbook rule);
* ``textbook``: Nocedal & Wright algorithm 7.1 written here as one jitted loop: CG on
  H d = −∇f with η = min(½, √‖∇f‖), on pᵀHp ≤ 0 return the iterate (−∇f at the first CG
  step), Hessian–vector products by ``jax.jvp`` of ``jax.grad``, Armijo backtracking by
  halving from t = 1 (c₁ = 1e-4);
* ``scipy``: ``scipy.optimize.minimize(method="Newton-CG")`` with jitted f, ∇f and
  Hessian–vector products (``hessp``), xtol tiny so that it stops on its own rules only;
  at n ≤ ``--scipy-max-n`` (its Python loop per CG step is slow at large n).

HVPs counts every Hessian–vector product: optkit's from its ``hvps`` record (a second,
recorded run with the same iterates) plus the direction computed at the last iterate;
scipy's ``nhev``. Times are medians of ``--repeats`` runs after a warm-up (compile) run.
Every answer is verified: ‖∇f‖₂ is recomputed at the returned x by a numpy gradient written
apart from JAX.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402
from _workloads import (
    chained_rosenbrock as chained,
)
from _workloads import (
    chained_rosenbrock_grad_np as chained_grad_np,
)
from _workloads import (  # noqa: E402  (the suite's definitions, one copy)
    extended_rosenbrock as extended,
)
from _workloads import (
    extended_rosenbrock_grad_np as extended_grad_np,
)

import optkit  # noqa: E402  (turns on float64)

GRAD_TOL = 1e-8
MAX_STEPS = 1000
#: largest trajectory record (bytes) used to count optkit's products
RECORD_BYTES = 400e6






def start(n: int) -> jax.Array:
    return jnp.asarray(np.tile([-1.2, 1.0], (n + 1) // 2)[:n])


def textbook(fun: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], tuple]:
    """N&W algorithm 7.1 as one jitted loop: returns (x, steps, HVPs, evaluations)."""
    value_and_grad = jax.value_and_grad(fun)

    def direction(x: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array]:
        def hvp(v: jax.Array) -> jax.Array:
            return jax.jvp(jax.grad(fun), (x,), (v,))[1]

        g_norm = jnp.linalg.norm(g)
        tol = jnp.minimum(0.5, jnp.sqrt(g_norm)) * g_norm

        def body(c: tuple) -> tuple:
            j, z, r, d, out, count, _ = c
            bd = hvp(d)
            dbd = d @ bd
            negative = dbd <= 0
            alpha = (r @ r) / jnp.where(negative, 1.0, dbd)
            z_new, r_new = z + alpha * d, r + alpha * bd
            beta = (r_new @ r_new) / (r @ r)
            result = jnp.where(negative, jnp.where(j == 0, -g, z), z_new)
            stop = negative | (jnp.linalg.norm(r_new) < tol) | (j + 1 >= x.size)
            return (j + 1, z_new, r_new, -r_new + beta * d, jnp.where(stop, result, out),
                    count + 1, stop)

        c = jax.lax.while_loop(lambda c: ~c[-1], body,
                               (0, jnp.zeros_like(x), g, -g, -g, 0, g_norm == 0))
        return c[4], c[5]

    @jax.jit
    def run(x0: jax.Array) -> tuple:
        f0, g0 = value_and_grad(x0)

        def cond(s: tuple) -> jax.Array:
            return (s[3] < MAX_STEPS) & (jnp.linalg.norm(s[2]) > GRAD_TOL)

        def body(s: tuple) -> tuple:
            x, f, g, k, hvps, evals = s
            d, count = direction(x, g)
            slope = g @ d

            def too_long(t: tuple) -> jax.Array:
                return (fun(x + t[0] * d) > f + 1e-4 * t[0] * slope) & (t[1] < 60)

            t, trials = jax.lax.while_loop(too_long, lambda t: (0.5 * t[0], t[1] + 1),
                                           (1.0, 0))
            f_new, g_new = value_and_grad(x + t * d)
            return x + t * d, f_new, g_new, k + 1, hvps + count, evals + trials + 1

        return jax.lax.while_loop(cond, body, (x0, f0, g0, 0, 0, 1))

    return run


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    out = run()
    jax.block_until_ready(getattr(out, "x", out))
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        out = run()
        jax.block_until_ready(getattr(out, "x", out))
        times.append(time.perf_counter() - began)
    return statistics.median(times), out


def optkit_hvps(fun: Callable, x0: jax.Array, res: optkit.Result, **options: object) -> str:
    """Products of a solve: its recorded ``hvps`` plus the direction at the last iterate."""
    steps = int(res.num_steps)
    if (steps + 1) * x0.size * 8 * 2 > RECORD_BYTES:
        return "n/a"
    recorded = optkit.minimize(fun, x0, "newton_cg", classify=False, record=True,
                               max_steps=max(steps, 1), **options)
    total = float(np.nansum(np.asarray(recorded.trajectory.aux["hvps"])[1:steps + 1]))
    solver = optkit.NewtonCG(**options)
    descent = solver.descent
    x, g = jnp.ravel(res.x), jax.grad(fun)(res.x)
    last = jax.jit(lambda x, g: descent.direction(fun, x, g, descent.init(x, g)))(x, g)
    return str(int(total + float(last.aux["hvps"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scipy-max-n", type=int, default=1000)
    args = parser.parse_args()

    rows: list[tuple[str, Callable, Callable, int]] = [
        ("rosenbrock 2-D", chained, chained_grad_np, 2)]
    for n in args.sizes:
        rows.append((f"extended n={n:,}", extended, extended_grad_np, n))
    for n in sorted({*args.sizes, 2000}):
        rows.append((f"chained n={n:,}", chained, chained_grad_np, n))

    print(f"optkit {optkit.__version__}, jax {jax.__version__}, scipy {scipy.__version__}; "
          f"float64, ‖∇f‖ ≤ {GRAD_TOL:g}, {MAX_STEPS} steps; median of {args.repeats}")
    print("| problem | solver | steps | HVPs | time (ms) | ‖∇f‖ verified | status |")
    print("|---|---|---:|---:|---:|---:|---|")
    for label, fun, grad_np, n in rows:
        for line in bench_row(label, fun, grad_np, start(n), args.repeats,
                              n <= args.scipy_max_n):
            print(line, flush=True)


def bench_row(label: str, fun: Callable, grad_np: Callable, x0: jax.Array, repeats: int,
              with_scipy: bool) -> Iterator[str]:
    """The table lines of one problem: optkit (both rules), the textbook loop, scipy."""
    for name, options in (("optkit", {}), ("optkit-stop", {"negative_curvature": "stop"})):
        seconds, res = median_seconds(
            lambda o=options: optkit.minimize(fun, x0, "newton_cg", classify=False, **o),
            repeats)
        verified = np.linalg.norm(grad_np(np.asarray(res.x)))
        yield (f"| {label} | {name} | {int(res.num_steps)} | "
               f"{optkit_hvps(fun, x0, res, **options)} | {1e3 * seconds:.1f} | "
               f"{verified:.1e} | {res.status.name} |")
    run = textbook(fun)
    seconds, (x, _, _, steps, hvps, _) = median_seconds(lambda: run(x0), repeats)
    verified = np.linalg.norm(grad_np(np.asarray(x)))
    status = "CONVERGED" if verified <= GRAD_TOL * 1.01 else "MAX_STEPS"
    yield (f"| {label} | textbook | {int(steps)} | {int(hvps)} | {1e3 * seconds:.1f} | "
           f"{verified:.1e} | {status} |")
    if not with_scipy:
        return
    value_and_grad = jax.jit(jax.value_and_grad(fun))
    hessp = jax.jit(lambda x, v: jax.jvp(jax.grad(fun), (x,), (v,))[1])

    def scipy_run() -> scipy.optimize.OptimizeResult:
        return scipy.optimize.minimize(
            lambda x: tuple(np.asarray(v) for v in value_and_grad(x)), np.asarray(x0),
            jac=True, hessp=lambda x, v: np.asarray(hessp(x, v)), method="Newton-CG",
            options={"maxiter": MAX_STEPS, "xtol": 1e-300})

    seconds, out = median_seconds(scipy_run, repeats)
    verified = np.linalg.norm(grad_np(out.x))
    yield (f"| {label} | scipy | {out.nit} | {out.nhev} | {1e3 * seconds:.1f} | "
           f"{verified:.1e} | {out.message} |")


if __name__ == "__main__":
    main()
