"""Figures from real run directories: files, sizes, content and geometry, not just "no error".

Runs are produced by ``optkit run`` (through the CLI) or ``optkit.runner.run`` on small
configs written to a temporary directory; plots never solve, they only read those runs.
"""

from __future__ import annotations

import dataclasses
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.image as mpimg
import numpy as np
import pytest
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_rgb
from typer.testing import CliRunner

import optkit
from optkit import runner
from optkit.analysis._classify import kind_label
from optkit.cli import app
from optkit.plots import (
    Labels,
    Paths,
    Point,
    _style,
    atlas_figure,
    contour_figure,
    convergence_figure,
    paths_from_arrays,
    paths_from_result,
    plot_run,
    principal_plane,
    save,
    taylor_model,
    taylor_surface,
)
from optkit.plots.atlas import hessian_eigen
from optkit.plots.one_d import scan_critical_points
from tests.helpers import jit

HIMMELBLAU = {  # 64 starts: enough for plot_run's basin map (BASIN_MIN_STARTS)
    "name": "himmelblau-64",
    "problem": {"name": "himmelblau"},
    "start": {"grid": {"low": [-4.5, -4.5], "high": [4.5, 4.5], "num": [8, 8]}},
    "solver": {"method": "newton"},
    "stop": {"max_steps": 60},
}
QUARTIC = {
    "name": "quartic-expression",
    "problem": {"expression": "3*x**4 - 4*x**3 - 12*x**2", "variables": ["x"]},
    "start": {"grid": {"low": -1.5, "high": 2.5, "num": 3}},
    "solver": {"method": "newton", "line_search": "none", "regularization": "none"},
    "stop": {"max_steps": 50},
}
ROSENBROCK_3D = {
    "name": "rosenbrock-3",
    "problem": {"name": "rosenbrock", "dim": 3},
    "start": {"uniform": {"low": -1.5, "high": 1.5, "count": 6, "seed": 2}},
    "solver": {"method": "bfgs"},
    "stop": {"max_steps": 200},
}


def himmelblau(x):
    return (x[0] ** 2 + x[1] - 11.0) ** 2 + (x[0] + x[1] ** 2 - 7.0) ** 2


def cli_run(config: dict, tmp: Path) -> Path:
    """Save ``config`` as YAML and run it with ``optkit run --quiet``; return the run dir."""
    path = tmp / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def himmelblau_run(tmp_path_factory) -> Path:
    return cli_run(HIMMELBLAU, tmp_path_factory.mktemp("himmelblau"))


@pytest.fixture(scope="module")
def quartic_run(tmp_path_factory) -> Path:
    return cli_run(QUARTIC, tmp_path_factory.mktemp("quartic"))


def read_png(path: Path) -> np.ndarray:
    image = mpimg.imread(path)
    assert image.ndim == 3
    return image[..., :3]


def assert_real_image(path: Path) -> np.ndarray:
    """The file exists, is at least 300 × 300 px and is not blank (varied pixels)."""
    assert path.is_file(), path
    image = read_png(path)
    assert image.shape[0] >= 300 and image.shape[1] >= 300, image.shape
    assert image.std() > 0.05
    assert distinct_colors(image) > 50
    return image


def distinct_colors(image: np.ndarray) -> int:
    """The number of distinct RGB triplets, exactly as np.unique(rows, axis=0) counts them
    (which sorts whole rows and takes a second or more per image): an 8-bit image, which is
    what matplotlib writes, as one integer per pixel; anything else through each channel's
    ranks."""
    levels = np.rint(image * 255)
    if np.array_equal((levels / 255).astype(image.dtype), image):
        key = (levels[..., 0] * 65536 + levels[..., 1] * 256 + levels[..., 2]).astype(np.int64)
    else:
        key = np.zeros(image.shape[:-1], np.int64)
        for channel in range(3):
            values, rank = np.unique(image[..., channel], return_inverse=True)
            assert key.max() < 2**63 // len(values)
            key = key * len(values) + rank.reshape(key.shape)
    return len(np.unique(key))


