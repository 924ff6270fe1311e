"""Config → problem + solver → one batched, compiled solve → run directory.

``run`` solves every start of a config as one batched, compiled solve (vmap over the starts,
sharded over the local devices where there are several). Its programs are lowered and compiled
ahead of time, so the summary reports compile and solve seconds separately, and JAX's
persistent compilation cache makes a repeated run skip compilation.

The compiled loop runs in chunks of steps sized by wall time (about a quarter of a second
each, ``BatchSolve.chunks``), reporting between them: the progress line, the live log
``progress.jsonl``, a periodic ``checkpoint.npz`` (``output.checkpoint_every``) and the check
for a signal. Each chunk resumes the loop from its whole carry (solver state, counters,
trajectory buffers; ``optkit.solvers.BatchSolve``), so the result is bit for bit that of
``minimize_batch`` run in one piece, and so is a run finished by :func:`resume`.

Signals: SIGINT and SIGTERM stop a run within about a chunk. Before the run directory exists
they stop it at once; while another thread traces and compiles (compilation cannot be
interrupted safely in-process) the main thread watches for them and stops at once, leaving a
checkpoint that restarts the solve; during the solve the run stops after the current chunk
and saves a partial run (summary and trajectories so far, unfinished starts INTERRUPTED) with
a checkpoint of the carry. :class:`RunInterrupted` carries the one-line message and the exit
code (130, 143).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import ValidationError
from rich.console import Console

from .. import _limits, storage
from .._compile import jit
from .._devices import compilation_cache, select_devices
from ..config import (
    ConfigError,
    FunctionProblem,
    NamedProblem,
    Resolved,
    RunConfig,
    resolve,
    resolve_file,
)
from ..problems._registry import BUILT_IN
from ..solvers import BatchSolve, SumOfSquares
from ..solvers._batch import ChunkStats
from ..solvers._status import RUNNING, Status
from ..storage._checkpoint import NOT_STARTED
from ._distributed import gather, is_lead, local_block
from ._report import RunProgress, progress_display, render_points, render_summary
from ._summary import (
    distinct_critical_points,
    header,
    kind_counts,
    mark_known,
    point_dict,
    points_file,
    run_summary,
)

#: a recorded trajectory larger than this is refused before anything is compiled
MAX_TRAJECTORY_BYTES = 4 * 2**30
#: figures draw f for problems of at most this many variables
SURFACE_MAX_DIM = 2
#: the live log of a run directory: one JSON object per chunk of steps
PROGRESS_FILE = "progress.jsonl"

T = TypeVar("T")


class RunError(RuntimeError):
    """The solve itself failed (not the config); the CLI exits with status 1."""


def run(
    config: str | os.PathLike[str] | RunConfig | dict[str, Any],
    overrides: Iterable[str] = (),
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool = True,
) -> Path | None:
    """Run a config and write its run directory; return the directory's path.

    Under JAX's multi-controller runtime (``jax.process_count() > 1``) every process solves
    its block of the starts; process 0 writes the directory and returns its path, the others
    return None.

    SIGINT and SIGTERM (when called from the main thread) stop the run within about a chunk
    of steps (:data:`optkit.solvers._batch.CHUNK_SECONDS`): what was done is saved as a
    partial run with a checkpoint (see :func:`resume`) and :class:`RunInterrupted` is raised.

    Args:
        config: a YAML file, a dict with the same content, or a :class:`RunConfig`.
        overrides: ``"KEY=VALUE"`` strings (VALUE is YAML), e.g. ``"stop.max_steps=50"``.
        out: parent directory of the run directory (replaces ``output.dir``).
        quiet: print nothing (the command line then prints only the path).
        progress: show the phase, a bar over the steps and the elapsed time on a terminal.

    Raises:
        ConfigError: the config, its overrides or its device request are invalid.
        RunError: the solve failed; the run directory is left marked ``INCOMPLETE``.
        RunInterrupted: a signal stopped the run (a ``KeyboardInterrupt``).
    """
    started = time.perf_counter()
    with _Signals() as signals:
        resolved = _resolve(config, overrides, out)
        cfg = resolved.config
        devices = select_devices(cfg.device, cfg.devices)
        dtype = _dtype(cfg.precision)
        _check_trajectory_size(resolved, dtype)
        _check_device_memory(resolved, devices, dtype)
        lead = is_lead()
        # from here on a signal only sets a flag: the run directory is saved before stopping
        signals.defer()
        with _run_directory(cfg, cfg.name or "run", "run", lead) as path:
            return _execute(resolved, path, devices, dtype, signals, started, quiet, progress,
                            checkpoint=None)


def resume(run_dir: str | os.PathLike[str], quiet: bool = False,
           progress: bool = True) -> Path:
    """Finish an interrupted run in place (``optkit resume RUN_DIR``).

    The solve continues from the directory's ``checkpoint.npz`` (the loop's whole carry,
    verified against the config's hash, the carry's shapes and dtypes and a checksum) with
    the config in the directory's ``config.yaml``, so the finished directory is bit for bit
    what the uninterrupted run writes (timings aside). A checkpoint written before the solve
    began restarts the solve from the beginning.

    Trust: resuming runs the same code as ``optkit run RUN_DIR/config.yaml``: a
    ``problem.function`` or ``imports`` named in config.yaml is imported (and named on
    stderr first), but never a file inside the run directory itself; such a config is
    refused.

    Raises:
        RunDirError: not a resumable run directory (complete, no or a damaged checkpoint,
            another process writing it, code inside the directory).
        RunInterrupted: a signal stopped it again (resume it again).
    """
    started = time.perf_counter()
    path = Path(run_dir)
    with _Signals() as signals:
        if not path.is_dir():
            raise storage.RunDirError(f"{path}: no such run directory")
        checkpoint = path / storage.CHECKPOINT_FILE
        if not checkpoint.exists():
            if not (path / storage.INCOMPLETE).exists() and (path / storage.SUMMARY_FILE).exists():
                raise storage.RunDirError(f"{path}: the run is complete; nothing to resume")
            raise storage.RunDirError(
                f"{path}: no {storage.CHECKPOINT_FILE} (the run stopped before its first "
                f"checkpoint); start it again with optkit run {path / storage.CONFIG_FILE}")
        lock = _lock(path)
        try:
            data = storage._record._read_yaml(path / storage.CONFIG_FILE)
            cfg_hash = storage.config_hash(data)
            cfg = _validated(data, path)
            _announce_user_code(cfg, path)
            resolved = _resolve(data, (), None)
            cfg = resolved.config
            devices = select_devices(cfg.device, cfg.devices)
            dtype = _dtype(cfg.precision)
            if jax.process_count() > 1:
                raise storage.RunDirError(f"{path}: a distributed run cannot be resumed")
            # the checkpoint's metadata now; its arrays against the compiled carry later
            leaves, steps = storage.read_checkpoint(checkpoint, cfg_hash)
            signals.defer()
            with _failures(path, "resume"):
                return _execute(resolved, path, devices, dtype, signals, started, quiet,
                                progress, checkpoint=(leaves, steps, cfg_hash))
        finally:
            lock.close()


@contextmanager
def _run_directory(cfg: RunConfig, name: str, what: str, lead: bool = True
                   ) -> Iterator[Path | None]:
    """A new run directory holding the resolved config, locked against a concurrent
    ``optkit resume``; marked complete when the block finishes, left marked incomplete (and
    reported as a RunError) when it fails. Only the lead process of a distributed run makes
    one (the others get None)."""
    if not lead:
        yield None
        return
    path = storage.create_run_dir(cfg.output.dir, name)
    lock = _lock(path)
    try:
        storage.write_yaml(path / storage.CONFIG_FILE, cfg.to_data())
        with _failures(path, what):
            yield path
        storage.mark_complete(path)
    finally:
        lock.close()


@contextmanager
def _failures(path: Path, what: str) -> Iterator[None]:
    """Any failure but an interrupt becomes a one-line RunError naming the directory."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, storage.RunDirError):
        raise
    except Exception as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        if "RESOURCE_EXHAUSTED" in reason:  # XLA's out-of-memory, whatever the device
            reason = ("the batch does not fit in device memory; use fewer starts, more "
                      "devices, record.trajectory=false or a lower stop.max_steps")
        raise RunError(f"{what} failed: {reason} (incomplete run directory: {path})") from err


