"""Problems from the user's own Python functions, named "package.module:fn" or "file.py:fn".

The module is imported with ``importlib`` (or the file loaded with
``importlib.util.spec_from_file_location``): that runs the user's module, as any import does,
but no user text is ever passed to ``eval``/``exec``.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import numbers
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._text import one_line
from ._problem import Problem


def _is_path(module: str) -> bool:
    return module.endswith(".py") or "/" in module or "\\" in module


def _load_file(label: str, path_text: str) -> ModuleType:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"{label}: file {path_text!r} not found")
    # A name of its own per file, so two files called model.py do not collide.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
    name = f"optkit_user_{path.stem if path.stem.isidentifier() else 'module'}_{digest}"
    if name in sys.modules:  # imported once per process, like any module
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"{label}: cannot load {path_text!r} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up here
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[name]
        raise ValueError(f"{label}: loading {path_text!r} failed: "
                         f"{one_line(err, with_type=True)}") from None
    return module


def _import(label: str, module_name: str, base_dir: Path | None = None) -> ModuleType:
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise ValueError(f"{label}: {module_name!r} is neither a module name "
                         "(package.module) nor a .py file")
    # The console script does not put the working directory on sys.path as `python -m` does;
    # look there (and in the config file's folder) last, so that "mymodule:f" finds
    # ./mymodule.py without shadowing packages.
    added = [folder for folder in dict.fromkeys([str(base_dir or os.getcwd()), os.getcwd()])
             if folder not in sys.path]
    sys.path.extend(added)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name.startswith(err.name):
            raise ValueError(f"{label}: no module named {err.name!r}") from None
        raise ValueError(f"{label}: importing {module_name!r} failed: "
                         f"{one_line(err, with_type=True)}") from None
    except Exception as err:
        raise ValueError(f"{label}: importing {module_name!r} failed: "
                         f"{one_line(err, with_type=True)}") from None
    finally:
        for folder in added:
            sys.path.remove(folder)


def absolute_spec(spec: str, base_dir: str | os.PathLike[str] | None) -> str:
    """``spec`` ("file.py:fn" or "package.module:fn") with a relative file made absolute
    against ``base_dir`` (a module name is left as it is)."""
    if not isinstance(spec, str) or ":" not in spec:
        return spec
    module_name, attribute = spec.rsplit(":", 1)
    return f"{absolute_module(module_name, base_dir)}:{attribute}"


def absolute_module(module: str, base_dir: str | os.PathLike[str] | None) -> str:
    """A relative .py path made absolute against ``base_dir``; a module name as it is."""
    if not _is_path(module):
        return module
    path = Path(module).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or os.getcwd()) / path
    return str(path.resolve())


def load_module(module: str, base_dir: str | os.PathLike[str] | None = None) -> ModuleType:
    """Import ``module``: a module name (looked up on sys.path, then in ``base_dir``) or a
    .py file (relative paths against ``base_dir``, default the working directory)."""
    if not isinstance(module, str) or not module:
        raise ValueError(f"expected a module name or a .py file, got {module!r}")
    base = Path(base_dir) if base_dir is not None else None
    if _is_path(module):
        return _load_file(f"module {module!r}", absolute_module(module, base))
    return _import(f"module {module!r}", module, base)


def load_and_trace(spec: str, dim: int, base_dir: str | os.PathLike[str] | None,
                   key: str) -> tuple[Callable[..., Any], Any]:
    """The function at ``spec`` and the shape of what it returns for a vector of ``dim``
    floats (traced only, nothing computed); a failing call is one ValueError naming ``key``
    (the config key: "function" or "residuals")."""
    fun = load_function(spec, base_dir)
    probe = jax.ShapeDtypeStruct((dim,), jnp.result_type(float))
    try:
        return fun, jax.eval_shape(fun, probe)
    except Exception as err:
        raise ValueError(f"{key} {spec!r}: calling it on a vector of {dim} floats failed: "
                         f"{one_line(err, with_type=True)}") from None


def load_function(spec: str, base_dir: str | os.PathLike[str] | None = None
                  ) -> Callable[..., Any]:
    """The callable named by ``spec``: "package.module:fn" (imported from sys.path, then from
    the working directory) or "path/file.py:fn" (loaded from the file; a module part ending
    in .py or holding a path separator is a file); ``fn`` may be dotted (``Class.method``)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"function {spec!r}: expected 'package.module:function' or "
                         "'path/to/file.py:function'")
    module_name, attribute = spec.rsplit(":", 1)
    if not module_name or not attribute:
        raise ValueError(f"function {spec!r}: expected 'package.module:function' or "
                         "'path/to/file.py:function'")
    base = Path(base_dir) if base_dir is not None else None
    label = f"function {spec!r}"
    module = (_load_file(label, absolute_module(module_name, base)) if _is_path(module_name)
              else _import(label, module_name, base))
    target: Any = module
    for part in attribute.split("."):
        if not part.isidentifier():
            raise ValueError(f"function {spec!r}: {attribute!r} is not a function name")
        if not hasattr(target, part):
            public = [n for n in dir(target) if not n.startswith("_")]
            close = difflib.get_close_matches(part, public, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"function {spec!r}: {module_name!r} has no attribute "
                             f"{part!r}{hint}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"function {spec!r}: {attribute!r} is not callable "
                         f"(it is a {type(target).__name__})")
    return target


def from_function(
    spec: str,
    dim: int,
    *,
    lower: float = -2.0,
    upper: float = 2.0,
    start: Sequence[float] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> Problem:
    """A :class:`Problem` from the user's function ``fn(x) -> scalar`` of a flat vector of
    ``dim`` floats, named "package.module:fn" or "path/to/file.py:fn".

    The function must be JAX-traceable (jax.numpy, not numpy) for the solvers to
    differentiate it. It is checked once with ``jax.eval_shape`` on a vector of ``dim``
    floats, which traces it without computing anything: it must return a scalar. The box is
    [lower, upper]ⁿ (default [−2, 2]ⁿ) and the default start 0.5 in every coordinate (the
    box's midpoint if 0.5 is outside it).
    """
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"function {spec!r}: dim must be a positive integer, got {dim!r}")
    dim = int(dim)
    for key, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(
                value):
            raise ValueError(f"function {spec!r}: {key} must be a finite number, got {value!r}")
    if not lower < upper:
        raise ValueError(f"function {spec!r}: lower must be below upper, got {lower!r} and "
                         f"{upper!r}")
    if start is None:
        point = np.full(dim, 0.5 if lower <= 0.5 <= upper else 0.5 * (lower + upper))
    else:
        try:
            point = np.asarray(start, dtype=np.float64)
        except (TypeError, ValueError):
            point = np.full(1, np.nan)
        if point.shape != (dim,) or not np.all(np.isfinite(point)):
            raise ValueError(f"function {spec!r}: start must be a list of {dim} finite "
                             f"numbers, got {start!r}")
    fun, out = load_and_trace(spec, dim, base_dir, "function")
    if not (isinstance(out, jax.ShapeDtypeStruct) and out.shape == ()
            and jnp.issubdtype(out.dtype, jnp.floating)):
        raise ValueError(f"function {spec!r}: must return a float scalar, got "
                         f"{getattr(out, 'shape', type(out).__name__)} "
                         f"{getattr(out, 'dtype', '')}".rstrip())
    return Problem(
        name=spec, fun=fun, dim=dim, start=jnp.asarray(point),
        box=((float(lower),) * dim, (float(upper),) * dim), source="user function",
        params={"function": spec, "dim": dim},
    )
