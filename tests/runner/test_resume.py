"""Checkpoints and ``optkit resume``: what an interrupted run keeps, and that resuming it gives
bit for bit the uninterrupted run (in-process; the subprocess checks are test_interrupt.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from optkit import runner, storage
from optkit.solvers import BatchSolve, Status
from optkit.storage import CheckpointError, config_hash, read_checkpoint, write_checkpoint

# Rosenbrock in 4 variables by BFGS: about 45 steps, several chunks (1, 4, 16, ... steps);
# trajectories are recorded, so the bit-for-bit check covers every iterate and the BFGS
# matrix carried between chunks, not only the end points
CONFIG = {
    "name": "resume",
    "problem": {"name": "rosenbrock", "dim": 4},
    "start": {"uniform": {"low": -1.5, "high": 1.5, "count": 4, "seed": 2}},
    "solver": {"method": "bfgs"},
    "stop": {"grad_tol": 1e-8, "max_steps": 200},
    "record": {"trajectory": True},
}

LEAVES = [np.arange(12.0).reshape(4, 3), np.array([3, -1, 0, 7], np.int32),
          np.array([True, False, True, True]), np.float32([1.5, np.nan, -np.inf, 0.0])]
LAYOUT = [(a.shape, a.dtype) for a in LEAVES]


def test_checkpoint_round_trip_is_exact(tmp_path):
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(path, LEAVES, 17, "abc")
    leaves, steps = read_checkpoint(path, "abc", LAYOUT)
    assert steps == 17
    for got, want in zip(leaves, LEAVES, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)  # NaN and -inf included, bit for bit
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no temporary left


def _rewrite(path: Path, **changes: np.ndarray) -> None:
    with np.load(path, allow_pickle=False) as npz:
        data = {k: npz[k] for k in npz.files}
    data.update(changes)
    np.savez(path, **data)


@pytest.mark.parametrize("damage, message", [
    (lambda p: _rewrite(p, leaf_0=np.arange(12.0).reshape(4, 3) + 1e-300), "checksum"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "damaged checkpoint"),
    (lambda p: _rewrite(p, config_hash=np.asarray("other")), "another config"),
    (lambda p: _rewrite(p, jax_version=np.asarray("0.0.1")), "bit for bit"),
    (lambda p: _rewrite(p, leaf_9=np.zeros(2)), "expected 4 arrays"),
    (lambda p: p.unlink(), "no checkpoint"),
], ids=["bit-flip", "truncated", "config", "version", "extra-array", "missing"])
def test_checkpoint_refuses_damage(tmp_path, damage, message):
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(path, LEAVES, 5, "abc")
    damage(path)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path, "abc", LAYOUT)


def test_checkpoint_refuses_another_layout(tmp_path):
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(path, LEAVES, 5, "abc")
    with pytest.raises(CheckpointError, match=r"array 1 is int32\[4\], .* needs int64\[4\]"):
        read_checkpoint(path, "abc", [LAYOUT[0], ((4,), np.int64), *LAYOUT[2:]])
    with pytest.raises(CheckpointError, match="has 4 arrays, the solve's state 3"):
        read_checkpoint(path, "abc", LAYOUT[:3])


def test_config_hash_ignores_output_only():
    data = {"problem": {"name": "booth"}, "output": {"dir": "a", "checkpoint_every": 60.0}}
    moved = {**data, "output": {"dir": "b", "checkpoint_every": 1.0}}
    assert config_hash(data) == config_hash(moved)
    assert config_hash(data) != config_hash({**data, "stop": {"max_steps": 5}})


def _interrupt_after(monkeypatch, chunks: int, signum: int = signal.SIGINT) -> None:
    """The next run sends itself ``signum`` after its ``chunks``-th chunk of steps."""
    original = BatchSolve.chunks

    def chunks_then_signal(self, *args, **kwargs):
        for count, item in enumerate(original(self, *args, **kwargs), start=1):
            if count == chunks:
                os.kill(os.getpid(), signum)
            yield item

    monkeypatch.setattr(BatchSolve, "chunks", chunks_then_signal)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path / storage.TRAJECTORIES_FILE, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.slow
def test_interrupted_run_keeps_its_work_and_resumes_bit_for_bit(tmp_path, monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers need the main thread")
    whole = runner.run(CONFIG, out=tmp_path / "whole", quiet=True)
    expected = _arrays(whole)
    assert np.all(expected["status"] == Status.CONVERGED)

    _interrupt_after(monkeypatch, 2)
    written = []  # a periodic checkpoint after every chunk, then the one at the signal
    monkeypatch.setattr(storage, "write_checkpoint",
                        lambda *a, **k: written.append(a[2]) or write_checkpoint(*a, **k))
    with pytest.raises(runner.RunInterrupted) as stopped:
        runner.run({**CONFIG, "output": {"checkpoint_every": 1e-9}}, out=tmp_path / "cut",
                   quiet=True)
    monkeypatch.undo()
    assert stopped.value.exit_code == 130
    assert written == [1, 5]
    (path,) = (tmp_path / "cut").iterdir()
    assert f"optkit resume {path}" in str(stopped.value)

    # the partial run is a readable run directory: work so far, unfinished starts INTERRUPTED
    record = storage.load_run(path)
    steps = record.summary["interrupted"]["steps"]
    assert record.summary["interrupted"]["signal"] == "SIGINT"
    partial = record.trajectories
    assert set(partial["status"]) == {Status.INTERRUPTED}
    assert 0 < partial["num_steps"].max() <= steps < expected["num_steps"].max()
    rows = partial["x"].shape[1]
    np.testing.assert_array_equal(partial["x"], expected["x"][:, :rows])
    assert (path / storage.CHECKPOINT_FILE).exists()
    log = [json.loads(line) for line in (path / "progress.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log][-1] == steps
    assert all(entry["running"] == 4 for entry in log)

    assert runner.resume(path, quiet=True) == path
    got = _arrays(path)
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert not (path / storage.CHECKPOINT_FILE).exists()
    assert not (path / storage.INCOMPLETE).exists()
    summary = json.loads((path / storage.SUMMARY_FILE).read_text())
    assert "interrupted" not in summary and summary["resumed_from_step"] == steps
    with pytest.raises(storage.RunDirError, match="complete; nothing to resume"):
        runner.resume(path)

    # SIGTERM while compiling: nothing solved, a checkpoint that restarts the solve
    def compile_then_signal(self):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the main thread must not wait for the compiling thread
        raise RuntimeError("abandoned")

    monkeypatch.setattr(BatchSolve, "compile", compile_then_signal)
    with pytest.raises(runner.RunInterrupted, match=r"\(SIGTERM\) while compiling") as stopped:
        runner.run(CONFIG, out=tmp_path / "early", quiet=True)
    monkeypatch.undo()
    assert stopped.value.exit_code == 143
    (path,) = (tmp_path / "early").iterdir()
    assert (path / storage.INCOMPLETE).exists() and not (path / storage.SUMMARY_FILE).exists()
    runner.resume(path, quiet=True)
    got = _arrays(path)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_resume_refuses_without_checkpoint_or_with_code_inside(tmp_path):
    path = storage.create_run_dir(tmp_path, "cut")
    with pytest.raises(storage.RunDirError, match="no checkpoint.npz .* optkit run"):
        runner.resume(path)
    # a config naming a file inside the run directory: refused before anything is imported
    marker = tmp_path / "imported"
    (path / "helper.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                    "def f(x):\n    return (x ** 2).sum()\n")
    data = {"problem": {"function": f"{path / 'helper.py'}:f", "dim": 2},
            "start": {"point": [1.0, 1.0]}}
    storage.write_yaml(path / storage.CONFIG_FILE, data)
    write_checkpoint(path / storage.CHECKPOINT_FILE, [], -1, config_hash(data))
    with pytest.raises(storage.RunDirError, match="inside the run directory"):
        runner.resume(path)
    assert not marker.exists()