class _Lock:
    """An exclusive ``flock`` on a run directory, held while a process writes it."""

    def __init__(self, path: Path) -> None:
        self.fd: int | None = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise storage.RunDirError(f"{path}: another optkit process is writing this run "
                                      "directory") from None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _lock(path: Path) -> _Lock:
    return _Lock(path)


def run_critical(
    config: str | os.PathLike[str] | RunConfig | dict[str, Any],
    overrides: Iterable[str] = (),
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool = True,
) -> Path | None:
    """The critical-point atlas of a config's problem (``optkit critical``): every critical
    point that ``find_critical_points`` finds in ``analysis.box`` (default: the problem's
    box), written as ``critical_points.json`` into a new run directory."""
    started = time.perf_counter()
    with _Signals() as signals, _critical(config, overrides, out, quiet, progress, signals,
                                          started) as path:
        return path


@contextmanager
def _critical(config: Any, overrides: Iterable[str], out: Any, quiet: bool, progress: bool,
              signals: _Signals, started: float) -> Iterator[Path | None]:
    from ..analysis import find_critical_points

    resolved = _resolve(config, overrides, out)
    if not is_lead():  # a distributed job searches on process 0 alone
        yield None
        return
    cfg = resolved.config
    devices = select_devices(cfg.device, cfg.devices)
    dtype = _dtype(cfg.precision)
    console = Console()
    box = cfg.analysis.box
    assert box is not None
    lower, upper = (jnp.asarray(b, dtype) for b in (box.lower, box.upper))
    signals.defer()

    def search() -> tuple[list[Any], float, dict[str, np.ndarray] | None]:
        with jax.default_device(devices[0]):
            t0 = time.perf_counter()
            found = find_critical_points(_typed(resolved.flat_fun, dtype), lower, upper,
                                         num_starts=cfg.analysis.num_starts,
                                         seed=cfg.analysis.seed, devices=devices)
            seconds = time.perf_counter() - t0
            points = [point_dict(cp) for cp in found]
            _add_eigenvectors(points, resolved, dtype)
            return points, seconds, _surface(resolved, taylor_at=None)

    with _run_directory(cfg, f"{cfg.name}-critical", "critical-point search") as path:
        assert path is not None
        with compilation_cache() as cache_dir, \
                progress_display(console, enabled=progress and not quiet) as status:
            status(f"searching {cfg.analysis.num_starts} starts for critical points")
            try:
                points, seconds, surface = _in_worker(signals, search)
            except _Stopped:
                raise signals.stop(f"during the critical-point search (not resumable); "
                                   f"incomplete run directory: {path}") from None
        mark_known(points, resolved)
        summary = {
            **header(resolved, devices, "critical"),
            "timings": {"search_seconds": seconds,
                        "total_seconds": time.perf_counter() - started},
            "compilation_cache": None if cache_dir is None else str(cache_dir),
            "box": {"lower": box.lower, "upper": box.upper},
            "num_starts": cfg.analysis.num_starts,
            "num_points": len(points),
            "kind_counts": kind_counts([p["kind"] for p in points]),
        }
        storage.write_json(path / storage.CRITICAL_POINTS_FILE,
                           points_file(resolved, points, "find_critical_points"))
        if surface is not None:
            storage.write_npz(path / storage.SURFACE_FILE, surface)
        storage.write_json(path / storage.SUMMARY_FILE, summary)
    if signals.signum is not None:
        raise signals.stop(f"after the critical-point search finished: {path} is complete")
    if not quiet:
        console.print(render_summary(storage.to_jsonable(summary), path))
        console.print(render_points(storage.to_jsonable(points)))
    yield path


