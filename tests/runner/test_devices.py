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

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
# (config, overrides): 30 starts do not divide evenly over 4 devices (padding is exercised);
# a pytree problem; an 1-D problem. Each child pays a JAX start-up and a compile per config,
# so the list is the smallest that covers those three shapes of run.
RUNS = [
    ("multistart.yaml", ["start.uniform.count=30", "stop.max_steps=60"]),
    ("quartic.yaml", []),
    ("matrix_factorization.yaml", []),
]
CHILD = """
import sys, json
import optkit
from optkit.runner import run, run_critical
out = sys.argv[1]
paths = []
for name, overrides in json.loads(sys.argv[2]):
    paths.append(str(run(name, overrides, out=out, quiet=True, progress=False)))
paths.append(str(run_critical(sys.argv[3], ["analysis.num_starts=60"], out=out, quiet=True,
                              progress=False)))
print(json.dumps(paths))
"""


def _env(devices: int) -> dict[str, str]:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.pop("OPTKIT_DISTRIBUTED", None)
    return env


def _run_child(devices: int, out: Path) -> list[Path]:
    runs = [(str(CONFIGS / name), overrides) for name, overrides in RUNS]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out), json.dumps(runs),
         str(CONFIGS / "cubic_saddle.yaml")],
        env=_env(devices), capture_output=True, text=True, timeout=600, check=False)
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
    return _run_child(1, tmp_path_factory.mktemp("one"))


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
