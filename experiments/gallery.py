"""Regenerate the README's images: Newton vs gradient descent on Rosenbrock (paths and
convergence), the Himmelblau critical-point atlas, the basin map of textbook Newton on
Himmelblau, and the Taylor model of x·e^(−x²−y²) at (−1, 0).

Every image comes from a config (below, the same YAML keys a file in ``configs/`` holds) solved
by ``optkit.runner`` into a temporary run directory and drawn by ``optkit.plots``, exactly as
``optkit run`` + ``optkit plot`` would. The PNGs are palette-quantised so each stays small
enough to commit (≤ 150 KB).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python experiments/gallery.py [--out experiments/gallery]
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

import optkit
from optkit import runner
from optkit.plots import Labels, plot_run, save, taylor_figure

#: the same four starts (corners of [−1.5, 1.5]²) for both solvers
ROSENBROCK_STARTS = {"grid": {"low": [-1.5, -1.5], "high": [1.5, 1.5], "num": [2, 2]}}

CONFIGS: dict[str, dict[str, Any]] = {
    "rosenbrock-newton": {
        "name": "rosenbrock-newton",
        "problem": {"name": "rosenbrock", "dim": 2},
        "start": ROSENBROCK_STARTS,
        "solver": {"method": "newton", "line_search": "backtracking"},
        "stop": {"grad_tol": 1e-8, "max_steps": 100},
    },
    "rosenbrock-gradient-descent": {
        "name": "rosenbrock-gradient-descent",
        "problem": {"name": "rosenbrock", "dim": 2},
        "start": ROSENBROCK_STARTS,
        "solver": {"method": "gradient_descent", "line_search": "backtracking"},
        "stop": {"grad_tol": 1e-8, "max_steps": 2000},
    },
    "himmelblau-atlas": {
        "name": "himmelblau",
        "problem": {"name": "himmelblau"},
        "analysis": {"num_starts": 1024, "seed": 0},
    },
    # textbook Newton (full steps) solves ∇f = 0, so each start ends at whichever of the nine
    # critical points its iteration falls into: a 90 × 90 grid, no trajectories kept
    "himmelblau-basins": {
        "name": "himmelblau-basins",
        "problem": {"name": "himmelblau"},
        "start": {"grid": {"low": [-5.0, -5.0], "high": [5.0, 5.0], "num": [90, 90]}},
        "solver": {"method": "newton", "line_search": "none", "regularization": "none"},
        "stop": {"grad_tol": 1e-10, "max_steps": 100},
        "record": {"trajectory": False},
    },
}
TAYLOR = {"problem": "gaussian_bump", "x0": (-1.0, 0.0), "order": 2}
MAX_BYTES = 150_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "gallery")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as runs:
        for name in ("rosenbrock-newton", "rosenbrock-gradient-descent"):
            path = runner.run(CONFIGS[name], out=runs, quiet=True)
            images = {p.stem: p for p in plot_run(path, out=Path(runs) / name)}
            written.append(_compact(images["trajectories"], args.out / f"{name}.png"))
        written.append(_compact(images["convergence"],
                                args.out / "rosenbrock-gradient-descent-convergence.png"))
        path = runner.run_critical(CONFIGS["himmelblau-atlas"], out=runs, quiet=True)
        (image,) = plot_run(path, out=Path(runs) / "atlas")
        written.append(_compact(image, args.out / "himmelblau-atlas.png"))
        path = runner.run(CONFIGS["himmelblau-basins"], out=runs, quiet=True)
        images = {p.stem: p for p in plot_run(path, out=Path(runs) / "basins")}
        written.append(_compact(images["basin"], args.out / "himmelblau-basins.png"))
    problem = optkit.problems.get(TAYLOR["problem"])
    fig = taylor_figure(problem.fun, TAYLOR["x0"], problem.box, order=TAYLOR["order"],
                        labels=Labels(problem="f(x, y) = x·e^(−x²−y²)", variables=("x", "y")))
    with tempfile.TemporaryDirectory() as tmp:
        written.append(_compact(save(fig, Path(tmp) / "taylor.png"),
                                args.out / "taylor-model.png"))
    for path in written:
        print(f"{path}  {path.stat().st_size / 1000:.0f} KB")


def _compact(source: Path, target: Path) -> Path:
    """Copy a PNG as a 256-colour palette image (a fraction of the bytes, same look)."""
    image = Image.open(source).convert("RGB").quantize(colors=256, method=Image.MEDIANCUT,
                                                        dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() > MAX_BYTES:
        raise RuntimeError(f"{target.name}: {buffer.tell()} bytes, over the {MAX_BYTES} limit")
    target.write_bytes(buffer.getvalue())
    return target


if __name__ == "__main__":
    main()
