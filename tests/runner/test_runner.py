"""How the runner solves: in chunks of steps, with progress reports between them."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import optkit
from tests.helpers import rosenbrock


@pytest.mark.slow
@pytest.mark.parametrize("method, kw", [("newton", {"record": True}),
                                        ("bfgs", {"max_steps": 300})], ids=["newton", "bfgs"])
def test_chunked_run_equals_one_uninterrupted_batch(method, kw):
    # the runner solves in chunks of steps to report progress; each chunk resumes the loop's
    # whole carry, so the result is bit for bit that of minimize_batch in one piece
    from optkit.solvers import BatchSolve

    starts = np.random.default_rng(3).uniform(-2, 2, (64, 2))
    whole = optkit.minimize_batch(rosenbrock, starts, method, **kw)
    reports: list[tuple[int, int]] = []
    chunked = BatchSolve(rosenbrock, starts, method, **kw).run(
        5, lambda steps, running: reports.append((steps, running)))
    assert len(reports) > 2 and reports[-1][1] == 0
    assert [s for s, _ in reports] == list(range(5, 5 * len(reports) + 1, 5))
    for a, b in zip(jax.tree_util.tree_leaves(whole), jax.tree_util.tree_leaves(chunked),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("memory, refused", [(2**20, True), (2**40, False)])
def test_device_memory_check(monkeypatch, memory, refused):
    # 1,000 starts × 1,001 recorded rows of 8 float64 (x, f, ‖∇f‖, t, Newton's 3 aux) ≈ 64 MB
    # of carry: refused on a 1 MiB device (after tracing a one-start probe for the exact
    # size), accepted on a 1 TiB one by the size bound alone, without the probe
    from optkit.config import ConfigError, resolve
    from optkit.runner import _run

    resolved = resolve({"problem": {"name": "rosenbrock"},
                        "start": {"uniform": {"count": 1000}}})
    monkeypatch.setattr(_run, "device_memory", lambda device: memory)
    probes = []
    monkeypatch.setattr(_run, "BatchSolve", lambda *a, **k: probes.append(a) or
                        _real_batch_solve(*a, **k))
    devices = jax.local_devices()[:1]
    if refused:
        with pytest.raises(ConfigError, match="1000 starts need about 0.06 GiB of cpu memory"):
            _run._check_device_memory(resolved, devices, np.dtype("float64"))
        assert len(probes) == 1
    else:
        _run._check_device_memory(resolved, devices, np.dtype("float64"))
        assert probes == []


def _real_batch_solve(*args, **kw):
    from optkit.solvers import BatchSolve

    return BatchSolve(*args, **kw)
