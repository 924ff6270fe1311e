"""The ``optkit`` command line: run, resume, validate, show, problems, critical, plot.

The commands only parse arguments and call library functions. Exit codes: 0 done, 1 the run
failed or no start converged (the run directory is written), 2 bad input (config, path,
value) with one ``error: ...`` line per problem on stderr and no traceback unless ``--debug``,
130 / 143 stopped by SIGINT / SIGTERM (one line saying where the partial run is).
"""

from __future__ import annotations

import contextlib
import errno
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

T = TypeVar("T")

app = typer.Typer(
    name="optkit",
    help="Gradient descent, Newton's method and the calculus under them, on JAX.\n\n"
         "Example: optkit run configs/newton.yaml stop.max_steps=50",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigArg = Annotated[Path, typer.Argument(help="YAML run config, e.g. configs/newton.yaml.",
                                           show_default=False)]
OverridesArg = Annotated[
    list[str] | None,
    typer.Argument(help="KEY=VALUE overrides; VALUE is YAML and replaces the value at the "
                        "dotted KEY whole, e.g. stop.max_steps=50 "
                        "'problem={expression: \"x**2 + 3*y**2\", variables: [x, y]}'.",
                   show_default=False),
]
RunDirArg = Annotated[Path, typer.Argument(help="A run directory, e.g. runs/20250101T120000Z-"
                                                "rosenbrock-newton.", show_default=False)]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Parent directory of the run "
                                             "directory (default: output.dir of the config).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run directory.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")]
DistributedOpt = Annotated[bool, typer.Option(
    "--distributed", help="Join JAX's multi-controller runtime: every process solves its block "
    "of the starts, process 0 writes the run directory (also OPTKIT_DISTRIBUTED=1; see the "
    "README, Scaling out).")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress",
                                           help="Show a spinner while compiling and solving.")]


def _fail(message: str, code: int) -> typer.Exit:
    for line in message.splitlines() or [""]:
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def _guard(debug: bool, action: Callable[[], T]) -> T:
    """Run ``action``; bad input exits 2 and any other failure exits 1, each with a short
    ``error:`` message (and the traceback with ``--debug``)."""
    from .runner import RunError

    try:
        with _warnings_as_lines():
            return action()
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt as err:
        from .runner import RunInterrupted
        from .runner._run import exit_interrupted

        if isinstance(err, RunInterrupted):  # saved what was done; exit 130/143 at once
            exit_interrupted(err)
        raise _fail("interrupted", 130) from None
    except RunError as err:
        error, code, message = err, 1, str(err)
    except ValueError as err:
        # ConfigError and RunDirError are ValueErrors; so is every bad problem name/expression
        error, code, message = err, 2, _message(err)
    except OSError as err:
        error, code, message = err, _os_error_code(err), _os_error(err)
    except (RecursionError, MemoryError) as err:
        error, code = err, 1
        message = ("the input is nested too deeply to process" if isinstance(err, RecursionError)
                   else "out of memory")
    except Exception as err:
        error, code = err, 1
        message = f"unexpected failure: {_message(err)} (--debug shows where)"
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    raise _fail(message, code) from None


