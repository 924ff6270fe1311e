"""The safe expression translator: values and derivatives against closed forms, refusal of
everything outside the grammar (injection attempts first), and fuzzing against an independent
numpy evaluation."""

from __future__ import annotations

import ast
import builtins
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optkit  # noqa: F401  (turns on float64)
from optkit.problems import from_expression
from optkit.problems._expression import BINARY_FUNCTIONS, UNARY_FUNCTIONS
from tests.helpers import jit

XY = ["x", "y"]


def f(expression, variables=XY):
    return from_expression(expression, variables).fun


def derivatives(expression, point, variables=XY):
    fun = f(expression, variables)
    x = np.asarray(point, dtype=np.float64)
    results = jit(lambda z: (fun(z), jax.grad(fun)(z), jax.hessian(fun)(z)))(x)
    return jax.tree_util.tree_map(np.asarray, results)


def test_log_sum_exp_gradient_is_softmax():
    point = np.array([0.3, -1.1])
    value, grad, hess = derivatives("log(exp(x) + exp(y))", point)
    p = np.exp(point) / np.exp(point).sum()
    np.testing.assert_allclose(value, np.log(np.exp(point).sum()), rtol=1e-15)
    np.testing.assert_allclose(grad, p, rtol=1e-14)
    np.testing.assert_allclose(hess, np.diag(p) - np.outer(p, p), atol=1e-15)


def test_gaussian_bump_derivatives():
    x, y = 0.4, -0.7
    value, grad, hess = derivatives("x * exp(-x**2 - y**2)", [x, y])
    e = math.exp(-(x**2) - y**2)
    np.testing.assert_allclose(value, x * e, rtol=1e-15)
    np.testing.assert_allclose(grad, [e * (1 - 2 * x**2), -2 * x * y * e], rtol=1e-14)
    np.testing.assert_allclose(hess[1, 1], -2 * x * e * (1 - 2 * y**2), rtol=1e-14)


def test_every_function_and_constant_against_numpy():
    x, y = 0.3, 0.8
    cases = {
        "exp(x)": np.exp(x), "log(y)": np.log(y), "log1p(x)": np.log1p(x),
        "expm1(x)": np.expm1(x), "sin(x)": np.sin(x), "cos(x)": np.cos(x), "tan(x)": np.tan(x),
        "arcsin(x)": np.arcsin(x), "asin(x)": np.arcsin(x), "arccos(x)": np.arccos(x),
        "acos(x)": np.arccos(x), "arctan(x)": np.arctan(x), "atan(x)": np.arctan(x),
        "sinh(x)": np.sinh(x), "cosh(x)": np.cosh(x), "tanh(x)": np.tanh(x),
        "sqrt(y)": np.sqrt(y), "abs(x - y)": abs(x - y), "max(x, y)": y, "maximum(x, y)": y,
        "min(x, y)": x, "minimum(x, y)": x, "pi * e": np.pi * np.e, "x / y": x / y,
        "+x - -y": x + y, "-x**2": -(x**2), "2**3**2": 512.0, "2**-1": 0.5, "x**0.5": x**0.5,
        "(x + y) * (x - y)": (x + y) * (x - y), "7": 7.0, "1e-3 * x": 1e-3 * x,
    }
    used = {expression.split("(")[0] for expression in cases}
    assert used >= set(UNARY_FUNCTIONS) | set(BINARY_FUNCTIONS)
    funs = [f(expression) for expression in cases]
    values = jit(lambda z: [fun(z) for fun in funs])(np.array([x, y]))
    for (expression, expected), value in zip(cases.items(), values, strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-14, err_msg=expression)


def test_integer_powers_are_exact_for_negative_bases():
    # x**3 at x = −2: a float exponent would go through exp(3·log x) and give NaN.
    value, grad, hess = derivatives("x**3 + y**-2", [-2.0, -0.5])
    np.testing.assert_array_equal(value, -8.0 + 4.0)
    np.testing.assert_array_equal(grad, [12.0, 16.0])  # d/dy y⁻² = −2y⁻³ = 16 at −1/2
    np.testing.assert_array_equal(np.diag(hess), [-12.0, 96.0])  # 6x, 6y⁻⁴


def test_hessian_of_a_polynomial():
    _, grad, hess = derivatives("x**2*y + y**3", [1.5, -2.0])
    np.testing.assert_allclose(grad, [2 * 1.5 * -2.0, 1.5**2 + 3 * 4.0])
    np.testing.assert_allclose(hess, [[-4.0, 3.0], [3.0, -12.0]])


