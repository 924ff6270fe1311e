"""Chapter, critical points: f(x) = 3x⁴ − 4x³ − 12x².

f'(x) = 12x³ − 12x² − 24x = 12x(x − 2)(x + 1), so the critical points are x = −1, 0, 2 with
values f = −5, 0, −32 and f''(x) = 36x² − 24x − 24 = 36, −24, 72: minimum, maximum, minimum.
The global minimum on ℝ is at x = 2 (f → +∞ as |x| → ∞, and −32 < −5).

Run: python experiments/chapter_quartic.py
"""

from __future__ import annotations

import jax

import optkit  # noqa: F401  (float64)
from optkit.analysis.critical_points import find_critical_points


def quartic(x: jax.Array) -> jax.Array:
    """f(x) = 3x⁴ − 4x³ − 12x²."""
    return 3 * x**4 - 4 * x**3 - 12 * x**2


def main(verbose: bool = True) -> dict:
    points = find_critical_points(quartic, -2.0, 3.0, num_starts=128)
    table = [(float(p.x), float(p.value), p.kind, float(p.eigenvalues[0])) for p in points]
    table.sort()
    minima = [row for row in table if row[2] == "minimum"]
    best = min(minima, key=lambda row: row[1])
    if verbose:
        print("f(x) = 3x⁴ − 4x³ − 12x² on [−2, 3]: critical points (f'(x) = 0)")
        print(f"{'x':>8} {'f(x)':>10} {'f″(x)':>10}  kind")
        for x, value, kind, curvature in table:
            print(f"{x:8.4f} {value:10.4f} {curvature:10.4f}  {kind}")
        print(f"global minimum: x = {best[0]:.4f}, f = {best[1]:.4f}")
    return {"points": table, "global_minimum": best[0], "global_minimum_value": best[1]}


if __name__ == "__main__":
    main()
