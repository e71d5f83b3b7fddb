"""Untrusted code: run a user's variant where it can be stopped.

A variant file (checks/variants.py) is code vcpcheck did not write.  It may
call sys.exit(), raise KeyboardInterrupt, call os._exit(), loop forever
while catching every exception, or kill its own process.  None of that may
end in a pass, hang the run or print a traceback.  Two layers:

- guarded(): every function a variant adds or replaces, and the import of
  the file, runs inside a wrapper.  It records, in memory shared with the
  supervisor, which variant function is running, where, and since when,
  and turns a BaseException the variant raises itself (SystemExit,
  KeyboardInterrupt that no Ctrl-C sent, GeneratorExit, a class of its
  own) into VariantCallError, one line naming the file and line.  An
  ordinary Exception is left to the engines (it is the model's business).
- supervise(): a command that may run variant code runs in a forked child
  in a process group of its own; its standard output and error come back
  through a pipe, so the parent prints them as they come.  The parent
  watches the shared slots and the child.  A variant call that has run
  longer than its limit plus GRACE (whatever the code does with signals
  or exceptions), or a child that ends without sending its exit status
  (os._exit, a signal), is reported in one line, exit status 2: the whole
  process group, --jobs workers included, is killed.

The slots are created before the fork, so the child and every worker it
forks later write to the same memory; each process claims a slot of its
own the first time it runs variant code.
"""
from __future__ import annotations

import _thread
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback

# Seconds a variant call may overrun its limit before the supervisor
# stops it: the engine's own timer (Harness.call_timeout, a SIGALRM) gets
# the first chance to report it with the call's arguments.
GRACE = 1.0
NSLOTS = 64
NAME_BYTES = 240
EXIT_INTERRUPTED = 130

_WATCH = None            # the shared slots, once supervise() made them
_SLOT = {}               # {pid: this process's slot index}
_DEPTH = [0]             # nesting of guarded calls in this process
DEFAULT_CALL_TIMEOUT = 10.0
CALL_TIMEOUT = [DEFAULT_CALL_TIMEOUT]   # seconds a variant call may take (the CLI's)
_SIGINT = [False]        # a real Ctrl-C arrived (not a variant's raise)
# C names of the variant functions called in this process since the last
# clear() (checks/cover.py: a function no engine called is a warning)
VARIANT_CALLED: set = set()


