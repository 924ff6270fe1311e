"""Any optax optimiser as an optkit solver (every update is one accepted step)."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._text import one_line, suggestion
from ._base import Array, FlatFun, Solver, StepInfo


class OptaxState(NamedTuple):
    x: Array
    f: Array
    g: Array
    opt_state: Any


class _Same:
    """A key part equal only to itself: the object is kept alive, so its id is never reused."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


def structure_key(obj: Any, _active: frozenset[int] = frozenset()) -> Any:
    """A hashable key that is equal for two optax transformations built the same way.

    ``optax.adam(1e-3)`` called twice gives two objects of closures that compare unequal,
    although they compute the same thing. Here a function is its code object and globals (by
    identity: the same ``def``) together with the keys of its closure cells and defaults;
    tuples, lists, dicts and ``functools.partial`` are keyed by their items; numbers, strings
    and other hashable values by type and value; concrete arrays by dtype, shape and bytes.
    Anything else (a tracer, an unhashable object) is keyed by identity, so an unknown object
    can only cause a recompile, never a wrong reuse.
    """
    if isinstance(obj, (bool, int, float, complex, str, bytes, type(None))):
        return type(obj), obj
    if id(obj) in _active:  # a closure that refers to itself
        return _Same(obj)
    active = _active | {id(obj)}
    if isinstance(obj, types.FunctionType):
        cells = []
        for cell in obj.__closure__ or ():
            try:
                cells.append(structure_key(cell.cell_contents, active))
            except ValueError:  # an empty cell
                cells.append(None)
        return ("function", _Same(obj.__code__), _Same(obj.__globals__), tuple(cells),
                structure_key(obj.__defaults__, active),
                structure_key(obj.__kwdefaults__, active))
    if isinstance(obj, functools.partial):
        return ("partial", structure_key(obj.func, active), structure_key(obj.args, active),
                structure_key(obj.keywords, active))
    if isinstance(obj, (tuple, list)):
        return type(obj), tuple(structure_key(item, active) for item in obj)
    if isinstance(obj, dict):
        try:
            items = sorted(obj.items())
        except TypeError:
            return _Same(obj)
        return dict, tuple((k, structure_key(v, active)) for k, v in items)
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        if isinstance(obj, jax.core.Tracer):
            return _Same(obj)
        value = np.asarray(obj)
        return "array", value.dtype.str, value.shape, value.tobytes()
    try:
        hash(obj)
    except TypeError:
        return _Same(obj)
    return type(obj), obj


@dataclasses.dataclass(frozen=True, eq=False)
class Optax(Solver):
    """Wrap an ``optax.GradientTransformation`` (e.g. ``optax.adam(1e-3)``, ``optax.lbfgs()``).

    Transformations with a line search (``optax.lbfgs``, ``scale_by_zoom_linesearch``) get
    the objective, value and gradient they need through optax's extra-args protocol.

    Compared by how the transformation was built (:func:`structure_key`), not by identity:
    ``Optax(optax.adam(1e-3))`` written twice is one compiled program, so a second solve with
    the same function and shapes does not recompile; ``Optax(optax.adam(1e-2))`` is another.
    """

    default_max_steps = 20_000

    optimizer: optax.GradientTransformation

    def init(self, fun: FlatFun, x: Array) -> OptaxState:
        f, g = jax.value_and_grad(fun)(x)
        return OptaxState(x, f, g, self.optimizer.init(x))

    def step(self, fun: FlatFun, state: OptaxState) -> tuple[OptaxState, StepInfo]:
        updates, opt_state = self.optimizer.update(
            state.g, state.opt_state, state.x, value=state.f, grad=state.g, value_fn=fun
        )
        x = optax.apply_updates(state.x, updates)
        try:  # line searches keep f and ∇f at the new point in their state: reuse them
            f, g = optax.value_and_grad_from_state(fun)(x, state=opt_state)
        except ValueError:  # plain optimisers (adam, sgd, ...) keep neither
            f, g = jax.value_and_grad(fun)(x)
        g_norm = jnp.linalg.norm(state.g)
        step = jnp.linalg.norm(updates) / jnp.where(g_norm > 0, g_norm, 1.0)
        info = StepInfo(
            accepted=jnp.asarray(True), failed=jnp.asarray(False), step_size=step, aux={}
        )
        return OptaxState(x, f, g, opt_state), info

    @functools.cached_property
    def _key(self) -> Any:
        return structure_key(self.optimizer)

    @functools.cached_property
    def _hash(self) -> int:  # jit hashes its static arguments on every call
        return hash(self._key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (type(other) is type(self)
                                 and self._key == other._key)  # type: ignore[attr-defined]


class OptionError(ValueError):
    """A bad option of a method, with the option's name in ``option`` (so that a config error
    can name its key, ``solver.<option>``)."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


def optax_aliases() -> list[str]:
    """The names of optax's optimiser aliases (the functions of ``optax._src.alias`` that
    ``optax`` exports: adam, sgd, adamw, lion, lbfgs, ...)."""
    return sorted(name for name in dir(optax) if not name.startswith("_") and callable(
        getattr(optax, name)) and getattr(getattr(optax, name), "__module__", "") ==
        "optax._src.alias")


#: values an optax argument may take from a config (data, never code)
_PLAIN = (bool, int, float, str, type(None))


def optax_alias(optimizer: str = "adam", **arguments: Any) -> Optax:
    """Any optax optimiser by its name, with its arguments beside it (YAML:
    ``solver: {method: optax, optimizer: adam, learning_rate: 1e-3}``).

    The name is looked up among optax's aliases (``optax.adam``, ``optax.sgd``, ...) and the
    arguments are checked against that function's signature; nothing is evaluated.

    Args:
        optimizer: the name of an optax alias (adam, adamw, sgd, lion, rmsprop, ...); its
            keyword arguments (learning_rate, b1, momentum, ...) are given beside it as plain
            numbers, booleans or strings.
    """
    names = optax_aliases()
    if not isinstance(optimizer, str) or optimizer not in names:
        hint = suggestion(optimizer, names) if isinstance(optimizer, str) else ""
        raise OptionError(f"unknown optax optimizer {optimizer!r}{hint}; expected one of "
                          f"{', '.join(names)}", "optimizer")
    factory = getattr(optax, optimizer)
    params = inspect.signature(factory).parameters
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in arguments.items():
        if key not in named and not takes_any:
            hint = (" (did you mean 'learning_rate'?)" if key == "lr" and "learning_rate" in named
                    else suggestion(key, named))
            raise OptionError(f"optax.{optimizer} has no argument {key!r}{hint}; it takes "
                              f"{', '.join(named)}", key)
        if not isinstance(value, _PLAIN):
            raise OptionError(f"expected a number, boolean or string for optax.{optimizer}, "
                              f"got {type(value).__name__}", key)
    for key in named:
        if params[key].default is inspect.Parameter.empty and arguments.get(key) is None:
            raise OptionError(f"optax.{optimizer} needs {key}", key)
    return _optax_alias(optimizer, tuple(sorted(arguments.items())))


@functools.lru_cache(maxsize=64)
def _optax_alias(optimizer: str, arguments: tuple[tuple[str, Any], ...]) -> Optax:
    # one object per option set (Optax solvers compare by structure, so this only saves
    # rebuilding the transformation and its key)
    try:
        transformation = getattr(optax, optimizer)(**dict(arguments))
    except Exception as err:
        shown = ", ".join(f"{k}={v!r}" for k, v in arguments)
        raise OptionError(f"optax.{optimizer}({shown}) failed: {one_line(err)}",
                          "optimizer") from None
    return Optax(transformation)