# ------------------------------------------------------------------------------ solving


def _resolve(config: Any, overrides: Iterable[str], out: Any) -> Resolved:
    out = None if out is None else str(out)
    if isinstance(config, (RunConfig, dict)):
        return resolve(config, overrides, out)
    return resolve_file(config, overrides, out)


def _dtype(precision: str) -> np.dtype:
    """The run's dtype; float64 needs JAX's 64-bit mode, switched on here (before the run
    creates any array) where ``OPTKIT_ENABLE_X64=0`` left it off."""
    if precision == "float64" and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return np.dtype(precision)


def _check_trajectory_size(resolved: Resolved, dtype: np.dtype) -> None:
    """Refuse a recorded trajectory that would not fit in memory: starts × (max_steps + 1)
    rows of x plus value, grad_norm, step size and up to three solver extras."""
    cfg = resolved.config
    if not cfg.record.trajectory:
        return
    starts, dim = resolved.starts.shape
    assert cfg.stop.max_steps is not None
    size = starts * (cfg.stop.max_steps + 1) * (dim + 6) * dtype.itemsize
    if size > MAX_TRAJECTORY_BYTES:
        raise ConfigError([
            f"record.trajectory: {starts} starts x {cfg.stop.max_steps + 1} steps would record "
            f"{size / 2**30:.1f} GiB (limit {MAX_TRAJECTORY_BYTES / 2**30:.0f} GiB); set "
            "record.trajectory=false or lower stop.max_steps"])


#: the carry may take at most this fraction of a device's memory (the step's temporaries, the
#: compiled program and the gathered result need the rest)
MEMORY_FRACTION = 0.4


