"""Every critical point of a function in a box, not only its minima.

The atlas solves ∇f(x) = 0 from many starts and keeps each distinct root:

1. **Starts**: half a scrambled Halton sequence (space-filling even for 128 starts), half
   uniform random points, all seeded, all inside the box [lower, upper].
2. **Root finding** (one jitted ``lax.while_loop`` over all starts, vmapped body):
   Levenberg–Marquardt on the residual r(x) = ∇f(x), whose Jacobian is the Hessian H
   (symmetric), so the step solves (H² + μI)d = −H∇f. With H = V·diag(λ)·Vᵀ that is
   d = −V·diag(λᵢ/(λᵢ² + μ))·Vᵀ∇f: for μ = 0 the Newton step −H⁻¹∇f (the pseudo-inverse step
   −H⁺∇f where H is singular), for large μ a short step down the merit function φ = ½‖∇f‖².
   A step is accepted when ‖∇f‖ decreases; μ shrinks after a success and grows after a failure.
   Newton on ∇f = 0 ignores the sign of the curvature, so it converges to saddles and maxima
   as readily as to minima, and (linearly, e.g. with ratio 2/3 for x⁴ + y⁴) to degenerate
   points, where the pseudo-inverse never divides by zero.
3. **Polish** every end point with pure pseudo-inverse Newton steps, keeping the iterate of
   smallest ‖∇f‖.
4. **Keep** a point only where the gradient really vanishes: ‖∇f‖ ≤ grad_tol (default √ε·G,
   G the largest gradient norm over the starts) *and* the Newton step from it is shorter than
   ε^(1/3)·diam (far out on an exponentially flat tail the gradient is tiny but the Newton step
   never shrinks); drop points outside the box (relative margin √ε).
5. **Merge** duplicates closer than dedup_tol (default ε^(1/3)·diam, diam the box diagonal),
   keeping the one with the smallest gradient.
6. **Classify** each point with classify's rule (:func:`~optkit.analysis._classify.
   classify_spectrum`), the zero tolerance for Hessian eigenvalues raised to ε^(1/3)·Ĥ (Ĥ the
   median ‖∇²f‖₂ over the starts): at a polished degenerate point the eigenvalues are of the
   order of the distance to the root, far below that, while classify's default tolerance is
   not scale invariant (see ``_classify_ends``).

Non-isolated critical points (a curve or surface of them, e.g. the ring of minima of
(x² + y² − 1)²): every start lands on a different point of the set. A point whose Hessian has an
eigenvalue within the zero tolerance is probed: the search is rerun from x + h·v (v the
eigenvector of the smallest |λ|, h = 1% of the box diagonal). At an isolated degenerate point
(x⁴ + y⁴, x³ − 3xy²) the probe comes back; on a set of critical points it stops about h away,
at the same value. ``non_isolated="merge"`` (default) reports one representative per connected
set (same value, linked within 10% of the box diagonal), kind ``"degenerate"`` (its Hessian is
singular along the set), and warns; ``"drop"`` reports only the isolated points (what an exact
solver lists); ``"keep"`` reports every distinct point found on the set.

Scope: ``fun`` takes an array shaped like ``lower`` (a 0-d array when the box is given by
scalars, a vector otherwise). Pytree arguments are not supported: ravel them first
(``jax.flatten_util.ravel_pytree``). Accuracy is that of float arithmetic: along a direction
where the curvature vanishes to high order *and* is coupled to stiff directions (e.g.
x⁶ + (y − x)²), points within about (ε·‖H‖)^(1/4) of the root are numerically critical.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import jit
from .._sharding import shard_starts
from ._classify import CriticalPoint, classify_spectrum, eigenvalue_tol
from ._lanczos import DENSE_MAX_DIM, LANCZOS_STEPS

Array = jax.Array
NON_ISOLATED = ("merge", "drop", "keep")

# Levenberg–Marquardt damping μ = ν·max λ²: ν starts at 0 (pure Newton), is set to NU_MIN or
# multiplied by 4 after a rejected step, divided by 4 (and zeroed below NU_MIN) after an
# accepted one; above NU_MAX no step decreases ‖∇f‖ and the start is stuck.
NU_MIN, NU_MAX = 1e-6, 1e8
MAX_STEP_FRACTION = 0.25  # no step longer than this fraction of the box diagonal
PROBE_FRACTION = 0.01  # probe distance h for the non-isolation test, per box diagonal
LINK_FRACTION = 0.1  # linkage distance between points of one non-isolated set


def _primes(count: int) -> list[int]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


def scrambled_halton(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` points of the Halton sequence in [0, 1)^dim with random digit scrambling.

    Coordinate j is the radical inverse of the index in the j-th prime base p, each base-p
    digit passed through a random permutation of {0, …, p−1} (one per coordinate and digit
    position): the low discrepancy is kept and the striping of high bases is broken up.
    """
    index = np.arange(1, count + 1)
    points = np.zeros((count, dim))
    for j, base in enumerate(_primes(dim)):
        remaining = index.copy()
        # enough digits to fill a double; the scrambled trailing zeros randomise the tail
        for position in range(1, math.ceil(53 * math.log(2) / math.log(base)) + 1):
            points[:, j] += rng.permutation(base)[remaining % base] * float(base) ** -position
            remaining //= base
    return points


