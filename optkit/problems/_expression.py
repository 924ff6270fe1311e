"""A safe translator from a math expression string to a JAX function of a flat vector.

The text is parsed with ``ast.parse(text, mode="eval")`` and never evaluated by Python: the
syntax tree is checked node by node against a small grammar and compiled into a postfix
program (constants, variables, and whitelisted ``jax.numpy`` functions), which a short loop
runs on a stack. Anything outside the grammar is refused with a one-line ``ValueError`` naming
the construct and its column.

Grammar: int and float literals; the variables; the constants ``pi`` and ``e``; ``+ - * / **``
and unary ``+ -``; parentheses; calls by bare name of the one-argument functions in
:data:`UNARY_FUNCTIONS` and the two-argument functions in :data:`BINARY_FUNCTIONS`.
Operator precedence is Python's (``-x**2`` is −(x²), ``2**3**2`` is 2⁹).

Translation and evaluation are iterative (no recursion), so the only depth limit is the
parser's own, which is turned into a ``ValueError`` as well. An expression is a signed sum of
terms; terms that differ only in their constants are evaluated together as one vectorised
term (see :func:`_group`), so long sums compile in seconds. Limits:
``OPTKIT_MAX_EXPRESSION_LENGTH`` characters (10,000) and ``OPTKIT_MAX_EXPRESSION_NODES``
operations (5,000), both in :mod:`optkit._limits`.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _limits
from .._text import suggestion
from ._checks import vector
from ._problem import Problem

#: the default limit on an expression's characters (``OPTKIT_MAX_EXPRESSION_LENGTH``)
MAX_LENGTH = _limits.MAX_EXPRESSION_LENGTH.default
DEFAULT_LOWER, DEFAULT_UPPER, DEFAULT_START = -2.0, 2.0, 0.5

UNARY_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "exp": jnp.exp, "log": jnp.log, "log1p": jnp.log1p, "expm1": jnp.expm1,
    "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan,
    "arcsin": jnp.arcsin, "asin": jnp.arcsin, "arccos": jnp.arccos, "acos": jnp.arccos,
    "arctan": jnp.arctan, "atan": jnp.arctan,
    "sinh": jnp.sinh, "cosh": jnp.cosh, "tanh": jnp.tanh, "sqrt": jnp.sqrt, "abs": jnp.abs,
}
BINARY_FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "maximum": jnp.maximum, "max": jnp.maximum, "minimum": jnp.minimum, "min": jnp.minimum,
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: jnp.add, ast.Sub: jnp.subtract, ast.Mult: jnp.multiply,
    ast.Div: jnp.true_divide, ast.Pow: jnp.power,
}
_UNARY_OPERATORS: dict[type, Callable[[Any], Any]] = {ast.UAdd: jnp.positive,
                                                      ast.USub: jnp.negative}
_OPERATOR_SYMBOLS: dict[type, str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not",
    ast.And: "and", ast.Or: "or",
}
_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.JoinedStr: "f-string", ast.Compare: "comparison",
    ast.IfExp: "conditional expression", ast.NamedExpr: "assignment expression",
    ast.Tuple: "tuple", ast.List: "list", ast.Set: "set", ast.Dict: "dict",
    ast.Starred: "starred expression", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slice",
}
# A larger integer exponent is used as a float: lax.integer_pow wants it to fit in int32.
_MAX_INTEGER_EXPONENT = 2**31 - 1

# Program instructions: (opcode, argument).
_CONSTANT, _VARIABLE, _UNARY, _BINARY = range(4)
Instruction = tuple[int, Any]


def _short(text: str, limit: int = 40) -> str:
    """``repr`` of text cut to ``limit`` characters: always one line."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _is_dunder(name: str) -> bool:
    return name.startswith("__")


