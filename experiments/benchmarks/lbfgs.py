"""L-BFGS: optkit's ``lbfgs`` against optax.lbfgs run by hand and scipy's L-BFGS-B.

    OPENBLAS_NUM_THREADS=1 python experiments/benchmarks/lbfgs.py [--sizes 1000 100000]
        [--features 10000] [--samples 1000] [--repeats 3]

Problems (float64, stopped at ‖∇f‖₂ ≤ 1e-8 or 1,000 iterations): extended Rosenbrock (MGH 21)
from (−1.2, 1, …) at each size; L2-regularised logistic regression
f(w) = mean(log(1 + exp(−y ⊙ Xw))) + (λ/2)‖w‖², λ = 1e-2, X standard normal
(``--samples`` × ``--features``, seed 0), labels the signs of a noisy linear model.

Solvers, in one process:

* ``optkit``: ``optkit.minimize(f, x0, "lbfgs", classify=False)`` (optax.lbfgs with its
  defaults: memory 10, zoom line search with up to 20 trials, each search from t = 1);
* ``optax``: ``optax.lbfgs()`` as its documentation runs it (``value_and_grad_from_state``),
  in a jitted ``while_loop`` built once per problem;
* ``scipy``: ``scipy.optimize.minimize(method="L-BFGS-B")``, memory 10, with jitted f and ∇f,
  ``gtol`` 1e-8 on ‖∇f‖_∞ and ``ftol`` 0 (so it stops on the gradient or its own
  line-search failure).

Times are medians of ``--repeats`` runs after a warm-up (compile) run; "first call" is the
warm-up itself, "again" a solve from a new start of the same shape, and "compiles" how many
programs that second solve added (``_solve_jit``'s cache). Answers are verified: ‖∇f‖₂ is
recomputed at the returned x by a numpy gradient written apart from JAX.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import scipy.optimize  # noqa: E402
from _workloads import (  # noqa: E402  (the suite's definitions, one copy)
    extended_rosenbrock as extended,
)
from _workloads import (
    extended_rosenbrock_grad_np as extended_grad_np,
)

import optkit  # noqa: E402  (turns on float64)
from optkit.solvers._api import _solve_jit  # noqa: E402

GRAD_TOL = 1e-8
MAX_STEPS = 1000
LAMBDA = 1e-2




def logistic_data(features: int, samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features))
    w = rng.standard_normal(features) / np.sqrt(features)
    y = np.sign(x @ w + 0.5 * rng.standard_normal(samples))
    y[y == 0] = 1.0
    return x, y


def logistic(w: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.logaddexp(0.0, -y * (x @ w))) + 0.5 * LAMBDA * (w @ w)


def logistic_grad_np(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∇f = −(1/m) Xᵀ(y ⊙ σ(−y ⊙ Xw)) + λw."""
    sigma = 0.5 * (1.0 + np.tanh(-0.5 * y * (x @ w)))
    return -(x.T @ (y * sigma)) / x.shape[0] + LAMBDA * w