def test_dtype_jit_vmap_and_unused_variables():
    fun = f("x * y + 1", ["x", "y", "z"])
    points = np.arange(6, dtype=np.float32).reshape(2, 3)
    values = jit(jax.vmap(fun))(points)
    assert values.dtype == jnp.float32
    np.testing.assert_array_equal(values, [1.0, 13.0])
    constant = f("pi")
    grad_fun, constant_value, grad_constant = jit(lambda p, z32, z64: (
        jax.grad(fun)(p), constant(z32), jax.grad(constant)(z64)))(
        np.array([1.0, 2.0, 3.0]), np.zeros(2, np.float32), np.zeros(2))
    np.testing.assert_array_equal(grad_fun, [2.0, 1.0, 0.0])
    assert constant_value.dtype == jnp.float32
    np.testing.assert_array_equal(grad_constant, [0.0, 0.0])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        f("x + y")(np.zeros(3))


def test_a_long_flat_sum_is_fine():
    fun = f("x" + " + x" * 300)
    assert float(jit(fun)(np.array([2.0, 0.0]))) == 602.0


def test_problem_record():
    problem = from_expression("  (x - 1)**2 + y**2 ", XY)
    assert problem.name == "(x - 1)**2 + y**2" and problem.source == "expression"
    assert problem.dim == 2 and problem.variables == ("x", "y")
    assert problem.box == ((-2.0, -2.0), (2.0, 2.0))
    np.testing.assert_array_equal(problem.start, [0.5, 0.5])
    assert problem.critical_points == ()
    custom = from_expression("x + y", XY, lower=[0.0, 1.0], upper=3.0)
    assert custom.box == ((0.0, 1.0), (3.0, 3.0))
    np.testing.assert_array_equal(custom.start, [0.5, 2.0])  # 0.5 is outside [1, 3]: midpoint
    given_start = from_expression("x + y", XY, start=[1.0, -1.0])
    np.testing.assert_array_equal(given_start.start, [1.0, -1.0])
    for kwargs, message in [
        ({"lower": 1.0, "upper": 1.0}, "lower must be below upper"),
        ({"lower": [0.0, 0.0, 0.0]}, "lower must be a number or a list of 2"),
        ({"upper": float("inf")}, "upper must be finite"),
        ({"start": [1.0]}, "start must be a list of 2 finite numbers"),
    ]:
        with pytest.raises(ValueError, match=message):
            from_expression("x + y", XY, **kwargs)


@pytest.mark.parametrize(("variables", "message"), [
    (["x", "x"], "listed twice"),
    (["x", "ｘ"], "listed twice"),  # the parser normalises (NFKC) the fullwidth x to x
    (["exp"], "function or constant"),
    (["pi"], "function or constant"),
    (["1x"], "not a valid name"),
    (["lambda"], "not a valid name"),
    (["x y"], "not a valid name"),
    ([3], "not a valid name"),
    (["__x"], "dunder"),
    ([], "at least one"),
    ("xy", "must be a list of names"),
])
def test_bad_variables_are_refused(variables, message):
    with pytest.raises(ValueError, match=message):
        from_expression("1", variables)


INJECTIONS = [
    ("__import__('os').system('touch pwned')", "attribute access", 17),
    ("__import__('os')", "call of '__import__'", 1),
    ("().__class__", "attribute access", 3),
    ("x.real", "attribute access", 2),
    ("[1][0]", "subscript", 4),
    ("x[0]", "subscript", 2),
    ("lambda: 1", "lambda", 1),
    ("open('pwned', 'w')", "unknown function 'open'", 1),
    ("exec('1')", "unknown function 'exec'", 1),
    ("eval('x')", "unknown function 'eval'", 1),
    ("f'{x}'", "f-string", 1),
    ("'a' * 3", "string", 1),
    ("b'a'", "string", 1),
    ("[x for x in y]", "comprehension", 1),
    ("exp(*[x])", "starred argument", 5),
    ("exp(x=1)", "keyword argument", 5),
    ("sin.__call__(x)", "attribute access", 4),
    ("(lambda: 0)()", "call of", 1),
    ("x < y", "comparison", 3),
    ("x and y", "boolean operator 'and'", 3),
    ("not x", "operator 'not'", 1),
    ("x // y", "operator '//'", 3),
    ("x % y", "operator '%'", 3),
    ("x @ y", "operator '@'", 3),
    ("~x", "operator '~'", 1),
    ("x if y else 1", "conditional expression", 1),
    ("(z := 1)", "assignment expression", 2),
    ("(x, y)", "tuple", 1),
    ("{x: y}", "dict", 1),
    ("True", "literal", 1),
    ("None", "literal", 1),
    ("...", "literal", 1),
    ("1j", "complex number", 1),
    ("__builtins__", "dunder name", 1),
    ("x + __debug__", "dunder name", 5),
    ("globals()", "unknown function 'globals'", 1),
    ("z", "unknown name 'z'", 1),
    ("x(1)", "'x' is not a function", 1),
    ("exp", "function 'exp' must be called", 1),
    ("exp(x, y)", "exp.. takes 1 argument, got 2", 1),
    ("max(x)", "max.. takes 2 arguments, got 1", 1),
]