def _join_runtime(debug: bool, distributed: bool) -> None:
    """``--distributed`` (or OPTKIT_DISTRIBUTED=1): join JAX's multi-controller runtime
    before anything touches a device."""
    from .runner import _distributed

    if distributed or _distributed.requested():
        _guard(debug, _distributed.initialize)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Every warning raised while a command runs is printed once as one ``warning: ...``
    line on stderr (no category, file or source line)."""
    shown: set[str] = set()

    def show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
             line: Any = None) -> None:
        text = " ".join(str(message).split())
        if text not in shown:
            shown.add(text)
            typer.echo(f"warning: {text}", err=True)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


#: OSError numbers that mean the user's path is wrong (exit 2), not that the run failed
_BAD_PATH_ERRNOS = {errno.ENOENT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EACCES,
                    errno.EPERM, errno.ENAMETOOLONG, errno.ELOOP, errno.EROFS}


def _os_error_code(err: OSError) -> int:
    return 2 if err.errno in _BAD_PATH_ERRNOS else 1


def _os_error(err: OSError) -> str:
    """``path: reason`` for an OSError, a long path shortened to its ends."""
    reason = err.strerror or _message(err)
    if err.filename is None:
        return reason
    path = str(err.filename)
    if len(path) > 80:
        path = f"{path[:38]}…{path[-38:]}"
    return f"{path}: {reason}"


def _message(err: BaseException) -> str:
    text = str(err).strip()
    if not text:
        return "no message" if isinstance(err, Exception) else "stopped"
    # a ConfigError lists one problem per line; anything else is folded onto one line
    from .config import ConfigError

    return text if isinstance(err, ConfigError) else " ".join(text.split())


@app.command(epilog="Examples:\n\n  optkit run configs/newton.yaml\n\n"
                    "  optkit run configs/multistart.yaml start.uniform.count=64 --out /tmp/runs"
                    "\n\n  optkit run configs/newton.yaml "
                    "'problem={expression: \"log(exp(x) + exp(y))\", variables: [x, y]}'")
def run(
    config: ConfigArg,
    overrides: OverridesArg = None,
    out: OutOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = True,
    distributed: DistributedOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Solve every start of CONFIG as one compiled program and write a run directory
    (config.yaml, summary.json, trajectories.npz, critical_points.json)."""
    from .runner import run as run_config

    _join_runtime(debug, distributed)
    path = _guard(debug, lambda: run_config(config, overrides or [], out=out, quiet=quiet,
                                            progress=progress))
    if quiet and path is not None:
        typer.echo(str(path))
    _exit_unless_converged(path)


def _exit_unless_converged(path: Path | None) -> None:
    """Exit 1 (the run directory written) when no start converged."""
    from .runner._run import failure_message

    message = failure_message(path)
    if message is not None:
        raise _fail(message, 1)


@app.command(epilog="Example:\n\n  optkit resume runs/20250101T120000Z-rosenbrock-newton")
def resume(
    run_dir: RunDirArg,
    quiet: QuietOpt = False,
    progress: ProgressOpt = True,
    debug: DebugOpt = False,
) -> None:
    """Finish an interrupted run (Ctrl-C, SIGTERM, SIGKILL after a checkpoint) in place, from
    its checkpoint.npz: the result is bit for bit that of the uninterrupted run. Imports the
    user code its config.yaml names, as optkit run would, never code inside RUN_DIR."""
    from .runner import resume as resume_run

    path = _guard(debug, lambda: resume_run(run_dir, quiet=quiet, progress=progress))
    if quiet:
        typer.echo(str(path))
    _exit_unless_converged(path)


@app.command(epilog="Examples:\n\n  optkit validate configs/newton.yaml\n\n"
                    "  optkit validate configs/newton.yaml stop.max_steps=50 --resolved")
