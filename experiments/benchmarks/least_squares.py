"""optkit.least_squares (Gauss–Newton, Levenberg–Marquardt) against scipy.optimize.least_squares
("lm": MINPACK's lmder, "trf": trust-region reflective) on the Moré–Garbow–Hillstrom residual
problems of experiments/mgh_suite.py, from the standard starts.

Every solver gets the exact Jacobian (scipy: the JAX Jacobian as ``jac=``, jitted), float64,
and its own default stopping rule (optkit: ‖Jᵀr‖ ≤ 1e-8; scipy: ftol = xtol = gtol = 1e-8).
The two rules differ: scipy also stops when an accepted step decreases ½‖r‖² by less than
ftol = 1e-8 relative, which on problems with a nonzero residual ends the solve long before
‖Jᵀr‖ reaches 1e-8 (often unreachable there: optkit then grinds on to its rounding floor).
The column "LM-ftol" is optkit's Levenberg–Marquardt with the matching decrease test
(``f_tol=1e-8``: stop after an accepted step with |Δf| ≤ 1e-8·(1 + |f|), status
SMALL_DECREASE), the like-for-like comparison with scipy's defaults.
"Solved" is mgh_suite's rule: ‖r‖² within the tolerance of a documented optimum (global, or a
documented local/asymptotic value, marked so). Evaluations are counted apart:

* nfev: evaluations of r (optkit: the start plus one per trip round the loop; scipy: its
  ``nfev``);
* njev: evaluations of J (optkit: the start plus every accepted or ‖∇f‖-checked trial; scipy:
  its ``njev``).

Run ``OPENBLAS_NUM_THREADS=1 python experiments/benchmarks/least_squares.py`` (about a minute
or two on two cores, almost all of it compiling one program per problem and method);
``--only rosenbrock beale`` runs a few.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

import optkit  # noqa: E402  (turns on float64)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import mgh_suite  # noqa: E402

OPTKIT = ("gauss_newton", "levenberg_marquardt", "levenberg_marquardt+ftol")
SCIPY = ("lm", "trf")
LABELS = {"gauss_newton": "GN", "levenberg_marquardt": "LM",
          "levenberg_marquardt+ftol": "LM-ftol", "lm": "sp-lm", "trf": "sp-trf"}
#: scipy's default ftol, for the like-for-like column
SCIPY_FTOL = 1e-8


def run_optkit(problem: mgh_suite.MGHProblem, method: str) -> tuple[float, int, int, str]:
    method, _, ftol = method.partition("+")
    res = optkit.least_squares(problem.residuals, problem.start, method, classify=False,
                               f_tol=SCIPY_FTOL if ftol else 0.0)
    return (2 * float(res.value), int(res.num_residual_evals), int(res.num_jacobian_evals),
            res.status.name)


def run_scipy(problem: mgh_suite.MGHProblem, method: str) -> tuple[float, int, int, str]:
    fun = jax.jit(problem.residuals)
    jac = jax.jit(jax.jacfwd(problem.residuals))
    out = scipy.optimize.least_squares(lambda x: np.asarray(fun(x)), np.asarray(problem.start),
                                       jac=lambda x: np.asarray(jac(x)), method=method)
    value = float(np.dot(out.fun, out.fun))
    return value, int(out.nfev), int(out.njev or 0), f"status {out.status}"


def mark(problem: mgh_suite.MGHProblem, value: float) -> str:
    hit = mgh_suite.reached(problem, value)
    if hit is None:
        return "no"
    return "yes" if hit.kind == "global" else hit.kind[:5]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="problem names to run")
    parser.add_argument("--solvers", nargs="*", default=[*OPTKIT, *SCIPY],
                        choices=[*OPTKIT, *SCIPY])
    args = parser.parse_args(argv)
    chosen = mgh_suite.problems()
    if args.only:
        known = {p.name for p in chosen}
        unknown = sorted(set(args.only) - known)
        if unknown:
            parser.error(f"unknown problem(s) {unknown}; known: {sorted(known)}")
        chosen = [p for p in chosen if p.name in args.only]

    solvers = args.solvers
    print(f"optkit {optkit.__version__}, scipy {scipy.__version__}, jax {jax.__version__}, "
          "float64, exact Jacobians; cells: solved? nfev/njev")
    header = f"{'#':>2} {'problem':27s} {'n':>2} {'m':>3} {'f*':>11}"
    print(header + "".join(f" | {LABELS[s]:^15s}" for s in solvers))
    totals = {s: [0, 0, 0] for s in solvers}  # solved, nfev, njev
    for p in chosen:
        row = f"{p.number:2d} {p.name:27s} {p.n:2d} {p.m:3d} {p.f_star:11.5e}"
        for s in solvers:
            value, nfev, njev, _ = run_optkit(p, s) if s in OPTKIT else run_scipy(p, s)
            solved = mark(p, value)
            totals[s][0] += solved != "no"
            totals[s][1] += nfev
            totals[s][2] += njev
            row += f" | {solved:5s} {nfev:4d}/{njev:4d}"
        print(row, flush=True)
    print(f"{'':2s} {'total: solved, nfev/njev':27s} {'':2s} {'':3s} {'':11s}" + "".join(
        f" | {t[0]:3d}  {t[1]:4d}/{t[2]:4d}" for t in totals.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