@pytest.mark.parametrize(("expression", "message", "column"), INJECTIONS)
def test_refused_constructs_name_the_construct_and_column(expression, message, column,
                                                         tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message) as info:
        from_expression(expression, XY)
    text = str(info.value)
    assert "\n" not in text and f"(column {column})" in text, text
    assert not os.listdir(tmp_path), "something was executed"


def test_translation_never_evaluates_text(monkeypatch):
    """eval/exec are never called, and compile only ever to parse (ast.parse's flag)."""
    real_compile = builtins.compile

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "compile() used for more than parsing"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "compile", parse_only)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    problem = from_expression("sqrt(x**2 + y**2) + max(x, y)", XY)
    with pytest.raises(ValueError):
        from_expression("__import__('os').system('touch pwned')", XY)
    monkeypatch.undo()
    np.testing.assert_allclose(jit(problem.fun)(np.array([3.0, 4.0])), 9.0)


@pytest.mark.parametrize(("expression", "message"), [
    ("(" * 300 + "x" + ")" * 300, "too many nested parentheses"),
    ("-" * 9000 + "x", "nested too deeply"),
    ("exp(" * 250 + "x" + ")" * 250, "too many nested parentheses"),
    ("x + " * 2500 + "x", "10001 characters long, more than the limit 10000"),
    ("x +", "invalid syntax .column 4."),
    ("1" * 5000, "invalid syntax"),
    ("x\x00", "null bytes"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("x +\n y", "invalid syntax .line 1, column"),
])
def test_parser_failures_become_one_line_value_errors(expression, message):
    with pytest.raises(ValueError, match=message) as info:
        from_expression(expression, XY)
    assert "\n" not in str(info.value)


def test_unknown_name_suggests_the_nearest_variable():
    with pytest.raises(ValueError, match=r"unknown name 'alpah' \(did you mean 'alpha'\?\)"):
        from_expression("alpah + beta", ["alpha", "beta"])
    with pytest.raises(ValueError, match=r"unknown function 'exq' \(did you mean 'exp'\?\)"):
        from_expression("exq(x)", XY)


# Fuzzing ------------------------------------------------------------------------------------

EPS = np.finfo(np.float64).eps
FUZZ_VARIABLES = ["x", "y", "z"]
POINTS = np.random.default_rng(0).uniform(-2.0, 2.0, size=(16, 3))

TINY = np.finfo(np.float64).tiny
_constants = st.one_of(st.integers(0, 9).map(float),
                       st.integers(-3000, 3000).map(lambda k: k / 1e3))
_leaves = st.one_of(st.tuples(st.just("var"), st.integers(0, 2)),
                    st.tuples(st.just("const"), _constants))


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(["add", "sub", "mul", "div", "max", "min"]), children,
                  children),
        st.tuples(st.sampled_from(["neg", "exp", "sin", "cos", "tanh", "arctan", "abs",
                                   "sqrt_abs"]), children),
        st.tuples(st.just("ipow"), children, st.integers(-2, 4)),
    )


TREES = st.recursive(_leaves, _extend, max_leaves=10)


def render(tree) -> str:
    """The expression text of a tree (fully parenthesised)."""
    op = tree[0]
    if op == "var":
        return FUZZ_VARIABLES[tree[1]]
    if op == "const":
        return repr(tree[1]) if tree[1] >= 0 else f"({tree[1]!r})"
    if op in ("add", "sub", "mul", "div"):
        symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
        return f"({render(tree[1])} {symbol} {render(tree[2])})"
    if op in ("max", "min"):
        return f"{op}({render(tree[1])}, {render(tree[2])})"
    if op == "neg":
        return f"(-{render(tree[1])})"
    if op == "ipow":
        return f"({render(tree[1])})**{tree[2]}"
    if op == "sqrt_abs":
        return f"sqrt(abs({render(tree[1])}))"
    return f"{op}({render(tree[1])})"


