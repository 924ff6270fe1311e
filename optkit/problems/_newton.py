"""Critical points to full float64 precision: Newton's method on ∇f = 0 from a close seed.

Used at registry build time for problems whose critical points have no closed form (Himmelblau,
six-hump camel, Beale). The derivatives are hand-written numpy, independent of the JAX ``fun``
they describe, so the tests that check ∇f = 0 with ``jax.grad`` check both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

GradHess = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def polish(grad_hess: GradHess, seed: Sequence[float], max_steps: int = 50) -> tuple[float, ...]:
    """Solve ∇f(z) = 0 by Newton's iteration z ← z − H(z)⁻¹∇f(z) from ``seed``.

    Newton converges quadratically from a seed accurate to a few digits: once a step is below
    1e-9·max(1, ‖z‖) the error after it is ~1e-18, at rounding level. One more step is taken
    then; a tolerance at rounding level itself could be missed, since ∇f is only computed to
    a few ulps of its terms. Raises ``RuntimeError`` if the loop does not get there, or if the
    root found is not the one the seed pointed at (‖z − seed‖ > 1e-3): both would mean a wrong
    seed or wrong derivatives, a bug rather than bad input.
    """
    z = np.array(seed, dtype=np.float64)
    converged = False
    for _ in range(max_steps):
        grad, hess = grad_hess(z)
        step = np.linalg.solve(hess, grad)
        z = z - step
        if converged:
            break
        converged = bool(np.linalg.norm(step) <= 1e-9 * max(1.0, float(np.linalg.norm(z))))
    else:
        raise RuntimeError(f"Newton polish from {tuple(seed)} did not converge")
    if np.linalg.norm(z - np.asarray(seed)) > 1e-3:
        raise RuntimeError(f"Newton polish from {tuple(seed)} went to another root {z}")
    return tuple(float(v) for v in z)