class VariantCallError(BaseException):
    """Variant code did something no kernel function can do: exit the
    process, raise KeyboardInterrupt or another BaseException.  A
    BaseException, so no engine shrinks or swallows it; one line, exit 2."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __reduce__(self):                 # crosses the --jobs process pool
        return VariantCallError, (self.message,)


def where_in(path, tb, fallback=None) -> str:
    """'file:line' of the innermost frame of ``tb`` inside ``path``
    (``fallback``, or the path alone, if none is)."""
    loc = fallback or path
    for frame in traceback.extract_tb(tb):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            loc = f"{path}:{frame.lineno}"
    return loc


def _ours(exc) -> bool:
    """A BaseException of vcpcheck's or Hypothesis's own control flow (a
    timer, the budget, a symbolic value that cannot be concretised), or a
    Ctrl-C the user pressed: it passes through variant code untouched."""
    mod = type(exc).__module__ or ""
    if mod.startswith(("vcpcheck.", "hypothesis")):
        return True
    # Unsupervised (a library caller, a test), a KeyboardInterrupt is taken
    # to be Ctrl-C: only the supervised child can tell the two apart.
    return isinstance(exc, KeyboardInterrupt) and (_SIGINT[0] or _WATCH is None)


# --- the shared slots ------------------------------------------------------------------

class _Watch:
    def __init__(self, ctx):
        self.pid = ctx.RawArray("i", NSLOTS)
        self.start = ctx.RawArray("d", NSLOTS)
        self.limit = ctx.RawArray("d", NSLOTS)
        self.name = ctx.RawArray("c", NSLOTS * NAME_BYTES)
        self.lock = ctx.Lock()

    def claim(self) -> int:
        with self.lock:
            for i in range(NSLOTS):
                if self.pid[i] == 0 or not _alive(self.pid[i]):
                    self.pid[i], self.start[i] = os.getpid(), 0.0
                    return i
        return -1                         # more processes than slots: unwatched

    def set(self, i, what, limit):
        raw = what.encode("utf-8", "replace")[:NAME_BYTES - 1]
        self.name[i * NAME_BYTES:i * NAME_BYTES + len(raw) + 1] = raw + b"\0"
        self.limit[i] = limit
        self.start[i] = time.monotonic()

    def clear(self, i):
        self.start[i] = 0.0

    def overdue(self, now):
        """(what, limit) of a slot whose call has run past limit + GRACE."""
        for i in range(NSLOTS):
            start = self.start[i]
            if self.pid[i] and start and now - start > self.limit[i] + GRACE:
                raw = bytes(self.name[i * NAME_BYTES:(i + 1) * NAME_BYTES])
                return raw.split(b"\0", 1)[0].decode("utf-8", "replace"), self.limit[i]
        return None

    def running(self):
        """What a slot was running when its process died, if anything."""
        for i in range(NSLOTS):
            if self.pid[i] and self.start[i]:
                raw = bytes(self.name[i * NAME_BYTES:(i + 1) * NAME_BYTES])
                return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        return None


def last_running():
    """The variant function a process of this run was in when it ended
    (a --jobs worker killed or gone), or None."""
    return _WATCH.running() if _WATCH is not None else None


def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _slot() -> int:
    pid = os.getpid()
    if pid not in _SLOT:
        _SLOT[pid] = _WATCH.claim()
    return _SLOT[pid]


class watching:
    """Context: record in this process's slot that ``what`` runs, with
    ``limit`` seconds before the supervisor stops it (outermost only)."""

    def __init__(self, what, limit):
        self.what, self.limit, self.slot = what, limit, -1

    def __enter__(self):
        _DEPTH[0] += 1
        if _WATCH is not None and _DEPTH[0] == 1:
            self.slot = _slot()
            if self.slot >= 0:
                _WATCH.set(self.slot, self.what, self.limit)
        return self

    def __exit__(self, *exc):
        _DEPTH[0] -= 1
        if self.slot >= 0:
            _WATCH.clear(self.slot)
        return False


def guarded(fn, name, path):
    """``fn``, a function of the variant file ``path`` bound as kernel
    function ``name``, wrapped as the module docstring says."""
    line = getattr(getattr(fn, "__code__", None), "co_firstlineno", "?")
    what = f"{path}:{line}: {name}"
    called = VARIANT_CALLED

    @functools.wraps(fn)
    def call(*args, **kwargs):
        called.add(name)
        with watching(what, CALL_TIMEOUT[0]):
            try:
                return fn(*args, **kwargs)
            except Exception:
                raise
            except BaseException as e:
                if _ours(e):
                    raise
                raise VariantCallError(
                    f"{where_in(path, e.__traceback__, what)}: {name} raised "
                    f"{type(e).__name__}({', '.join(map(repr, e.args))}); variant "
                    f"code may not exit or interrupt the checker") from None
    call.__vcpcheck_variant__ = path
    return call


# --- the supervisor ------------------------------------------------------------------------

class _Forward:
    """A text stream in the child that sends what is written to the
    parent (only from the child itself: a forked worker writes to the
    original stream, so two processes never share the pipe)."""

    def __init__(self, conn, which, original, lock):
        self.conn, self.which, self.original = conn, which, original
        self.owner, self.lock = os.getpid(), lock

    def write(self, text):
        if os.getpid() != self.owner:
            return self.original.write(text)
        if text:
            with self.lock:               # a progress thread writes too
                self.conn.send((self.which, text))
        return len(text)

    def flush(self):
        if os.getpid() != self.owner:
            self.original.flush()

    def isatty(self):
        return self.original.isatty()

    def __getattr__(self, attr):          # encoding, errors, fileno, ...
        return getattr(self.original, attr)


def _on_sigint(signum, frame):
    _SIGINT[0] = True
    raise KeyboardInterrupt


def _unraisable(hook_args):
    """A Ctrl-C that landed where Python cannot raise (a gc callback, a
    __del__): it was swallowed with an 'Exception ignored' message.  Say
    nothing and deliver it again a moment later, outside that context."""
    if issubclass(hook_args.exc_type, KeyboardInterrupt) and _SIGINT[0]:
        threading.Timer(0.05, _thread.interrupt_main).start()
        return
    sys.__unraisablehook__(hook_args)


def _child(conn, run):
    """The forked child: run the command, send its exit status, end."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, _on_sigint)
    sys.unraisablehook = _unraisable
    out, err = sys.stdout, sys.stderr
    lock = threading.Lock()
    sys.stdout = _Forward(conn, "out", out, lock)
    sys.stderr = _Forward(conn, "err", err, lock)
    code = 2
    try:
        code = run()
    except KeyboardInterrupt:
        sys.stderr.write("vcpcheck: interrupted\n")
        code = EXIT_INTERRUPTED
    except BaseException as e:            # noqa: B036 - nothing may escape the child
        sys.stderr.write(f"vcpcheck: error: internal error: {type(e).__name__}: {e}\n")
        code = 2
    try:
        conn.send(("rc", code))
        conn.close()
    finally:
        os._exit(0)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def supervise(run, call_timeout=None) -> int:
    """Run ``run()`` (a command's body, returning its exit status) in a
    forked child, as the module docstring says; its exit status."""
    global _WATCH
    ctx = multiprocessing.get_context("fork")
    _WATCH = _Watch(ctx)
    # this command's limit, or the default (a previous command in the same
    # process, a test, may have set another)
    CALL_TIMEOUT[0] = call_timeout or DEFAULT_CALL_TIMEOUT
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:                          # the child
        parent_conn.close()
        _child(child_conn, run)
    child_conn.close()
    try:
        os.setpgid(pid, pid)              # as the child does: no race with a kill
    except OSError:
        pass
    try:
        return _watch_child(pid, parent_conn)
    finally:
        _kill_group(pid)                  # any worker left behind
        _WATCH = None