def reference(tree, x):
    """numpy value of a tree at points x [n, 3], with a first-order bound on its rounding
    error: each operation adds to the propagated input error a few ulps of its result, and the
    smallest normal number, since XLA on CPU flushes subnormal results to zero."""
    value, error = _reference(tree, x)
    return value, error + TINY


def _reference(tree, x):
    op = tree[0]
    if op == "var":
        return x[:, tree[1]], np.zeros(len(x))
    if op == "const":
        return np.full(len(x), tree[1]), np.zeros(len(x))
    a, ea = reference(tree[1], x)  # reference(), not _reference(): every result adds TINY
    if op in ("add", "sub", "mul", "div", "max", "min"):
        b, eb = reference(tree[2], x)
        if op == "add":
            v, e = a + b, ea + eb
        elif op == "sub":
            v, e = a - b, ea + eb
        elif op == "mul":
            v, e = a * b, np.abs(a) * eb + np.abs(b) * ea + ea * eb
        elif op == "div":
            v = a / b
            margin = np.abs(b) - eb
            e = np.where(margin > 0, (ea + np.abs(v) * eb) / np.where(margin > 0, margin, 1),
                         np.inf)
        else:
            v, e = (np.maximum if op == "max" else np.minimum)(a, b), np.maximum(ea, eb)
        return v, e + 4 * EPS * np.abs(v)
    if op == "ipow":
        n = tree[2]
        v = a**n if n >= 0 else 1.0 / a ** (-n)
        if n >= 1:
            slope = abs(n) * (np.abs(a) + ea) ** (n - 1)
        elif n == 0:
            slope = np.zeros(len(x))
        else:
            low = np.abs(a) - ea
            slope = np.where(low > 0, abs(n) * np.where(low > 0, low, 1) ** (n - 1), np.inf)
        return v, slope * ea + 8 * EPS * np.abs(v)
    # One-argument functions: |f′| bounded on [a − ea, a + ea]; libm and XLA may differ by a
    # few ulps of the result (sin and cos of large arguments: of the argument).
    if op == "neg":
        return -a, ea
    if op == "abs":
        return np.abs(a), ea
    if op == "exp":
        v = np.exp(a)
        return v, np.exp(a + ea) * ea + 16 * EPS * v
    if op in ("sin", "cos"):
        v = np.sin(a) if op == "sin" else np.cos(a)
        return v, ea + 16 * EPS * np.maximum(1.0, np.abs(a))
    if op in ("tanh", "arctan"):
        v = np.tanh(a) if op == "tanh" else np.arctan(a)
        return v, ea + 16 * EPS * np.abs(v)
    assert op == "sqrt_abs"
    v = np.sqrt(np.abs(a))
    low = np.abs(a) - ea
    slope = np.where(low > 0, 0.5 / np.sqrt(np.where(low > 0, low, 1)), np.inf)
    return v, slope * ea + 4 * EPS * v


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_random_expressions_agree_with_numpy(tree):
    text = render(tree)
    fun = from_expression(text, FUZZ_VARIABLES).fun
    ours = np.asarray(jax.vmap(fun)(jnp.asarray(POINTS)))
    with np.errstate(all="ignore"):
        expected, bound = reference(tree, POINTS)
        error = np.abs(ours - expected)
    # Where the reference overflowed or its error bound is infinite (a division by a number
    # that may be zero), nothing can be asserted.
    trusted = np.isfinite(expected) & np.isfinite(bound)
    assert ours.shape == expected.shape
    np.testing.assert_array_less(error[trusted], 8 * bound[trusted] + 1e-300, err_msg=text)


_TOKENS = ["x", "y", "1", "2.5", "e", "pi", "(", ")", "+", "-", "*", "/", "**", ",", ".",
           "exp", "max", "__class__", "__import__", "[", "]", "'", "lambda", ":", " ", "=",
           "<", "not", "if", "else", "j", "\n", "\\", "#", "{", "}", "@", "%", "\t", "0x1"]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(_TOKENS), max_size=25).map(
    "".join)))
def test_arbitrary_text_raises_only_value_errors(text):
    try:
        problem = from_expression(text, XY)
    except ValueError as err:
        assert "\n" not in str(err)
        return
    value = problem.fun(jnp.array([0.3, -0.7]))
    assert value.shape == () and value.dtype == jnp.float64