def render(fig) -> tuple[np.ndarray, FigureCanvasAgg]:
    """RGB pixels of a figure, row 0 at the top, and its canvas (for data → pixel maps)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3] / 255.0, canvas


def pixel_at(image: np.ndarray, ax, xy) -> np.ndarray:
    px, py = ax.transData.transform(xy)
    return image[int(round(image.shape[0] - py)), int(round(px))]


def near(color, target: str, tol: float = 0.12) -> bool:
    return bool(np.abs(np.asarray(color) - np.asarray(to_rgb(target))).max() <= tol)


def count_color(image: np.ndarray, target: str, tol: float = 0.08) -> int:
    return int(np.sum(np.abs(image - np.asarray(to_rgb(target))).max(axis=-1) <= tol))


# ------------------------------------------------------------------------- acceptance


@pytest.mark.slow
def test_himmelblau_run_plots_with_cli(himmelblau_run: Path) -> None:
    result = CliRunner().invoke(app, ["plot", str(himmelblau_run), "--taylor"])
    assert result.exit_code == 0, result.output
    written = [Path(line) for line in result.stdout.split()]
    assert [p.name for p in written] == ["trajectories.png", "convergence.png", "atlas.png",
                                         "basin.png", "taylor.png"]
    for path in written:
        assert path.parent == himmelblau_run / "plots"
        assert_real_image(path)


@pytest.mark.slow
def test_quartic_expression_run_plots_svg_with_cli(quartic_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plot", str(quartic_run), "--format", "svg",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = [Path(line) for line in result.stdout.split()]
    assert {p.name for p in written} == {"function.svg", "convergence.svg"}
    for path in written:
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")
        assert len(list(root.iter())) > 100  # drawn content, not an empty canvas


# ------------------------------------------------------------------------ 2-D contour


@pytest.mark.slow
def test_contour_paths_and_markers_sit_where_the_data_says(himmelblau_run: Path) -> None:
    from optkit.storage import load_run

    run = load_run(himmelblau_run)
    kinds = list(kind_label(run.trajectories["kind"]))
    paths = paths_from_arrays(run.trajectories, kinds)
    assert paths.num_starts == 64 and set(kinds) == {"minimum"}
    box = ((-5.0, -5.0), (5.0, 5.0))
    labels = Labels("himmelblau", "newton", "float64", ("x", "y"))

    bare, _ = render(contour_figure(himmelblau, box, None, (), labels))
    fig = contour_figure(himmelblau, box, paths, (), labels)
    drawn, _ = render(fig)
    assert bare.shape == drawn.shape
    assert np.mean(np.abs(bare - drawn).max(axis=-1) > 0.1) > 0.005
    # the grey contour holds no trajectory colour; the paths (all "minimum") bring it in
    assert count_color(bare, _style.group_color("minimum")) == 0
    assert count_color(drawn, _style.group_color("minimum")) > 500

    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)
                and len(c.get_segments()) == 64]
    for segment, i in zip(lines.get_segments(), range(64), strict=True):
        np.testing.assert_allclose(segment, paths.path(i))
    # each path's end point is drawn in its colour: the path ends on the pixel it should
    for end in paths.ends:
        assert near(pixel_at(drawn, ax, end), _style.group_color("minimum"), tol=0.25)
    # and every end is one of Himmelblau's minima (f = 0), where the paths must lead
    np.testing.assert_allclose(paths.end_values, 0.0, atol=1e-12)


def test_known_critical_points_are_marked_on_their_pixels() -> None:
    problem = optkit.problems.get("himmelblau")
    points = [Point(np.asarray(k.x), k.value, k.kind) for k in problem.critical_points]
    assert {p.kind for p in points} == {"minimum", "maximum", "saddle"}
    # found points are filled: the marker's centre pixel has the kind's colour
    fig = contour_figure(problem.fun, problem.box, None, points, Labels("himmelblau"),
                         points_label="found")
    image, _ = render(fig)
    ax = fig.axes[0]
    for p in points:
        assert near(pixel_at(image, ax, p.x), _style.kind_style(p.kind)[0]), p
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["minimum (found)", "maximum (found)", "saddle (found)"]
    # known points (the default) are hollow rings in the kind's colour: the centre shows f
    fig = contour_figure(problem.fun, problem.box, None, points, Labels("himmelblau"))
    image, _ = render(fig)
    ax = fig.axes[0]
    for p in points:
        color = _style.kind_style(p.kind)[0]
        assert not near(pixel_at(image, ax, p.x), color), p
        px, py = ax.transData.transform(p.x)
        ring = image[int(image.shape[0] - py) - 9: int(image.shape[0] - py) + 10,
                     int(px) - 9: int(px) + 10]
        assert count_color(ring, color, tol=0.1) >= 8, p
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["minimum (known)", "maximum (known)", "saddle (known)"]


def test_log_levels_only_when_f_spans_decades() -> None:
    from optkit.plots.contour import field

    x, y = np.meshgrid(np.linspace(-2, 2, 81), np.linspace(-1, 3, 81))
    rosenbrock = 100 * (y - x**2) ** 2 + (1 - x) ** 2
    shown, label, log = field(rosenbrock)
    assert log and "log scale" in label
    # shown = log₁₀(f − f_min + δ): undoing the log gives f − f_min back, whatever δ is
    np.testing.assert_allclose(10**shown - 10 ** shown.min(), rosenbrock - rosenbrock.min(),
                               rtol=1e-9, atol=1e-9)
    assert shown.max() - shown.min() > 3  # several decades
    shown, label, log = field(x**2 + y**2)
    assert not log and label == "f" and shown is not None


# ------------------------------------------------------------------------ convergence


@pytest.mark.slow
def test_convergence_lines_follow_the_recorded_values(himmelblau_run: Path) -> None:
    from optkit.storage import load_run

    run = load_run(himmelblau_run)
    paths = paths_from_arrays(run.trajectories)
    assert paths.num_starts == 64 > _style.MAX_BAND_LINES  # bands: the lines of 16 starts
    paths = dataclasses.replace(
        paths, **{k: getattr(paths, k)[:16] for k in
                  ("x", "value", "grad_norm", "num_steps", "groups", "converged")},
        extras={k: v[:16] for k, v in paths.extras.items()})
    fig = convergence_figure(paths, Labels("himmelblau"), f_star=0.0)
    value_ax, grad_ax = fig.axes[:2]
    assert value_ax.get_yscale() == "log" and grad_ax.get_yscale() == "log"
    assert len(value_ax.lines) == 16 and len(grad_ax.lines) == 16
    floor = np.finfo(float).eps
    for i, line in enumerate(value_ax.lines):
        end = paths.last_row[i] + 1
        np.testing.assert_allclose(line.get_ydata(), np.maximum(paths.value[i, :end], floor))
        np.testing.assert_array_equal(line.get_xdata(), np.arange(end))
    # Newton with backtracking records step sizes and (eigen-regularised) damping: 4 panels
    assert "damping" in paths.extras
    assert [ax.get_ylabel() for ax in fig.axes[2:]] == ["step size t", "damping μ"]
    path = save(fig, Path(run.path) / "plots" / "convergence-test.png")
    assert_real_image(path)


@pytest.mark.slow
def test_large_batches_are_subsampled_banded_and_fast() -> None:
    rng = np.random.default_rng(0)
    starts, steps = 10_000, 40
    x0 = rng.uniform(-2, 2, (starts, 2))
    decay = 0.8 ** np.arange(steps + 1)
    x = x0[:, None, :] * decay[None, :, None]  # gradient descent on ‖x‖² with t = 0.1
    value = np.sum(x**2, axis=-1)
    arrays = {"x": x, "value": value, "grad_norm": 2 * np.sqrt(value),
              "num_steps": np.full(starts, steps), "status": np.zeros(starts, int),
              "step_size": np.full((starts, steps + 1), 0.1)}
    paths = paths_from_arrays(arrays)
    assert set(paths.groups) == {"converged"}  # no kinds saved: coloured by status
    t0 = time.perf_counter()
    fig = contour_figure(lambda z: z @ z, ((-2, -2), (2, 2)), paths, (), Labels("bowl"))
    conv = convergence_figure(paths, Labels("bowl"))
    save(fig, Path("/dev/null"), "png")
    save(conv, Path("/dev/null"), "png")
    assert time.perf_counter() - t0 < 20.0
    ax = fig.axes[0]
    assert f"{_style.MAX_DRAWN} of {starts} starts drawn" in ax.get_title()
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == _style.MAX_DRAWN
    # bands: one median line per group, not one line per start
    assert len(conv.axes[0].lines) == 1
    # f_best is the lowest value any start recorded
    np.testing.assert_allclose(conv.axes[0].lines[0].get_ydata(),
                               np.maximum(np.median(value - value.min(), axis=0),
                                          np.finfo(float).eps))


@pytest.mark.slow
def test_paths_from_a_result_match_its_trajectory() -> None:
    x0s = np.array([[1.0, 2.0], [-3.0, 0.5]])
    res = optkit.minimize_batch(lambda z: z[0] ** 2 + 10.0 * z[1] ** 2, x0s, method="newton",
                                record=True, classify=True)
    paths = paths_from_result(res)
    assert paths.num_starts == 2 and list(paths.groups) == ["minimum", "minimum"]
    np.testing.assert_array_equal(paths.num_steps, np.asarray(res.num_steps))
    np.testing.assert_allclose(paths.starts, x0s)
    np.testing.assert_allclose(paths.ends, 0.0, atol=1e-12)  # Newton: one step on a quadratic
    np.testing.assert_allclose(paths.end_values, np.asarray(res.value))


def test_unrecorded_trajectories_draw_no_made_up_paths() -> None:
    arrays = {"x": np.array([[[1.0, 1.0], [0.0, 0.0]]]), "value": np.array([[2.0, 0.0]]),
              "grad_norm": np.array([[2.8, 0.0]]), "num_steps": np.array([7]),
              "status": np.array([0]), "trajectory_recorded": np.array(False)}
    paths = paths_from_arrays(arrays)
    assert not paths.recorded
    fig = contour_figure(lambda z: z @ z, ((-2, -2), (2, 2)), paths, (), Labels("bowl"))
    ax = fig.axes[0]
    drawn = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_segments()]
    assert drawn == [] and len(ax.lines) == 0
    markers = [c.get_offsets().tolist() for c in ax.collections
               if isinstance(c, PathCollection) and len(c.get_offsets())]
    assert [[1.0, 1.0]] in markers and [[0.0, 0.0]] in markers  # start and end only
    assert "not recorded" in ax.get_title()


# --------------------------------------------------------------------------------- 1-D


def test_one_d_critical_points_by_grid_scan() -> None:
    def quartic(x):
        return 3 * x[0] ** 4 - 4 * x[0] ** 3 - 12 * x[0] ** 2

    points = scan_critical_points(quartic, -2.0, 3.0)
    np.testing.assert_allclose([p.x[0] for p in points], [-1.0, 0.0, 2.0], atol=1e-12)
    np.testing.assert_allclose([p.value for p in points], [-5.0, 0.0, -32.0], atol=1e-9)
    assert [p.kind for p in points] == ["minimum", "maximum", "minimum"]


@pytest.mark.slow
def test_one_d_figure_draws_f_itself(quartic_run: Path, tmp_path: Path) -> None:
    from optkit.plots._run import load_view
    from optkit.plots.one_d import function_figure

    view = load_view(quartic_run)
    assert view.dim == 1 and view.labels.problem == "f = 3·x^4 - 4·x^3 - 12·x^2"
    fig = function_figure(view.fun, view.box, view.paths, (), view.labels)
    curve = fig.axes[0].lines[0]
    xs = curve.get_xdata()
    np.testing.assert_allclose(curve.get_ydata(), 3 * xs**4 - 4 * xs**3 - 12 * xs**2,
                               rtol=1e-12, atol=1e-9)
    # the iterates are drawn at (x_k, f(x_k)) as recorded by the run
    start = fig.axes[0].lines[1]
    end = view.paths.last_row[0] + 1
    np.testing.assert_allclose(start.get_xdata(), view.paths.x[0, :end, 0])
    np.testing.assert_allclose(start.get_ydata(), view.paths.value[0, :end])
    assert_real_image(save(fig, tmp_path / "function.png"))


# --------------------------------------------------------------------------------- n > 2


@pytest.mark.slow
def test_projection_for_more_than_two_variables(tmp_path: Path) -> None:
    run = runner.run(ROSENBROCK_3D, out=tmp_path, quiet=True)
    written = plot_run(run)
    assert [p.name for p in written] == ["convergence.png", "projection.png"]
    for path in written:
        assert_real_image(path)
    # --taylor cannot draw 3 variables: one warning, and every other figure still drawn
    with pytest.warns(UserWarning, match="--taylor skipped.*3 variables"):
        again = plot_run(run, out=tmp_path / "again", taylor=True)
    assert [p.name for p in again] == ["convergence.png", "projection.png"]


def test_principal_plane_recovers_the_plane_of_the_points() -> None:
    u = np.array([1.0, 2.0, 2.0, 0.0]) / 3.0
    v = np.array([0.0, 0.0, 0.0, 1.0])
    # a symmetric grid of coefficients: spread 3 along u, 1 along v, uncorrelated exactly
    a, b = np.meshgrid(np.linspace(-3, 3, 7), np.linspace(-1, 1, 5))
    points = 5.0 + a.reshape(-1, 1) * u + b.reshape(-1, 1) * v
    centre, plane, share = principal_plane(points)
    np.testing.assert_allclose(centre, points.mean(axis=0))
    np.testing.assert_allclose(np.abs(plane @ u), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(plane @ v), [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(share.sum(), 1.0)
    assert share[0] > share[1] > 0


# ------------------------------------------------------------------------------- Taylor


def test_taylor_model_of_the_chapter_example() -> None:
    def bump(z):
        return z[0] * jnp.exp(-z[0] ** 2 - z[1] ** 2)

    e = np.exp(-1.0)
    model = taylor_model(bump, (-1.0, 0.0), order=2)
    linear = taylor_model(bump, (-1.0, 0.0), order=1)
    for dx, dy in [(0.0, 0.0), (0.3, -0.2), (-0.5, 0.7)]:
        # f = −e⁻¹, ∇f = (−e⁻¹, 0), ∇²f = diag(2e⁻¹, 2e⁻¹) at (−1, 0)
        expected = -e - e * dx + e * (dx**2 + dy**2)
        np.testing.assert_allclose(model(jnp.array([-1.0 + dx, dy])), expected, rtol=1e-12)
        np.testing.assert_allclose(linear(jnp.array([-1.0 + dx, dy])), -e - e * dx, rtol=1e-12)
    with pytest.raises(ValueError, match="order"):
        taylor_model(bump, (-1.0, 0.0), order=3)


def test_taylor_figure_shows_f_and_the_model_at_shared_levels(tmp_path: Path) -> None:
    from matplotlib.contour import QuadContourSet

    problem = optkit.problems.get("gaussian_bump")
    x0 = np.array([-1.0, 0.0])
    fig = taylor_surface(problem.fun, x0, problem.box, out=tmp_path / "taylor.png")
    assert_real_image(tmp_path / "taylor.png")
    left, right = fig.axes[:2]  # then the two colour bars
    lines = [c for c in left.collections if isinstance(c, QuadContourSet) and not c.filled]
    f_lines, q_lines = lines
    assert near(f_lines.get_edgecolor()[0][:3], _style.SURFACE_COLOR, 0.01)
    assert near(q_lines.get_edgecolor()[0][:3], _style.MODEL_COLOR, 0.01)
    np.testing.assert_array_equal(q_lines.levels, f_lines.levels)  # one shared clipping
    # the error panel: log₁₀|f − q| is smallest at the grid point next to x0, and grows
    # like ‖x − x0‖³ along a ray (Taylor's theorem for the second-order model)
    (error,) = [c for c in right.collections if isinstance(c, QuadContourSet) and c.filled]
    model = taylor_model(problem.fun, x0, order=2)
    r = np.array([0.02, 0.04])
    points = x0 + r[:, None] * np.array([0.6, 0.8])
    f, q = jit(lambda p: (jax.vmap(problem.fun)(p), jax.vmap(model)(p)))(points)
    errs = np.abs(np.asarray(f) - np.asarray(q))
    np.testing.assert_allclose(errs[1] / errs[0], 8.0, rtol=0.05)
    assert error.levels.min() < -8  # the floor near x0, many decades below the far error
    with pytest.raises(ValueError, match="1-D or 2-D"):
        taylor_surface(problem.fun, (-1.0, 0.0, 1.0), problem.box)


# -------------------------------------------------------------------------------- atlas


def test_atlas_arrows_follow_the_hessian() -> None:
    problem = optkit.problems.get("himmelblau")
    points = [Point(np.asarray(k.x), k.value, k.kind) for k in problem.critical_points]
    lam, vec = hessian_eigen(himmelblau, np.array([[3.0, 2.0]]))
    # ∇²f(3, 2) = [[12x² + 4y − 42, 4x + 4y], [4x + 4y, 12y² + 4x − 26]] = [[74, 20], [20, 34]]
    np.testing.assert_allclose(lam[0], np.linalg.eigvalsh([[74.0, 20.0], [20.0, 34.0]]))
    fig = atlas_figure(himmelblau, problem.box, points, Labels("himmelblau"))
    arrows = [t.arrow_patch for t in fig.axes[0].texts if t.arrow_patch is not None]
    assert len(arrows) == 2 * len(points)
    up, down = (np.asarray(to_rgb(_style.CURVATURE_COLOR[s])) for s in ("positive", "negative"))
    for i, p in enumerate(points):
        colors = [np.asarray(a.get_edgecolor()[:3]) for a in arrows[2 * i: 2 * i + 2]]
        ups = sum(np.allclose(c, up) for c in colors)
        downs = sum(np.allclose(c, down) for c in colors)
        assert (ups, downs) == {"minimum": (2, 0), "maximum": (0, 2), "saddle": (1, 1)}[p.kind]
    values = [t.get_text() for t in fig.axes[0].texts if t.get_text()]
    assert "f = 182" in values and values.count("f = 0") == 4


@pytest.mark.slow
def test_critical_run_plots_its_atlas(tmp_path: Path) -> None:
    config = {"name": "camel", "problem": {"name": "six_hump_camel"},
              "analysis": {"num_starts": 256}}
    run = runner.run_critical(config, out=tmp_path, quiet=True)
    (atlas,) = plot_run(run)
    assert atlas.name == "atlas.png"
    assert_real_image(atlas)


# ------------------------------------------------------------------------ errors, bytes


@pytest.mark.slow
def test_bad_run_directories_raise_one_line_value_errors(
    himmelblau_run: Path, quartic_run: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match="nope"):
        plot_run(missing)
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.yaml", "summary.json"):
        (broken / name).write_bytes((himmelblau_run / name).read_bytes())
    with pytest.raises(ValueError, match="broken.*incomplete") as err:
        plot_run(broken)
    assert "\n" not in str(err.value)
    (broken / "INCOMPLETE").write_text("")
    with pytest.raises(ValueError, match="broken.*incomplete"):
        plot_run(broken)
    with pytest.raises(ValueError, match="bmp"):
        plot_run(himmelblau_run, format="bmp")
    # a 1-variable run gets a 1-D Taylor figure at its best end point (x = 2, f = −32)
    written = plot_run(quartic_run, taylor=True, out=tmp_path / "taylor")
    assert [p.name for p in written] == ["function.png", "convergence.png", "taylor.png"]


@pytest.mark.slow
def test_output_is_byte_stable(himmelblau_run: Path, tmp_path: Path) -> None:
    from optkit.plots._run import load_view

    view = load_view(himmelblau_run)
    for fmt in ("png", "svg"):
        first, second = (
            save(contour_figure(view.fun, view.box, view.paths, view.known, view.labels),
                 tmp_path / f"{name}.{fmt}")
            for name in ("first", "second")
        )
        assert first.read_bytes() == second.read_bytes()


def test_plot_module_aliases() -> None:
    import optkit.plot
    import optkit.plots

    assert optkit.plot.taylor_surface is optkit.plots.taylor_surface
    assert optkit.plot.plot_run is plot_run
    assert isinstance(Paths, type)


# ------------------------------------------------------------------ content: honest figures


def shape_signature(path) -> tuple:
    """A marker's outline up to scale and rotation (the edge triangles are rotated to point
    the way each path went): its path codes and the sorted distances between its distinct
    vertices, largest 1."""
    vertices = np.unique(np.round(path.vertices / np.abs(path.vertices).max(), 9), axis=0)
    gaps = np.sort(np.linalg.norm(vertices[:, None] - vertices[None], axis=-1).ravel())
    codes = () if path.codes is None else tuple(int(c) for c in path.codes)
    return codes, gaps / gaps.max()


def same_shape(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and a[1].shape == b[1].shape and np.allclose(a[1], b[1], atol=1e-6)


def marker_path(marker) -> tuple:
    from matplotlib.markers import MarkerStyle

    style = MarkerStyle(marker)
    return shape_signature(style.get_path().transformed(style.get_transform()))


def same_rgb(a, b, tol: float = 0.02) -> bool:
    return bool(np.abs(np.asarray(to_rgb(a)) - np.asarray(to_rgb(b))).max() <= tol)


def inside(ax, xy: np.ndarray) -> np.ndarray:
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    xy = np.asarray(xy, float).reshape(-1, 2)
    return (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)


def assert_every_legend_entry_is_drawn(fig) -> None:
    """Each legend entry has an artist in some axes that matches it and shows in the view:

    - a marker entry: a scatter with that marker shape, one point inside the limits, the
      entry's face or edge colour among its colours (neutral grey/black entries, standing for
      every group, match any colour), and hiding it changes the rendered pixels (it is not
      buried under another artist);
    - a line entry: a line or line collection of its colour with a vertex inside the limits;
    - a patch entry: a filled area (band, image) of its colour inside the limits (a grey
      patch stands for every group's band).
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    (legend,) = fig.legends
    axes = [ax for ax in fig.axes if ax.get_visible()]
    neutral = (_style.GREY, _style.BLACK)
    base, _ = render(fig)
    for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
        label = text.get_text()
        if isinstance(handle, PathCollection):  # the legend shows a scatter's own marker
            from matplotlib.colors import to_hex

            face, edge = handle.get_facecolor(), handle.get_edgecolor()
            handle = Line2D([], [], ls="", marker=handle.get_paths()[0],
                            mfc=to_hex(face[0]) if len(face) else "none",
                            mec=to_hex(edge[0]) if len(edge) else "none")
        if isinstance(handle, Line2D) and handle.get_marker() not in ("None", "", None):
            shape = marker_path(handle.get_marker())
            colors = [handle.get_markerfacecolor(), handle.get_markeredgecolor()]
            wild = any(c != "none" and same_rgb(c, n) for c in colors for n in neutral)
            found = False
            for ax in axes:
                for c in ax.collections:
                    if not isinstance(c, PathCollection) or not len(c.get_offsets()):
                        continue
                    if not same_shape(shape_signature(c.get_paths()[0]), shape):
                        continue
                    own = [tuple(v[:3]) for v in [*c.get_facecolors(), *c.get_edgecolors()]]
                    if not (wild or any(same_rgb(o, k) for o in own for k in colors
                                        if k != "none")):
                        continue
                    points = np.asarray(c.get_offsets())
                    if not (inside(ax, points).any() or not c.get_clip_on()):
                        continue
                    c.set_visible(False)
                    hidden, _ = render(fig)
                    c.set_visible(True)
                    if np.abs(hidden - base).max() > 0.05:
                        found = True
                        break
                if found:
                    break
            assert found, f"legend entry {label!r}: no visible marker"
        elif isinstance(handle, Line2D):
            color = handle.get_color()
            found = any(
                (isinstance(a, Line2D) and same_rgb(a.get_color(), color)
                 and inside(ax, np.c_[a.get_xdata(), a.get_ydata()]).any())
                or (isinstance(a, LineCollection) and len(a.get_segments())
                    and any(same_rgb(e[:3], color) for e in a.get_edgecolors())
                    and inside(ax, np.concatenate(a.get_segments())).any())
                or (hasattr(a, "levels") and not a.filled
                    and any(same_rgb(e[:3], color) for e in a.get_edgecolor()))
                or (getattr(a, "arrow_patch", None) is not None  # atlas arrows
                    and same_rgb(a.arrow_patch.get_edgecolor()[:3], color)
                    and inside(ax, a.xy).any())
                for ax in axes for a in [*ax.lines, *ax.collections, *ax.texts])
            assert found, f"legend entry {label!r}: no line of its colour in view"
        else:
            assert isinstance(handle, Patch), label
            color = handle.get_facecolor()[:3]
            wild = same_rgb(color, _style.GREY, 0.1)
            found = False
            for ax in axes:
                for a in [*ax.collections, *ax.images]:
                    if isinstance(a, AxesImage):
                        pixels = np.asarray(a.get_array())[..., :3].reshape(-1, 3)
                        if (np.abs(pixels - np.asarray(color)).max(axis=1) < 0.02).any():
                            found = True
                    elif isinstance(a, PolyCollection) and len(a.get_paths()):
                        colors = [f[:3] for f in a.get_facecolors()]
                        vertices = np.concatenate([p.vertices for p in a.get_paths()])
                        if (wild or any(same_rgb(f, color) for f in colors)) and inside(
                                ax, vertices).any():
                            found = True
                    elif (isinstance(a, PathCollection) and len(a.get_offsets())
                          and any(same_rgb(f[:3], color) for f in a.get_facecolors())):
                        found = found or bool(inside(ax, a.get_offsets()).any())
            assert found, f"legend entry {label!r}: no area of its colour in view"


def escaping_paths(starts: int = 6, steps: int = 40) -> Paths:
    """Gradient descent on log-sum-exp, which has no minimum: x_k = x_0 − k·t·softmax(x_0)
    (the gradient is constant along the ray once far out), so every start runs off towards
    −∞ and ends at the step cap."""
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-2, 2, (starts, 2))
    soft = np.exp(x0) / np.exp(x0).sum(axis=1, keepdims=True)
    k = np.arange(steps + 1)[None, :, None]
    x = x0[:, None, :] - 2.0 * k * soft[:, None, :]
    value = np.logaddexp(x[..., 0], x[..., 1])
    arrays = {"x": x, "value": value, "grad_norm": np.linalg.norm(soft, axis=-1)[:, None]
              * np.ones(steps + 1), "num_steps": np.full(starts, steps),
              "status": np.full(starts, int(optkit.Status.MAX_STEPS))}
    return paths_from_arrays(arrays)