def device_memory(device: jax.Device) -> int | None:
    """Bytes of memory a device can give a program: the accelerator's limit, or the host's
    physical memory for a CPU device (None where neither is known)."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


#: below this fraction of device memory the bound of ``_carry_bound`` is taken as proof
#: that the batch fits, without tracing a probe solve
CLEARLY_FITS = 0.01


def _carry_bound(resolved: Resolved, dtype: np.dtype) -> int:
    """A generous upper bound on one start's carry in bytes, from sizes alone: trajectory
    rows of x and a dozen scalars, and solver state up to four n×n matrices and 64
    vectors (dense quasi-Newton and L-BFGS memories are well inside it)."""
    dim, itemsize = resolved.problem.dim, np.dtype(dtype).itemsize
    record = resolved.config.record.trajectory
    rows = (resolved.config.stop.max_steps + 1) * (dim + 12) if record else 0
    return itemsize * (rows + 4 * dim * dim + 64 * dim + 256)


def _check_device_memory(resolved: Resolved, devices: list[jax.Device], dtype: np.dtype) -> None:
    """Refuse, before compiling, a batch whose carry (every start's solver state, counters
    and trajectory buffers, split over the devices) would not fit in device memory."""
    cfg = resolved.config
    starts_per_device = -(-resolved.num_starts // (len(devices) * jax.process_count()))
    limit = device_memory(devices[0])
    if limit is not None and (starts_per_device * _carry_bound(resolved, dtype)
                              <= CLEARLY_FITS * limit):
        return  # no need to trace a probe solve: even a generous bound fits
    probe = BatchSolve(_typed(resolved.flat_fun, dtype), np.asarray(resolved.starts[:1], dtype),
                       cfg.solver.method, devices=devices[:1], **_solve_keywords(cfg))
    starts = resolved.num_starts
    per_device = probe.carry_bytes() * starts_per_device
    if limit is not None and per_device > MEMORY_FRACTION * limit:
        raise ConfigError([
            f"start: {starts} starts need about {per_device / 2**30:.2f} GiB of "
            f"{devices[0].platform} memory per device for the solve's state, more than "
            f"{MEMORY_FRACTION:.0%} of the {limit / 2**30:.1f} GiB a device has; use fewer "
            "starts, more devices (devices: all), record.trajectory=false or a lower "
            "stop.max_steps"])


def _solve_keywords(cfg: RunConfig) -> dict[str, Any]:
    """BatchSolve's keywords from a resolved config: the stop section, recording,
    classification, bounds and the method's options (the same for the memory probe and the
    solve, so the probe's carry is the solve's)."""
    stop = cfg.stop
    return dict(grad_tol=stop.grad_tol, rel_grad_tol=stop.rel_grad_tol, x_tol=stop.x_tol,
                f_tol=stop.f_tol, max_steps=stop.max_steps, record=cfg.record.trajectory,
                classify=cfg.analysis.classify, bounds=_bounds(cfg), **cfg.solver.options)


def _bounds(cfg: RunConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """``problem.bounds`` as the (lower, upper) pair of flat vectors minimize takes."""
    bounds = getattr(cfg.problem, "bounds", None)
    if bounds is None:
        return None
    return np.asarray(bounds.lower, np.float64), np.asarray(bounds.upper, np.float64)


def _typed(fun: Any, dtype: np.dtype) -> Any:
    """f with its value in the run's precision (constants inside f may be float64)."""
    if isinstance(fun, SumOfSquares):  # least-squares solvers need r, not only ½‖r‖²
        return fun.astype(dtype)
    def typed(x: jax.Array) -> jax.Array:
        return jnp.asarray(fun(x)).astype(dtype)

    return typed


class RunInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run; ``str(err)`` is one line saying what stopped, where,
    and where the partial run is. ``exit_code`` is 128 + the signal number (130, 143)."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum

    def __str__(self) -> str:
        return str(self.args[0])


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: how often the main thread looks at the signal flag while another thread compiles
_POLL_SECONDS = 0.02


