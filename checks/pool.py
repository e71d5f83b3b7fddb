"""The --jobs process pool, and what Ctrl-C does to it.

The workers ignore SIGINT: a Ctrl-C at the terminal reaches the whole
process group, and a worker interrupted while it waits for work would print
a traceback of its own.  The parent takes the KeyboardInterrupt alone and
ends the workers at once (a run in a worker can take minutes), so
`vcpcheck check` stops with one line and exit status 130 (cli.main).
"""
from __future__ import annotations

import contextlib
import signal
from concurrent.futures import ProcessPoolExecutor


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def worker_pool(jobs, ctx):
    """A ProcessPoolExecutor of ``jobs`` workers (``ctx``'s start method)
    whose workers are ended, not waited for, on KeyboardInterrupt or when
    the generator using it is closed (--fail-fast)."""
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=ctx,
                               initializer=_ignore_sigint)
    interrupted = False
    try:
        yield pool
    except (KeyboardInterrupt, GeneratorExit):
        # Ctrl-C, or the generator driving the pool closed (--fail-fast)
        interrupted = True
        # ProcessPoolExecutor has no public way to end running work before
        # Python 3.14 (terminate_workers); its _processes is {pid: Process}.
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
        raise
    finally:
        # As `with ProcessPoolExecutor()` does on any other exit: wait.
        pool.shutdown(wait=not interrupted, cancel_futures=interrupted)
