"""Run directories: atomic writes, the INCOMPLETE marker, load_run and what a run stores."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pytest

import optkit
from optkit import runner, storage
from optkit.config import resolve
from optkit.storage import INCOMPLETE, RunDirError, create_run_dir, load_run

# Booth: f = (x + 2y − 7)² + (2x + y − 5)², minimum f(1, 3) = 0; quadratic, so Newton lands
# on the minimiser in one step from anywhere
BOOTH = {
    "name": "booth-float32",
    "problem": {"name": "booth"},
    "start": {"uniform": {"low": [-4, -4], "high": [4, 4], "count": 8, "seed": 1}},
    "solver": {"method": "newton"},
    "precision": "float32",
    "record": {"trajectory": False},
}


def booth(x: np.ndarray) -> np.ndarray:
    return (x[..., 0] + 2 * x[..., 1] - 7) ** 2 + (2 * x[..., 0] + x[..., 1] - 5) ** 2


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTKIT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "jax-cache"))


@pytest.fixture(scope="module")
def booth_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.getbasetemp() / "jax-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPTKIT_CACHE_DIR", str(cache))
        return runner.run(BOOTH, out=tmp_path_factory.mktemp("runs"), quiet=True)


# ------------------------------------------------------------------------------ writing


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "summary.json"

    def crash(f):
        f.write(b'{"half": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        storage.atomic_write(target, crash)
    assert list(tmp_path.iterdir()) == []

    storage.write_json(target, {"a": 1})
    with pytest.raises(KeyboardInterrupt):
        storage.atomic_write(target, crash)
    assert json.loads(target.read_text()) == {"a": 1}  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_run_directory_names_and_marker(tmp_path):
    now = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    first = create_run_dir(tmp_path / "runs", "rosenbrock newton/x", now=now)
    second = create_run_dir(tmp_path / "runs", "rosenbrock newton/x", now=now)
    assert first.name == "20240506T070809Z-rosenbrock_newton_x"
    assert second.name == first.name + "-2"
    assert (first / INCOMPLETE).exists()
    storage.mark_complete(first)
    assert not (first / INCOMPLETE).exists()


def test_json_is_strict():
    data = {"v": np.float32(1.5), "a": np.arange(3), "bad": [float("nan"), -np.inf],
            "n": np.int64(4), "p": Path("/x")}
    assert storage.to_jsonable(data) == {"v": 1.5, "a": [0, 1, 2], "bad": [None, None],
                                        "n": 4, "p": "/x"}


# ------------------------------------------------------------------------------ reading


def _fake_run(path: Path, version: int = storage.FORMAT_VERSION) -> Path:
    path.mkdir()
    storage.write_yaml(path / "config.yaml", {"name": "fake"})
    storage.write_json(path / "summary.json", {"format_version": version, "name": "fake"})
    return path


def test_load_run_refuses_what_is_not_a_complete_run(tmp_path):
    cases = {
        "missing": (tmp_path / "missing", "no such run directory"),
        "file": (tmp_path / "file.txt", "not a directory"),
        "empty": (tmp_path / "empty", "no summary.json"),
        "newer": (_fake_run(tmp_path / "newer", storage.FORMAT_VERSION + 1),
                  f"format_version {storage.FORMAT_VERSION + 1} is newer"),
        "incomplete": (_fake_run(tmp_path / "incomplete"), "incomplete"),
    }
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "incomplete" / INCOMPLETE).write_text("")
    for path, message in cases.values():
        with pytest.raises(RunDirError) as info:
            load_run(path)
        text = str(info.value)
        assert "\n" not in text and str(path) in text and message in text


def test_load_run_of_a_minimal_directory(tmp_path):
    run = load_run(_fake_run(tmp_path / "run"))
    assert run.config == {"name": "fake"} and run.summary["name"] == "fake"
    assert run.trajectories == {} and run.critical_points is None


# ------------------------------------------------------------------------------ what a run stores


@pytest.mark.slow
def test_float32_run_stores_float32_results(booth_run):
    run = load_run(booth_run)
    t = run.trajectories
    assert run.summary["precision"] == "float32" and run.config["precision"] == "float32"
    for key in ("x", "value", "grad_norm", "x_final", "value_final", "eigenvalues"):
        assert t[key].dtype == np.float32, key
    assert run.config["stop"]["grad_tol"] == pytest.approx(1e-4)


@pytest.mark.slow
def test_unrecorded_run_keeps_start_and_end_rows(booth_run):
    run = load_run(booth_run)
    t = run.trajectories
    starts = resolve(BOOTH).starts
    assert not bool(t["trajectory_recorded"])
    assert t["x"].shape == (8, 2, 2) and t["value"].shape == t["grad_norm"].shape == (8, 2)
    np.testing.assert_allclose(t["x"][:, 0], starts, rtol=1e-7)
    np.testing.assert_allclose(t["value"][:, 0], booth(starts), rtol=1e-5)
    np.testing.assert_array_equal(t["x"][:, 1], t["x_final"])
    # the minimiser (1, 3), reached by one Newton step from every start
    np.testing.assert_allclose(t["x_final"], np.tile([1.0, 3.0], (8, 1)), atol=1e-4)
    np.testing.assert_array_equal(t["num_steps"], 1)
    assert np.all(t["status"] == optkit.Status.CONVERGED)
    # ∇²f = [[10, 8], [8, 10]]: eigenvalues 2 and 18
    np.testing.assert_allclose(t["eigenvalues"], np.tile([2.0, 18.0], (8, 1)), rtol=1e-4)


@pytest.mark.slow
def test_summary_counts_best_and_per_start_results(booth_run):
    run = load_run(booth_run)
    s, t = run.summary, run.trajectories
    assert s["format_version"] == storage.FORMAT_VERSION and s["num_starts"] == 8
    assert s["status_counts"]["CONVERGED"] == 8 and sum(s["status_counts"].values()) == 8
    assert s["kind_counts"]["minimum"] == 8 and sum(s["kind_counts"].values()) == 8
    best = int(np.argmin(t["value_final"]))
    assert s["best"]["index"] == best
    assert s["best"]["value"] == pytest.approx(float(t["value_final"][best]))
    assert set(s["best"]) >= {"x", "value", "grad_norm", "num_steps", "status", "kind"}
    assert len(s["starts"]) == 8
    assert [r["status"] for r in s["starts"]] == ["CONVERGED"] * 8
    np.testing.assert_allclose([r["start"] for r in s["starts"]], resolve(BOOTH).starts,
                               rtol=1e-7)
    # every start ended at the one minimum: one distinct critical point, reached 8 times
    (point,) = run.critical_points
    assert point["kind"] == "minimum" and point["count"] == 8 and point["known"] == "minimum"


@pytest.mark.slow
def test_large_batches_leave_out_per_start_results(tmp_path, monkeypatch):
    monkeypatch.setattr(runner._summary, "PER_START_LIMIT", 4)
    path = runner.run(BOOTH, out=tmp_path, quiet=True)
    assert "starts" not in load_run(path).summary


@pytest.mark.slow
def test_interrupted_run_is_marked_incomplete_and_refused(tmp_path, monkeypatch):
    real_write_json = storage.write_json

    def interrupted(path, data):
        if path.name == "summary.json":
            raise KeyboardInterrupt
        real_write_json(path, data)

    monkeypatch.setattr(storage, "write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        runner.run(BOOTH, out=tmp_path, quiet=True)
    (path,) = tmp_path.iterdir()
    names = sorted(p.name for p in path.iterdir())
    assert names == [INCOMPLETE, "config.yaml", "critical_points.json", "progress.jsonl",
                     "trajectories.npz"]
    with np.load(path / "trajectories.npz") as npz:  # what was written is whole
        assert npz["x"].shape == (8, 2, 2)
    with pytest.raises(RunDirError, match="incomplete"):
        load_run(path)


@pytest.mark.slow
def test_run_directory_name_and_parent(booth_run):
    assert re.fullmatch(r"\d{8}T\d{6}Z-booth-float32", booth_run.name)


def test_distinct_critical_points_merge_nearby_end_points():
    resolved = resolve({"problem": {"name": "himmelblau"}, "start": {"point": [0, 0]}})
    kinds = {"minimum": 0, "maximum": 1, "saddle": 2, "not_critical": 4}
    x = np.array([[3.0, 2.0], [3.0 + 1e-6, 2.0], [-0.270845, -0.923039], [9.0, 9.0],
                  [3.0 - 1e-7, 2.0]])
    arrays = {
        "x_final": x,
        "value_final": np.array([0.0, 1e-12, 181.617, 5.0, 1e-14]),
        "grad_norm_final": np.array([1e-9, 1e-6, 1e-9, 3.0, 1e-12]),
        "kind": np.array([kinds["minimum"], kinds["minimum"], kinds["maximum"],
                          kinds["not_critical"], kinds["minimum"]]),
        "index": np.array([0, 0, 2, 0, 0]),
        "eigenvalues": np.ones((5, 2)),
    }
    points = runner._summary.distinct_critical_points(arrays, resolved)
    assert [(p["kind"], p["count"]) for p in points] == [("minimum", 3), ("maximum", 1)]
    np.testing.assert_array_equal(points[0]["x"], x[4])  # the best-resolved member
    assert [p["known"] for p in points] == ["minimum", "maximum"]