def _emit(which, text):
    stream = sys.stdout if which == "out" else sys.stderr
    stream.write(text)
    stream.flush()


def _watch_child(pid, conn) -> int:
    state = {"code": None, "interrupted_at": None, "open": True}
    while True:
        try:
            status = _watch_step(pid, conn, state)
        except KeyboardInterrupt:
            # Ctrl-C: the child has its own process group, so tell it; it
            # stops, removes partial files and says so (exit 130).
            if state["interrupted_at"] is None:
                state["interrupted_at"] = time.monotonic()
            try:
                os.kill(pid, signal.SIGINT)
            except OSError:
                pass
            continue
        if status is not None:
            return status


def _receive(conn, state) -> bool:
    """Take one message from the child; False at the end of the pipe."""
    try:
        which, payload = conn.recv()
    except (EOFError, OSError):
        state["open"] = False
        return False
    if which == "rc":
        state["code"] = payload
    else:
        _emit(which, payload)
    return True


def _watch_step(pid, conn, state):
    """One look at the child: its output, its end, an overdue variant
    call, an unanswered Ctrl-C.  The exit status once there is one."""
    if state["open"]:
        if conn.poll(0.05) and _receive(conn, state):
            return None
    else:
        time.sleep(0.05)
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        while state["open"] and conn.poll(0) and _receive(conn, state):
            pass
        return state["code"] if state["code"] is not None else _died(status)
    if state["interrupted_at"] and time.monotonic() - state["interrupted_at"] > 5:
        _kill_group(pid)
        os.waitpid(pid, 0)
        _emit("err", "vcpcheck: interrupted\n")
        return EXIT_INTERRUPTED
    late = _WATCH.overdue(time.monotonic())
    if late:
        what, limit = late
        _kill_group(pid)
        os.waitpid(pid, 0)
        _emit("err", f"vcpcheck: error: {what} did not return within {limit:g}s "
                     f"(stopped; a hang?); nothing is reported as a pass\n")
        return 2
    return None


def _died(status) -> int:
    """The child ended without an exit status of its own: variant code
    called os._exit or the process was killed.  Never a pass."""
    running = _WATCH.running() if _WATCH is not None else None
    how = (f"was killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
           else f"exited with status {os.WEXITSTATUS(status)}")
    during = f" while running {running}" if running else ""
    _emit("err", f"vcpcheck: error: the check process {how}{during} before it "
                 f"reached a verdict (os._exit or a signal in variant code?); "
                 f"nothing is reported as a pass\n")
    return 2
