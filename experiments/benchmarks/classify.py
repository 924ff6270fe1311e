"""What end-point classification adds to a solve: extended Rosenbrock, classify off vs on.

    OPENBLAS_NUM_THREADS=1 python experiments/benchmarks/classify.py [--sizes 1000 100000]

For each size and method the solve is compiled once per setting, then timed (median of
``--repeats`` runs, each followed by block_until_ready). The overhead of classification is
reported in milliseconds and in gradient evaluations, two ways: against the median time of
one call of a jitted ∇f at the solution (dispatch included, what a gradient costs a caller),
and against 20 gradients evaluated inside one compiled loop (what 20 gradients cost inside a
program, as the classification's products are). Above 64 variables classify uses 20 Lanczos
Hessian–vector products and never forms the n×n Hessian. Answers are checked: ‖∇f‖ recomputed
at the returned x, and the kind.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp

import optkit
from optkit.analysis._classify import classify_flat


def extended_rosenbrock(x: jax.Array) -> jax.Array:
    a, b = x[0::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def _median_ms(fn, repeats: int) -> float:
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--methods", nargs="+", default=["newton_cg", "lbfgs"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args()
    grad = jax.jit(jax.grad(extended_rosenbrock))
    # 20 gradients in one program, each depending on the last (nothing is hoisted or merged)
    grads_in_loop = jax.jit(lambda x: jax.lax.fori_loop(
        0, 20, lambda i, y: y + 1e-30 * jax.grad(extended_rosenbrock)(y), x))
    rows = []
    for n in args.sizes:
        x0 = jnp.tile(jnp.array([-1.2, 1.0]), n // 2)
        for method in args.methods:
            times, results = {}, {}
            for classify in (False, True):
                def solve(classify=classify, method=method, x0=x0):
                    return optkit.minimize(extended_rosenbrock, x0, method=method,
                                           classify=classify)
                times[classify] = _median_ms(solve, args.repeats)
                results[classify] = solve()
            res = results[True]
            grad_ms = _median_ms(lambda res=res: grad(res.x), max(args.repeats, 20))
            loop20_ms = _median_ms(lambda res=res: grads_in_loop(res.x), max(args.repeats, 20))
            extra = times[True] - times[False]
            # the classification alone at the solution: the solve's timing noise does not
            # hide it
            classify_at = jax.jit(lambda x: classify_flat(extended_rosenbrock, x, grad_tol=1e-8))
            alone_ms = _median_ms(lambda res=res, c=classify_at: c(res.x), max(args.repeats, 20))
            row = {
                "n": n, "method": method, "off_ms": times[False], "on_ms": times[True],
                "extra_ms": extra, "grad_ms": grad_ms, "extra_in_grads": extra / grad_ms,
                "classify_alone_ms": alone_ms, "classify_alone_in_grads": alone_ms / grad_ms,
                "twenty_grads_in_a_program_ms": loop20_ms,
                "classify_alone_in_grads_in_a_program": 20 * alone_ms / loop20_ms,
                "status": str(res.status), "kind": str(res.critical_point.kind),
                "distance": float(res.critical_point.distance),
                "grad_norm_recomputed": float(jnp.linalg.norm(grad(res.x))),
                "lambda_min_estimate": float(res.critical_point.eigenvalues[0]),
                "lambda_max_estimate": float(res.critical_point.eigenvalues[-1]),
            }
            rows.append(row)
            print(f"n={n:>7} {method:<10} off {row['off_ms']:9.2f} ms  on {row['on_ms']:9.2f} ms"
                  f"  +{extra:8.2f} ms; classify alone {alone_ms:.2f} ms = "
                  f"{alone_ms / grad_ms:.1f} gradients "
                  f"({grad_ms:.3f} ms each), {20 * alone_ms / loop20_ms:.1f} inside a program "
                  f"({loop20_ms / 20:.3f} ms each)  {row['status']}, {row['kind']}, ‖∇f‖ "
                  f"{row['grad_norm_recomputed']:.1e}, λ ∈ [{row['lambda_min_estimate']:.4g}, "
                  f"{row['lambda_max_estimate']:.4g}]", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
