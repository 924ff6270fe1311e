"""Ctrl-C while the ``optkit`` command is still loading (importing JAX takes a second or
more): one line and exit 130, not a ``KeyboardInterrupt`` traceback.

Imported first by the package, before JAX; it acts only when the running program is the
``optkit`` console script and SIGINT still has Python's default handler, so a library user's
Ctrl-C during ``import optkit`` stays a KeyboardInterrupt. ``cli.main`` installs the command
line's own handlers as soon as it runs.
"""

import os
import signal
import sys

# nothing heavier than these three: the point is to be in place within milliseconds


def _interrupted(signum: int, frame: object) -> None:
    sys.stderr.write(f"error: interrupted ({signal.Signals(signum).name}) while starting; "
                     "nothing was written\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def quiet_interrupts_while_loading() -> None:
    """Install the one-line SIGINT handler when this process is the optkit command."""
    main = sys.modules.get("__main__")
    script = os.path.basename(getattr(main, "__file__", None) or "")
    if (script.removesuffix(".exe") == "optkit"
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        try:  # noqa: SIM105 - contextlib is one more import on the critical path
            signal.signal(signal.SIGINT, _interrupted)
        except ValueError:  # not the main thread: leave signals alone
            pass