def median_seconds(run: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(median time, first-call time, last output)."""
    began = time.perf_counter()
    out = run()
    jax.block_until_ready(getattr(out, "x", out))
    first = time.perf_counter() - began
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        out = run()
        jax.block_until_ready(getattr(out, "x", out))
        times.append(time.perf_counter() - began)
    return statistics.median(times), first, out


def optax_by_hand(fun: Callable[[jax.Array], jax.Array]) -> Callable[[jax.Array], tuple]:
    """optax.lbfgs() in one jitted loop: returns (x, iterations)."""
    opt = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    @jax.jit
    def run(x0: jax.Array) -> tuple:
        def cond(c: tuple) -> jax.Array:
            return (c[2] < MAX_STEPS) & (c[3] > GRAD_TOL)

        def body(c: tuple) -> tuple:
            x, state, k, _ = c
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=fun)
            x = optax.apply_updates(x, updates)
            return x, state, k + 1, jnp.linalg.norm(optax.tree_utils.tree_get(state, "grad"))

        g0 = jnp.linalg.norm(jax.grad(fun)(x0))
        x, _, k, _ = jax.lax.while_loop(cond, body, (x0, opt.init(x0), 0, g0))
        return x, k

    return run


def bench_row(label: str, fun: Callable, grad_np: Callable, x0: jax.Array, x1: jax.Array,
              repeats: int) -> Iterator[str]:
    seconds, first, res = median_seconds(
        lambda: optkit.minimize(fun, x0, "lbfgs", classify=False), repeats)
    before = _solve_jit._cache_size()
    began = time.perf_counter()
    jax.block_until_ready(optkit.minimize(fun, x1, "lbfgs", classify=False).x)
    again = time.perf_counter() - began
    compiles = _solve_jit._cache_size() - before
    verified = np.linalg.norm(grad_np(np.asarray(res.x)))
    yield (f"| {label} | optkit | {int(res.num_steps)} | {1e3 * seconds:.1f} | "
           f"{first:.2f} s / {1e3 * again:.1f} ms, {compiles} | {verified:.1e} | "
           f"{res.status.name} |")
    run = optax_by_hand(fun)
    seconds, first, (x, k) = median_seconds(lambda: run(x0), repeats)
    verified = np.linalg.norm(grad_np(np.asarray(x)))
    yield (f"| {label} | optax | {int(k)} | {1e3 * seconds:.1f} | {first:.2f} s | "
           f"{verified:.1e} | {'CONVERGED' if verified <= 1.01 * GRAD_TOL else '-'} |")
    value_and_grad = jax.jit(jax.value_and_grad(fun))

    def scipy_run() -> scipy.optimize.OptimizeResult:
        return scipy.optimize.minimize(
            lambda x: tuple(np.asarray(v, dtype=np.float64) for v in value_and_grad(x)),
            np.asarray(x0), jac=True, method="L-BFGS-B",
            options={"maxiter": MAX_STEPS, "maxcor": 10, "gtol": GRAD_TOL, "ftol": 0.0})

    seconds, first, out = median_seconds(scipy_run, repeats)
    verified = np.linalg.norm(grad_np(out.x))
    yield (f"| {label} | scipy | {out.nit} | {1e3 * seconds:.1f} | {first:.2f} s | "
           f"{verified:.1e} | {out.message} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1000, 100_000])
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"optkit {optkit.__version__}, optax {optax.__version__}, jax {jax.__version__}, "
          f"scipy {scipy.__version__}; float64, ‖∇f‖ ≤ {GRAD_TOL:g}, {MAX_STEPS} iterations; "
          f"median of {args.repeats}")
    print("| problem | solver | iterations | time (ms) | first call / again, compiles | "
          "‖∇f‖ verified | status |")
    print("|---|---|---:|---:|---|---:|---|")
    for n in args.sizes:
        x0 = jnp.asarray(np.tile([-1.2, 1.0], n // 2))
        x1 = jnp.asarray(np.tile([-1.0, 1.2], n // 2))
        for line in bench_row(f"extended n={n:,}", extended, extended_grad_np, x0, x1,
                              args.repeats):
            print(line, flush=True)
    x_np, y_np = logistic_data(args.features, args.samples)
    # the data as traced arguments of one jitted closure would need minimize(args=...); a
    # partial over device arrays is one hashable function for every solver here
    fun = functools.partial(logistic, x=jnp.asarray(x_np), y=jnp.asarray(y_np))
    grad_np = functools.partial(logistic_grad_np, x=x_np, y=y_np)
    w0 = jnp.zeros(args.features)
    w1 = jnp.asarray(np.random.default_rng(1).standard_normal(args.features) * 0.01)
    label = f"logistic {args.features:,} features × {args.samples:,}"
    for line in bench_row(label, fun, grad_np, w0, w1, args.repeats):
        print(line, flush=True)


if __name__ == "__main__":
    main()
