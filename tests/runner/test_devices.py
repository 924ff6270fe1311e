"""Runs split over several devices and several processes give the one-device run directory.

Forced host devices (``XLA_FLAGS=--xla_force_host_platform_device_count=K``) must be set before
JAX starts, so each device count runs in a child process; the distributed test starts two
local CPU processes under ``jax.distributed`` (gloo collectives) exactly as a user would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
# (config, overrides): a 1-D problem whose 11 grid starts divide evenly over neither 2 nor 4
# devices (padding is exercised), and a pytree problem. Each run pays a compile per device
# count, so the list is the smallest that covers those shapes of run.
RUNS = [
    ("quartic.yaml", []),
    ("matrix_factorization.yaml", []),
]


def _run_all(out: Path) -> list[Path]:
    """Every run of RUNS and one critical-point search, written under ``out``."""
    from optkit.runner import run, run_critical

    paths = [run(str(CONFIGS / name), overrides, out=out, quiet=True, progress=False)
             for name, overrides in RUNS]
    paths.append(run_critical(str(CONFIGS / "cubic_saddle.yaml"), ["analysis.num_starts=60"],
                              out=out, quiet=True, progress=False))
    return [Path(p) for p in paths]


# a child process runs _run_all with its own device count (fixed before JAX starts)
CHILD = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from tests.runner.test_devices import _run_all
print(json.dumps([str(p) for p in _run_all(Path(sys.argv[1]))]))
"""


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.pop("OPTKIT_DISTRIBUTED", None)
    return env


def _run_child(devices: int, out: Path) -> list[Path]:
    done = subprocess.run([sys.executable, "-c", CHILD, str(out), str(ROOT)],
                          env=_env(devices), capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return [Path(p) for p in json.loads(done.stdout.strip().splitlines()[-1])]


def _contents(path: Path) -> dict[str, object]:
    """What must not depend on the device count: every array, the critical points, and the
    summary's results (not its timings, dates or device description)."""
    found: dict[str, object] = {}
    if (path / "trajectories.npz").exists():
        with np.load(path / "trajectories.npz") as npz:
            found.update({f"npz:{k}": npz[k] for k in npz.files})
    if (path / "critical_points.json").exists():
        found["critical_points"] = json.loads((path / "critical_points.json").read_text())
    summary = json.loads((path / "summary.json").read_text())
    for key in ("num_starts", "status_counts", "kind_counts", "best", "steps", "starts",
                "num_points"):
        found[f"summary:{key}"] = summary.get(key)
    config = yaml.safe_load((path / "config.yaml").read_text())
    config.pop("output")  # each run writes under its own folder
    found["config"] = config
    return found


def _assert_same(a: Path, b: Path) -> None:
    left, right = _contents(a), _contents(b)
    assert left.keys() == right.keys(), (a, b)
    for key in left:
        if key.startswith("npz:"):
            np.testing.assert_array_equal(left[key], right[key], err_msg=f"{b.name}: {key}")
        else:
            assert left[key] == right[key], f"{b.name}: {key} differs"


@pytest.fixture(scope="module")
def one_device(tmp_path_factory) -> list[Path]:
    # this process has the one device a child would get (the suite forces no device count):
    # no child start-up to pay
    assert jax.device_count() == 1
    return _run_all(tmp_path_factory.mktemp("one"))


@pytest.mark.slow
# 4 devices: uneven splits and padding; two devices are covered by the two-process test
@pytest.mark.parametrize("devices", [4])
def test_runs_on_several_devices_match_one_device(one_device, devices, tmp_path):
    paths = _run_child(devices, tmp_path)
    for single, split in zip(one_device, paths, strict=True):
        summary = json.loads((split / "summary.json").read_text())
        assert summary["device"]["count"] == devices
        _assert_same(single, split)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_under_jax_distributed_match_one_process(one_device, tmp_path):
    config, overrides = RUNS[0]
    port = _free_port()
    procs = []
    for rank in (1, 0):
        env = _env(1)
        env.update(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", OPTKIT_NUM_PROCESSES="2",
                   OPTKIT_PROCESS_ID=str(rank))
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "optkit.cli", "run", str(CONFIGS / config), *overrides,
             "--distributed", "--out", str(tmp_path), "--quiet", "--no-progress"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err[-2000:]
    follower, lead = (out.strip() for out, _ in outputs)
    assert follower == ""  # only process 0 writes and prints
    written = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert [str(p) for p in written] == [lead]
    summary = json.loads((Path(lead) / "summary.json").read_text())
    assert summary["device"]["process_count"] == 2
    _assert_same(one_device[0], Path(lead))