def logsumexp(z):
    return jnp.logaddexp(z[0], z[1])


def test_paths_that_leave_the_view_are_marked_where_they_left() -> None:
    paths = escaping_paths()
    box = ((-2.0, -2.0), (2.0, 2.0))
    fig = contour_figure(logsumexp, box, paths, (), Labels("log_sum_exp"))
    ax = fig.axes[0]
    lower = np.array([ax.get_xlim()[0], ax.get_ylim()[0]])
    upper = np.array([ax.get_xlim()[1], ax.get_ylim()[1]])
    # the view grew to hold the iterates within half a box width, no further
    assert (lower <= -2.0).all() and (lower >= -4.0 - 0.05 * 8.0).all()  # 4 % padding
    everything = np.concatenate([paths.path(i) for i in range(paths.num_starts)])
    near_box = np.all((everything >= -4.0) & (everything <= 4.0), axis=1)
    assert inside(ax, everything[near_box]).all()
    # every end is far outside, so each path has one triangle on the edge of the view,
    # on the segment where it left
    assert not inside(ax, paths.ends).any()
    triangles = [c for c in ax.collections if isinstance(c, PathCollection)
                 and not c.get_clip_on()]
    assert len(triangles) == paths.num_starts
    for c in triangles:
        (point,) = np.asarray(c.get_offsets())
        on_edge = np.isclose(point, lower, atol=1e-9) | np.isclose(point, upper, atol=1e-9)
        assert on_edge.any() and inside(ax, point).all()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert f"left the view, end outside ({paths.num_starts})" in legend
    assert "end (not converged)" not in legend  # no such end is visible
    assert f"{paths.num_starts} of {paths.num_starts} drawn paths end outside" in ax.get_title()
    assert_every_legend_entry_is_drawn(fig)


