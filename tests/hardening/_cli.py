"""The in-process command line and the one-line error check shared by the hardening tests."""

from __future__ import annotations

import inspect
from pathlib import Path

from typer.testing import CliRunner

from optkit.cli import app

BASE_CONFIG = ("problem: {expression: 'x**2 + 3*y**2', variables: [x, y]}\n"
               "solver: {method: newton}\n"
               "stop: {max_steps: 50}\n")


def runner() -> CliRunner:
    kwargs = {"mix_stderr": False} if "mix_stderr" in inspect.signature(
        CliRunner.__init__).parameters else {}
    return CliRunner(**kwargs)


def invoke(*args: str) -> tuple[int, str]:
    """Exit code and stderr of ``optkit ARGS`` run in-process."""
    result = runner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stderr


def one_error(stderr: str, *names: str) -> str:
    """The single ``error:`` line of stderr, asserting it is the only line, has no traceback
    or exception class name, and mentions every one of ``names``."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("error: "), line
    for bad in ("Traceback", "Error:", "Errno", "RecursionError", "OSError"):
        assert bad not in line, line
    for name in names:
        assert name in line, (name, line)
    return line


def base_config(tmp_path: Path, text: str = BASE_CONFIG) -> Path:
    path = tmp_path / "base.yaml"
    path.write_text(text)
    return path