def _starts(lower: np.ndarray, upper: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    num_halton = (count + 1) // 2
    unit = np.concatenate(
        [scrambled_halton(num_halton, lower.size, rng),
         rng.uniform(size=(count - num_halton, lower.size))]
    )
    return lower + unit * (upper - lower)


class _Eval(NamedTuple):
    """f, ∇f and the eigendecomposition of the symmetrised ∇²f at one point."""

    value: Array
    grad: Array
    lam: Array
    vecs: Array


def _evaluate(f: Callable[[Array], Array], x: Array) -> _Eval:
    def grad_aux(z: Array) -> tuple[Array, tuple[Array, Array]]:
        value, g = jax.value_and_grad(f)(z)
        return g, (value, g)

    hess, (value, g) = jax.jacfwd(grad_aux, has_aux=True)(x)
    lam, vecs = jnp.linalg.eigh(0.5 * (hess + hess.T))
    return _Eval(value, g, lam, vecs)


def _lm_step(e: _Eval, nu: Array, max_step: Array, rcond: Array) -> Array:
    """d = −V·diag(λ/(λ² + μ))·Vᵀ∇f with μ = ν·max λ²; eigenvalues with |λ| ≤ rcond·max|λ|
    are dropped (ν = 0 gives the pseudo-inverse Newton step −H⁺∇f); ‖d‖ ≤ max_step."""
    scale = jnp.max(jnp.abs(e.lam))
    denom = e.lam**2 + nu * scale**2
    keep = denom > (rcond * scale) ** 2
    coef = jnp.where(keep, e.lam / jnp.where(keep, denom, 1.0), 0.0)
    d = -(e.vecs @ (coef * (e.vecs.T @ e.grad)))
    norm = jnp.linalg.norm(d)
    return d * jnp.minimum(1.0, max_step / jnp.where(norm > 0, norm, 1.0))


class _State(NamedTuple):
    k: Array
    x: Array  # the iterate steps are taken from (last accepted in the LM phase)
    at_x: _Eval
    nu: Array
    polishing: Array  # bool: the LM phase is over
    polish_left: Array
    best_x: Array
    best: _Eval
    start_grad_norm: Array
    start_hess_norm: Array


def _solve(
    f: Callable[[Array], Array], starts: Array, lower: Array, upper: Array,
    lm_steps: Array, polish_steps: Array,
) -> _State:
    """Levenberg–Marquardt on ∇f = 0 from each start, then pure Newton polish, one while_loop.

    The LM phase accepts a step only when ‖∇f‖ decreases; it ends after ``lm_steps`` or when
    the start is stuck (ν > NU_MAX), converged (∇f = 0 or a step at rounding level) or far
    outside the box. The polish phase takes ``polish_steps`` pseudo-inverse Newton steps
    unconditionally. The point of smallest ‖∇f‖ seen is kept. One evaluation (value, gradient,
    Hessian, eigh) per trip, so the program holds a single copy of the derivative code. The
    loop runs the vmapped body while any start is active; a finished start keeps polishing,
    which can only improve its best point (cheaper to compile than per-start masking).
    """
    dtype = starts.dtype
    eps = jnp.finfo(dtype).eps
    diam = jnp.linalg.norm(upper - lower)
    n = starts.shape[1]
    # a zero "evaluation" makes the first trip step d = 0, i.e. evaluate x0 itself
    blank = _Eval(jnp.zeros((), dtype), jnp.zeros(n, dtype), jnp.zeros(n, dtype),
                  jnp.eye(n, dtype=dtype))
    inf = jnp.asarray(jnp.inf, dtype)

    def body(s: _State) -> _State:
        # the LM phase keeps eigenvalues down to ε²·max|λ|: x⁶ + y² converges along x although
        # 30x⁴ ≪ ε·2; noise-level eigenvalues (a continuum of critical points) give wild
        # steps there, which the merit test rejects. The unguarded polish drops |λ| ≤ 10nε·max|λ|.
        rcond = jnp.where(s.polishing, 10.0 * n * eps, eps**2)
        d = _lm_step(s.at_x, jnp.where(s.polishing, 0.0, s.nu), MAX_STEP_FRACTION * diam, rcond)
        trial = s.x + d
        e = _evaluate(f, trial)
        norm = jnp.linalg.norm(e.grad)
        finite = jnp.isfinite(norm) & jnp.all(jnp.isfinite(trial)) & jnp.isfinite(e.value)
        current = jnp.where(s.k == 0, inf, jnp.linalg.norm(s.at_x.grad))
        accept = s.polishing | (finite & (norm < current))
        better = finite & (norm < jnp.linalg.norm(s.best.grad)) | (s.k == 0)

        def pick(flag: Array, new: Any, old: Any) -> Any:
            return jax.tree_util.tree_map(lambda a, b: jnp.where(flag, a, b), new, old)

        x, at_x = pick(accept, (trial, e), (s.x, s.at_x))
        best_x, best = pick(better, (trial, e), (s.best_x, s.best))
        nu = jnp.where(accept, jnp.where(s.nu / 4 < NU_MIN, 0.0, s.nu / 4),
                       jnp.maximum(4 * s.nu, NU_MIN))
        far = jnp.linalg.norm(x - jnp.clip(x, lower, upper)) > diam
        lm_over = (
            (s.k + 1 >= lm_steps) | (nu > NU_MAX) | (jnp.linalg.norm(at_x.grad) == 0)
            | (accept & (s.k > 0) & (jnp.linalg.norm(d) <= 10 * eps * jnp.linalg.norm(x)))
        )
        polishing = s.polishing | lm_over | far | ~finite & (s.k == 0)
        polish_left = s.polish_left - s.polishing.astype(s.polish_left.dtype)
        # nothing to polish far outside the box, at an exact zero or at a non-finite start
        stop = far | (jnp.linalg.norm(best.grad) == 0) | ~finite & (s.k == 0)
        polish_left = jnp.where(stop, 0, polish_left)
        polishing = polishing | stop
        start_g = jnp.where(s.k == 0, norm, s.start_grad_norm)
        start_h = jnp.where(s.k == 0, jnp.max(jnp.abs(e.lam)), s.start_hess_norm)
        return _State(s.k + 1, x, at_x, nu, polishing, polish_left, best_x, best, start_g,
                      start_h)

    def init(x0: Array) -> _State:
        return _State(
            k=jnp.zeros((), jnp.int32), x=x0, at_x=blank, nu=jnp.zeros((), dtype),
            polishing=jnp.asarray(False), polish_left=jnp.asarray(polish_steps, jnp.int32),
            best_x=x0, best=blank, start_grad_norm=inf, start_hess_norm=inf,
        )

    def active(s: _State) -> Array:
        return jnp.any(~s.polishing | (s.polish_left > 0))

    return jax.lax.while_loop(active, jax.vmap(body), jax.vmap(init)(starts))


@partial(jit, static_argnames=("f",))
def _search(
    f: Callable[[Array], Array], starts: Array, lower: Array, upper: Array,
    lm_steps: Array, polish_steps: Array,
) -> _State:
    """The compiled program that depends on ``f``: all starts through one root-finding loop."""
    return _solve(f, starts, lower, upper, lm_steps, polish_steps)


@jit
def _classify_ends(s: _State, grad_tol: Array) -> dict[str, Any]:
    """Scales, tolerances, classification, Newton step and null direction of the end points.

    Independent of f, so compiled once per shape and reused across functions. G is the largest
    ‖∇f‖ and Ĥ the median ‖∇²f‖₂ over the starts; grad_tol = NaN means √ε·G. The eigenvalue
    tolerance is classify's max(√ε‖H‖, 10√‖∇f‖) raised to ε^(1/3)·Ĥ: classify's √‖∇f‖ term is
    not scale invariant (for f = 100x³ the eigenvalue 600x at x > 0 exceeds 10√(300x²) ≈ 173x,
    so a point 1e-9 from the degenerate root would pass for a minimum), and Ĥ supplies the
    missing scale.
    """
    dtype = s.best_x.dtype
    eps = jnp.finfo(dtype).eps
    grad_scale = _max_finite(s.start_grad_norm)
    grad_tol = jnp.where(jnp.isnan(grad_tol), jnp.sqrt(eps) * grad_scale, grad_tol)
    grad_tol = jnp.maximum(grad_tol, jnp.finfo(dtype).tiny)
    tol_floor = eps ** (1.0 / 3.0) * _median_finite(s.start_hess_norm)
    grad_norm = jnp.linalg.norm(s.best.grad, axis=1)
    tol = jnp.maximum(jax.vmap(eigenvalue_tol)(s.best.lam, grad_norm), tol_floor)
    gtol = jnp.full_like(grad_norm, grad_tol)
    kind, index, tol = jax.vmap(classify_spectrum)(s.best.lam, grad_norm, gtol, tol)
    inf = jnp.asarray(jnp.inf, dtype)
    rcond = 10.0 * s.best.lam.shape[1] * eps
    newton = jax.vmap(lambda e: _lm_step(e, jnp.zeros_like(e.value), inf, rcond))(s.best)
    newton_norm = jnp.linalg.norm(newton, axis=1)
    points = CriticalPoint(
        x=s.best_x, value=s.best.value, grad_norm=grad_norm,
        eigenvalues=reported_eigenvalues(s.best.lam), index=index, kind_code=kind, tol=tol,
        grad_tol=gtol, distance=newton_norm,
    )
    return {
        "points": points, "newton_norm": newton_norm,
        "min_abs_eigenvalue": jnp.min(jnp.abs(s.best.lam), axis=1),
        "null_dir": jax.vmap(lambda e: e.vecs[:, jnp.argmin(jnp.abs(e.lam))])(s.best),
        "grad_scale": grad_scale, "grad_tol": grad_tol,
    }


def reported_eigenvalues(lam: Array) -> Array:
    """The eigenvalues a CriticalPoint holds: all n (ascending) up to DENSE_MAX_DIM variables,
    above it the LANCZOS_STEPS/2 smallest and as many largest, the shape ``classify`` gives."""
    n = lam.shape[-1]
    if n <= DENSE_MAX_DIM:
        return lam
    half = LANCZOS_STEPS // 2
    return jnp.concatenate([lam[..., :half], lam[..., n - half:]], axis=-1)


def _max_finite(values: Array) -> Array:
    """Largest finite entry (1 when there are none)."""
    largest = jnp.max(jnp.where(jnp.isfinite(values), values, -jnp.inf))
    return jnp.where(jnp.isfinite(largest), largest, 1.0)


def _median_finite(values: Array) -> Array:
    """Median of the finite entries (1 when there are none)."""
    median = jnp.nanmedian(jnp.where(jnp.isfinite(values), values, jnp.nan))
    return jnp.where(jnp.isfinite(median), median, 1.0)


def _as_box(lower: Any, upper: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray, tuple, Any]:
    try:
        lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"find_critical_points: lower/upper must be numbers ({err})") from None
    if lo.shape != hi.shape or lo.ndim > 1 or lo.size == 0:
        raise ValueError(
            f"find_critical_points: lower {lo.shape} and upper {hi.shape} must be scalars or "
            "vectors of the same length"
        )
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) and np.all(lo < hi)):
        raise ValueError(f"find_critical_points: need finite lower < upper, got {lo} and {hi}")
    if dtype is None:
        dtype = jnp.result_type(jnp.asarray(lower), jnp.asarray(upper))
        if not jnp.issubdtype(dtype, jnp.floating):
            dtype = jnp.result_type(float)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(f"find_critical_points: dtype {dtype} is not a floating type")
    return lo.ravel(), hi.ravel(), lo.shape, jnp.dtype(dtype)


