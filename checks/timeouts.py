"""Time limits for a call or a load: a variant that hangs is an error."""
from __future__ import annotations

import signal
from contextlib import contextmanager


class Hang(BaseException):
    """A time limit ran out (BaseException: Hypothesis must not shrink it)."""


@contextmanager
def time_limit(seconds, what):
    """Raise Hang if the body runs longer than ``seconds`` (main thread)."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"{what} did not finish within {seconds:g}s (a hang?)")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