def validate(
    config: ConfigArg,
    overrides: OverridesArg = None,
    resolved: Annotated[bool, typer.Option("--resolved", help="Print the resolved config "
                                           "(every default filled) as YAML.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Check CONFIG (and overrides) without running it: keys, values, the problem, the
    dimensions of starts and boxes, and the solver's options."""
    from .config import resolve_file

    result = _guard(debug, lambda: resolve_file(config, overrides or []))
    if resolved:
        typer.echo(result.config.to_yaml(), nl=False)
    else:
        cfg = result.config
        typer.echo(f"ok: {config}: {result.problem.name} (dim {result.problem.dim}), "
                   f"{result.num_starts} start(s), {cfg.solver.method}, {cfg.precision}")


@app.command(epilog="Example:\n\n  optkit show runs/20250101T120000Z-rosenbrock-newton")
def show(run_dir: RunDirArg, debug: DebugOpt = False) -> None:
    """Print the summary table of a saved run."""
    from .runner import show as show_run

    _guard(debug, lambda: show_run(run_dir))


@app.command(epilog="Example:\n\n  optkit problems")
def problems(debug: DebugOpt = False) -> None:
    """List the built-in problems: name, dimension, source and known critical points."""
    from rich.console import Console
    from rich.table import Table

    from . import problems as registry

    def table() -> Table:
        out = Table(title="optkit problems", title_justify="left")
        out.add_column("name", no_wrap=True)
        out.add_column("dim", no_wrap=True, justify="right")
        out.add_column("source", overflow="fold")
        out.add_column("known critical points", no_wrap=True)
        for name in registry.names():
            try:
                problem = registry.get(name)
            except ValueError as err:  # a problem that needs parameters
                out.add_row(name, "-", f"(needs parameters: {err})", "-")
                continue
            kinds: dict[str, int] = {}
            for point in problem.critical_points:
                kinds[point.kind] = kinds.get(point.kind, 0) + 1
            known = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "-"
            source = (problem.source or "-").split(";")[0]  # the reference, not the notes
            out.add_row(name, str(problem.dim), source, known)
        return out

    Console().print(_guard(debug, table))


@app.command(epilog="Examples:\n\n  optkit critical configs/cubic_saddle.yaml\n\n"
                    "  optkit critical configs/gaussian_bump.yaml analysis.num_starts=256 "
                    "'analysis.box={lower: [-2, -2], upper: [2, 2]}'")
def critical(
    config: ConfigArg,
    overrides: OverridesArg = None,
    out: OutOpt = None,
    quiet: QuietOpt = False,
    progress: ProgressOpt = True,
    distributed: DistributedOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Critical-point atlas of CONFIG's problem: every critical point found in analysis.box
    (default: the problem's box), with value, kind and Hessian eigenvalues, written as
    critical_points.json into a new run directory."""
    from .runner import run_critical

    _join_runtime(debug, distributed)
    path = _guard(debug, lambda: run_critical(config, overrides or [], out=out, quiet=quiet,
                                              progress=progress))
    if quiet and path is not None:
        typer.echo(str(path))


@app.command(epilog="Examples:\n\n  optkit plot runs/20250101T120000Z-rosenbrock-newton\n\n"
                    "  optkit plot RUN_DIR --format svg --out figures --taylor")
def plot(
    run_dir: RunDirArg,
    format: Annotated[str, typer.Option("--format", "-f", help="png, svg or pdf.")] = "png",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory for the images "
                                             "(default: RUN_DIR/plots).")] = None,
    taylor: Annotated[bool, typer.Option(
        "--taylor", help="Also draw f beside its second-order Taylor model at analysis.taylor_at "
                         "(default: the best end point; 1 or 2 variables)."
    )] = False,
    debug: DebugOpt = False,
) -> None:
    """Draw the figures of a saved run and print the paths of the written images."""

    def draw() -> Any:
        if format not in ("png", "svg", "pdf"):
            raise ValueError(f"--format: expected png, svg or pdf, got {format!r}")
        from .plots import plot_run

        return plot_run(run_dir, format=format, out=out, taylor=taylor)

    for path in _guard(debug, draw):
        typer.echo(str(path))


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"optkit {version('optkit')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Gradient descent, Newton's method and the calculus under them, on JAX."""


def main() -> None:
    """Entry point of the ``optkit`` console script. SIGINT / SIGTERM stop any command with
    exit 130 / 143 and one line (a run saves its work first: optkit.runner.run); the process
    ends with ``os._exit`` once the command is done (see optkit.runner._run.exit_now)."""
    from .runner._run import command_line_signals, exit_now

    command_line_signals()
    try:
        app()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    exit_now(code)


if __name__ == "__main__":
    main()
