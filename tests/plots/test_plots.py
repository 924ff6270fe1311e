"""Figures from real run directories: files, sizes, content and geometry, not just "no error".

Runs are produced by ``optkit run`` (through the CLI) or ``optkit.runner.run`` on small
configs written to a temporary directory; plots never solve, they only read those runs.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

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
from optkit.analysis.classify import kind_label
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

HIMMELBLAU = {
    "name": "himmelblau-16",
    "problem": {"name": "himmelblau"},
    "start": {"uniform": {"count": 16, "seed": 0}},
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
                                         "taylor.png"]
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
    assert paths.num_starts == 16 and set(kinds) == {"minimum"}
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
                and len(c.get_segments()) == 16]
    for segment, i in zip(lines.get_segments(), range(16), strict=True):
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
    fig = contour_figure(problem.fun, problem.box, None, points, Labels("himmelblau"))
    image, _ = render(fig)
    ax = fig.axes[0]
    for p in points:
        assert near(pixel_at(image, ax, p.x), _style.kind_style(p.kind)[0]), p
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
    x0s = jnp.array([[1.0, 2.0], [-3.0, 0.5]])
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


def test_taylor_surface_draws_both_wireframes(tmp_path: Path) -> None:
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    problem = optkit.problems.get("gaussian_bump")
    fig = taylor_surface(problem.fun, (-1.0, 0.0), problem.box, out=tmp_path / "taylor.png")
    assert_real_image(tmp_path / "taylor.png")
    frames = [c for c in fig.axes[0].collections if isinstance(c, Line3DCollection)]
    assert len(frames) == 2
    assert near(frames[0].get_color()[0][:3], _style.SURFACE_COLOR, 0.01)
    assert near(frames[1].get_color()[0][:3], _style.MODEL_COLOR, 0.01)
    with pytest.raises(ValueError, match="2-D"):
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
    with pytest.raises(ValueError, match="quartic.*Taylor surface needs a 2-variable"):
        plot_run(quartic_run, taylor=True, out=tmp_path)


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
