"""What we minimise: Problem records, the registry of built-in problems, the safe expression
translator and user functions.

>>> import optkit
>>> p = optkit.problems.get("rosenbrock", dim=5)
>>> q = optkit.problems.from_expression("log(exp(x) + exp(y))", ["x", "y"])
"""

from ._expression import from_expression
from ._problem import KnownPoint, Problem
from ._registry import REGISTRY, get, names, parameters, register
from ._user_function import from_function

__all__ = ["REGISTRY", "KnownPoint", "Problem", "from_expression", "from_function", "get",
           "names", "parameters", "register"]