def test_f_minus_f_best_only_where_a_minimum_was_reached() -> None:
    from optkit.plots.convergence import reference

    paths = escaping_paths()
    fig = convergence_figure(paths, Labels("log_sum_exp"))
    value_ax = fig.axes[0]
    assert reference(paths) == (None, "no minimum reached")
    assert value_ax.get_yscale() == "symlog"
    assert value_ax.get_ylabel().startswith("f ") and "f_best" not in value_ax.get_ylabel()
    for i, line in enumerate(value_ax.lines):  # f itself, not f − f_best
        np.testing.assert_allclose(line.get_ydata(), paths.value[i])
    # the axes end where the data ends and hold all of it
    assert value_ax.get_xlim() == (0.0, 40.0)
    y0, y1 = value_ax.get_ylim()
    assert y0 <= np.nanmin(paths.value) and y1 >= np.nanmax(paths.value)
    assert_every_legend_entry_is_drawn(fig)

    # a converged bowl: f_best is the value the starts reached, f − f_best on a log axis
    x = np.array([[[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]]])
    value = np.sum(x**2, axis=-1)
    bowl = paths_from_arrays({"x": x, "value": value, "grad_norm": 2 * np.sqrt(value),
                              "num_steps": np.array([2]), "status": np.array([0])})
    assert reference(bowl) == (0.0, "f_best")
    assert reference(bowl, f_star=-1.0) == (-1.0, "f*")
    assert reference(bowl, f_star=1.0) == (0.0, "f_best")  # a wrong f*: the run went lower
    assert convergence_figure(bowl).axes[0].get_ylabel().startswith("f − f_best")


