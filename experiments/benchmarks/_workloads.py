"""The workloads of the benchmark suite (issue 10, item 7): f in JAX, ∇f again in numpy.

Each workload is f(x, *args) in JAX for the solvers and, written independently, f and ∇f in
plain numpy for the verification (so an answer is checked by code that shares nothing with
automatic differentiation). Data are drawn from fixed seeds and passed as ``args`` (traced
arguments, never constants baked into a program).

* ``W1``: 2-D Rosenbrock f = (1 − x₁)² + 100(x₂ − x₁²)² from uniform random starts in
  [−2, 2]², one batch (its only critical point is the minimum (1, 1));
* ``extended``: extended Rosenbrock (Moré, Garbow & Hillstrom 1981, problem 21),
  f = Σᵢ 100(x₂ᵢ − x₂ᵢ₋₁²)² + (1 − x₂ᵢ₋₁)², from (−1.2, 1, −1.2, 1, …);
* ``chained``: chained Rosenbrock f = Σᵢ₌₁ⁿ⁻¹ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², from the same start;
* ``logistic``: L2-regularised logistic regression
  f(w) = (1/m) Σⱼ log(1 + exp(−yⱼ xⱼᵀw)) + (λ/2)‖w‖², λ > 0 so f is strongly convex and its
  minimiser unique; X standard normal m × d, labels yⱼ = sign(xⱼᵀw* + ½ noise) ∈ {−1, 1};
* ``quadratic``: ½xᵀAx − bᵀx with A = QᵀQ/n + I (Q standard normal), the dense Newton
  workload whose answer is also the solution of Ax = b.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

GRAD_TOL = 1e-8
SEED = 0


@dataclasses.dataclass(frozen=True, eq=False)
class Workload:
    """One problem at one size.

    ``x0`` is the start (n,) or, for a batch, the starts (count, n); ``args`` the data given to
    ``fun`` after x (JAX arrays) and ``args_np`` the same as numpy arrays for ``value_np`` and
    ``grad_np``, which take x of shape (n,) or (count, n) and return f (scalar or (count,)) and
    ∇f of x's shape.
    """

    name: str
    family: str
    fun: Callable[..., jax.Array]
    x0: np.ndarray
    value_np: Callable[..., np.ndarray]
    grad_np: Callable[..., np.ndarray]
    args: tuple[Any, ...] = ()
    args_np: tuple[Any, ...] = ()
    grad_tol: float = GRAD_TOL
    note: str = ""
    hess_np: Callable[..., np.ndarray] | None = None  # closed form, for scipy where known

    @property
    def batch(self) -> bool:
        """True for a batch of starts (W1)."""
        return self.x0.ndim == 2

    @property
    def n(self) -> int:
        """Variables of one problem."""
        return int(self.x0.shape[-1])

    @property
    def count(self) -> int:
        """Starts in the batch (1 for a single solve)."""
        return int(self.x0.shape[0]) if self.batch else 1


# ---------------------------------------------------------------- 2-D Rosenbrock (W1)

def rosenbrock(x: jax.Array) -> jax.Array:
    """f = (1 − x₁)² + 100(x₂ − x₁²)²."""
    return (1.0 - x[0]) ** 2 + 100.0 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_np(x: np.ndarray) -> np.ndarray:
    a, b = x[..., 0], x[..., 1]
    return (1.0 - a) ** 2 + 100.0 * (b - a**2) ** 2


def rosenbrock_grad_np(x: np.ndarray) -> np.ndarray:
    """∇f = (−2(1 − x₁) − 400x₁(x₂ − x₁²), 200(x₂ − x₁²))."""
    a, b = x[..., 0], x[..., 1]
    r = b - a**2
    return np.stack([-2.0 * (1.0 - a) - 400.0 * a * r, 200.0 * r], axis=-1)


def rosenbrock_hess_np(x: np.ndarray) -> np.ndarray:
    """∇²f = [[2 − 400(x₂ − 3x₁²), −400x₁], [−400x₁, 200]] at one point x."""
    a, b = x[0], x[1]
    return np.array([[2.0 - 400.0 * (b - 3.0 * a**2), -400.0 * a], [-400.0 * a, 200.0]])


def w1(starts: int, seed: int = SEED) -> Workload:
    """W1: ``starts`` uniform random starts of 2-D Rosenbrock in [−2, 2]²."""
    x0 = np.random.default_rng(seed).uniform(-2.0, 2.0, size=(starts, 2))
    return Workload(f"W1 rosenbrock-2d, {starts:,} starts", "w1", rosenbrock, x0,
                    rosenbrock_np, rosenbrock_grad_np, hess_np=rosenbrock_hess_np)


# ---------------------------------------------------------------- extended / chained Rosenbrock

def extended_rosenbrock(x: jax.Array) -> jax.Array:
    """f = Σᵢ 100(x₂ᵢ − x₂ᵢ₋₁²)² + (1 − x₂ᵢ₋₁)² (MGH 21)."""
    a, b = x[0::2], x[1::2]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def extended_rosenbrock_np(x: np.ndarray) -> np.ndarray:
    a, b = x[0::2], x[1::2]
    return np.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def extended_rosenbrock_grad_np(x: np.ndarray) -> np.ndarray:
    a, b = x[0::2], x[1::2]
    r = b - a**2
    g = np.empty_like(x)
    g[0::2] = -400.0 * a * r - 2.0 * (1.0 - a)
    g[1::2] = 200.0 * r
    return g


def chained_rosenbrock(x: jax.Array) -> jax.Array:
    """f = Σᵢ₌₁ⁿ⁻¹ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²."""
    a, b = x[:-1], x[1:]
    return jnp.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def chained_rosenbrock_np(x: np.ndarray) -> np.ndarray:
    a, b = x[:-1], x[1:]
    return np.sum(100.0 * (b - a**2) ** 2 + (1.0 - a) ** 2)


def chained_rosenbrock_grad_np(x: np.ndarray) -> np.ndarray:
    """∂f/∂xᵢ = −400xᵢ(xᵢ₊₁ − xᵢ²) − 2(1 − xᵢ) [i < n] + 200(xᵢ − xᵢ₋₁²) [i > 1]."""
    a, b = x[:-1], x[1:]
    r = b - a**2
    g = np.zeros_like(x)
    g[:-1] += -400.0 * a * r - 2.0 * (1.0 - a)
    g[1:] += 200.0 * r
    return g


def _rosenbrock_start(n: int) -> np.ndarray:
    return np.tile(np.array([-1.2, 1.0]), (n + 1) // 2)[:n]


def extended(n: int) -> Workload:
    """Extended Rosenbrock at even n from (−1.2, 1, …)."""
    if n % 2:
        raise ValueError(f"extended Rosenbrock needs an even n, got {n}")
    return Workload(f"extended rosenbrock, n = {n:,}", "extended", extended_rosenbrock,
                    _rosenbrock_start(n), extended_rosenbrock_np, extended_rosenbrock_grad_np)


def chained(n: int) -> Workload:
    """Chained Rosenbrock from (−1.2, 1, …)."""
    return Workload(f"chained rosenbrock, n = {n:,}", "chained", chained_rosenbrock,
                    _rosenbrock_start(n), chained_rosenbrock_np, chained_rosenbrock_grad_np)


# ---------------------------------------------------------------- logistic regression

def logistic_loss(w: jax.Array, x: jax.Array, y: jax.Array, lam: jax.Array) -> jax.Array:
    """f(w) = mean(log(1 + exp(−y ⊙ Xw))) + (λ/2)‖w‖²."""
    return jnp.mean(jnp.logaddexp(0.0, -y * (x @ w))) + 0.5 * lam * (w @ w)


def logistic_np(w: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    return np.mean(np.logaddexp(0.0, -y * (x @ w))) + 0.5 * lam * (w @ w)


def logistic_grad_np(w: np.ndarray, x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """∇f = −(1/m) Xᵀ(y ⊙ σ(−y ⊙ Xw)) + λw, σ(t) = 1/(1 + e⁻ᵗ)."""
    margin = -y * (x @ w)
    sigma = 0.5 * (1.0 + np.tanh(0.5 * margin))  # σ without overflow
    return -(x.T @ (y * sigma)) / x.shape[0] + lam * w


def logistic(features: int, samples: int, lam: float = 1e-2, seed: int = SEED) -> Workload:
    """Logistic regression with ``features`` weights on ``samples`` synthetic points."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features))
    w_true = rng.standard_normal(features) / np.sqrt(features)
    y = np.sign(x @ w_true + 0.5 * rng.standard_normal(samples))
    y[y == 0] = 1.0
    args_np = (x, y, lam)
    args = (jnp.asarray(x), jnp.asarray(y), jnp.asarray(lam))
    return Workload(f"logistic regression, {features:,} features × {samples:,} samples",
                    "logistic", logistic_loss, np.zeros(features), logistic_np,
                    logistic_grad_np, args, args_np, note=f"λ = {lam:g}")