class _Signals:
    """SIGINT and SIGTERM handlers for the length of a run (main thread only).

    Until :meth:`defer`, nothing needs saving and a signal raises :class:`RunInterrupted` at
    once. After it, a signal only sets :attr:`signum`, which the run checks between chunks of
    steps and while it waits for compilation in another thread, so that it can save what was
    done first. The previous handlers are restored on exit.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._raise = True
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in _STOP_SIGNALS:
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)
        # what is left of the command (printing the path, exiting) is quicker than any save:
        # a signal from now on is only noted (see command_line_signals)
        PROCESS.after_run = True

    def defer(self) -> None:
        self._raise = False
        if self.signum is not None:  # arrived between the last bytecode and now
            self._raise = True
            self._handle(self.signum, None)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            # the command line's handler is what this run replaced: bound the save
            if not self._raise and self._saved.get(signum) == PROCESS.handle:
                _start_watchdog(signum)
        if self._raise:
            self._raise = False
            raise RunInterrupted(signum, f"interrupted ({_name(signum)}) while preparing the "
                                         "run; nothing was written")

    def stop(self, message: str) -> RunInterrupted:
        assert self.signum is not None
        return RunInterrupted(self.signum, f"interrupted ({_name(self.signum)}) {message}")


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _start_watchdog(signum: int) -> None:
    """The command line's bound on saving after a signal: if the process is still alive
    ``OPTKIT_SAVE_GRACE_SECONDS`` later (the main thread stuck in a device call that never
    returns, where no Python handler can run), one line and ``os._exit(128 + signum)``. Files
    are written atomically, so what is on disk stays whole; the run directory stays
    incomplete, with its last checkpoint."""
    grace = _limits.SAVE_GRACE_SECONDS.value

    stopped = RunInterrupted(signum, f"interrupted ({_name(signum)}); saving the partial run "
                                     f"did not finish within {grace} s, so the command stopped "
                                     f"without it ({_limits.SAVE_GRACE_SECONDS.knob()})")
    timer = threading.Timer(grace, exit_interrupted, args=(stopped,))
    timer.daemon = True
    timer.start()


class _Process:
    """SIGINT / SIGTERM in the command line's process outside a run (``cli.main``): before a
    run, nothing needs saving and the command stops at once (:class:`RunInterrupted`); after a
    run, the signal is noted and the process exits 128 + signum as soon as the command ends."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.after_run = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
        if not self.after_run:
            raise RunInterrupted(signum, f"interrupted ({_name(signum)})")


PROCESS = _Process()


def command_line_signals() -> _Process:
    """Install :data:`PROCESS`'s handler for SIGINT and SIGTERM (the command line's main)."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, PROCESS.handle)
    return PROCESS


def exit_now(code: int) -> NoReturn:
    """End the command-line process with ``code`` at once: flush, then ``os._exit``. Every
    file is on disk already (written atomically, fsynced); skipping the interpreter's teardown
    (about a second with JAX loaded) keeps a late signal's stop, and every exit, prompt."""
    if PROCESS.signum is not None and code not in (130, 143):
        # a signal while the finished command was printing or returning
        sys.stderr.write(f"error: interrupted ({_name(PROCESS.signum)}) as the command "
                         "finished; its run directory is complete\n")
        code = 128 + PROCESS.signum
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


class _Stopped(Exception):
    """A signal arrived while another thread worked (internal)."""