def test_thousands_of_steps_are_thinned_to_a_readable_trend() -> None:
    from optkit.plots.convergence import THIN_BINS, thin

    # Barzilai–Borwein-like step sizes alternating between 10⁻³ and 10⁻¹: a bin of an even
    # number of steps holds as many of each, so its typical value is the geometric mean 10⁻²
    steps = np.arange(4000)
    t = np.where(steps % 2 == 0, 1e-3, 1e-1)
    mid, typical, lo, hi = thin(steps, t, width=10)
    np.testing.assert_allclose(typical[:-1], 1e-2, rtol=1e-12)
    np.testing.assert_allclose(lo, np.r_[np.full(len(lo) - 1, 1e-3), 1e-1])
    assert mid[-1] == steps[-1] and typical[-1] == t[-1]  # the line ends where the solve did
    starts, rows = 3, 5001
    value = np.exp(-np.arange(rows) / 500.0)[None] * np.ones((starts, 1))
    x = np.zeros((starts, rows, 2))
    zigzag = np.where(np.arange(rows) % 2 == 0, 1e-3, 1e-1)
    arrays = {"x": x, "value": value, "grad_norm": value, "num_steps": np.full(starts, rows - 1),
              "status": np.zeros(starts, int), "step_size": np.tile(zigzag, (starts, 1))}
    fig = convergence_figure(paths_from_arrays(arrays), Labels("zig-zag"))
    for ax in fig.axes[:3]:
        assert ax.get_xlim() == (0.0, rows - 1.0)
        for line in ax.lines:
            assert len(line.get_xdata()) <= THIN_BINS + 2
    step_ax = fig.axes[2]
    # every full bin (the first holds the start's missing step, the last two a partial bin and
    # the final step) averages to the geometric mean
    np.testing.assert_allclose(step_ax.lines[0].get_ydata()[1:-2], 1e-2, rtol=1e-12)
    assert "thinned" in fig._suptitle.get_text()
    assert_every_legend_entry_is_drawn(fig)