class _Source:
    """Where things are in the user's text. The parser sees it stripped of surrounding space
    (it refuses leading space as indentation); positions are reported in the original."""

    def __init__(self, original: str) -> None:
        self.original = original
        self.text = original.strip()
        self.offset = len(original) - len(original.lstrip())
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def index(self, lineno: int, column: int, *, utf8: bool = True) -> int:
        """Character index in ``text`` of a 1-based line and a 0-based column (UTF-8 bytes,
        as AST nodes count, or characters)."""
        line_index = min(max(lineno, 1), len(self.line_starts)) - 1
        start = self.line_starts[line_index]
        line = self.text[start:].split("\n", 1)[0]
        if utf8:
            column = len(line.encode("utf-8")[:column].decode("utf-8", errors="ignore"))
        return start + min(max(column, 0), len(line))

    def where(self, index: int) -> str:
        """'column C' ('line L, column C' for multi-line input), 1-based, of an index in
        ``text``."""
        index += self.offset
        before = self.original[:index]
        column = index - (before.rfind("\n") + 1) + 1
        if "\n" not in self.original:
            return f"column {column}"
        line = before.count("\n") + 1
        return f"line {line}, column {column}"


class _Translator:
    """Checks a parsed expression against the grammar and compiles it to a postfix program."""

    def __init__(self, source: _Source, variables: dict[str, int]) -> None:
        self.source = source
        self.text = source.text
        self.variables = variables  # NFKC-normalised name → index (the parser normalises too)

    # Positions ------------------------------------------------------------------------

    def where(self, index: int) -> str:
        return self.source.where(index)

    def node_index(self, node: ast.AST) -> int:
        return self.source.index(getattr(node, "lineno", 1), getattr(node, "col_offset", 0))

    def after_index(self, node: ast.AST) -> int:
        """Index of the first character after ``node`` that is not a space or a closing
        parenthesis: the operator, dot or bracket that follows an operand."""
        index = self.source.index(node.end_lineno or 1, node.end_col_offset or 0)
        while index < len(self.text) and self.text[index] in " \t\r\n\f)":
            index += 1
        return index

    def segment(self, node: ast.AST) -> str:
        return _short(ast.get_source_segment(self.text, node) or type(node).__name__)

    def refuse(self, what: str, index: int) -> ValueError:
        return ValueError(f"{what} is not allowed ({self.where(index)})")

    # Translation ----------------------------------------------------------------------

    def compile(self, body: ast.AST) -> list[Instruction]:
        """Post-order walk with an explicit stack: each node is checked before its children
        and emitted after them."""
        program: list[Instruction] = []
        work: list[Any] = [body]
        while work:
            item = work.pop()
            if isinstance(item, tuple):
                program.append(item)
                continue
            instruction, children = self.translate(item)
            work.append(instruction)
            work.extend(reversed(children))
        return program

    def translate(self, node: ast.AST) -> tuple[Instruction, list[ast.AST]]:
        """The instruction for ``node`` and the operands it takes from the stack."""
        if isinstance(node, ast.Constant):
            return (_CONSTANT, self.number(node)), []
        if isinstance(node, ast.Name):
            return self.name(node), []
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            operator = _UNARY_OPERATORS.get(type(node.op))
            if operator is None:
                symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
                raise self.refuse(f"operator {symbol!r}", self.node_index(node))
            return (_UNARY, operator), [node.operand]
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.BoolOp):
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), "and/or")
            raise self.refuse(f"boolean operator {symbol!r}", self.after_index(node.values[0]))
        if isinstance(node, ast.Attribute):
            raise self.refuse(f"attribute access {self.segment(node)}",
                              self.after_index(node.value))
        if isinstance(node, ast.Subscript):
            raise self.refuse(f"subscript {self.segment(node)}", self.after_index(node.value))
        if isinstance(node, ast.Compare):
            raise self.refuse(f"comparison {self.segment(node)}", self.after_index(node.left))
        what = _REFUSED.get(type(node), f"construct {type(node).__name__}")
        raise self.refuse(f"{what} {self.segment(node)}", self.node_index(node))

    def number(self, node: ast.Constant) -> float:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = ("string" if isinstance(value, (str, bytes))
                    else "complex number" if isinstance(value, complex) else "literal")
            raise self.refuse(f"{kind} {self.segment(node)}", self.node_index(node))
        try:
            return float(value)
        except OverflowError:  # an int literal beyond float range, like 1e999 for floats
            return math.inf

    def name(self, node: ast.Name) -> Instruction:
        name = node.id
        if name in self.variables:
            return _VARIABLE, self.variables[name]
        if name in CONSTANTS:
            return _CONSTANT, CONSTANTS[name]
        index = self.node_index(node)
        if name in UNARY_FUNCTIONS or name in BINARY_FUNCTIONS:
            raise ValueError(f"function {name!r} must be called, e.g. {name}(x) "
                             f"({self.where(index)})")
        if _is_dunder(name):
            raise self.refuse(f"dunder name {name!r}", index)
        known = [*self.variables, *CONSTANTS]
        raise ValueError(f"unknown name {name!r}{suggestion(name, known)} ({self.where(index)}); "
                         f"variables: {', '.join(self.variables)}")

    def binary(self, node: ast.BinOp) -> tuple[Instruction, list[ast.AST]]:
        operator = _OPERATORS.get(type(node.op))
        if operator is None:
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
            raise self.refuse(f"operator {symbol!r}", self.after_index(node.left))
        if isinstance(node.op, ast.Pow):
            exponent = _integer_literal(node.right)
            if exponent is not None and abs(exponent) <= _MAX_INTEGER_EXPONENT:
                # jnp.power with a Python int is lax.integer_pow: repeated multiplication,
                # exact for negative bases and with the exact derivative n·xⁿ⁻¹.
                return (_UNARY, _power_of(exponent)), [node.left]
        return (_BINARY, operator), [node.left, node.right]

    def call(self, node: ast.Call) -> tuple[Instruction, list[ast.AST]]:
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                raise self.refuse(f"attribute access {self.segment(func)}",
                                  self.after_index(func.value))
            raise self.refuse(f"call of {self.segment(func)}", self.node_index(node))
        name, index = func.id, self.node_index(node)
        if name in UNARY_FUNCTIONS:
            arity, function = 1, UNARY_FUNCTIONS[name]
        elif name in BINARY_FUNCTIONS:
            arity, function = 2, BINARY_FUNCTIONS[name]
        elif name in self.variables or name in CONSTANTS:
            raise ValueError(f"{name!r} is not a function ({self.where(index)})")
        elif _is_dunder(name):
            raise self.refuse(f"call of {name!r}", index)
        else:
            functions = [*UNARY_FUNCTIONS, *BINARY_FUNCTIONS]
            raise ValueError(f"call of unknown function {name!r}{suggestion(name, functions)} "
                             f"is not allowed ({self.where(index)}); functions: "
                             f"{', '.join(functions)}")
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.refuse(f"starred argument {self.segment(argument)}",
                                  self.node_index(argument))
        if node.keywords:
            keyword_node = node.keywords[0]
            raise self.refuse(f"keyword argument {self.segment(keyword_node)}",
                              self.node_index(keyword_node))
        if len(node.args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise ValueError(f"{name}() takes {arity} {plural}, got {len(node.args)} "
                             f"({self.where(index)})")
        return (_UNARY if arity == 1 else _BINARY, function), list(node.args)


def _integer_literal(node: ast.AST) -> int | None:
    """n for an exponent written as an int literal n, +n or −n; None otherwise."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if (isinstance(node, ast.Constant) and isinstance(node.value, int)
            and not isinstance(node.value, bool)):
        return sign * node.value
    return None


def _integer_power(base: Any, exponent: int) -> Any:
    return jnp.power(base, exponent)


@functools.lru_cache(maxsize=256)
def _power_of(exponent: int) -> Callable[[Any], Any]:
    """One function object per exponent, so that equal powers are shared subexpressions."""
    return functools.partial(_integer_power, exponent=exponent)


def _terms(body: ast.AST) -> list[tuple[float, ast.AST]]:
    """The expression as a signed sum ``Σ sign·term``, split at every top-level ``+`` and
    ``-`` (through parentheses), terms in reading order."""
    terms: list[tuple[float, ast.AST]] = []
    work: list[tuple[float, ast.AST]] = [(1.0, body)]
    while work:
        sign, node = work.pop()
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            right_sign = sign if isinstance(node.op, ast.Add) else -sign
            work.append((right_sign, node.right))  # popped after the left side
            work.append((sign, node.left))
        else:
            terms.append((sign, node))
    return terms


def _template(program: list[Instruction]) -> tuple[Any, ...]:
    """The program with its constants left out: terms with equal templates differ only in
    their constants."""
    return tuple((op, None if op == _CONSTANT else argument) for op, argument in program)


def _group(terms: list[tuple[float, list[Instruction]]]
           ) -> list[tuple[list[Instruction], np.ndarray, np.ndarray]]:
    """Terms grouped by template, in order of first appearance: ``(program, constants [k, c],
    signs [k])``. A long sum of terms of one shape (``sin(x*i)*cos(y+i)`` for i = 1..140) is
    then evaluated as one vectorised term and one ``sum``, so its derivatives compile to a
    few dozen operations instead of thousands (the Hessian of 140 such terms took 84 s to
    compile term by term). The order of summation changes, so the value can differ from
    left-to-right addition in the last bits."""
    groups: dict[tuple[Any, ...], tuple[list[Instruction], list[list[float]], list[float]]] = {}
    for sign, program in terms:
        entry = groups.setdefault(_template(program), (program, [], []))
        entry[1].append([argument for op, argument in program if op == _CONSTANT])
        entry[2].append(sign)
    return [(program, np.asarray(constants, dtype=np.float64).reshape(len(signs), -1),
             np.asarray(signs)) for program, constants, signs in groups.values()]


def _run(program: list[Instruction], coordinates: list[Any], constants: list[Any]) -> Any:
    """Evaluate a postfix program on a stack; the constants are taken in program order (each
    may be a vector of the constants of several terms: everything broadcasts)."""
    stack: list[Any] = []
    pending = iter(constants)
    for opcode, argument in program:
        if opcode == _CONSTANT:
            stack.append(next(pending))
        elif opcode == _VARIABLE:
            stack.append(coordinates[argument])
        elif opcode == _UNARY:
            stack.append(argument(stack.pop()))
        else:
            right = stack.pop()
            stack.append(argument(stack.pop(), right))
    return stack.pop()


def _parse(source: _Source) -> ast.AST:
    """The body of the parsed expression; every parser failure becomes a ValueError."""
    limit = _limits.MAX_EXPRESSION_LENGTH
    if len(source.original) > limit.value:
        raise ValueError(f"is {len(source.original)} characters long, more than the limit "
                         f"{limit.value} ({limit.knob()})")
    if not source.text:
        raise ValueError("is empty")
    try:
        with warnings.catch_warnings():
            # "1if x else 2" parses with a SyntaxWarning: refuse it instead of printing it.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("error", SyntaxWarning)
            return ast.parse(source.text, mode="eval").body
    except SyntaxError as err:
        if err.offset:
            index = source.index(err.lineno or 1, err.offset - 1, utf8=False)
        else:  # offset 0: the input ended too early
            index = len(source.text)
        raise ValueError(f"invalid syntax ({source.where(index)}): {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError("is nested too deeply for the parser") from None
    except ValueError as err:  # null bytes, on some Python versions
        raise ValueError(f"cannot be parsed: {err}") from None


def _variable_index(variables: Any) -> dict[str, int]:
    """Check the variable names and map each (NFKC-normalised, as the parser sees it) to its
    coordinate."""
    if isinstance(variables, str) or not isinstance(variables, Sequence):
        raise ValueError(f"variables must be a list of names, got {variables!r}")
    if not variables:
        raise ValueError("variables must name at least one variable")
    index: dict[str, int] = {}
    for position, name in enumerate(variables):
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"variable {name!r} is not a valid name (an identifier)")
        key = unicodedata.normalize("NFKC", name)
        if key in UNARY_FUNCTIONS or key in BINARY_FUNCTIONS or key in CONSTANTS:
            raise ValueError(f"variable {name!r} is the name of a function or constant")
        if _is_dunder(key):
            raise ValueError(f"variable {name!r}: dunder names are not allowed")
        if key in index:
            raise ValueError(f"variable {name!r} is listed twice")
        index[key] = position
    return index


def _bound(value: Any, dim: int, key: str) -> np.ndarray:
    """A box bound: one number for every coordinate, or one per coordinate."""
    try:
        array = np.broadcast_to(np.asarray(value, dtype=np.float64), (dim,))
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number or a list of {dim} numbers, "
                         f"got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{key} must be finite, got {value!r}")
    return array


def translate(expression: str, variables: Sequence[str]) -> Callable[[Any], jax.Array]:
    """Compile ``expression`` into f(x) with x[i] standing for ``variables[i]``.

    Raises ``ValueError`` (one line, naming the construct and its column) for anything outside
    the grammar described in the module docstring.
    """
    index = _variable_index(variables)
    if not isinstance(expression, str):
        raise ValueError(f"expression must be a string, got {expression!r}")
    try:
        source = _Source(expression)
        translator = _Translator(source, index)
        terms = [(sign, translator.compile(term)) for sign, term in _terms(_parse(source))]
        size = sum(len(program) for _, program in terms)
        limit = _limits.MAX_EXPRESSION_NODES
        if size > limit.value:
            raise ValueError(f"has {size:,} operations, more than the limit {limit.value:,} "
                             f"({limit.knob()})")
    except ValueError as err:
        raise ValueError(f"expression {_short(expression)}: {err}") from None
    groups = _group(terms)
    dim, label = len(index), _short(expression)

    def fun(x: Any) -> jax.Array:
        x = vector(x, dim, expression, what=f"expression {label}")
        # each coordinate is sliced out once and shared by every use
        coordinates = list(jnp.unstack(x)) if dim > 1 else [x[0]]
        total: Any = None
        for template, constants, signs in groups:
            if len(signs) == 1:
                # Python floats stay weakly typed: float32 x keeps a float32 f
                value = _run(template, coordinates, constants[0].tolist())
                value = -value if signs[0] < 0 else value
            else:
                columns = [jnp.asarray(c, dtype=x.dtype) for c in constants.T]
                value = _run(template, coordinates, columns)
                value = jnp.sum(jnp.broadcast_to(value, signs.shape) * signs.astype(x.dtype))
            total = value if total is None else total + value
        # A constant expression is still a function of x: give it x's dtype.
        return jnp.asarray(total, dtype=x.dtype)

    return fun


def from_expression(
    expression: str,
    variables: Sequence[str],
    *,
    lower: float | Sequence[float] = DEFAULT_LOWER,
    upper: float | Sequence[float] = DEFAULT_UPPER,
    start: Sequence[float] | None = None,
) -> Problem:
    """A :class:`Problem` from a math expression, e.g.
    ``from_expression("log(exp(x) + exp(y))", ["x", "y"])``.

    f(x) evaluates the expression with ``variables[i]`` bound to x[i] (a flat vector of
    ``len(variables)`` floats; float32 stays float32), built from ``jax.numpy`` operations, so
    it works under jit, vmap, grad and hessian. The expression is never run by Python's
    ``eval``; see the module docstring for the grammar.

    The box is [lower, upper] per coordinate (default [−2, 2]ⁿ). The default start is 0.5 in
    every coordinate (off the symmetric points such as 0 where many textbook examples are
    critical), or the box's midpoint in coordinates where 0.5 is outside the box. No critical
    points are listed.
    """
    fun = translate(expression, variables)
    dim = len(variables)
    low, high = _bound(lower, dim, "lower"), _bound(upper, dim, "upper")
    if not np.all(low < high):
        raise ValueError(f"lower must be below upper in every coordinate, got lower={lower!r}, "
                         f"upper={upper!r}")
    if start is None:
        inside = (low <= DEFAULT_START) & (high >= DEFAULT_START)
        point = np.where(inside, DEFAULT_START, 0.5 * (low + high))
    else:
        try:
            point = np.asarray(start, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"start must be a list of {dim} numbers, got {start!r}") from None
        if point.shape != (dim,) or not np.all(np.isfinite(point)):
            raise ValueError(f"start must be a list of {dim} finite numbers, got {start!r}")
    text = expression.strip()
    return Problem(
        name=text, fun=fun, dim=dim, start=jnp.asarray(point),
        box=(tuple(map(float, low)), tuple(map(float, high))), source="expression",
        variables=tuple(variables),
        params={"expression": text, "variables": list(variables)},
    )
