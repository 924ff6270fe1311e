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