def _in_worker(signals: _Signals, fn: Callable[[], T]) -> T:
    """``fn()`` in a daemon thread while the main thread watches for signals.

    Tracing and XLA compilation cannot be interrupted safely in-process (an exception raised
    into them can hang or crash the interpreter), so they run elsewhere and the main thread
    raises :class:`_Stopped` within ``_POLL_SECONDS`` of a signal, abandoning the thread: the
    command line then exits with ``os._exit``, which no unfinished compilation can delay.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
            box["error"] = err

    thread = threading.Thread(target=target, name="optkit-compile", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(_POLL_SECONDS)
        if signals.signum is not None:
            raise _Stopped
    if "error" in box:
        raise box["error"]
    return box["value"]


def exit_interrupted(err: RunInterrupted) -> NoReturn:
    """What the command line does with a :class:`RunInterrupted`: its one line on stderr,
    then ``os._exit(130 | 143)`` at once. Everything worth keeping is on disk (files are
    written atomically and fsynced); skipping the interpreter's shutdown avoids waiting for,
    or crashing in, an XLA compilation still running in another thread."""
    sys.stdout.flush()
    sys.stderr.write(f"error: {err}\n")
    sys.stderr.flush()
    os._exit(err.exit_code)


def failure_message(path: Path | None) -> str | None:
    """One line when no start of the finished run at ``path`` converged (the command line then
    exits 1, the run directory being complete); None otherwise."""
    if path is None:
        return None
    summary = json.loads((path / storage.SUMMARY_FILE).read_text(encoding="utf-8"))
    counts = summary.get("status_counts") or {}
    if summary.get("command") != "run" or counts.get("CONVERGED", 0) > 0:
        return None
    detail = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    return f"no start converged ({detail}); run directory: {path}"


def _validated(data: dict[str, Any], path: Path) -> RunConfig:
    from ..config._errors import format_validation_errors

    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        line = format_validation_errors(err)[0]
        raise storage.RunDirError(f"{path / storage.CONFIG_FILE}: not a valid run config "
                                  f"({line})") from None


def _announce_user_code(cfg: RunConfig, path: Path) -> None:
    """The resume trust rule: code named in config.yaml is imported as ``optkit run`` would
    (and named on stderr first); code inside the run directory never is."""
    code = list(cfg.imports)
    if isinstance(cfg.problem, FunctionProblem):
        code.insert(0, cfg.problem.function)
    inside = path.resolve()
    for item in code:
        file = item.rsplit(":", 1)[0] if ":" in item else item
        if not file.endswith(".py"):
            continue
        target = Path(file) if Path(file).is_absolute() else Path.cwd() / file
        if inside in target.resolve().parents:
            raise storage.RunDirError(
                f"{path / storage.CONFIG_FILE}: names code inside the run directory ({item}); "
                "resume never imports from a run directory")
    if code:
        sys.stderr.write(f"resume: importing user code named in {path / storage.CONFIG_FILE}: "
                         f"{', '.join(code)}\n")


def _execute(resolved: Resolved, path: Path | None, devices: list[jax.Device], dtype: np.dtype,
             signals: _Signals, started: float, quiet: bool, progress: bool,
             checkpoint: tuple[list[np.ndarray], int, str] | None) -> Path | None:
    """Compile, solve in chunks, write; shared by :func:`run` (a new directory) and
    :func:`resume` (``checkpoint`` = the verified leaves, steps and config hash)."""
    cfg = resolved.config
    console = Console()
    lead = path is not None
    cfg_hash = checkpoint[2] if checkpoint else storage.config_hash(cfg.to_data())
    saver = _Saver(path, cfg_hash, cfg.output.checkpoint_every, jax.process_count() == 1)
    with compilation_cache() as cache_dir, \
            progress_display(console, enabled=progress and not quiet and lead) as status:
        outcome = _solve(resolved, devices, dtype, status, signals, saver, checkpoint)
    if path is None:  # another process writes the run directory
        return None
    arrays, points, summary = _records(resolved, outcome, devices)
    summary["timings"]["total_seconds"] = time.perf_counter() - started
    summary["compilation_cache"] = None if cache_dir is None else str(cache_dir)
    if checkpoint is not None:
        summary["resumed_from_step"] = max(checkpoint[1], 0)
    try:
        surface = _in_worker(signals, lambda: _extras(points, resolved, dtype))
    except _Stopped:
        # the solve is done: keep every result, without the figures' extras
        _write(path, arrays, points, None, summary, resolved)
        raise signals.stop(f"after the solve finished, while sampling f for the figures: "
                           f"{path} has every result but no surface.npz") from None
    _write(path, arrays, points, surface, summary, resolved)
    if signals.signum is not None:
        raise signals.stop(f"after the run finished: {path} is complete")
    if not quiet:
        console.print(render_summary(storage.to_jsonable(summary), path))
    return path


def _records(resolved: Resolved, outcome: dict[str, Any], devices: list[jax.Device]
             ) -> tuple[dict[str, np.ndarray], list[dict[str, Any]] | None, dict[str, Any]]:
    """trajectories.npz arrays, critical points and summary.json of a (partial) outcome;
    starts still running are INTERRUPTED."""
    cfg = resolved.config
    arrays = storage.trajectory_arrays(outcome["result"], outcome["x0s"], outcome["value0"],
                                       outcome["grad_norm0"], cfg.record.trajectory)
    arrays["status"] = np.where(arrays["status"] == RUNNING, np.int32(Status.INTERRUPTED),
                                arrays["status"]).astype(np.int32)
    points = distinct_critical_points(arrays, resolved) if "kind" in arrays else None
    summary = run_summary(resolved, arrays, outcome, devices, points)
    return arrays, points, summary


def _extras(points: list[dict[str, Any]] | None, resolved: Resolved, dtype: np.dtype
            ) -> dict[str, np.ndarray] | None:
    """What needs f compiled again after the solve: eigenvectors and surface.npz."""
    if points is not None:
        _add_eigenvectors(points, resolved, dtype)
    return _surface(resolved, taylor_at=resolved.starts[0])


def _write(path: Path, arrays: dict[str, np.ndarray], points: list[dict[str, Any]] | None,
           surface: dict[str, np.ndarray] | None, summary: dict[str, Any],
           resolved: Resolved) -> None:
    """The run's files in the documented order; the checkpoint goes once the summary is in
    place (a partial run keeps it), and the directory is marked complete."""
    storage.write_npz(path / storage.TRAJECTORIES_FILE, arrays)
    if points is not None:
        storage.write_json(path / storage.CRITICAL_POINTS_FILE,
                           points_file(resolved, points, "run"))
    if surface is not None:
        storage.write_npz(path / storage.SURFACE_FILE, surface)
    storage.write_json(path / storage.SUMMARY_FILE, summary)
    if "interrupted" not in summary:
        (path / storage.CHECKPOINT_FILE).unlink(missing_ok=True)
    storage.mark_complete(path)


class _Saver:
    """Checkpoints and the live log (``progress.jsonl``) of the lead process's run directory."""

    def __init__(self, path: Path | None, cfg_hash: str, every: float, enabled: bool) -> None:
        self.path, self.cfg_hash, self.every = path, cfg_hash, every
        self.enabled = enabled and path is not None
        self.last = time.perf_counter()
        self.log: Any = None

    def record(self, steps: int, stats: ChunkStats, elapsed: float) -> None:
        if self.path is None:
            return
        if self.log is None:  # appended line by line for the solve; closed by close()
            self.log = open(self.path / PROGRESS_FILE, "a", encoding="utf-8")  # noqa: SIM115
        line = {"step": steps, "elapsed_seconds": round(elapsed, 6), "running": stats.running,
                "best_value": stats.best_value, "grad_norm_median": stats.grad_norm_median,
                "grad_norm_max": stats.grad_norm_max}
        self.log.write(json.dumps(storage.to_jsonable(line), allow_nan=False) + "\n")
        self.log.flush()

    def due(self) -> bool:
        return self.enabled and self.every > 0 and time.perf_counter() - self.last >= self.every

    def save(self, solve: BatchSolve | None, carry: Any, steps: int) -> None:
        if not self.enabled:
            return
        assert self.path is not None
        leaves = [] if solve is None else solve.to_host(carry)
        storage.write_checkpoint(self.path / storage.CHECKPOINT_FILE, leaves,
                                 steps if solve is not None else NOT_STARTED, self.cfg_hash)
        self.last = time.perf_counter()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


