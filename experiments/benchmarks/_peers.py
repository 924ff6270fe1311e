"""The methods of the benchmark suite: optkit's, its peers' and hand-written floors.

A :class:`Peer` builds, for one workload, ``run() -> raw`` (what is timed: it returns device
arrays or numpy results, and the suite blocks on them) and ``finish(raw) -> Outcome`` (not
timed: the answer as numpy, iteration and Hessian–vector product counts). Every JAX peer takes
the workload's data as traced arguments of one jitted program, as optkit's ``args=`` does.

Floors, written here as plainly as a person would by hand (one ``lax.while_loop`` each):

* W1: Newton on 2-D Rosenbrock with the closed-form gradient and Hessian, the 2×2 system solved
  by Cramer's rule, H shifted by τI (τ = ε − λ_min(H) when λ_min ≤ ε = 10⁻⁶·|H|) so the step
  is downhill, Armijo halving;
* dense rows: the Cholesky damped Newton of experiments/benchmarks/dense_newton.py (imported);
* matrix-free rows: the textbook line-search Newton–CG of Nocedal & Wright (2006, algorithm
  7.1): CG on H d = −∇f stopped at ‖r‖ ≤ min(½, √‖∇f‖)‖∇f‖ or at the first direction of
  non-positive curvature (then the iterate so far, or −∇f on the first), products from one
  ``jax.linearize`` per outer step, Armijo halving (stopped where no decrease is measurable).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import optkit

if TYPE_CHECKING:
    from _workloads import Workload

DENSE_MAX = 2_000  # largest n for methods that form or factor an n×n matrix
SCIPY_LOOP_MAX = 1_000  # largest batch solved by a Python loop of scipy calls
MAX_STEPS = 10_000  # step cap given to peers (optkit keeps its own defaults)
PEER_TOL = 1e-13  # optimistix's rtol = atol: tight, so that ‖∇f‖ ≤ 1e-8 is reached


@dataclasses.dataclass
class Outcome:
    """An answer: x as numpy ((n,) or (count, n)); iterations (median over a batch), HVPs
    (None where not counted) and whether the method itself reported success (fraction)."""

    x: np.ndarray
    iters: float | None = None
    hvps: float | None = None
    reported: float | None = None


Built = tuple[Callable[[], Any], Callable[[Any], Outcome]]


@dataclasses.dataclass(frozen=True)
class Peer:
    """A method of one library: ``families`` it runs on; ``skip(w)`` a reason or None."""

    label: str
    families: frozenset[str]
    build: Callable[[Workload], Built]
    skip: Callable[[Workload], str | None] = lambda w: None


SINGLE = frozenset({"extended", "chained", "logistic", "quadratic"})
BATCH = frozenset({"w1"})


def _dense_skip(w: Workload) -> str | None:
    if w.n <= DENSE_MAX:
        return None
    return (f"forms and factors the dense n×n Hessian: {8 * w.n**2 / 2**30:,.1f} GiB and "
            f"~{w.n**3 / 3:.0e} flops per step at n = {w.n:,} (run at n ≤ {DENSE_MAX:,})")


def _bfgs_skip(w: Workload) -> str | None:
    if w.n <= DENSE_MAX:
        return None
    return (f"keeps an n×n inverse-Hessian approximation: {8 * w.n**2 / 2**30:,.1f} GiB and "
            f"O(n²) = {w.n**2:.0e} flops per step at n = {w.n:,} (run at n ≤ {DENSE_MAX:,})")


def _scipy_loop_skip(w: Workload) -> str | None:
    if w.count <= SCIPY_LOOP_MAX:
        return None
    return (f"one scipy solve per start in a Python loop (milliseconds each): "
            f"the {SCIPY_LOOP_MAX:,}-start row gives its per-start cost")


def _np(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _median(v: Any) -> float:
    return float(np.median(np.asarray(v)))


# ---------------------------------------------------------------- optkit

def _optkit(method: str) -> Callable[[Workload], Built]:
    def build(w: Workload) -> Built:
        x0 = jnp.asarray(w.x0)
        if w.batch:
            def run() -> Any:
                res = optkit.minimize_batch(w.fun, x0, method=method, args=w.args)
                return res, res.x
        else:
            def run() -> Any:
                res = optkit.minimize(w.fun, x0, method=method, args=w.args)
                return res, res.x

        def finish(raw: Any) -> Outcome:
            res = raw[0]
            hvps = _optkit_hvps(w, method, res) if method == "newton_cg" else None
            return Outcome(_np(res.x), _median(res.num_steps), hvps,
                           float(np.mean(np.asarray(res.converged))))
        return run, finish
    return build


def _optkit_hvps(w: Workload, method: str, res: Any) -> float | None:
    """Σ of the per-step ``hvps`` record, from the same solve rerun with ``record=True``
    (untimed) where its trajectory buffer stays small; None otherwise."""
    steps = int(np.max(np.asarray(res.num_steps)))
    if (steps + 1) * w.n * w.count * 8 > 64 * 2**20:
        return None
    solve = optkit.minimize_batch if w.batch else optkit.minimize
    rec = solve(w.fun, jnp.asarray(w.x0), method=method, args=w.args, record=True,
                max_steps=max(steps, 1), classify=False)
    per_step = np.asarray(rec.trajectory.aux["hvps"], dtype=np.float64)
    total = np.nansum(np.where(per_step > 0, per_step, 0.0), axis=-1)
    return _median(total)


# ---------------------------------------------------------------- optimistix

def _optimistix(kind: str) -> Callable[[Workload], Built]:
    def build(w: Workload) -> Built:
        import optimistix as optx

        fun = w.fun

        def one(x0: jax.Array, args: tuple[Any, ...]) -> tuple[jax.Array, ...]:
            if kind == "newton_root":
                grad = jax.grad(fun)
                sol = optx.root_find(lambda y, a: grad(y, *a), optx.Newton(PEER_TOL, PEER_TOL),
                                     x0, args=args, max_steps=MAX_STEPS, throw=False)
            else:
                solver = {"bfgs": optx.BFGS, "lbfgs": optx.LBFGS}[kind](PEER_TOL, PEER_TOL)
                sol = optx.minimise(lambda y, a: fun(y, *a), solver, x0, args=args,
                                    max_steps=MAX_STEPS, throw=False)
            return sol.value, sol.stats["num_steps"], sol.result == optx.RESULTS.successful

        program = jax.jit(jax.vmap(one, in_axes=(0, None)) if w.batch else one)
        x0 = jnp.asarray(w.x0)

        def finish(raw: Any) -> Outcome:
            x, steps, ok = raw
            return Outcome(_np(x), _median(steps), None, float(np.mean(np.asarray(ok))))
        return (lambda: program(x0, w.args)), finish
    return build


# ---------------------------------------------------------------- optax

def _optax_lbfgs(w: Workload) -> Built:
    """``optax.lbfgs()`` with its defaults in the loop of optax's documentation, stopped at
    ‖∇f‖ ≤ grad_tol (the gradient the zoom line search already computed)."""
    import optax
    import optax.tree_utils as otu

    fun, tol = w.fun, w.grad_tol

    def one(x0: jax.Array, args: tuple[Any, ...]) -> tuple[jax.Array, jax.Array, jax.Array]:
        f = lambda x: fun(x, *args)  # noqa: E731
        opt = optax.lbfgs()
        value_and_grad = optax.value_and_grad_from_state(f)

        def step(c: tuple[Any, Any, jax.Array]) -> tuple[Any, Any, jax.Array]:
            x, state, k = c
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
            return optax.apply_updates(x, updates), state, k + 1

        def running(c: tuple[Any, Any, jax.Array]) -> jax.Array:
            _, state, k = c
            grad = otu.tree_get(state, "grad")
            return (k == 0) | ((k < MAX_STEPS) & (otu.tree_norm(grad) > tol))

        x, state, k = lax.while_loop(running, step, (x0, opt.init(x0), jnp.int32(0)))
        return x, k, otu.tree_norm(otu.tree_get(state, "grad")) <= tol

    program = jax.jit(jax.vmap(one, in_axes=(0, None)) if w.batch else one)
    x0 = jnp.asarray(w.x0)

    def finish(raw: Any) -> Outcome:
        x, k, ok = raw
        return Outcome(_np(x), _median(k), None, float(np.mean(np.asarray(ok))))
    return (lambda: program(x0, w.args)), finish


# ---------------------------------------------------------------- jaxopt (not a dependency)

def jaxopt_available() -> bool:
    """Whether jaxopt can be imported (it is not an optkit dependency)."""
    return importlib.util.find_spec("jaxopt") is not None


def _jaxopt_lbfgs(w: Workload) -> Built:
    import jaxopt

    solver = jaxopt.LBFGS(fun=w.fun, tol=w.grad_tol, maxiter=MAX_STEPS)
    program = jax.jit(lambda x0, args: solver.run(x0, *args))
    x0 = jnp.asarray(w.x0)

    def finish(raw: Any) -> Outcome:
        params, state = raw
        return Outcome(_np(params), float(state.iter_num), None,
                       float(np.asarray(state.error) <= w.grad_tol))
    return (lambda: program(x0, w.args)), finish


# ---------------------------------------------------------------- scipy

def _scipy(method: str) -> Callable[[Workload], Built]:
    def build(w: Workload) -> Built:
        import scipy.optimize

        hess = jax.jit(jax.hessian(w.fun))
        hvp = jax.jit(lambda x, v, *a: jax.jvp(lambda y: jax.grad(w.fun)(y, *a), (x,), (v,))[1])
        args, args_np = w.args, w.args_np
        # f and ∇f as the workload's numpy code (no JAX dispatch per call: the fastest scipy
        # can be given), Hessians and their products from JAX
        f = lambda x: float(w.value_np(x, *args_np))  # noqa: E731
        g = lambda x: w.grad_np(x, *args_np)  # noqa: E731
        n = w.n
        if method == "trust-exact":
            hessian = (lambda x: w.hess_np(x, *args_np)) if w.hess_np else \
                (lambda x: np.asarray(hess(x, *args)))
            kw = dict(hess=hessian,
                      options={"gtol": w.grad_tol, "maxiter": MAX_STEPS})
        elif method == "L-BFGS-B":
            # gtol is on max|∇f|: tol/√n implies ‖∇f‖₂ ≤ tol; ftol 0 leaves the gradient test
            kw = dict(options={"gtol": w.grad_tol / np.sqrt(n), "ftol": 0.0,
                               "maxiter": MAX_STEPS, "maxfun": 2 * MAX_STEPS})
        else:  # Newton-CG stops on the step length only: xtol tiny, the gradient checked after
            kw = dict(hessp=lambda x, v: np.asarray(hvp(x, v, *args)),
                      options={"xtol": 1e-14, "maxiter": MAX_STEPS})

        def one(x0: np.ndarray) -> scipy.optimize.OptimizeResult:
            return scipy.optimize.minimize(f, x0, jac=g, method=method, **kw)

        def run() -> list[scipy.optimize.OptimizeResult]:
            starts = w.x0 if w.batch else w.x0[None]
            return [one(np.array(x0)) for x0 in starts]

        def finish(raw: list[scipy.optimize.OptimizeResult]) -> Outcome:
            x = np.stack([r.x for r in raw])
            hvps = [getattr(r, "nhev", 0) for r in raw] if method == "Newton-CG" else None
            return Outcome(x if w.batch else x[0], _median([r.nit for r in raw]),
                           None if hvps is None else _median(hvps),
                           float(np.mean([r.success for r in raw])))
        return run, finish
    return build


# ---------------------------------------------------------------- hand-written floors

def newton_2x2(x0: jax.Array, tol: float, max_steps: int = 500) -> tuple[jax.Array, jax.Array]:
    """Damped Newton on 2-D Rosenbrock, closed-form derivatives and 2×2 solve; (x, steps)."""
    def fgh(x: jax.Array) -> tuple[jax.Array, ...]:
        a, b = x[0], x[1]
        r = b - a * a
        f = (1.0 - a) ** 2 + 100.0 * r * r
        g = jnp.stack([-2.0 * (1.0 - a) - 400.0 * a * r, 200.0 * r])
        return f, g, 2.0 - 400.0 * r + 800.0 * a * a, -400.0 * a, jnp.full_like(a, 200.0)

    def value(x: jax.Array) -> jax.Array:
        return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2

    def step(c: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        x, f, g, h11, h12, h22, k = c
        lam_min = 0.5 * (h11 + h22) - jnp.sqrt(0.25 * (h11 - h22) ** 2 + h12**2)
        floor = 1e-6 * (jnp.abs(h11) + jnp.abs(h22))  # shift only a non-positive-definite H
        tau = jnp.where(lam_min > floor, 0.0, floor - lam_min)
        a11, a22 = h11 + tau, h22 + tau
        det = a11 * a22 - h12 * h12
        d = -jnp.stack([a22 * g[0] - h12 * g[1], a11 * g[1] - h12 * g[0]]) / det
        slope = g @ d

        def shrink(t: jax.Array) -> jax.Array:
            return (value(x + t * d) > f + 1e-4 * t * slope) & (t > 1e-12)

        t = lax.while_loop(shrink, lambda t: 0.5 * t, jnp.ones((), x.dtype))
        x = x + t * d
        return (x, *fgh(x), k + 1)

    def running(c: tuple[jax.Array, ...]) -> jax.Array:
        return (jnp.sqrt(c[2] @ c[2]) > tol) & (c[6] < max_steps)

    out = lax.while_loop(running, step, (x0, *fgh(x0), jnp.int32(0)))
    return out[0], out[6]


def _floor_2x2(w: Workload) -> Built:
    program = jax.jit(jax.vmap(lambda x0: newton_2x2(x0, w.grad_tol)))
    x0 = jnp.asarray(w.x0)

    def finish(raw: Any) -> Outcome:
        x, k = raw
        return Outcome(_np(x), _median(k), None, None)
    return (lambda: program(x0)), finish


def _dense_newton_module() -> Any:
    """experiments/benchmarks/dense_newton.py, imported once (it is a script, not a package)."""
    key = "experiments_benchmarks_dense_newton"
    if key not in sys.modules:
        path = Path(__file__).with_name("dense_newton.py")
        spec = importlib.util.spec_from_file_location(key, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def _floor_cholesky(w: Workload) -> Built:
    reference_newton = _dense_newton_module().reference_newton
    fun = w.fun
    program = jax.jit(lambda x0, args: reference_newton(lambda x: fun(x, *args), x0))
    x0 = jnp.asarray(w.x0)

    def finish(raw: Any) -> Outcome:
        x, k = raw
        return Outcome(_np(x), float(k), None, None)
    return (lambda: program(x0, w.args)), finish


def newton_cg_textbook(fun: Callable[[jax.Array], jax.Array], x0: jax.Array, tol: float,
                       max_steps: int = 10_000) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Line-search Newton–CG (Nocedal & Wright, algorithm 7.1); returns (x, steps, HVPs)."""
    grad = jax.grad(fun)
    max_cg = min(x0.size, 1_000)

    def cg(hvp: Callable[[jax.Array], jax.Array], g: jax.Array) -> tuple[jax.Array, jax.Array]:
        gnorm = jnp.sqrt(g @ g)
        eps = jnp.minimum(0.5, jnp.sqrt(gnorm)) * gnorm

        # carry: z, r, d, rr, j, done, p (the answer once done)
        def body(c: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
            z, r, d, rr, j, _, p = c
            bd = hvp(d)
            curv = d @ bd
            negative = curv <= 0
            alpha = rr / jnp.where(negative, 1.0, curv)
            z_new = z + alpha * d
            r_new = r + alpha * bd
            rr_new = r_new @ r_new
            small = jnp.sqrt(rr_new) < eps
            p = jnp.where(negative, jnp.where(j == 0, -g, z), z_new)
            d_new = -r_new + (rr_new / rr) * d
            return z_new, r_new, d_new, rr_new, j + 1, negative | small, p

        def cond(c: tuple[jax.Array, ...]) -> jax.Array:
            return ~c[5] & (c[4] < max_cg)

        zero = jnp.zeros_like(g)
        out = lax.while_loop(cond, body, (zero, g, -g, g @ g, jnp.int32(0), jnp.array(False),
                                          -g))
        p = jnp.where(out[5], out[6], out[0])
        return p, out[4]

    def step(c: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        x, f, g, k, products, _ = c
        _, hvp = jax.linearize(grad, x)
        d, used = cg(hvp, g)
        slope = g @ d

        def shrink(t: jax.Array) -> jax.Array:
            return (fun(x + t * d) > f + 1e-4 * t * slope) & (t > 1e-12)

        t = lax.while_loop(shrink, lambda t: 0.5 * t, jnp.ones((), x.dtype))
        # f did not strictly decrease: it is at its rounding floor, where Armijo's test passes
        # by rounding and the loop would only wander; stop here
        f_new, g_new = jax.value_and_grad(fun)(x + t * d)
        stalled = ~(f_new < f)
        x, f, g = (jnp.where(stalled, old, new) for old, new in ((x, x + t * d), (f, f_new),
                                                                 (g, g_new)))
        return x, f, g, k + 1, products + used, stalled

    def running(c: tuple[jax.Array, ...]) -> jax.Array:
        return (jnp.sqrt(c[2] @ c[2]) > tol) & (c[3] < max_steps) & ~c[5]

    f0, g0 = jax.value_and_grad(fun)(x0)
    x, _, _, k, products, _ = lax.while_loop(
        running, step, (x0, f0, g0, jnp.int32(0), jnp.int32(0), jnp.array(False)))
    return x, k, products


def _floor_newton_cg(w: Workload) -> Built:
    fun, tol = w.fun, w.grad_tol
    program = jax.jit(lambda x0, args: newton_cg_textbook(lambda x: fun(x, *args), x0, tol))
    x0 = jnp.asarray(w.x0)

    def finish(raw: Any) -> Outcome:
        x, k, products = raw
        return Outcome(_np(x), float(k), float(products), None)
    return (lambda: program(x0, w.args)), finish


# ---------------------------------------------------------------- the list

def peers() -> list[Peer]:
    """Every method of the suite, in the order of the table."""
    out = [
        Peer("optkit newton", BATCH, _optkit("newton")),
        Peer("optimistix Newton (root of ∇f)", BATCH, _optimistix("newton_root")),
        Peer("optimistix BFGS", BATCH, _optimistix("bfgs")),
        Peer("optax lbfgs", BATCH, _optax_lbfgs),
        Peer("scipy trust-exact (loop)", BATCH, _scipy("trust-exact"), _scipy_loop_skip),
        Peer("floor: closed-form 2×2 Newton", BATCH, _floor_2x2),
        # single solves: matrix-free and quasi-Newton first, then the dense methods
        Peer("optkit newton_cg", SINGLE, _optkit("newton_cg")),
        Peer("optkit lbfgs", SINGLE, _optkit("lbfgs")),
        Peer("optkit bfgs", SINGLE, _optkit("bfgs"), _bfgs_skip),
        Peer("optimistix LBFGS", SINGLE, _optimistix("lbfgs")),
        Peer("optimistix BFGS", SINGLE, _optimistix("bfgs"), _bfgs_skip),
        Peer("optax lbfgs", SINGLE, _optax_lbfgs),
        Peer("scipy L-BFGS-B", SINGLE, _scipy("L-BFGS-B")),
        Peer("scipy Newton-CG (hessp)", SINGLE, _scipy("Newton-CG")),
        Peer("floor: textbook Newton–CG", SINGLE, _floor_newton_cg),
        Peer("optkit newton (dense)", SINGLE, _optkit("newton"), _dense_skip),
        Peer("optimistix Newton (root of ∇f)", SINGLE, _optimistix("newton_root"), _dense_skip),
        Peer("scipy trust-exact", SINGLE, _scipy("trust-exact"), _dense_skip),
        Peer("floor: Cholesky damped Newton", SINGLE, _floor_cholesky, _dense_skip),
    ]
    if jaxopt_available():
        out.insert(12, Peer("jaxopt LBFGS", SINGLE, _jaxopt_lbfgs))
    return out