@pytest.mark.slow
def test_basin_map_colours_each_start_by_the_point_it_reached(himmelblau_run: Path) -> None:
    from optkit.plots._run import load_view
    from optkit.plots.basin import basin_figure

    view = load_view(himmelblau_run)
    paths = view.paths
    fig = basin_figure(view.fun, view.box, paths, view.found, view.labels)
    ax = fig.axes[0]
    (image,) = ax.images
    cells = np.asarray(image.get_array())  # [y, x, rgb]: the 8 × 8 grid of starts
    assert cells.shape[:2] == (8, 8)
    xs, ys = np.unique(paths.starts[:, 0]), np.unique(paths.starts[:, 1])
    found = np.stack([p.x for p in view.found])
    assert len(found) == 4  # Himmelblau's four minima, from critical_points.json
    pixels, _ = render(fig)
    marker_colors = {}
    for c in ax.collections:  # each found point is marked in its basin's colour
        if isinstance(c, PathCollection) and len(c.get_offsets()) == 1:
            marker_colors[tuple(np.round(c.get_offsets()[0], 6))] = c.get_facecolors()[0][:3]
    for start, end in zip(paths.starts, paths.ends, strict=True):
        nearest = found[np.argmin(np.linalg.norm(found - end, axis=1))]
        assert np.linalg.norm(nearest - end) < 1e-6  # every start converged to a minimum
        expected = marker_colors[tuple(np.round(nearest, 6))]
        cell = cells[np.searchsorted(ys, start[1]), np.searchsorted(xs, start[0])]
        np.testing.assert_allclose(cell[:3], expected, atol=1e-6)
        assert near(pixel_at(pixels, ax, start), expected, tol=0.25)
    assert len({tuple(v) for v in marker_colors.values()}) == 4  # four distinct colours
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    counts = [int(t.rsplit(": ", 1)[1].split()[0]) for t in legend]
    assert sum(counts) == 64
    assert_every_legend_entry_is_drawn(fig)


