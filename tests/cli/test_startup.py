"""Ctrl-C while the optkit command is still importing JAX: one line, exit 130."""

from __future__ import annotations

import signal
import subprocess
import sys
import types

from optkit import _startup


def test_the_command_gets_the_one_line_handler_and_a_library_user_does_not(monkeypatch):
    saved = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__file__="script.py"))
        _startup.quiet_interrupts_while_loading()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        monkeypatch.setitem(sys.modules, "__main__",
                            types.SimpleNamespace(__file__="/venv/bin/optkit"))
        _startup.quiet_interrupts_while_loading()
        assert signal.getsignal(signal.SIGINT) is _startup._interrupted
    finally:
        signal.signal(signal.SIGINT, saved)


def test_the_handler_prints_one_line_and_exits_130():
    # a child of a shell without job control (CI, `cmd &`) inherits SIGINT ignored, and Python
    # then installs no handler of its own: the child first takes the one a terminal gives
    code = ("import signal, sys; sys.modules['__main__'].__file__ = 'optkit'; "
            "signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from optkit import _startup; _startup.quiet_interrupts_while_loading(); "
            "signal.raise_signal(signal.SIGINT); print('not reached')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 130
    assert done.stdout == ""
    assert done.stderr == "error: interrupted (SIGINT) while starting; nothing was written\n"
