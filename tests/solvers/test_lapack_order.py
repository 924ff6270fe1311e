"""No compiled program of optkit runs two LAPACK calls at once.

jaxlib's CPU LAPACK kernels split a batched call (eigh, Cholesky, triangular solve, SVD under
vmap) over XLA's intra-op thread pool and block one pool thread until the pieces finish. Two
such calls running at once on a 2-thread pool (a 2-core machine) wait for each other forever:
an interrupted 2,000-start run hung in the partial-run save this way. ``optkit._linalg.after``
orders the calls; these tests read the optimised HLO of every kind of program optkit compiles
and check that, in each computation, every pair of LAPACK-holding instructions is ordered by
a data or control dependency.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optkit
from optkit.analysis.critical_points import _search
from optkit.solvers import BatchSolve
from optkit.solvers._bounded import BOUNDED_METHODS
from optkit.solvers._least_squares import SumOfSquares

_HEADER = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) \(.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (.*)$")
_CALLED = re.compile(r"(?:calls|to_apply|body|condition|branch_computations)="
                     r"(\{[^}]*\}|%?[\w.\-]+)")


def _computations(hlo: str) -> dict[str, dict[str, str]]:
    """computation name → {instruction name → the text after ``=``}."""
    comps: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in hlo.splitlines():
        header = _HEADER.match(line)
        if header and not line.startswith(" "):
            current = comps.setdefault(header.group(1), {})
        elif line.startswith("}"):
            current = None
        elif current is not None and (m := _INSTRUCTION.match(line)):
            current[m.group(1)] = m.group(2)
    return comps


def _ancestors(deps: dict[str, set[str]], name: str) -> set[str]:
    """Every instruction ``name`` depends on, directly or through others."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        for d in deps[stack.pop()]:
            if d not in seen:
                seen.add(d)
                stack.append(d)
    return seen


def unordered_lapack_pairs(hlo: str) -> list[tuple[str, str, str]]:
    """(computation, a, b) for every two instructions of one computation that call LAPACK
    (directly, or in a loop, branch or call they run) with no dependency path between them."""
    comps = _computations(hlo)
    holds: dict[str, bool] = {}

    def holds_lapack(comp: str) -> bool:
        if comp not in holds:
            holds[comp] = False  # HLO call graphs are acyclic; this only ends a recursion
            holds[comp] = any(calls_lapack(text) for text in comps.get(comp, {}).values())
        return holds[comp]

    def calls_lapack(text: str) -> bool:
        called = (name.lstrip("%") for m in _CALLED.finditer(text)
                  for name in re.findall(r"%?[\w.\-]+", m.group(1)))
        return 'custom_call_target="lapack_' in text or any(holds_lapack(c) for c in called)

    pairs = []
    for comp, instructions in comps.items():
        lapack = [name for name, text in instructions.items() if calls_lapack(text)]
        if len(lapack) < 2:
            continue
        deps = {name: set(re.findall(r"%([\w.\-]+)", text)) & instructions.keys()
                for name, text in instructions.items()}
        before = {name: _ancestors(deps, name) for name in lapack}
        pairs += [(comp, a, b) for i, a in enumerate(lapack) for b in lapack[i + 1:]
                  if a not in before[b] and b not in before[a]]
    return pairs


def _compiled_texts(solve: BatchSolve, programs: tuple[str, ...] = ("_start", "_advance",
                                                                   "_finish")) -> dict[str, str]:
    carry = jax.eval_shape(solve._start, solve._starts)
    inputs = {"_start": (solve._starts,), "_advance": (carry, jnp.int32(0)), "_finish": (carry,)}
    return {name: getattr(solve, name).lower(*inputs[name]).compile().as_text()
            for name in programs}


def _assert_ordered(texts: dict[str, str]) -> None:
    for name, text in texts.items():
        assert "lapack_" in text or name != "_finish", f"{name}: no LAPACK call was compiled"
        assert unordered_lapack_pairs(text) == [], name


def rosenbrock(x: jax.Array) -> jax.Array:
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