def _solve(resolved: Resolved, devices: list[jax.Device], dtype: np.dtype,
           status: RunProgress, signals: _Signals, saver: _Saver,
           checkpoint: tuple[list[np.ndarray], int, str] | None) -> dict[str, Any]:
    cfg = resolved.config
    path = saver.path
    fun = _typed(resolved.flat_fun, dtype)
    all_starts = np.asarray(resolved.starts, dtype)
    x0s = local_block(all_starts) if jax.process_count() > 1 else all_starts
    stop = cfg.stop
    keywords = _solve_keywords(cfg)
    where = f"; partial run: {path}" if path is not None else ""

    def build() -> tuple[BatchSolve, float]:
        with jax.default_device(devices[0]):
            solve = BatchSolve(fun, x0s, cfg.solver.method, devices=devices, **keywords)
            return solve, solve.compile()

    try:
        status(f"compiling the solve of {len(x0s)} start(s)")
        t0 = time.perf_counter()
        try:
            solve, compile_seconds = _in_worker(signals, build)
        except _Stopped:
            resume = ""
            if checkpoint is not None and checkpoint[1] >= 0:  # a resume: keep its checkpoint
                resume = (f" (its checkpoint at step {checkpoint[1]} is kept; optkit resume "
                          f"{path} continues from it)")
            elif saver.enabled:
                saver.save(None, None, NOT_STARTED)
                resume = f" (nothing solved yet; optkit resume {path} starts it)"
            raise signals.stop(f"while compiling{where}{resume}") from None
        t1 = time.perf_counter()
        status(f"solving {len(x0s)} start(s) with {cfg.solver.method}")
        with jax.default_device(devices[0]):
            start = solve.start()
            _, value0, grad_norm0 = solve.values(start)
            carry, steps = start, 0
            if checkpoint is not None and checkpoint[1] >= 0:
                leaves, steps = checkpoint[0], checkpoint[1]
                storage.verify_layout(path / storage.CHECKPOINT_FILE, leaves,
                                      solve.carry_layout())
                carry = solve.from_host(leaves)
            if checkpoint is not None and path is not None:
                # verified: from here on the directory is being rewritten
                storage.write_text(path / storage.INCOMPLETE,
                                   "this run directory is being resumed\n")
            chunks = solve.chunks(carry, steps)
            for carry, steps, stats in chunks:
                saver.record(steps, stats, time.perf_counter() - t1)
                status.steps(steps, stop.max_steps, stats.running, stats)
                if signals.signum is not None:
                    if not saver.enabled:
                        raise signals.stop(f"at step {steps} of {stop.max_steps}{where} "
                                           "(not resumable: distributed run)")
                    saver.save(solve, carry, steps)
                    _save_partial(path, solve, carry, steps, resolved, devices, x0s, value0,
                                  grad_norm0, signals, stats.running, t1 - t0 - compile_seconds,
                                  compile_seconds, time.perf_counter() - t1)
                if saver.due():
                    saver.save(solve, carry, steps)
            result = jax.block_until_ready(solve.finish(carry))
            t2 = time.perf_counter()
    finally:
        saver.close()
    result = jax.device_get(result)
    if jax.process_count() > 1:
        result, value0, grad_norm0 = gather((result, value0, grad_norm0), len(all_starts))
    return {"result": result, "x0s": all_starts, "value0": value0, "grad_norm0": grad_norm0,
            "trace_seconds": (t1 - t0) - compile_seconds, "compile_seconds": compile_seconds,
            "solve_seconds": t2 - t1}


