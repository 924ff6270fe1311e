"""BatchSolve: a batched solve that runs in chunks of steps, resumable from its whole carry.

It compiles the driver's ``Loop`` (start / advance / finish) as three programs over the
starts, so the runner can report progress between chunks, stop on a signal and checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._pytree import as_start, flatten
from .._sharding import shard_starts
from ._api import _MINIMIZE_KW, _defaults, flat_objective
from ._base import Solver
from ._driver import Loop
from ._registry import make_solver
from ._result import Result
from ._status import RUNNING


class BatchSolve:
    """A resumable batched solve: runs in chunks of steps, reporting between them.

    ``BatchSolve(fun, x0s, method, **kw).run(steps_per_chunk, callback)`` returns what
    ``minimize_batch(fun, x0s, method, **kw)`` returns, bit for bit: each chunk resumes the
    driver's loop from its whole carry (see ``_driver.Loop``). ``callback(steps, running)``
    is called after every chunk with the step count reached and the number of starts still
    running. ``compile()`` compiles the three programs (start, advance, finish) ahead of time
    and returns the seconds it took, so compile and solve time can be reported apart.

    The starts are split over ``devices`` (default: every local device), padded to a multiple
    of their number with copies of the first start; the padding never reaches the result.
    Every array of the carry keeps that split from program to program.
    """

    def __init__(self, fun: Callable[[Any], jax.Array], x0s: Any,
                 method: str | Solver = "newton", *,
                 devices: list[jax.Device] | None = None, **kw: Any) -> None:
        x0s = as_start(x0s)
        first = jax.tree_util.tree_map(lambda a: a[0], x0s)
        flat0, unravel = flatten(first)
        options = {k: kw.pop(k) for k in list(kw) if k not in _MINIMIZE_KW}
        solver = make_solver(method, **options)
        grad_tol, self.max_steps, classify = _defaults(
            method, flat0, kw.get("grad_tol"), kw.get("max_steps"), kw.get("classify"))
        loop = Loop(
            fun=flat_objective(fun, unravel),
            solver=solver,
            grad_tol=grad_tol,
            x_tol=kw.get("x_tol", 0.0),
            f_tol=kw.get("f_tol", 0.0),
            max_steps=self.max_steps,
            record=bool(kw.get("record", False)),
        )
        flat_starts = jax.vmap(lambda x0: flatten(x0)[0])(x0s)
        self._starts, self._n, split = shard_starts(flat_starts, devices)
        # every carry leaf has the starts axis first: one sharding for all of them
        pinned: dict[str, Any] = {} if split is None else {"out_shardings": split}
        self._start = jax.jit(jax.vmap(loop.start), **pinned)
        self._advance = jax.jit(jax.vmap(loop.advance, in_axes=(0, None)), **(
            {} if split is None else {"in_shardings": (split, None), "out_shardings": split}))
        self._finish = jax.jit(jax.vmap(lambda c: loop.finish(c, classify, unravel)),
                               **({} if split is None else {"in_shardings": (split,)}))

    def carry_bytes(self) -> int:
        """Bytes of the loop's carry for the whole batch (solver state, counters, trajectory
        buffers): what stays in device memory for the length of the solve, found by tracing
        the start program (nothing is computed)."""
        shapes = jax.eval_shape(self._start, self._starts)
        return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize
                   for a in jax.tree_util.tree_leaves(shapes))

    def compile(self) -> float:
        t0 = time.perf_counter()
        carry_shape = jax.eval_shape(self._start, self._starts)
        self._start = self._start.lower(self._starts).compile()
        self._advance = self._advance.lower(carry_shape, jnp.int32(0)).compile()
        self._finish = self._finish.lower(carry_shape).compile()
        return time.perf_counter() - t0

    def run(self, steps_per_chunk: int | None = None,
            callback: Callable[[int, int], None] | None = None) -> Result:
        chunk = steps_per_chunk or self.max_steps
        carry = self._start(self._starts)
        steps = 0
        while True:
            steps = min(steps + chunk, self.max_steps)
            carry = self._advance(carry, jnp.int32(steps))
            running = int(jnp.sum(carry.status == RUNNING))
            if callback is not None:
                callback(steps, running)
            if running == 0 or steps >= self.max_steps:
                break
        result = self._finish(carry)
        if self._starts.shape[0] != self._n:
            result = jax.tree_util.tree_map(lambda a: a[: self._n], result)
        return result
