"""Device choice for runs, and JAX's persistent compilation cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import jax

from ..config import ConfigError

#: best first, the order JAX itself prefers for its default backend
_PREFERENCE = ("tpu", "gpu", "cpu")
_CACHE_OFF = ("", "0", "off", "none", "false")


def available_platforms() -> dict[str, list[jax.Device]]:
    """Platform name → local devices, for each platform JAX can use here."""
    found = {}
    for platform in _PREFERENCE:
        try:
            devices = jax.local_devices(backend=platform)
        except RuntimeError:  # no such backend (JAX says "Unknown backend" / not found)
            continue
        if devices:
            found[platform] = devices
    return found


def select_devices(request: str) -> list[jax.Device]:
    """The local devices of the requested platform: ``auto`` picks the best available
    (TPU, then GPU, then CPU); ``cpu``/``gpu``/``tpu`` must exist.

    Raises:
        ConfigError: naming ``device`` when the platform is not available.
    """
    found = available_platforms()
    if request == "auto":
        return next(iter(found.values()))
    if request not in found:
        have = ", ".join(found) or "none"
        raise ConfigError([f"device: {request!r} requested but JAX finds no {request.upper()} "
                           f"here (available: {have}); use device=auto or device=cpu"])
    return found[request]


def default_cache_dir() -> Path | None:
    """``$OPTKIT_CACHE_DIR`` (empty, ``0`` or ``off`` disables the cache), else
    ``$XDG_CACHE_HOME/optkit/jax``, else ``~/.cache/optkit/jax``."""
    env = os.environ.get("OPTKIT_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in _CACHE_OFF else Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "optkit" / "jax"


_CACHE_OPTIONS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                  "jax_persistent_cache_min_entry_size_bytes")


@contextmanager
def compilation_cache(path: Path | None = None) -> Iterator[Path | None]:
    """Within the block, JAX's persistent compilation cache is on at ``path`` (default
    :func:`default_cache_dir`; None when that is disabled) and caches every program however
    small or quick to compile, so a repeated run skips XLA compilation. JAX's previous cache
    settings are restored afterwards."""
    path = default_cache_dir() if path is None else path
    if path is None:
        yield None
        return
    path.mkdir(parents=True, exist_ok=True)
    saved = {name: getattr(jax.config, name) for name in _CACHE_OPTIONS}
    _configure_cache({"jax_compilation_cache_dir": str(path),
                      "jax_persistent_cache_min_compile_time_secs": 0.0,
                      "jax_persistent_cache_min_entry_size_bytes": -1})
    try:
        yield path
    finally:
        _configure_cache(saved)


def _configure_cache(values: dict[str, object]) -> None:
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    for name, value in values.items():
        jax.config.update(name, value)
    # JAX opens the cache (or decides there is none) once per process; make it look again
    jax_cache.reset_cache()
