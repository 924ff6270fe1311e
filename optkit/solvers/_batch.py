"""BatchSolve: a batched solve that runs in chunks of steps, resumable from its whole carry.

It compiles the driver's ``Loop`` (start / advance / finish) as three programs over the
starts, so the runner can report progress between chunks, stop on a signal and checkpoint.

Chunks are sized by wall time, not by step count (:meth:`BatchSolve.chunks`): the first chunk
is one step, and each next one is scaled from the measured time per step towards
``CHUNK_SECONDS``, so the host never waits much longer than that in one device-to-host sync
and a signal is noticed within about that time, whatever the problem's cost per step.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._compile import jit
from .._linalg import norm
from .._pytree import as_start, flatten
from .._sharding import shard_starts
from ._api import _MINIMIZE_KW, _defaults, as_args, flat_objective, with_hessian
from ._base import Solver
from ._bounded import bounded
from ._driver import Loop
from ._registry import make_solver
from ._result import HESSIAN_MAX_SIZE, Result
from ._status import RUNNING

#: target wall time of one chunk of steps (seconds): the longest the host waits in a sync
CHUNK_SECONDS = 0.25
#: a chunk grows by at most this factor over the previous one (the cost per step can rise as
#: line searches reject more trials, and an overshoot delays a stop)
CHUNK_GROWTH = 4


@dataclasses.dataclass(frozen=True)
class ChunkStats:
    """The batch between two chunks (padding excluded): starts still running, the best
    finite f, the median and largest ‖∇f‖₂ over all starts (NaN where none is finite)."""

    running: int
    best_value: float
    grad_norm_median: float
    grad_norm_max: float


class BatchSolve:
    """A resumable batched solve: runs in chunks of steps, reporting between them.

    ``BatchSolve(fun, x0s, method, **kw).run(steps_per_chunk, callback)`` returns what
    ``minimize_batch(fun, x0s, method, **kw)`` returns, bit for bit: each chunk resumes the
    driver's loop from its whole carry (see ``_driver.Loop``). ``callback(steps, running)``
    is called after every chunk with the step count reached and the number of starts still
    running. ``compile()`` compiles the three programs (start, advance, finish) ahead of time
    and returns the seconds it took, so compile and solve time can be reported apart.

    The pieces are public for a runner that stops and resumes: :meth:`start` (the carry at
    the starts), :meth:`chunks` (advance in wall-time-sized chunks), :meth:`finish` (the
    Result of any carry, finished or not), :meth:`to_host` / :meth:`from_host` (the carry's
    leaves as numpy arrays and back, for a checkpoint) and :meth:`carry_layout`.

    The starts are split over ``devices`` (default: every local device), padded to a multiple
    of their number with copies of the first start; the padding never reaches the result.
    Every array of the carry keeps that split from program to program.
    """

    def __init__(self, fun: Callable[[Any], jax.Array], x0s: Any,
                 method: str | Solver = "newton", *,
                 devices: list[jax.Device] | None = None, args: Any = (),
                 **kw: Any) -> None:
        # args (minimize's data arguments) are constants of these programs, compiled per
        # instance anyway
        x0s = as_start(x0s)
        first = jax.tree_util.tree_map(lambda a: a[0], x0s)
        flat0, unravel = flatten(first)
        bounds = kw.pop("bounds", None)
        options = {k: kw.pop(k) for k in list(kw) if k not in _MINIMIZE_KW}
        solver = (make_solver(method, **options) if bounds is None
                  else bounded(method, bounds, first, **options))
        grad_tol, self.max_steps, classify = _defaults(
            method, flat0, kw.get("grad_tol"), kw.get("max_steps"), kw.get("classify"))
        loop = Loop(
            fun=flat_objective(fun, unravel, as_args(args)),
            solver=solver,
            grad_tol=grad_tol,
            x_tol=kw.get("x_tol", 0.0),
            rel_grad_tol=float(kw.get("rel_grad_tol", 0.0)),
            f_tol=kw.get("f_tol", 0.0),
            max_steps=self.max_steps,
            record=bool(kw.get("record", False)),
            batched=True,
        )
        flat_starts = jax.vmap(lambda x0: flatten(x0)[0])(x0s)
        self._starts, self._n, split = shard_starts(flat_starts, devices)
        self._split = split
        self._device = None if devices is None else list(devices)[0]
        # every carry leaf has the starts axis first: one sharding for all of them
        pinned: dict[str, Any] = {} if split is None else {"out_shardings": split}
        self._start = jit(jax.vmap(loop.start), **pinned)
        self._advance = jit(jax.vmap(loop.advance, in_axes=(0, None)), **(
            {} if split is None else {"in_shardings": (split, None), "out_shardings": split}))
        hessian = kw.get("hessian")
        hessian = flat0.size <= HESSIAN_MAX_SIZE if hessian is None else bool(hessian)
        self._finish = jit(jax.vmap(lambda c: with_hessian(loop.finish(c, classify, unravel),
                                                               loop.fun, hessian)),
                               **({} if split is None else {"in_shardings": (split,)}))
        # what the host needs between chunks: three numbers per start, not the carry
        self._stats = jit(lambda c: (c.status == RUNNING, c.state.f, jax.vmap(norm)(c.state.g)),
                              **({} if split is None else {"in_shardings": (split,)}))
        self._carry_shape: Any = None

    @property
    def num_starts(self) -> int:
        return self._n

    def _shape(self) -> Any:
        if self._carry_shape is None:
            self._carry_shape = jax.eval_shape(self._start, self._starts)
        return self._carry_shape

    def carry_bytes(self) -> int:
        """Bytes of the loop's carry for the whole batch (solver state, counters, trajectory
        buffers): what stays in device memory for the length of the solve, found by tracing
        the start program (nothing is computed)."""
        return sum(int(np.prod(a.shape)) * np.dtype(a.dtype).itemsize
                   for a in jax.tree_util.tree_leaves(self._shape()))

    def carry_layout(self) -> list[tuple[tuple[int, ...], np.dtype]]:
        """``(shape, dtype)`` of every leaf of the carry, in ``tree_leaves`` order."""
        return [(tuple(a.shape), np.dtype(a.dtype))
                for a in jax.tree_util.tree_leaves(self._shape())]

    def compile(self) -> float:
        """Compile the start, advance and finish programs; return the seconds it took."""
        t0 = time.perf_counter()
        carry_shape = self._shape()
        self._start = self._start.lower(self._starts).compile()
        self._advance = self._advance.lower(carry_shape, jnp.int32(0)).compile()
        self._finish = self._finish.lower(carry_shape).compile()
        self._stats = self._stats.lower(carry_shape).compile()
        return time.perf_counter() - t0

    def start(self) -> Any:
        """The loop's carry at the starts, evaluated (f, ∇f and the first direction; nothing
        stepped yet): advancing to 0 steps runs the trip that evaluates x₀ where a solver
        leaves that to the loop (``Solver.evaluates_start_in_loop``) and nothing otherwise, so
        :meth:`values` of this carry are the starts' own."""
        return self._advance(self._start(self._starts), jnp.int32(0))

    def advance(self, carry: Any, until: int) -> Any:
        """Iterate every running start until it has ``until`` accepted steps (or stops)."""
        return self._advance(carry, jnp.int32(min(until, self.max_steps)))

    def values(self, carry: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per start (padding excluded): whether it is running, f and ‖∇f‖₂ at its current
        iterate (waits for the carry: a device-to-host sync of three numbers per start)."""
        running, value, grad_norm = (np.asarray(a)[: self._n]
                                     for a in jax.device_get(self._stats(carry)))
        return running, value, grad_norm

    def stats(self, carry: Any) -> ChunkStats:
        """:class:`ChunkStats` of a carry (waits for it: a device-to-host sync)."""
        running, value, grad_norm = self.values(carry)
        finite_f, finite_g = value[np.isfinite(value)], grad_norm[np.isfinite(grad_norm)]
        return ChunkStats(
            running=int(running.sum()),
            best_value=float(finite_f.min()) if finite_f.size else float("nan"),
            grad_norm_median=float(np.median(finite_g)) if finite_g.size else float("nan"),
            grad_norm_max=float(finite_g.max()) if finite_g.size else float("nan"))

    def chunks(self, carry: Any, steps: int = 0, target_seconds: float = CHUNK_SECONDS
               ) -> Iterator[tuple[Any, int, ChunkStats]]:
        """Advance ``carry`` (at ``steps``) to the end in chunks of about ``target_seconds``
        each, yielding ``(carry, steps, stats)`` after each; stops early when no start is
        running. The first chunk is one step; each next one is the measured time per step
        scaled to the target (growing at most :data:`CHUNK_GROWTH` times per chunk)."""
        chunk = 1
        while steps < self.max_steps:
            t0 = time.perf_counter()
            until = min(steps + chunk, self.max_steps)
            carry = self.advance(carry, until)
            stats = self.stats(carry)
            per_step = (time.perf_counter() - t0) / (until - steps)
            steps = until
            yield carry, steps, stats
            if stats.running == 0:
                return
            chunk = max(1, min(CHUNK_GROWTH * chunk, int(target_seconds / max(per_step, 1e-9))))

    def finish(self, carry: Any) -> Result:
        """The Result of a carry; starts still running keep status code ``RUNNING`` (-1)."""
        result = self._finish(carry)
        if self._starts.shape[0] != self._n:
            result = jax.tree_util.tree_map(lambda a: a[: self._n], result)
        return result

    def to_host(self, carry: Any) -> list[np.ndarray]:
        """The carry's leaves as numpy arrays (padding included), in ``tree_leaves`` order."""
        return [np.asarray(a) for a in jax.device_get(jax.tree_util.tree_leaves(carry))]

    def from_host(self, leaves: Sequence[np.ndarray]) -> Any:
        """A carry on the solve's devices from :meth:`to_host`'s leaves (the layout is checked
        by the caller against :meth:`carry_layout`)."""
        treedef = jax.tree_util.tree_structure(self._shape())
        target = self._split if self._split is not None else self._device
        placed = [jax.device_put(np.asarray(a), target) for a in leaves]
        return jax.tree_util.tree_unflatten(treedef, placed)

    def run(self, steps_per_chunk: int | None = None,
            callback: Callable[[int, int], None] | None = None) -> Result:
        """Solve to the end, in chunks of ``steps_per_chunk`` steps (default: sized by wall
        time, :meth:`chunks`), calling ``callback(steps, running)`` after each."""
        carry = self.start()
        if steps_per_chunk is None:
            chunks = self.chunks(carry)
            for carry, steps, stats in chunks:  # noqa: B007
                if callback is not None:
                    callback(steps, stats.running)
            return self.finish(carry)
        steps = 0
        while True:
            steps = min(steps + steps_per_chunk, self.max_steps)
            carry = self.advance(carry, steps)
            running = self.stats(carry).running
            if callback is not None:
                callback(steps, running)
            if running == 0 or steps >= self.max_steps:
                break
        return self.finish(carry)
