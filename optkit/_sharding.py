"""Batches of starts spread over devices: the leading (starts) axis split by a NamedSharding.

Every batched program in optkit (``minimize_batch``, ``BatchSolve``, ``find_critical_points``)
places its starts with :func:`shard_starts`: a batch is padded to a multiple of the device
count with copies of its first start, and callers drop the padding from their results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def starts_sharding(devices: Sequence[jax.Device] | None = None
                    ) -> jax.sharding.NamedSharding | None:
    """The leading axis split over ``devices`` (default: every local device of the default
    platform); None for a single device, where nothing needs splitting."""
    devices = list(devices) if devices is not None else jax.local_devices()
    if len(devices) <= 1:
        return None
    mesh = jax.sharding.Mesh(np.asarray(devices), ("starts",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("starts"))


def shard_starts(x0s: Any, devices: Sequence[jax.Device] | None = None, *,
                 pad_with_nan: bool = False
                 ) -> tuple[Any, int, jax.sharding.NamedSharding | None]:
    """``x0s`` (a pytree whose leaves share a leading starts axis) placed on ``devices``.

    Returns the placed pytree, the number of real starts and the sharding (None on one
    device). Padding rows are copies of the first start, so they solve like it and never
    produce a failure of their own; with ``pad_with_nan`` they are NaN, for programs that
    reduce over the starts ignoring non-finite rows.
    """
    n = jax.tree_util.tree_leaves(x0s)[0].shape[0]
    sharding = starts_sharding(devices)
    if sharding is None:
        if devices:
            x0s = jax.device_put(x0s, list(devices)[0])
        return x0s, n, None
    pad = (-n) % sharding.mesh.size

    def place(a: Any) -> jax.Array:
        a = jnp.asarray(a)
        if pad:
            filler = jnp.full_like(a[:1], jnp.nan) if pad_with_nan else a[:1]
            a = jnp.concatenate([a, jnp.repeat(filler, pad, axis=0)])
        return jax.device_put(a, sharding)

    return jax.tree_util.tree_map(place, x0s), n, sharding