def merge_nearby(x: np.ndarray, order: Any, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """The one rule by which optkit merges end points into distinct critical points.

    Walk the points in ``order`` (best first); a point within ``radius`` (Euclidean) of an
    already kept point joins the first such one, otherwise it is kept. Returns the kept
    indices (in walking order) and, for every point of ``order``, the position in that list
    of the kept point it joined. Points never compared (not in ``order``) get −1.
    """
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    kept: list[int] = []
    joined = np.full(len(x), -1, dtype=int)
    for i in np.asarray(order, dtype=int):
        if kept:
            with np.errstate(over="ignore", invalid="ignore"):  # end points may be ~1e300 apart
                distance = np.linalg.norm(x[kept] - x[i], axis=1)
            near = np.flatnonzero(distance <= radius)
            if near.size:
                joined[i] = near[0]
                continue
        joined[i] = len(kept)
        kept.append(int(i))
    return np.asarray(kept, dtype=int), joined


def _components(x: np.ndarray, value: np.ndarray, link: float, value_tol: float) -> list[list[int]]:
    """Connected components of points linked when closer than ``link`` at equal value."""
    parent = list(range(len(x)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(x)):
        near = (np.linalg.norm(x - x[i], axis=1) <= link) & (np.abs(value - value[i]) <= value_tol)
        for j in np.flatnonzero(near):
            parent[root(int(j))] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(x)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _make_flat(fun: Callable[[Array], Array], shape: tuple[int, ...]) -> Callable[[Array], Array]:
    """fun on a flat vector, returning a 0-d value."""

    def flat_fun(z: Array) -> Array:
        try:
            value = jnp.asarray(fun(z.reshape(shape)))
        except (IndexError, TypeError):
            if shape != ():
                raise
            value = jnp.asarray(fun(z))  # a scalar box, but fun indexes x[0]: give it a 1-vector
        if value.size != 1:
            raise ValueError(f"find_critical_points: fun must return a scalar, got shape "
                             f"{value.shape}")
        return value.reshape(())

    return flat_fun


# the same flat function object for the same fun, so repeated searches hit the jit cache
_cached_flat = functools.lru_cache(maxsize=32)(_make_flat)


def _flat(fun: Callable[[Array], Array], shape: tuple[int, ...]) -> Callable[[Array], Array]:
    try:
        return _cached_flat(fun, shape)
    except TypeError:  # an unhashable callable
        return _make_flat(fun, shape)


def find_critical_points(
    fun: Callable[[Array], Array],
    lower: float | Sequence[float] | Array,
    upper: float | Sequence[float] | Array,
    num_starts: int = 1024,
    seed: int = 0,
    *,
    grad_tol: float | None = None,
    dedup_tol: float | None = None,
    max_steps: int = 200,
    polish_steps: int = 50,
    non_isolated: str = "merge",
    dtype: Any = None,
    devices: Sequence[jax.Device] | None = None,
) -> list[CriticalPoint]:
    """Every distinct critical point (∇f(x) = 0) of ``fun`` in the box [lower, upper].

    Minima, maxima, saddles and degenerate points alike, each as a
    :class:`~optkit.analysis._classify.CriticalPoint`, sorted by value (then by x). The method
    (many starts, Newton / Levenberg–Marquardt on ∇f = 0, polish, filter, merge, classify) and
    the handling of non-isolated critical sets are described in the module docstring.

    Args:
        fun: JAX-traceable scalar function of an array shaped like ``lower`` (no pytrees).
        lower, upper: the box; scalars (1-D: ``fun`` gets a 0-d array, or a 1-vector if it
            indexes ``x[0]``; the points' ``x`` are 0-d) or vectors.
        num_starts: number of starts (half scrambled Halton, half uniform random).
        seed: seed of the starts.
        grad_tol: keep points with ‖∇f‖ ≤ grad_tol (default √ε·G, G the largest ‖∇f‖ over
            the starts).
        dedup_tol: points closer than this are one point (default ε^(1/3)·diam).
        max_steps: Levenberg–Marquardt iterations per start.
        polish_steps: pure Newton iterations per point after the root finding.
        non_isolated: ``"merge"`` | ``"drop"`` | ``"keep"`` for points on a curve or surface of
            critical points.
        dtype: floating dtype of the search (default: that of lower/upper; Python floats give
            float64 when x64 is on).
        devices: the starts are split over these (default: every local device); the result
            does not depend on how many there are.

    Returns:
        list of CriticalPoint (unbatched; ``x`` shaped like ``lower``), sorted by value.
    """
    if non_isolated not in NON_ISOLATED:
        raise ValueError(f"find_critical_points: non_isolated={non_isolated!r}, expected one of "
                         f"{NON_ISOLATED}")
    for name, number, least in (("num_starts", num_starts, 1), ("max_steps", max_steps, 0),
                                ("polish_steps", polish_steps, 0)):
        if isinstance(number, bool) or not isinstance(number, int | np.integer) or number < least:
            raise ValueError(f"find_critical_points: {name}={number!r} must be an int ≥ {least}")
    lo, hi, shape, dtype = _as_box(lower, upper, dtype)
    eps = float(jnp.finfo(dtype).eps)
    diam = float(np.linalg.norm(hi - lo))
    step_tol = eps ** (1.0 / 3.0) * diam

    flat_fun = _flat(fun, shape)
    starts = jnp.asarray(_starts(lo, hi, int(num_starts), seed), dtype)
    # NaN padding rows end non-finite (filtered) and are skipped by the reductions over starts
    placed, count, _ = shard_starts(starts, devices, pad_with_nan=True)
    box = (jnp.asarray(lo, dtype), jnp.asarray(hi, dtype))
    gtol = jnp.asarray(np.nan if grad_tol is None else grad_tol, dtype)

    def search(points: Array, lm_steps: int, polish: int) -> dict[str, Any]:
        ends = _search(flat_fun, points, *box, jnp.asarray(lm_steps, jnp.int32),
                       jnp.asarray(polish, jnp.int32))
        return jax.tree_util.tree_map(np.asarray, _classify_ends(ends, gtol))

    out = search(placed, max_steps, polish_steps)
    per_start = ("points", "newton_norm", "null_dir", "min_abs_eigenvalue")
    out = {k: (jax.tree_util.tree_map(lambda a: a[:count], v) if k in per_start else v)
           for k, v in out.items()}
    points: CriticalPoint = out["points"]
    x, value, gnorm = points.x, points.value, points.grad_norm
    grad_tol = float(out["grad_tol"])
    margin = math.sqrt(eps) * np.maximum(hi - lo, 1.0)
    inside = np.all((x >= lo - margin) & (x <= hi + margin), axis=1)
    ok = (np.all(np.isfinite(x), axis=1) & np.isfinite(value) & (gnorm <= grad_tol)
          & (out["newton_norm"] <= step_tol) & inside)
    candidates = np.flatnonzero(ok)
    dedup_tol = step_tol if dedup_tol is None else float(dedup_tol)
    kept, _ = merge_nearby(x, candidates[np.argsort(gnorm[candidates], kind="stable")],
                           dedup_tol)

    singular = out["min_abs_eigenvalue"][kept] <= points.tol[kept]
    if non_isolated != "keep" and np.any(singular):
        # probe x + h·v (v: eigenvector of the smallest |λ|): a probe that comes back marks an
        # isolated point; one that stops about h away at the same value, a critical set
        probe_idx = kept[singular]
        h = max(PROBE_FRACTION * diam, 100.0 * dedup_tol)
        probes = x[probe_idx] + h * out["null_dir"][probe_idx]
        # padded to the starts' shape, the probes reuse the compiled program
        padded = np.concatenate([probes, np.repeat(probes[:1], len(starts) - len(probes), 0)])
        ends = search(jnp.asarray(padded, dtype), max_steps, polish_steps)
        end = jax.tree_util.tree_map(lambda a: a[: len(probes)], ends["points"])
        value_tol = math.sqrt(eps) * (np.abs(value[probe_idx]) + float(out["grad_scale"]) * diam)
        dist = np.linalg.norm(end.x - x[probe_idx], axis=1)
        on_set = (
            (end.grad_norm <= grad_tol) & (ends["newton_norm"][: len(probes)] <= step_tol)
            & (np.abs(end.value - value[probe_idx]) <= value_tol)
            & (dist >= 0.25 * h) & (dist <= 4.0 * h)
        )
        if np.any(on_set):
            kept = _without_continua(points, kept, probe_idx[on_set], diam,
                                     float(out["grad_scale"]), eps, non_isolated)

    order = sorted(kept.tolist(), key=lambda i: (float(value[i]), tuple(x[i])))
    result = []
    for i in order:
        point = jax.tree_util.tree_map(lambda a, i=i: jnp.asarray(a[i]), points)
        result.append(dataclasses.replace(point, x=point.x.reshape(shape)))
    return result


def _without_continua(
    points: CriticalPoint, kept: np.ndarray, members: np.ndarray, diam: float,
    grad_scale: float, eps: float, mode: str,
) -> np.ndarray:
    """Drop the points that lie on non-isolated critical sets, or keep one per set."""
    isolated = np.setdiff1d(kept, members)
    if mode == "drop":
        warnings.warn(
            f"find_critical_points: dropped {members.size} points that lie on non-isolated "
            "sets of critical points (curves or surfaces)", stacklevel=3,
        )
        return isolated
    value = points.value[members]
    groups = _components(
        points.x[members], value, LINK_FRACTION * diam,
        math.sqrt(eps) * (float(np.max(np.abs(value))) + grad_scale * diam),
    )
    representatives = [int(members[min(g, key=lambda j: points.grad_norm[members[j]])])
                       for g in groups]
    warnings.warn(
        f"find_critical_points: {members.size} points lie on {len(groups)} non-isolated "
        "set(s) of critical points (curves or surfaces); one representative per set is "
        "reported, kind 'degenerate'", stacklevel=3,
    )
    return np.concatenate([isolated, np.asarray(representatives, dtype=int)])
