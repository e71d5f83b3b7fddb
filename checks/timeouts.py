"""Time limits for a call or a load: a variant that hangs is an error.

On the main thread the limit is a SIGALRM timer.  Off it (a Dask worker
runs its tasks in a thread of its own, checks/dist.py) a signal handler
cannot be set, so a timer thread raises Hang in the limited thread
instead (PyThreadState_SetAsyncExc): it lands between two bytecodes, so
a pure-Python loop is stopped as the alarm stops it; a call blocked in C
is stopped when it returns to Python.
"""
from __future__ import annotations

import ctypes
import signal
import threading
from contextlib import contextmanager


class Hang(BaseException):
    """A time limit ran out (BaseException: Hypothesis must not shrink it)."""


@contextmanager
def time_limit(seconds, what):
    """Raise Hang if the body runs longer than ``seconds`` (any thread)."""
    if not seconds:
        yield
        return
    message = f"{what} did not finish within {seconds:g}s (a hang?)"
    if threading.current_thread() is not threading.main_thread():
        with _ThreadLimit(seconds, message):
            yield
        return
    if not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(message)
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _Late(Hang):
    """What the timer thread raises in the limited thread (an exception
    sent that way is a class, without arguments): _ThreadLimit turns it
    into Hang with its message."""


class _ThreadLimit:
    """time_limit off the main thread: a timer thread that raises _Late in
    this thread when ``seconds`` have passed.  Firing and leaving are
    serialised by a lock, so an exception that was sent but has not landed
    yet when the body ends is taken back, and the time that ran out is
    reported as Hang all the same."""

    def __init__(self, seconds, message):
        self.seconds, self.message = seconds, message
        self.lock = threading.Lock()
        self.fired = self.left = False
        self.ident = threading.get_ident()

    def _fire(self):
        with self.lock:
            if not self.left:
                self.fired = True
                _send(self.ident, _Late)

    def __enter__(self):
        self.timer = threading.Timer(self.seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        with self.lock:
            self.left = True
        self.timer.cancel()
        if not self.fired:
            return False
        _send(self.ident, None)           # sent, but not landed yet: take it back
        raise Hang(self.message) from None


def _send(ident, exc_class):
    """Raise ``exc_class`` in the thread ``ident`` at its next bytecode
    (None: take back an exception sent and not raised yet)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc_class) if exc_class else None)
