"""Every limit optkit puts on a request before acting on it, and the knob that moves it.

A request whose size can be predicted (starts, recorded trajectories, files read, parsed
configs and expressions) is checked against a limit here *before* anything is allocated,
parsed or compiled, and refused with a one-line message giving the estimate and the knob.
Each limit is read from an environment variable when it is checked, so it can be raised for
one command (``OPTKIT_MAX_STARTS=50000000 optkit run big.yaml``) without editing code.
docs/api.md ("Limits") lists them; this module is the one place they are defined.

Some limits are not knobs but facts of the compiled program: its counters are int32, and the
driver allows 100 loop trips (trials) per accepted step, so ``max_steps`` can be at most
:data:`MAX_STEPS`.
"""

from __future__ import annotations

import dataclasses
import os

#: largest value an int32 counter of the compiled loop holds
INT32_MAX = 2**31 - 1
#: the driver runs at most 100·(max_steps + 1) trips round the loop, counted in int32
TRIPS_PER_STEP = 100
#: the largest ``max_steps`` whose trip count 100·(max_steps + 1) fits in an int32 counter
MAX_STEPS = INT32_MAX // TRIPS_PER_STEP - 1


@dataclasses.dataclass(frozen=True)
class Limit:
    """A limit with its default and the environment variable that overrides it."""

    env: str
    default: int
    what: str

    @property
    def value(self) -> int:
        """The limit in force: ``$env`` when it is a positive integer, else the default."""
        raw = os.environ.get(self.env, "").strip().replace("_", "")
        try:
            value = int(float(raw)) if raw else self.default
        except (ValueError, OverflowError):
            return self.default
        return value if value > 0 else self.default

    def knob(self) -> str:
        """How to move the limit, for messages: ``set OPTKIT_X to raise it``."""
        return f"set {self.env} to raise it"


#: starts of one run: ``start.uniform.count``, grid points, ``analysis.num_starts``
MAX_STARTS = Limit("OPTKIT_MAX_STARTS", 10_000_000, "starts of one run")
#: bytes of one array whose size is known in advance (starts, recorded trajectories,
#: the library's record buffers)
MAX_ARRAY_BYTES = Limit("OPTKIT_MAX_ARRAY_BYTES", 4 * 2**30, "bytes of one predictable array")
#: variables of one problem (``problem.dim`` of a user function, ``dim`` of a built-in one)
MAX_DIM = Limit("OPTKIT_MAX_DIM", 10_000_000, "variables of one problem")
#: bytes of a config file (or an override's VALUE)
MAX_CONFIG_BYTES = Limit("OPTKIT_MAX_CONFIG_BYTES", 4 * 2**20, "bytes of a config file")
#: bytes of a run directory's JSON or YAML file (summary.json, critical_points.json,
#: config.yaml)
MAX_RUN_FILE_BYTES = Limit("OPTKIT_MAX_RUN_FILE_BYTES", 256 * 2**20,
                           "bytes of a run directory's JSON/YAML file")
#: bytes of a run directory's npz file (trajectories.npz, surface.npz)
MAX_NPZ_BYTES = Limit("OPTKIT_MAX_NPZ_BYTES", 8 * 2**30, "bytes of a run directory's npz file")
#: YAML nodes of a config after aliases are expanded (an alias bomb expands to billions)
MAX_YAML_NODES = Limit("OPTKIT_MAX_YAML_NODES", 1_000_000, "YAML nodes after alias expansion")
#: nesting depth of YAML and JSON documents
MAX_NESTING = Limit("OPTKIT_MAX_NESTING", 100, "levels of nesting of a YAML/JSON document")
#: characters of a math expression
MAX_EXPRESSION_LENGTH = Limit("OPTKIT_MAX_EXPRESSION_LENGTH", 10_000,
                              "characters of an expression")
#: operations (syntax-tree nodes) of a math expression
MAX_EXPRESSION_NODES = Limit("OPTKIT_MAX_EXPRESSION_NODES", 5_000,
                             "operations of an expression")

#: after SIGINT/SIGTERM, the optkit command saves the partial run; if that has not finished
#: within this many seconds (a device call that never returns), it exits without it
SAVE_GRACE_SECONDS = Limit("OPTKIT_SAVE_GRACE_SECONDS", 60,
                           "seconds an interrupted command may spend saving its partial run")

ALL = (MAX_STARTS, MAX_ARRAY_BYTES, MAX_DIM, MAX_CONFIG_BYTES, MAX_RUN_FILE_BYTES,
       MAX_NPZ_BYTES, MAX_YAML_NODES, MAX_NESTING, MAX_EXPRESSION_LENGTH,
       MAX_EXPRESSION_NODES, SAVE_GRACE_SECONDS)


def size(nbytes: float) -> str:
    """A byte count for people: ``1.5 GiB``, ``12 MiB``, ``300 bytes``."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{int(nbytes)} bytes"


class FileRefused(ValueError):
    """A file that is not read: not a regular file, or larger than its limit. The message
    is one line without the path (the caller names the file in its own terms)."""


def read_file(path: str | os.PathLike[str], limit: Limit) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), refusing before reading
    anything a device (``/dev/zero``), FIFO, socket or directory, or a file larger than
    ``limit``.

    The file is opened without blocking (a FIFO would otherwise wait for a writer) and checked
    on the open descriptor, so it cannot be swapped between the check and the read; at most
    ``limit + 1`` bytes are ever read.

    Raises:
        FileRefused: not a regular file, or too large (message names the size and the knob).
        OSError: the file cannot be opened (FileNotFoundError, PermissionError, ...).
    """
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            kind = ("a FIFO" if stat.S_ISFIFO(info.st_mode)
                    else "a socket" if stat.S_ISSOCK(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                    else "not a regular file")
            raise FileRefused(f"is {kind}, not a regular file; refusing to read it")
        cap = limit.value
        if info.st_size > cap:
            raise FileRefused(f"is {size(info.st_size)}, more than the limit of {size(cap)} "
                              f"({limit.knob()})")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > cap:  # grew while being read
            raise FileRefused(f"is more than the limit of {size(cap)} ({limit.knob()})")
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_regular(path: str | os.PathLike[str], limit: Limit) -> None:
    """Refuse (``FileRefused``) a path that is not a regular file or is larger than
    ``limit``, without reading it (for files handed to a reader that opens them itself,
    such as ``numpy.load``)."""
    import stat

    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused("is not a regular file (a device, FIFO or socket?); refusing to "
                          "read it")
    cap = limit.value
    if info.st_size > cap:
        raise FileRefused(f"is {size(info.st_size)}, more than the limit of {size(cap)} "
                          f"({limit.knob()})")