# ---------------------------------------------------------------- dense convex quadratic

def quadratic_loss(x: jax.Array, a: jax.Array, b: jax.Array) -> jax.Array:
    """f = ½xᵀAx − bᵀx."""
    return 0.5 * x @ (a @ x) - b @ x


def quadratic_np(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * x @ (a @ x) - b @ x


def quadratic_grad_np(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """∇f = ½(A + Aᵀ)x − b (= Ax − b for the symmetric A drawn here)."""
    return 0.5 * (a @ x + a.T @ x) - b


def quadratic(n: int, seed: int = SEED) -> Workload:
    """½xᵀAx − bᵀx, A = QᵀQ/n + I, from 0 (the draw of experiments/benchmarks/dense_newton.py)."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n, n))
    a = q.T @ q / n + np.eye(n)
    b = rng.standard_normal(n)
    return Workload(f"convex quadratic (dense), n = {n:,}", "quadratic", quadratic_loss,
                    np.zeros(n), quadratic_np, quadratic_grad_np,
                    (jnp.asarray(a), jnp.asarray(b)), (a, b))


# ---------------------------------------------------------------- the suite's sizes

def suite(quick: bool = False) -> list[Workload]:
    """The workloads of issue 10 item 7, or tiny ones of the same kinds for ``--quick``."""
    if quick:
        return [w1(64), extended(10), chained(10), logistic(40, 30), quadratic(12)]
    return [
        w1(1_000), w1(10_000), w1(100_000),
        extended(1_000), extended(100_000),
        chained(1_000), chained(100_000),
        logistic(10_000, 1_000),
        extended(2_000),  # the dense Newton row at n = 2,000 (n = 1,000 is the row above)
        quadratic(1_000), quadratic(2_000),
    ]
