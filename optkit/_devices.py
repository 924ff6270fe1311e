"""Device choice for runs (``device`` and ``devices`` in a config), and JAX's persistent
compilation cache. Shared by the config (which checks availability during validation) and the
runner (which places the starts)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import jax

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


class DeviceError(ValueError):
    """A device request this machine cannot meet; the message names the config key."""


def select_devices(request: str = "auto", devices: str | int | Sequence[int] = "all"
                   ) -> list[jax.Device]:
    """The local devices a run uses.

    ``request`` picks the platform: ``auto`` the best available (TPU, then GPU, then CPU);
    ``cpu``/``gpu``/``tpu`` must exist. ``devices`` picks among that platform's local devices:
    ``"all"``, a count N (the first N) or a list of device ids.

    Raises:
        DeviceError: naming ``device`` or ``devices`` when the request cannot be met.
    """
    found = available_platforms()
    if request == "auto":
        platform, local = next(iter(found.items()))
    elif request in found:
        platform, local = request, found[request]
    else:
        have = ", ".join(found) or "none"
        raise DeviceError(f"device: {request!r} requested but JAX finds no {request.upper()} "
                          f"here (available: {have}); use device=auto or device=cpu")
    if devices == "all":
        return local
    if isinstance(devices, int) and not isinstance(devices, bool):
        if devices > len(local):
            raise DeviceError(f"devices: {devices} requested but this process has "
                              f"{len(local)} {platform} device(s)")
        return local[:devices]
    by_id = {d.id: d for d in local}
    missing = [i for i in devices if i not in by_id]
    if missing:
        raise DeviceError(f"devices: no {platform} device with id {missing[0]} here (ids: "
                          f"{', '.join(str(i) for i in by_id)})")
    if len(set(devices)) != len(devices):
        raise DeviceError(f"devices: ids repeat in {list(devices)}")
    return [by_id[i] for i in devices]


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