STARTS = np.random.default_rng(0).uniform(-2.0, 2.0, (8, 3))


def test_the_check_finds_two_independent_batched_calls() -> None:
    """The analysis itself: two eighs of independent inputs are flagged, ordered ones not."""
    mats = jnp.asarray(np.eye(3) + np.zeros((8, 3, 3)))

    def independent(a: jax.Array) -> tuple[jax.Array, jax.Array]:
        return jnp.linalg.eigh(a)[0], jnp.linalg.eigh(2.0 * a)[0]

    def ordered(a: jax.Array) -> tuple[jax.Array, jax.Array]:
        first = jnp.linalg.eigh(a)[0]
        return first, jnp.linalg.eigh(optkit._linalg.after(2.0 * a, first))[0]

    def loop_and_call(a: jax.Array) -> tuple[jax.Array, jax.Array]:
        looped = jax.lax.fori_loop(0, 2, lambda i, m: jnp.linalg.cholesky(m) + m, a)
        return looped, jnp.linalg.eigh(2.0 * a)[0]

    def text(fun: Callable[..., object]) -> str:
        return jax.jit(fun).lower(mats).compile().as_text()

    assert len(unordered_lapack_pairs(text(independent))) == 1
    assert unordered_lapack_pairs(text(ordered)) == []
    assert len(unordered_lapack_pairs(text(loop_and_call))) == 1


@pytest.mark.parametrize("method", ["newton", "gradient_descent", "newton_cg", "trust_region",
                                    "bfgs", "lbfgs", "optax"])
def test_every_method_orders_its_lapack_calls(method: str) -> None:
    # the finish program (classification and Hessian of the end point) is the same code for
    # every unconstrained method: it is compiled once, with Newton's
    options = {"learning_rate": 1e-2} if method == "optax" else {}
    programs = ("_start", "_advance") + (("_finish",) if method == "newton" else ())
    _assert_ordered(_compiled_texts(BatchSolve(rosenbrock, STARTS, method, max_steps=2,
                                               hessian=True, **options), programs))


@pytest.mark.parametrize("method", sorted(BOUNDED_METHODS))
def test_bounded_methods_order_their_lapack_calls(method: str) -> None:
    bounds = (np.full(3, -1.0), np.full(3, 0.5))
    _assert_ordered(_compiled_texts(BatchSolve(rosenbrock, STARTS, method, max_steps=2,
                                               bounds=bounds)))


@pytest.mark.parametrize("method", ["gauss_newton", "levenberg_marquardt"])
def test_least_squares_methods_order_their_lapack_calls(method: str) -> None:
    def residuals(x: jax.Array) -> jax.Array:
        return jnp.concatenate([10.0 * (x[1:] - x[:-1] ** 2), 1.0 - x[:-1]])

    _assert_ordered(_compiled_texts(BatchSolve(SumOfSquares(residuals), STARTS, method,
                                               max_steps=2)))


def test_the_critical_point_search_orders_its_lapack_calls() -> None:
    lower, upper = jnp.full(3, -2.0), jnp.full(3, 2.0)
    text = _search.lower(rosenbrock, jnp.asarray(STARTS), lower, upper, jnp.int32(2),
                         jnp.int32(2)).compile().as_text()
    assert "lapack_" in text
    assert unordered_lapack_pairs(text) == []


def test_implicit_derivatives_order_their_lapack_calls() -> None:
    def loss(x: jax.Array, theta: jax.Array) -> jax.Array:
        return jnp.sum((x - theta) ** 2) + 0.1 * jnp.sum(x**4)

    def solution_sum(theta: jax.Array) -> jax.Array:
        return optkit.minimize(loss, jnp.zeros(3), args=(theta,), max_steps=20).x.sum()

    program = jax.jit(jax.vmap(jax.grad(solution_sum)))
    text = program.lower(jnp.asarray(STARTS)).compile().as_text()
    assert "lapack_" in text
    assert unordered_lapack_pairs(text) == []