def test_flat_ends_are_not_counted_as_critical_points() -> None:
    from optkit.plots.basin import basins

    problem = optkit.problems.get("gaussian_bump")
    lo, hi = 1 / np.sqrt(2), np.exp(-0.5) / np.sqrt(2)
    points = [Point(np.array([-lo, 0.0]), -hi, "minimum"),
              Point(np.array([lo, 0.0]), hi, "maximum"),
              Point(np.array([4.0, 4.0]), 0.0, "flat")]
    fig = atlas_figure(problem.fun, problem.box, points, Labels("gaussian_bump"))
    title = fig.axes[0].get_title()
    assert "1 minimum, 1 maximum; 1 flat region end" in title
    arrows = [t for t in fig.axes[0].texts if t.arrow_patch is not None]
    assert len(arrows) == 4  # two per critical point, none at the flat end
    assert_every_legend_entry_is_drawn(fig)
    # basin map: the flat ends share one grey, apart from the two points' basins
    ends = np.array([[-lo, 0.0], [lo, 0.0], [4.0, 4.0], [-4.0, 4.5], [-lo, 1e-9]])
    x = np.stack([ends + 0.1, ends], axis=1)
    arrays = {"x": x, "value": np.zeros((5, 2)), "grad_norm": np.zeros((5, 2)),
              "num_steps": np.ones(5, int), "status": np.zeros(5, int)}
    paths = paths_from_arrays(arrays, ["minimum", "maximum", "flat", "flat", "minimum"])
    index, found = basins(paths, points, problem.box)
    assert [b.name.split(" (")[0] for b in found] == ["minimum", "maximum", "flat region"]
    assert list(index) == [0, 1, 2, 2, 0]
    assert found[2].point is None and found[2].color == _style.BASIN_OTHER["flat"]


