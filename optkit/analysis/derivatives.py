"""Check a gradient three ways: reverse mode, forward mode and central finite differences.

For f: ℝⁿ → ℝ (pytrees are ravelled):

* **reverse mode** (backpropagation): one forward pass that records the computation, then one
  backward pass of the vector–Jacobian product with cotangent 1 gives all n partials at once;
* **forward mode**: one Jacobian–vector product per coordinate, ∂f/∂xᵢ = Jf(x)·eᵢ: n passes;
* **central differences**: ∂f/∂xᵢ ≈ (f(x + hᵢeᵢ) − f(x − hᵢeᵢ)) / (2hᵢ) with
  hᵢ = ε^(1/3)·max(1, |xᵢ|), the step that balances the O(h²) truncation error against the
  O(ε/h) rounding error: 2n evaluations of f, error about ε^(2/3) relative. The same
  quotient with steps 2hᵢ (2n more evaluations) estimates the truncation error, which is
  h²·∂³f/6: the two quotients differ by three times it (Richardson), so a function whose third
  derivatives are large (Rosenbrock at its minimum: ∂³f/∂x₀³ = 2400) is not reported wrong.

The two autodiff modes must agree to rounding; finite differences to about ε^(2/3) plus that
estimated truncation error. Note that
a wrong ``jax.custom_jvp`` rule fools *both* autodiff modes (reverse mode is the transpose of
the same linearisation), so only the finite differences expose it. The Hessian (forward over
reverse) is checked for symmetry, ‖H − Hᵀ‖_max.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._compile import jit, static_callable
from .._pytree import Unraveller
from ._taylor import as_point

Array = jax.Array
MAX_ROWS = 20  # rows of the coordinate table in str(report)


@dataclasses.dataclass(frozen=True)
class DerivativeReport:
    """Gradients of f at x by three methods, their discrepancies and the work each took.

    Vectors are flat numpy arrays over the ravelled coordinates. ``passes`` counts what each
    method did: reverse-mode backward passes, forward-mode JVP passes, function evaluations
    for the finite differences. ``forward`` is None where forward mode is unavailable (a
    ``jax.custom_vjp`` function); ``forward_error`` then says why.
    """

    x: Any
    value: float
    reverse: np.ndarray
    forward: np.ndarray | None
    finite_difference: np.ndarray
    fd_step: np.ndarray
    hessian: np.ndarray | None
    passes: dict[str, int]
    ad_tol: float
    fd_tol: float
    forward_error: str = ""

    @property
    def n(self) -> int:
        return int(self.reverse.size)

    @property
    def max_forward_reverse(self) -> float:
        """max |∂ᵢ(forward) − ∂ᵢ(reverse)| (NaN without forward mode)."""
        if self.forward is None:
            return float("nan")
        return float(np.max(np.abs(self.forward - self.reverse), initial=0.0))

    @property
    def max_reverse_fd(self) -> float:
        """max |∂ᵢ(reverse) − ∂ᵢ(finite differences)|."""
        return float(np.max(np.abs(self.reverse - self.finite_difference), initial=0.0))

    @property
    def max_forward_fd(self) -> float:
        if self.forward is None:
            return float("nan")
        return float(np.max(np.abs(self.forward - self.finite_difference), initial=0.0))

    @property
    def worst_coordinate(self) -> int:
        """The coordinate where reverse mode and finite differences differ most."""
        return int(np.argmax(np.abs(self.reverse - self.finite_difference)))

    @property
    def hessian_asymmetry(self) -> float:
        """max |Hᵢⱼ − Hⱼᵢ| (NaN when no Hessian could be formed)."""
        if self.hessian is None:
            return float("nan")
        return float(np.max(np.abs(self.hessian - self.hessian.T), initial=0.0))

    @property
    def hessian_symmetric(self) -> bool:
        if self.hessian is None:
            return False
        scale = max(1.0, float(np.max(np.abs(self.hessian), initial=0.0)))
        return self.hessian_asymmetry <= self.ad_tol * scale

    @property
    def ok(self) -> bool:
        """Autodiff modes agree to ad_tol, finite differences to fd_tol, H symmetric."""
        modes = self.forward is None or self.max_forward_reverse <= self.ad_tol
        return bool(modes and self.max_reverse_fd <= self.fd_tol and self.hessian_symmetric)

    def __str__(self) -> str:
        fwd = self.forward if self.forward is not None else np.full(self.n, np.nan)
        lines = [
            f"derivative check at {self.n} coordinates, f(x) = {self.value:.15g}",
            f"{'i':>4} {'reverse':>20} {'forward':>20} {'central diff':>20} "
            f"{'|rev-fwd|':>10} {'|rev-fd|':>10}",
        ]
        rows = list(range(min(self.n, MAX_ROWS)))
        if self.worst_coordinate not in rows:
            rows.append(self.worst_coordinate)
        for i in rows:
            lines.append(
                f"{i:>4} {self.reverse[i]:>20.12g} {fwd[i]:>20.12g} "
                f"{self.finite_difference[i]:>20.12g} {abs(fwd[i] - self.reverse[i]):>10.2e} "
                f"{abs(self.reverse[i] - self.finite_difference[i]):>10.2e}"
            )
        if len(rows) < self.n:
            lines.append(f"  ... {self.n - len(rows)} more coordinates")
        forward = (f"{self.passes['forward']} JVP passes (one per coordinate)"
                   if self.forward is not None else f"unavailable ({self.forward_error})")
        lines += [
            f"reverse mode: {self.passes['reverse']} backward pass (all {self.n} partials); "
            f"forward mode: {forward}; central differences: "
            f"{self.passes['finite_difference']} evaluations of f",
            f"max |reverse − forward| = {self.max_forward_reverse:.3e} (tol {self.ad_tol:.1e}), "
            f"max |reverse − FD| = {self.max_reverse_fd:.3e} at i = {self.worst_coordinate} "
            f"(tol {self.fd_tol:.1e})",
            f"Hessian symmetry: max |H − Hᵀ| = {self.hessian_asymmetry:.3e}",
            "derivatives consistent" if self.ok else "DERIVATIVES DISAGREE",
        ]
        return "\n".join(lines)


def check_derivatives(
    fun: Callable[[Any], Array], x: Any, eps: float | None = None
) -> DerivativeReport:
    """Reverse mode, forward mode and central differences compared at ``x`` (any pytree).

    Args:
        fun: scalar JAX-traceable function.
        x: the point (a pytree of float arrays; integers are cast to float; a list or tuple of
            numbers is one vector).
        eps: relative finite-difference step: hᵢ = eps·max(1, |xᵢ|) (default ε^(1/3) of the
            dtype). The quotient divides by (xᵢ + hᵢ) − (xᵢ − hᵢ) as rounded, so by the
            true spacing of the two points.

    Returns:
        a :class:`DerivativeReport`; ``print(report)`` gives the table, ``report.ok`` the
        verdict with tolerances ad_tol = 1000·ε·max(1, ‖∇f‖∞) and
        fd_tol = 100·ε^(2/3)·max(1, |f|, ‖∇f‖∞) + maxᵢ |Dᵢ(2h) − Dᵢ(h)|, the second term
        (three times the estimated truncation error of the central difference Dᵢ(h)) zero
        for a quadratic f.
    """
    x = as_point(x)
    flat, unravel = ravel_pytree(x)
    if flat.size == 0:
        raise ValueError("check_derivatives: x has no entries")
    if eps is not None and not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"check_derivatives: eps={eps!r} must be a positive number")
    n = flat.size
    machine_eps = float(jnp.finfo(flat.dtype).eps)

    fun_h, unravel_h = static_callable(fun), Unraveller(unravel, x)

    passes = {"reverse": 0, "forward": 0, "finite_difference": 0}
    point = np.asarray(flat)
    rel_step = machine_eps ** (1.0 / 3.0) if eps is None else float(eps)
    h = (rel_step * np.maximum(1.0, np.abs(point))).astype(point.dtype)
    # the points x ± hᵢeᵢ and x ± 2hᵢeᵢ (the second pair estimates the first's truncation error)
    pairs = [(point + np.diag(step), point - np.diag(step)) for step in (h, 2 * h)]

    # one compiled program for the reverse pass, the 4n shifted evaluations and the Hessian
    # (forward over reverse; reverse over reverse where there is no forward mode)
    for forward_mode in (True, False):
        try:
            value, reverse, values, hessian = _reverse_shifted_hessian(
                fun_h, unravel_h, forward_mode, flat,
                np.concatenate([rows for pair in pairs for rows in pair]))
            break
        except TypeError as err:  # a custom_vjp function: no forward mode
            error = err
    else:
        raise error
    passes["reverse"] += 1
    passes["finite_difference"] += 4 * n
    # each quotient divides by (x + h) − (x − h) as represented after rounding
    fd, fd_double = ((up - down) / np.diagonal(plus - minus) for (up, down), (plus, minus)
                     in zip(np.asarray(values).reshape(2, 2, n), pairs, strict=True))
    # where f is not finite at a shifted point nothing is estimated (that coordinate's NaN
    # quotient fails the check by itself), so the tolerance stays a number
    truncation = float(np.nanmax(np.abs(fd_double - fd), initial=0.0))

    forward: np.ndarray | None = np.zeros(n)
    forward_error = ""
    basis = np.eye(n, dtype=point.dtype)
    try:
        for i in range(n):  # one forward-mode pass per coordinate, on purpose
            forward[i] = float(_directional(fun_h, unravel_h, flat, basis[i]))
            passes["forward"] += 1
    except TypeError as err:  # custom_vjp functions have no forward mode
        forward, forward_error = None, str(err).splitlines()[0]

    reverse = np.asarray(reverse)
    scale = max(1.0, float(np.max(np.abs(reverse))))
    return DerivativeReport(
        x=x, value=float(value), reverse=reverse, forward=forward,
        finite_difference=fd, fd_step=h, hessian=np.asarray(hessian),
        passes=passes, ad_tol=1000 * machine_eps * scale,
        fd_tol=100 * machine_eps ** (2.0 / 3.0) * max(scale, abs(float(value))) + truncation,
        forward_error=forward_error,
    )


def _scalar_of_flat(fun: Callable[[Any], Any], unravel: Unraveller) -> Callable[[Array], Array]:
    def flat_fun(z: Array) -> Array:
        value = jnp.asarray(fun(unravel(z)))
        if value.size != 1:
            raise ValueError(f"check_derivatives: fun must return a scalar, got shape "
                             f"{value.shape}")
        return value.reshape(())

    return flat_fun


# one compiled program per function and shapes for each of these, so checking again at
# another point does not recompile
@functools.partial(jit, static_argnames=("fun", "unravel", "forward_mode"))
def _reverse_shifted_hessian(fun: Callable[[Any], Any], unravel: Unraveller,
                             forward_mode: bool, z: Array, shifted: Array) -> tuple:
    """f and ∇f (reverse mode) at z, f at each row of ``shifted``, and ∇²f at z (forward over
    reverse; reverse over reverse where f has no forward mode, e.g. a custom_vjp)."""
    flat_fun = _scalar_of_flat(fun, unravel)
    value, reverse = jax.value_and_grad(flat_fun)(z)
    second_order = jax.hessian if forward_mode else (lambda g: jax.jacrev(jax.grad(g)))
    return value, reverse, jax.vmap(flat_fun)(shifted), second_order(flat_fun)(z)


@functools.partial(jit, static_argnames=("fun", "unravel"))
def _directional(fun: Callable[[Any], Any], unravel: Unraveller, z: Array, v: Array) -> Array:
    """∇f(z)·v by one forward-mode pass."""
    return jax.jvp(_scalar_of_flat(fun, unravel), (z,), (v,))[1]
