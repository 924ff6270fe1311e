"""The registry of built-in problems: a plain dict of name → factory with keyword parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .._names import check_new_entry
from .._text import suggestion
from . import _chapter, _classics, _landscapes
from ._problem import Problem

REGISTRY: dict[str, Callable[..., Problem]] = {
    # the chapter's examples
    "log_sum_exp": _chapter.log_sum_exp,
    "quartic": _chapter.quartic,
    "gaussian_bump": _chapter.gaussian_bump,
    "composed": _chapter.composed,
    "cubic_saddle": _chapter.cubic_saddle,
    "linear": _chapter.linear,
    "quadratic_form": _chapter.quadratic_form,
    "matrix_factorization": _chapter.matrix_factorization,
    # classics
    "rosenbrock": _classics.rosenbrock,
    "himmelblau": _landscapes.himmelblau,
    "beale": _landscapes.beale,
    "booth": _classics.booth,
    "matyas": _classics.matyas,
    "six_hump_camel": _landscapes.six_hump_camel,
    "styblinski_tang": _landscapes.styblinski_tang,
    "quadratic": _classics.quadratic,
    "monkey_saddle": _classics.monkey_saddle,
}


#: the problems optkit itself ships (plots rebuild only these and expressions)
BUILT_IN: frozenset[str] = frozenset(REGISTRY)


def register(name: str, factory: Callable[..., Problem], *, replace: bool = False) -> None:
    """Make ``factory(**params) -> Problem`` available as ``get(name, **params)`` and as YAML
    ``problem: {name: NAME, ...params}`` (its keyword parameters are the problem's
    parameters)."""
    check_new_entry("problem", name, factory, REGISTRY, replace)
    REGISTRY[name] = factory


def names() -> list[str]:
    """The registered problem names: the chapter's examples first, then the classics."""
    return list(REGISTRY)


def _factory(name: Any) -> Callable[..., Problem]:
    if not isinstance(name, str):
        raise ValueError(f"problem name must be a string, got {name!r}")
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown problem {name!r}{suggestion(name, names())}; known problems: "
                         f"{', '.join(names())}") from None


def parameters(name: str) -> dict[str, Any]:
    """The parameters problem ``name`` takes, with their defaults ({} if none)."""
    signature = inspect.signature(_factory(name))
    return {key: p.default for key, p in signature.parameters.items()}


def get(name: str, **params: Any) -> Problem:
    """The built-in problem ``name`` built with ``params`` (see :func:`parameters`).

    Raises ``ValueError`` (one line) for an unknown name or parameter, suggesting the nearest
    one, and for a bad parameter value, naming it.
    """
    factory = _factory(name)
    accepted = parameters(name)
    for key in params:
        if key not in accepted:
            takes = (f"it takes {', '.join(accepted)}" if accepted
                     else "it takes no parameters")
            raise ValueError(f"problem {name!r} has no parameter {key!r}"
                             f"{suggestion(key, list(accepted))}; {takes}")
    return factory(**params)
