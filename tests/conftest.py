"""Fixtures and hooks for the whole suite; shared helper functions live in tests/helpers.py.

The suite's time is mostly XLA compilation, but it does not turn JAX's persistent compilation
cache on for the test processes: within one run almost no program is compiled twice (a fresh
cache for a whole run was measured to save about a second), and a cache kept from run to run
would make a run depend on the ones before it, with entries written non-atomically by several
xdist workers at once. Programs are shared instead by keeping functions at module level and
caching the expensive results several tests read.

XLA:CPU splits each program's generated code into parts compiled on parallel threads. That
shortens one compile on an idle machine, but the suite keeps every core busy with its xdist
workers, and the splitting costs CPU of its own: one part per program
(``--xla_cpu_parallel_codegen_split_count=1``) compiled the same programs, to the same
results, in about 10% less CPU time (measured: six solve programs and a batch, three runs
each). The flag is set here, before any worker starts a JAX backend, for the test processes
and the ``optkit`` processes they start; users keep XLA's default.

Tracing allocates millions of short-lived Python objects, and the collector's full passes
over everything the imports left (jax, scipy, matplotlib) cost a worker about 4% of its time.
After collection the imported objects are frozen out of the collector's passes
(``gc.freeze``) and collections run less often: 2.3 → 0.9 s of collecting per worker on a
third of the suite.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

_SPLIT_FLAG = "--xla_cpu_parallel_codegen_split_count=1"
if _SPLIT_FLAG not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_SPLIT_FLAG}".strip()

import optkit  # noqa: E402, F401  (enables float64 before any test module makes an array)


@pytest.fixture(scope="session", autouse=True)
def _private_compilation_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs (optkit.run, ``optkit run``) use JAX's persistent compilation cache at
    $OPTKIT_CACHE_DIR, by default the user's ~/.cache/optkit/jax. The suite gets a fresh one
    of its own, so it neither writes to the user's cache nor passes because of what an earlier
    run left there. (One per xdist worker: workers never share cache files.)"""
    saved = os.environ.get("OPTKIT_CACHE_DIR")
    os.environ["OPTKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
    yield
    if saved is None:
        os.environ.pop("OPTKIT_CACHE_DIR", None)
    else:
        os.environ["OPTKIT_CACHE_DIR"] = saved


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
