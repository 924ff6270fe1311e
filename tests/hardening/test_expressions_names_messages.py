"""Expressions with a size limit and a translation whose derivatives stay small; long names
shortened safely; --out naming a file; warnings and OS errors as one clean line."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import typer

from optkit import _limits, cli
from optkit.problems import from_expression
from optkit.storage._files import RunDirError, create_run_dir, safe_name
from tests.helpers import jit

from ._cli import base_config, invoke, one_error


def _sum_of_terms(n: int) -> str:
    return " + ".join(f"sin(x*{i})*cos(y+{i})" for i in range(1, n + 1))


def test_a_long_sum_of_terms_has_a_small_hessian_program():
    """140 terms of sin(x·i)·cos(y+i) (3,141 characters) took 84 s to compile as a Hessian:
    each term was traced on its own. Terms that differ only in their constants are now one
    vectorised term, so the Hessian's program has a few dozen operations, and the value is
    the sum computed by numpy."""
    text = _sum_of_terms(140)
    f = from_expression(text, ["x", "y"]).fun
    x = np.array([0.3, -0.7])
    hessian_program = jax.make_jaxpr(jax.hessian(f))(x)
    assert len(hessian_program.jaxpr.eqns) < 300
    i = np.arange(1, 141)
    expected = np.sum(np.sin(0.3 * i) * np.cos(-0.7 + i))
    value, grad = jit(lambda z: (f(z), jax.grad(f)(z)))(x)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    # ∂f/∂x = Σ i cos(x i) cos(y + i)
    np.testing.assert_allclose(np.asarray(grad)[0],
                               np.sum(i * np.cos(0.3 * i) * np.cos(-0.7 + i)), rtol=1e-10)


@pytest.mark.parametrize(("text", "expected"), [
    ("x - (y - 2*x) + 3", lambda x, y: x - (y - 2 * x) + 3),
    ("-x**2 - -y**2 - 1 - 2", lambda x, y: -x**2 + y**2 - 3),
    ("2*x + 3*x + 4*y - 5*y", lambda x, y: 5 * x - y),
    ("x*y + x*y + x*y", lambda x, y: 3 * x * y),
    ("1 + 2 + 3", lambda x, y: 6.0),
], ids=["nested-minus", "signs", "like-terms", "identical-terms", "constants"])
def test_signed_sums_keep_their_value(text, expected):
    f = from_expression(text, ["x", "y"]).fun
    value, value32 = jit(lambda a, b: (f(a), f(b)))(np.array([0.7, -1.3]),
                                                     np.array([0.7, -1.3], np.float32))
    np.testing.assert_allclose(value, expected(0.7, -1.3), rtol=1e-13)
    assert value32.dtype == jnp.float32


@pytest.mark.parametrize(("override", "words"), [
    ("problem.expression=" + "+".join(["x"] * 6000),
     ("limit 10000", "OPTKIT_MAX_EXPRESSION_LENGTH")),
    ("problem.expression=" + "*".join(["x"] * 2600), ("5,199 operations",
                                                      "OPTKIT_MAX_EXPRESSION_NODES")),
    ("problem.expression=" + "(" * 300 + "x" + ")" * 300, ("nested",)),
    ("problem.expression=__import__('os')", ("not allowed",)),
], ids=["too-long", "too-many-operations", "too-deep", "dunder"])
def test_expression_limits_are_one_line(tmp_path, override, words):
    code, stderr = invoke("validate", base_config(tmp_path), override)
    assert code == 2
    one_error(stderr, "problem.expression", *words)


@pytest.mark.parametrize("name", ["x" * 300, "é" * 200, "a/" * 150, "." * 300, "-" * 5],
                         ids=["ascii", "unicode", "slashes", "dots", "dashes"])
def test_long_and_odd_names_make_a_run_directory(tmp_path, name):
    path = create_run_dir(tmp_path, name)
    assert path.parent == tmp_path and len(path.name) <= 16 + 1 + 100
    assert (path / "INCOMPLETE").exists()


def test_shortened_names_stay_distinct():
    a, b = safe_name("y" * 300 + "a"), safe_name("y" * 300 + "b")
    assert a != b and len(a) == len(b) == 100


def test_out_naming_a_file_is_one_line(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("")
    with pytest.raises(RunDirError, match="is a file"):
        create_run_dir(target, "run")
    code, stderr = invoke("run", base_config(tmp_path), "--out", target, "--no-progress")
    assert code == 2
    one_error(stderr, str(target), "is a file")


def _guarded(action):
    """Exit code of cli._guard(action)."""
    try:
        cli._guard(False, action)
    except typer.Exit as exit_:
        return exit_.exit_code
    return 0


def _warn():
    warnings.warn("first line\n  second line", UserWarning, stacklevel=1)
    warnings.warn("first line\n  second line", UserWarning, stacklevel=1)


def _open_missing():
    return open("/nonexistent/optkit/file")  # noqa: SIM115


def _bug():
    return {}["key"]


def _deep():
    raise RecursionError("maximum recursion depth exceeded")


@pytest.mark.parametrize(("action", "code", "words"), [
    (_warn, 0, ("warning: first line second line",)),
    (_open_missing, 2, ("error: /nonexistent/optkit/file: No such file or directory",)),
    (_bug, 1, ("error: unexpected failure: 'key'", "--debug")),
    (_deep, 1, ("error: the input is nested too deeply",)),
], ids=["warning", "os-error", "bug", "recursion"])
def test_cli_messages_are_one_clean_line(capsys, action, code, words):
    assert _guarded(action) == code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0]
    for bad in ("UserWarning", "KeyError", "FileNotFoundError", "Errno", "Traceback", ".py:"):
        assert bad not in lines[0]


def test_limits_are_documented_in_one_place():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    for limit in _limits.ALL:
        assert limit.env in text, limit.env
