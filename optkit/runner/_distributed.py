"""Runs over several processes (hosts) with JAX's multi-controller runtime.

Every process reads the same config and solves a contiguous block of the starts on its own
local devices; the blocks are gathered (``multihost_utils.process_allgather``) and process 0
alone writes the run directory and prints. Each start's solve is independent, so the result
is the one-process result.

:func:`initialize` joins the runtime. The coordinator's address, the number of processes and
this process's id come from, in order: ``JAX_COORDINATOR_ADDRESS``, ``OPTKIT_NUM_PROCESSES``
and ``OPTKIT_PROCESS_ID``; or JAX's own detection of SLURM, Open MPI and Kubernetes jobs.
On CPU the gloo collectives are switched on (JAX's CPU backend has no others).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np

#: environment variables that switch the runtime on / describe the job
ENABLE_ENV = "OPTKIT_DISTRIBUTED"
NUM_PROCESSES_ENV = "OPTKIT_NUM_PROCESSES"
PROCESS_ID_ENV = "OPTKIT_PROCESS_ID"


def requested() -> bool:
    """True when the environment asks for a distributed run (``OPTKIT_DISTRIBUTED=1``)."""
    return os.environ.get(ENABLE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def initialize() -> None:
    """Join JAX's multi-controller runtime (once; before any JAX computation).

    Raises:
        ValueError: the job description is incomplete (one line naming what is missing).
    """
    if jax.distributed.is_initialized():
        return
    num, pid = os.environ.get(NUM_PROCESSES_ENV), os.environ.get(PROCESS_ID_ENV)
    try:
        num_processes = None if num is None else int(num)
        process_id = None if pid is None else int(pid)
    except ValueError:
        raise ValueError(f"{NUM_PROCESSES_ENV} and {PROCESS_ID_ENV} must be integers, got "
                         f"{num!r} and {pid!r}") from None
    # JAX's CPU backend needs gloo for collectives across processes; it must be chosen
    # before the backend starts, and is ignored on GPU and TPU
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=os.environ.get("JAX_COORDINATOR_ADDRESS"),
                                   num_processes=num_processes, process_id=process_id)
    except (ValueError, TypeError, RuntimeError) as err:
        raise ValueError(f"--distributed: cannot join the JAX runtime ({' '.join(str(err).split())}"
                         f"); set JAX_COORDINATOR_ADDRESS, {NUM_PROCESSES_ENV} and "
                         f"{PROCESS_ID_ENV}, or run under SLURM / Open MPI / Kubernetes") from None


def is_lead() -> bool:
    """True on the process that writes the run directory (process 0)."""
    return jax.process_index() == 0


def local_block(starts: np.ndarray) -> np.ndarray:
    """This process's contiguous block of the starts: ⌈n/P⌉ rows each (the last block padded
    with copies of the first start, so every process runs the same compiled shapes)."""
    count, rank = jax.process_count(), jax.process_index()
    size = -(-len(starts) // count)
    block = starts[rank * size:(rank + 1) * size]
    if len(block) < size:
        block = np.concatenate([block, np.repeat(starts[:1], size - len(block), axis=0)])
    return block


def gather(tree: Any, count: int) -> Any:
    """The blocks of every process, in process order, trimmed to the ``count`` real starts."""
    from jax.experimental import multihost_utils

    with _stdout_to_stderr():  # gloo announces its connections on stdout: keep that clean
        gathered = multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree_util.tree_map(lambda a: np.asarray(a)[:count], gathered)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 points at stderr within the block (for C++ code that prints)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
