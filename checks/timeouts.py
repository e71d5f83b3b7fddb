"""Time limits for a call or a load: a variant that hangs is an error.

On the main thread the limit is a SIGALRM timer.  Off it (a Dask worker
runs its tasks in a thread of its own, checks/dist.py) a signal handler
cannot be set, so a watchdog thread raises Hang in the limited thread
instead (PyThreadState_SetAsyncExc): it lands between two bytecodes, so
a pure-Python loop is stopped as the alarm stops it; a call blocked in C
is stopped when it returns to Python.  One watchdog thread serves every
limit of the process (_Watchdog).
"""
from __future__ import annotations

import ctypes
import signal
import threading
import time
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
    """What the watchdog raises in the limited thread (an exception sent
    that way is a class, without arguments): _ThreadLimit turns it into
    Hang with its message."""


class _Watchdog:
    """One thread per process that raises _Late in a limited thread whose
    time is up.  A limit costs a lock and a dict entry, not a thread: the
    stateful engine sets one per kernel call.  The watchdog sleeps until
    the earliest deadline it knows of, and is woken only for an earlier
    one."""

    def __init__(self):
        self.cond = threading.Condition()
        self.limits = set()
        self.wake = float("inf")          # when the watchdog looks next
        self.thread = None

    def add(self, limit):
        with self.cond:
            self.limits.add(limit)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, daemon=True,
                                               name="vcpcheck-time-limit")
                self.thread.start()
            if limit.deadline < self.wake:
                self.cond.notify()

    def remove(self, limit) -> bool:
        """Forget ``limit``; whether it fired (under the lock, so it cannot
        fire once this returned)."""
        with self.cond:
            self.limits.discard(limit)
            return limit.fired

    def _run(self):
        with self.cond:
            while True:
                now = time.monotonic()
                for limit in self.limits:
                    if not limit.fired and limit.deadline <= now:
                        limit.fired = True
                        _send(limit.ident, _Late)
                self.wake = min((lim.deadline for lim in self.limits if not lim.fired),
                                default=float("inf"))
                self.cond.wait(None if self.wake == float("inf") else self.wake - now)


_WATCHDOG = _Watchdog()


class _ThreadLimit:
    """time_limit off the main thread, through the watchdog.  An exception
    the watchdog sent that has not landed yet when the body ends is taken
    back, and the time that ran out is reported as Hang all the same."""

    def __init__(self, seconds, message):
        self.message = message
        self.deadline = time.monotonic() + seconds
        self.ident = threading.get_ident()
        self.fired = False

    def __enter__(self):
        _WATCHDOG.add(self)
        return self

    def __exit__(self, exc_type, exc, tb):
        if not _WATCHDOG.remove(self):
            return False
        _send(self.ident, None)           # sent, but not landed yet: take it back
        raise Hang(self.message) from None


def _send(ident, exc_class):
    """Raise ``exc_class`` in the thread ``ident`` at its next bytecode
    (None: take back an exception sent and not raised yet)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(exc_class) if exc_class else None)