def test_taylor_point_follows_analysis_taylor_at(quartic_run: Path) -> None:
    from optkit.plots._run import load_view, taylor_point

    view = load_view(quartic_run)
    best, where = taylor_point(view)  # default "best": the end point of lowest f
    assert where == "the best end point"
    np.testing.assert_allclose(best, [2.0], atol=1e-8)  # the global minimum, f = −32
    first, _ = taylor_point(dataclasses.replace(view, taylor_at="first"))
    np.testing.assert_allclose(first, view.paths.starts[0])
    given, _ = taylor_point(dataclasses.replace(view, taylor_at=[-1.0]))
    np.testing.assert_allclose(given, [-1.0])
    with pytest.raises(ValueError, match="analysis.taylor_at has 2 numbers"):
        taylor_point(dataclasses.replace(view, taylor_at=[1.0, 2.0]))


def test_one_variable_taylor_figure() -> None:
    def quartic(x):
        return 3 * x[0] ** 4 - 4 * x[0] ** 3 - 12 * x[0] ** 2

    fig = taylor_surface(quartic, [-1.0], ((-2.0,), (3.0,)), labels=Labels("quartic"))
    top, bottom = fig.axes[:2]
    f_line, q_line = top.lines
    xs = q_line.get_xdata()
    # at the minimum x = −1: f = −5, f′ = 0, f″ = 36x² − 24x − 24 = 36: q = −5 + 18 (x + 1)²
    np.testing.assert_allclose(q_line.get_ydata(), -5 + 18 * (xs + 1) ** 2, rtol=1e-12)
    np.testing.assert_allclose(f_line.get_ydata(), 3 * xs**4 - 4 * xs**3 - 12 * xs**2,
                               rtol=1e-12, atol=1e-12)
    lo, hi = top.get_ylim()  # one range, f's: q is clipped to it
    assert lo <= (3 * xs**4 - 4 * xs**3 - 12 * xs**2).min() and hi < q_line.get_ydata().max()
    assert bottom.get_yscale() == "log"
    assert_every_legend_entry_is_drawn(fig)