def _save_partial(path: Path, solve: BatchSolve, carry: Any, steps: int, resolved: Resolved,
                  devices: list[jax.Device], x0s: np.ndarray, value0: np.ndarray,
                  grad_norm0: np.ndarray, signals: _Signals, running: int,
                  trace_seconds: float, compile_seconds: float, solve_seconds: float
                  ) -> NoReturn:
    """The partial run: trajectories so far and a summary in which the unfinished starts are
    INTERRUPTED (the checkpoint is already written); then stop."""
    cfg = resolved.config
    result = jax.device_get(solve.finish(carry))
    outcome = {"result": result, "x0s": x0s, "value0": value0, "grad_norm0": grad_norm0,
               "trace_seconds": trace_seconds, "compile_seconds": compile_seconds,
               "solve_seconds": solve_seconds}
    arrays, points, summary = _records(resolved, outcome, devices)
    assert signals.signum is not None
    summary["interrupted"] = {"signal": _name(signals.signum), "steps": steps,
                              "max_steps": cfg.stop.max_steps, "running": running,
                              "checkpoint": storage.CHECKPOINT_FILE}
    _write(path, arrays, points, None, summary, resolved)
    raise signals.stop(f"at step {steps} of {cfg.stop.max_steps} ({running} of {len(x0s)} "
                       f"start(s) unfinished): partial run saved in {path}; continue with "
                       f"optkit resume {path}")


def _add_eigenvectors(points: list[dict[str, Any]], resolved: Resolved, dtype: np.dtype) -> None:
    """For 1 and 2 variables, each point's Hessian eigenvectors (columns, eigenvalues
    ascending): the atlas draws them without evaluating f again."""
    if not points or resolved.problem.dim > SURFACE_MAX_DIM or _bounds(resolved.config):
        return  # (with bounds the full Hessian's axes are not the reduced problem's)
    xs = jnp.asarray(np.stack([np.ravel(p["x"]) for p in points]), dtype)
    hess = jit(jax.vmap(jax.hessian(_typed(resolved.flat_fun, dtype))))(xs)
    _, vectors = np.linalg.eigh(0.5 * (np.asarray(hess) + np.swapaxes(np.asarray(hess), 1, 2)))
    for point, vec in zip(points, vectors, strict=True):
        point["eigenvectors"] = vec


def _surface(resolved: Resolved, taylor_at: np.ndarray | None) -> dict[str, np.ndarray] | None:
    """surface.npz for a problem of 1 or 2 variables that is user code (``problem.function``,
    or a problem registered by a module in ``imports``): what the figures need from f,
    sampled now, so that plotting never imports the user's code. Built-in problems and
    expressions are rebuilt safely at plotting time instead."""
    cfg = resolved.config
    user_code = isinstance(cfg.problem, FunctionProblem) or (
        isinstance(cfg.problem, NamedProblem) and cfg.problem.name not in BUILT_IN)
    if not user_code or resolved.problem.dim > SURFACE_MAX_DIM:
        return None
    box = resolved.config.analysis.box
    assert box is not None
    return storage.surface_arrays(_typed(resolved.flat_fun, np.dtype("float64")),
                                  np.asarray(box.lower), np.asarray(box.upper),
                                  taylor_at if resolved.problem.dim == 2 else None)
