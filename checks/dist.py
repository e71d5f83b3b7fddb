"""Past one machine: a check's units of work on a Dask cluster, and --resume.

`vcpcheck check --scheduler [ADDR]` sends the units of work that --jobs
gives its process pool to a Dask cluster: a LocalCluster of one
single-threaded worker process per core on loopback when no ADDR is given,
or the cluster whose scheduler is at ADDR (`dask scheduler`, `dask
worker ADDR --nthreads 1`).  Nothing else in vcpcheck imports dask: it is
imported here, inside the functions that need it (`pip install
'vcpcheck[dist]'`).

The units are cli.run_configs's: (target, bound, configuration, engine),
phase by phase (explore, smt, stateful, explore's deeper search), so the
stateful engine is still told what explore and smt found.  Two engines are
split finer, in ways whose merged result does not depend on the split:

- explore shards (sharded_search): the client searches to depth k = D - 1
  itself, splits the distinct states at depth exactly k into shards by a
  stable digest of their traces, and each shard is searched on a worker
  from its states to the overall depth D (counted from boot): the last
  call, where most of the states are.  The results are merged so that
  they equal one run_explore's (below);
- stateful swarm blocks (run_blocks), with --blocks N: N seed blocks.

Results of finished units are kept in --out DIR/units (UnitStore), so a
run cut short and started again with --resume skips them.

What a cluster breaks, and what is done about it:

- clocks: each machine has its own time.monotonic(), so a unit is sent the
  seconds left of its phase's budget, turned back into a deadline on the
  worker.  At most as many units are in flight as the cluster has
  threads, so a unit starts when it is sent and no queue eats its
  seconds; the client stops waiting GRACE seconds after the deadline and
  counts what has not come back as cut by the budget (unknown, never a
  pass);
- call timeouts: a Dask worker runs a task in a thread of its own, where
  no SIGALRM handler can be set; checks/timeouts.py stops a call there
  from a watchdog thread instead;
- variant files: only built-in targets go to the cluster.  A variant is
  untrusted code (checks/guard.py), and the guard that stops it, whatever
  it does, is a process group on this machine; a variant or series file
  is checked here, as without --scheduler;
- Hypothesis keeps state per process (checks/stateful.py _seed_alone):
  every worker must run one thread, which the client checks when it
  connects and each task checks again;
- salted hash(): nothing that crosses processes uses it on a str.  State
  fingerprints are the model's (explore.KernelModel.fingerprint: hash()
  of a key of ints only, the same in every process); shard assignment and
  unit names are blake2b digests of a deterministic encoding (_encode);
- worker deaths: Dask runs a dead worker's tasks again elsewhere (a unit
  is a pure function of its arguments, so the result is the same); a
  task that kills workers over and over is an error, exit 2.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from .atomic import write_atomic

LOCAL = "local"                 # --scheduler without ADDR: a LocalCluster here
CONNECT_TIMEOUT = 10.0          # seconds to reach a scheduler and see a worker
GRACE = 5.0                     # seconds past a deadline the client still waits
UNITS = "units"                 # --out DIR/units: the finished units
UNIT_FORMAT = 1                 # bumped when what a unit file holds changes


class DistError(Exception):
    """A cluster that cannot be used (no dask, an address that does not
    answer, a worker with threads or other code): one line, exit 2."""


# --- stable digests --------------------------------------------------------------------

# What a repr holds when it is not already the encoding: a set (unordered),
# an object, a bool (True == 1, so it is encoded as 1), a float.
_NOT_PLAIN = re.compile(r"[{<.]|set\(|True|False|e\+")


def _plain(text) -> bool:
    return _NOT_PLAIN.search(text) is None


def _encode(obj) -> str:
    """A text for ``obj`` that is the same in every process, and the same
    for objects Python holds equal (as dict keys do): repr where that is
    deterministic (ints, strings, tuples of them), a set's elements
    sorted, a bool as its int, an integral float as an int.  Anything else
    is refused, not guessed."""
    t = type(obj)
    if t is tuple or t is list:
        text = repr(tuple(obj)) if t is list else repr(obj)
        if _plain(text):
            return text
        return "(" + ",".join(map(_encode, obj)) + ")"
    if t is frozenset or t is set:
        try:
            text = repr(sorted(obj))
        except TypeError:                # mixed types: sort their encodings
            text = None
        if text is None or not _plain(text):
            text = "[" + ",".join(sorted(map(_encode, obj))) + "]"
        return "{" + text + "}"
    if t is bool:
        return "1" if obj else "0"
    if t is float and obj.is_integer():
        return repr(int(obj))
    if t is dict:
        return "{:" + ",".join(sorted(f"{_encode(k)}:{_encode(v)}"
                                      for k, v in obj.items())) + "}"
    if t in (int, str, bytes, float, type(None)):
        return repr(obj)
    raise TypeError(f"no stable encoding for {t.__name__}")


def digest(obj, size=16) -> str:
    """A stable hex digest of ``obj`` (see _encode)."""
    return hashlib.blake2b(_encode(obj).encode(), digest_size=size).hexdigest()


def shard_of(trace, shards) -> int:
    """The shard a frontier state goes to: a stable digest of its trace."""
    return int(digest(trace, 8), 16) % shards


_CODE = []


def code_digest() -> str:
    """A digest of vcpcheck's own source (spec, impl, checks): a worker
    must run the same code as the client, and a unit kept by --out is
    reused only by the same code."""
    if not _CODE:
        import vcpcheck.checks
        import vcpcheck.impl
        import vcpcheck.spec
        h = hashlib.blake2b(digest_size=16)
        for pkg in (vcpcheck.spec, vcpcheck.impl, vcpcheck.checks):
            root = os.path.dirname(pkg.__file__)
            for folder, dirs, files in sorted(os.walk(root)):
                dirs.sort()
                for name in sorted(f for f in files if f.endswith(".py")):
                    path = os.path.join(folder, name)
                    h.update(os.path.relpath(path, root).encode() + b"\0")
                    with open(path, "rb") as f:
                        h.update(f.read() + b"\0")
        _CODE.append(h.hexdigest())
    return _CODE[0]


# --- runners: where units run -------------------------------------------------------------

class LocalRunner:
    """Runs units in this process, one after the other (no dask): the same
    decomposition as a cluster, for tests and for --blocks without
    --scheduler.  ``width`` is the number of shards sharded_search makes."""

    def __init__(self, width=1):
        self.width = width

    def run(self, calls, deadline) -> list:
        """[fn(seconds left, *args) for (fn, args) in calls], None for a call
        whose time was up before it could start."""
        out = []
        for fn, args in calls:
            left = deadline - time.monotonic()
            out.append(fn(left, *args) if left > 0 else None)
        return out


class DaskRunner:
    """Runs units on a Dask cluster through ``client`` (see the module
    docstring: seconds left, one unit per worker thread in flight, GRACE).
    Thread-safe: cli runs each configuration's units from a thread."""

    def __init__(self, client):
        self.client = client
        self.cond = threading.Condition()
        self.in_flight = 0
        self.pending = set()
        self.stopped = False
        self._width, self._width_at = 1, 0.0
        self.code = code_digest()

    @property
    def width(self) -> int:
        """The threads of the cluster's workers (read again every few seconds:
        workers may come and go)."""
        now = time.monotonic()
        if now - self._width_at > 2.0:
            try:
                self._width = max(1, sum(self.client.nthreads().values()))
            except Exception:             # noqa: BLE001 - keep the last known
                pass
            self._width_at = now
        return self._width

    def _slot(self, deadline) -> bool:
        """Wait for a free worker thread; False if the deadline or a stop
        came first."""
        with self.cond:
            while not self.stopped and self.in_flight >= self.width:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
            if self.stopped:
                return False
            self.in_flight += 1
            return True

    def _release(self, fut):
        with self.cond:
            self.in_flight -= 1
            self.pending.discard(fut)
            self.cond.notify_all()

    def run(self, calls, deadline) -> list:
        futures = []
        for fn, args in calls:
            if not self._slot(deadline):
                futures.append(None)
                continue
            left = deadline - time.monotonic()
            fut = self.client.submit(_on_worker, self.code, fn, left, *args, pure=False,
                                     key=f"vcpcheck-{fn.__name__}-{os.urandom(8).hex()}")
            with self.cond:
                self.pending.add(fut)
            fut.add_done_callback(self._release)
            futures.append(fut)
        return [self._result(f, deadline) for f in futures]

    def _result(self, fut, deadline):
        from distributed import KilledWorker
        if fut is None:
            return None
        wait = deadline + GRACE - time.monotonic()
        try:
            return fut.result(timeout=max(0.0, wait) if wait < float("inf") else None)
        except KilledWorker as e:
            raise DistError(f"a unit of work killed every worker that ran it ({e}); "
                            f"nothing is reported as a pass") from None
        except Exception as e:           # noqa: BLE001 - cut, cancelled or lost
            if _timeout_or_cancel(e):
                fut.cancel()
                return None
            raise

    def stop(self):
        """End the run (--fail-fast, Ctrl-C): no unit is sent any more, and
        those in flight are cancelled."""
        with self.cond:
            self.stopped = True
            pending = list(self.pending)
            self.cond.notify_all()
        if pending:
            try:
                self.client.cancel(pending)
            except Exception:            # noqa: BLE001 - the cluster is going anyway
                pass


def _timeout_or_cancel(e) -> bool:
    import asyncio
    import concurrent.futures
    return isinstance(e, (TimeoutError, asyncio.TimeoutError, asyncio.CancelledError,
                          concurrent.futures.CancelledError,
                          concurrent.futures.TimeoutError))


def _on_worker(code, fn, seconds, *args):
    """A unit of work on a Dask worker: check the worker, then run
    ``fn(seconds, *args)``."""
    from distributed import get_worker
    worker = get_worker()
    nthreads = worker.state.nthreads
    if nthreads != 1:
        raise DistError(f"worker {worker.address} runs {nthreads} threads: start "
                        f"workers with --nthreads 1 (Hypothesis keeps state per "
                        f"process)")
    if code != code_digest():
        raise DistError(f"worker {worker.address} runs other vcpcheck code than the "
                        f"client: install the same vcpcheck on every worker")
    _quiet_worker()
    return fn(seconds, *args)


def _quiet_worker():
    """Hypothesis warns when the global ``random`` module's state changes
    while it draws an example; on a worker the Dask event loop's own
    thread uses ``random`` meanwhile, which says nothing about the model
    (its strategies never touch ``random``).  That one warning is
    silenced, on workers only."""
    import warnings
    warnings.filterwarnings("ignore", message="Do not use the `random` module")


# --- connecting -------------------------------------------------------------------------------

_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx)://)?"
                      r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+)(?::\d{1,5})?$")


def scheduler_address(text: str) -> str:
    """--scheduler's argument: LOCAL, or a scheduler address
    (tcp://HOST:PORT, HOST:PORT); anything else is a usage error."""
    if text in ("", LOCAL):
        return LOCAL
    if "://" not in text and not re.search(r":\d+$", text):
        raise ValueError(f"{text!r} is not a scheduler address (tcp://HOST:PORT, or "
                         f"nothing for a cluster on this machine; name the targets "
                         f"before --scheduler)")
    if not _ADDRESS.match(text):
        raise ValueError(f"{text!r} is not a scheduler address (tcp://HOST:PORT)")
    return text


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise DistError("--scheduler needs dask: pip install 'vcpcheck[dist]'") from None
    return distributed


class open_scheduler:
    """Context: a DaskRunner on the cluster ``address`` names (LOCAL: a
    LocalCluster started here and closed on the way out).  DistError,
    one line, when it cannot be used."""

    def __init__(self, address, timeout=None):
        self.address = address
        self.timeout = CONNECT_TIMEOUT if timeout is None else timeout
        self.cluster = self.client = self.runner = None

    def __enter__(self) -> DaskRunner:
        distributed = _import_distributed()
        import logging
        import warnings
        for name in ("distributed", "tornado", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        # a shard's roots are its arguments: Dask's advice to scatter them
        # instead is not for a report
        warnings.filterwarnings("ignore", message="(Large object|Sending large graph)")
        try:
            if self.address == LOCAL:
                self.cluster = _local_cluster(distributed)
                self.client = distributed.Client(self.cluster, timeout=self.timeout)
            else:
                self.client = distributed.Client(self.address, timeout=self.timeout)
        except DistError:
            self.__exit__(None, None, None)
            raise
        except Exception as e:           # noqa: BLE001 - any way of not answering
            self.__exit__(None, None, None)
            raise DistError(f"--scheduler {self.address}: no scheduler answered "
                            f"({_first_line(e)}); start one with `dask scheduler "
                            f"--host 127.0.0.1` and `dask worker tcp://127.0.0.1:8786 "
                            f"--nthreads 1`") from None
        try:
            self._check_workers()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.runner = DaskRunner(self.client)
        return self.runner

    def _check_workers(self):
        where = "the local cluster" if self.address == LOCAL else self.address
        try:
            self.client.wait_for_workers(1, timeout=self.timeout)
        except Exception:                # noqa: BLE001
            raise DistError(f"--scheduler {where}: no worker joined within "
                            f"{self.timeout:g}s (start one: dask worker {where} "
                            f"--nthreads 1)") from None
        for addr, nthreads in sorted(self.client.nthreads().items()):
            if nthreads != 1:
                raise DistError(f"--scheduler {where}: worker {addr} runs {nthreads} "
                                f"threads; start workers with --nthreads 1 "
                                f"(Hypothesis keeps state per process)")
        try:
            codes = self.client.run(code_digest)
        except Exception as e:           # noqa: BLE001 - vcpcheck missing there
            raise DistError(f"--scheduler {where}: a worker cannot run vcpcheck "
                            f"({_first_line(e)}); install it on every worker") from None
        for addr, code in sorted(codes.items()):
            if code != code_digest():
                raise DistError(f"--scheduler {where}: worker {addr} runs other "
                                f"vcpcheck code than this one; install the same "
                                f"vcpcheck on every worker")

    def __exit__(self, *exc):
        if self.runner is not None:
            self.runner.stop()
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    thing.close(timeout=5) if thing is self.client else thing.close()
                except Exception:        # noqa: BLE001 - closing is best effort
                    pass
        self.client = self.cluster = self.runner = None
        return False


def _local_cluster(distributed):
    """One single-threaded worker process per core, on loopback, no
    dashboard, no memory limit (as the --jobs processes have none).  The
    workers are started with SIGINT ignored: Ctrl-C reaches the whole
    process group, and the client alone answers it (cli.main)."""
    import logging
    import signal
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return distributed.LocalCluster(
            n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None, memory_limit=0,
            silence_logs=logging.CRITICAL)
    finally:
        signal.signal(signal.SIGINT, old)


def _first_line(e) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


# --- the units of a phase, from cli.run_configs ------------------------------------------------

# The model is not thread-safe (spec/invariants.py check_all shares its
# readings of a state through a module global), and under the GIL nothing
# is gained by running it from two threads at once: the threads of
# run_phase take turns at it, and let go while they wait for the cluster.
_MODEL = threading.Lock()
_HOLDS = threading.local()


@contextmanager
def model_code():
    """Context: this thread runs model code on the client."""
    _MODEL.acquire()
    _HOLDS.on = True
    try:
        yield
    finally:
        _HOLDS.on = False
        _MODEL.release()


def _waiting(fn, *args):
    """fn(*args), with the model let go meanwhile if this thread holds it."""
    if not getattr(_HOLDS, "on", False):
        return fn(*args)
    _HOLDS.on = False
    _MODEL.release()
    try:
        return fn(*args)
    finally:
        _MODEL.acquire()
        _HOLDS.on = True


def is_builtin(target) -> bool:
    """Whether ``target`` is one of vcpcheck's own (not a variant or series
    file, which stays on this machine: see the module docstring)."""
    from .targets import BUILTIN, TARGETS
    return target.name in BUILTIN and TARGETS.get(target.name) is target


def run_phase(runner, target, cfgs, phase, work, deadline, args, store=None):
    """((i, phase), (result, cut)) for each (i, told) of ``work``, in that
    order: every configuration's unit runs from a thread of its own here
    (explore's client search and merge are here, the units on the cluster).
    Closing the generator (--fail-fast, Ctrl-C) stops the runner.

    Explore is sharded when the phase has fewer units than twice the
    cluster's threads: with more, the configurations keep every worker busy
    and shards would only add their overhead (the client's search, leaves
    checked in two shards).  The result is the same either way."""
    out, threads = {}, []
    shard = len(work) < 2 * runner.width

    def one(i, told):
        try:
            out[i] = ("ok", _unit(runner, target, cfgs[i], phase, told, deadline, args,
                                  store, shard))
        except BaseException as e:       # noqa: BLE001 - raised where it is read
            out[i] = ("raised", e)

    for i, told in work:
        t = threading.Thread(target=one, args=(i, told), daemon=True,
                             name=f"vcpcheck-{phase}-{i}")
        t.start()
        threads.append((i, t))
    try:
        for i, t in threads:
            t.join()
            how, value = out[i]
            if how == "raised":
                raise value
            yield (i, phase), value
    except BaseException:
        runner.stop()
        raise


def _unit(runner, target, cfg, phase, told, deadline, args, store, shard=True):
    """One unit: (result, cut), from the store if it holds it."""
    if store is not None:
        kept = store.load(target, cfg, phase, told, args)
        if kept is not None:
            return kept
    run = _compute(runner, target, cfg, phase, told, deadline, args, shard)
    if store is not None:
        store.save(target, cfg, phase, told, args, run)
    return run


def _compute(runner, target, cfg, phase, told, deadline, args, shard=True):
    if deadline - time.monotonic() <= 0:
        return None, True
    # --coverage measures a whole unit in one process (cover.measured)
    whole = getattr(args, "coverage", False)
    if phase in ("explore", "deepen") and shard and not whole:
        from .explore import run_explore
        start = time.monotonic()
        with model_code():
            res = run_explore(target, cfg, depth=args.depth,
                              budget=deadline - time.monotonic(), reach=told,
                              search=_sharded(runner, target.name))
        res.seconds = time.monotonic() - start
        res.coverage = {"variant_called": []}
        return res, not res.complete
    if phase == "stateful" and getattr(args, "blocks", 1) > 1 and not whole:
        res = run_blocks(runner, target.name, cfg, args, deadline, told or ())
        res.coverage = {"variant_called": []}
        return res, not res.complete
    (run,) = runner.run([(unit_task, (target.name, cfg, phase, task_args(args),
                                      told))], deadline)
    return run if run is not None else (None, True)


def task_args(args):
    """``args`` without what does not cross to a worker (the runner)."""
    import argparse
    return argparse.Namespace(**{k: v for k, v in vars(args).items()
                                 if k not in ("runner", "store")})


def unit_task(seconds, name, cfg, engine, args, told):
    """A whole unit on a worker: cli.run_engine (measured, as --jobs runs
    it), its deadline this worker's own clock plus the seconds left."""
    from .cli import _run_one
    return _run_one(name, cfg, engine, time.monotonic() + seconds, args, told)


# --- explore shards ---------------------------------------------------------------------------

def _explore_model():
    """(Replaying, ShardModel): explore.KernelModel's subclasses for the
    shards (imported when used)."""
    from .explore import KernelModel

    class Replaying(KernelModel):
        """KernelModel whose realise() loads its initial state (booted once,
        then kept as a snapshot) and makes each call after it as bfs makes
        them (step): a shard realises thousands of roots, and a boot costs
        more than the calls.  With stale words merged, a root's stale
        words are then the ones its path left, as in the client's search.
        The harness it returns is the model's working one (as load's)."""

        def realise(self, trace):
            init = initial_of(self, trace)
            inits = self.__dict__.setdefault("inits", {})
            if init not in inits:
                h = KernelModel.realise(self, init)
                if self.stale is not None:
                    self._watched(h)
                inits[init] = KernelModel.save(self, h)
            h = KernelModel.load(self, inits[init])
            for action in trace[len(init):]:
                self.step(h, action)
            return h

    class ShardModel(Replaying):
        """Replaying that knows, for an audit breach, which transition the
        search was making (see _breach_at)."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.trace_of, self.saved, self.loaded = {}, None, None
            self.at, self.doing = None, None       # parent trace, action

        def save(self, h, like=None):
            self.saved = super().save(h, like)
            return self.saved

        def note(self, trace, h, depth, last):
            """visit(): the state just saved is ``trace``; kept while it
            waits in the frontier (``last``: the search's depth)."""
            if not h.dead and depth < last:
                self.trace_of[id(self.saved)] = trace

        def load(self, snap):
            # bfs loads a parent again before each of its actions; the
            # trace is dropped when it moves on to the next parent
            if self.at is not None and self.trace_of.get(id(snap)) is not self.at:
                self.trace_of.pop(self.loaded, None)
            self.loaded, self.doing = id(snap), None
            self.at = self.trace_of.get(id(snap))
            return super().load(snap)

        def step(self, h, action):
            self.doing = action
            super().step(h, action)

    return Replaying, ShardModel


def initial_of(model, trace) -> tuple:
    """The initial state (model.init_states()) ``trace`` starts from: the
    longest that is a prefix of it (the fragmented kernel's pins are not
    actions, so only one can be)."""
    best = ()
    for init in model.init_states():
        if tuple(trace[:len(init)]) == tuple(init) and len(init) >= len(best):
            best = init
    return best


def bfs_rank(model, trace) -> tuple:
    """Where ``trace`` comes in breadth-first order among traces of its
    depth: (index of its initial state, index of each action among
    model.actions() of the state it is taken in).  bfs visits the states
    of one depth in this (lexicographic) order, and reaches each first by
    its smallest shortest trace; ``model`` must not merge stale words
    (the ranks are read off plain replays)."""
    inits = model.init_states()
    init = initial_of(model, trace)
    h = model.realise(init)
    out = [inits.index(init)]
    for action in trace[len(init):]:
        out.append(model.actions(h).index(action))
        model.step(h, action)
    return tuple(out)


class Found:
    """Per signature, the first state a search found with it and the one
    with the fewest calls (the first such), as bfs's _discovered keeps:
    (invariant, message, trace, depth, index in the state's problems)."""

    def __init__(self):
        self.first, self.best = {}, {}

    def see(self, trace, depth, problems):
        from .stateful import signature
        for n, (inv, msg) in enumerate(problems):
            sig = signature(inv, msg)
            c = (inv, msg, tuple(trace), depth, n)
            self.first.setdefault(sig, c)
            if sig not in self.best or len(c[2]) < len(self.best[sig][2]):
                self.best[sig] = c

    def ranked(self, rank) -> list:
        """[(signature, invariant, message, trace, depth, n, rank)]."""
        out, seen = [], set()
        for sig in self.first:
            for c in (self.first[sig], self.best[sig]):
                if id(c) not in seen:
                    seen.add(id(c))
                    out.append((sig, *c, rank(c[2])))
        return out


@dataclass
class ShardResult:
    """What a shard sends back (explore_shard)."""
    fingerprints: dict = field(default_factory=dict)  # fingerprint -> transitions
    candidates: list = field(default_factory=list)    # Found.ranked
    complete: bool = True
    # The audit's first breach in the shard, as (position, message): the
    # position orders breaches as the one search would meet them.
    breach: tuple | None = None
    # A twin transition that disagreed (explore.SymmetryBroken), if any.
    broken: str | None = None
    twins: int = 0              # the symmetry audit's twin transitions that agreed
    seconds: float = 0.0


def explore_shard(target, cfg, roots, offset, depth, budget, stale=True,
                  symmetry=False) -> ShardResult:
    """Search ``target`` built with ``cfg`` from the states ``roots`` (traces
    of ``offset`` calls after an initial state) to ``depth`` calls from
    boot.  In-process: the tests call it directly; shard_task runs it on a
    worker."""
    from .explore import StaleWordRead, SymmetryBroken, bfs
    start = time.monotonic()
    Replaying, ShardModel = _explore_model()
    model = ShardModel(target, cfg, stale=stale, symmetry=symmetry)
    plain = Replaying(target, cfg, symbols=model.symbols)
    ranks = {}

    def rank(trace):
        if trace not in ranks:
            ranks[trace] = bfs_rank(plain, trace)
        return ranks[trace]
    found = Found()

    def visit(trace, h, d):
        model.note(trace, h, d, depth)
        found.see(trace, d, model.properties(h))
    try:
        res = bfs(model, depth, budget, check=False, visit=visit, roots=roots,
                  offset=offset, fingerprint=True)
    except StaleWordRead as e:
        return ShardResult(complete=False, breach=(_breach_at(model, plain, rank), str(e)),
                           seconds=time.monotonic() - start)
    except SymmetryBroken as e:
        # the block symmetry's audit: void for the whole search (run_explore)
        return ShardResult(complete=False, broken=str(e), seconds=time.monotonic() - start)
    return ShardResult(res.fingerprints, found.ranked(rank), res.complete, None,
                       twins=model.twins, seconds=time.monotonic() - start)


def _breach_at(model, plain, rank) -> tuple:
    """Where the search was when the audit stopped it: (the parent's depth,
    its rank, the action's index), the order one search takes transitions
    in; a breach on a root (which the client's search would have met
    first) sorts before every other."""
    if model.at is None or model.doing is None:
        return (-1,)
    parent = model.at
    h = plain.realise(parent)
    return (len(parent) - len(initial_of(plain, parent)), rank(parent),
            plain.actions(h).index(model.doing))


def shard_task(seconds, name, cfg, roots, offset, depth, stale, symmetry=False):
    """explore_shard on a worker: a built-in target by name."""
    from .targets import TARGETS
    return explore_shard(TARGETS[name], cfg, roots, offset, depth, seconds, stale,
                         symmetry)


def _sharded(runner, name, shards=None):
    """run_explore's ``search``: sharded_search through ``runner``."""
    def search(model, depth, budget, graph=False):
        return sharded_search(model, depth, budget, runner, name, shards, graph)
    return search


def sharded_search(model, depth, budget, runner, name, shards=None, graph=False,
                   task=None, split=None):
    """bfs(model, depth, budget), in shards (run_explore's ``search``).

    The client (this process) searches to k = ``split`` calls (default
    ``depth`` - 1) itself, with ``model``.  The distinct states at depth
    exactly k that the kernel survived (the frontier) are split into
    ``shards`` (default: the runner's width) by a stable digest of their
    traces (shard_of), and each shard is searched by explore_shard from
    its states to ``depth`` calls from boot, through ``runner``.

    Complete: a state at distance d <= k from an initial state is found by
    the client.  A state whose shortest path is longer than k passes, on
    that path, through a distinct state at depth exactly k (bfs keeps the
    first path to each state), which is in some shard; from there it is
    d - k calls away, and that shard searches d - k <= depth - k calls
    deep.  So the union covers every state within ``depth``, and no shard
    finds one beyond it (it counts depth from boot).

    Exact with k = depth - 1: the canonical key leaves out what does not
    decide a verdict but does decide later keys (the kmalloc arena's next
    address, ledger ids, ...), so the successors of a merged state depend
    on which of its paths the search kept (its representative).  A
    shard realises each frontier state by replaying the client's trace,
    which is the path one bfs keeps, so with k = depth - 1 every state is
    expanded from the representative one bfs expands, and the merge below
    equals one bfs's exactly.  With a smaller k a shard may keep another
    representative for a state deeper down, and its successors' keys (not
    their verdicts) can differ: 22 more states of 88,192 were counted at
    depth 3 with k = 1 (reference, fragmented start).  The price is that
    the client's search to depth - 1 is not spread: on this model each
    call multiplies the states by 10 to 30, so it is the smaller part.
    Merged:

    - states: the size of the union of the client's and the shards' state
      fingerprints (KernelModel.fingerprint); transitions: each state's, counted
      once, from wherever it was expanded (a state within ``depth`` - 1
      calls of boot is expanded by whoever holds its shortest path);
    - violations: per signature (stateful.signature), bfs's choice: the
      fewest calls, then the first in breadth-first order (depth, then
      bfs_rank, then the order of the state's problems); listed in the
      order bfs first met each signature.  So the result equals one
      bfs's, and run_explore's on it, whatever the shards and workers;
    - the stale-word audit: if a shard's search read a stale word, the
      breach the one search would have met first (by its position) is
      raised as StaleWordRead, and run_explore searches again unmerged,
      sharded as well;
    - the budget: a shard that did not finish, or did not come back by
      the deadline (plus GRACE), makes the result incomplete.

    ``task`` (default shard_task): what runs a shard, given (seconds,
    name, cfg, roots, offset, depth, stale).
    """
    from .explore import ExploreResult, StaleWordRead, SymmetryBroken, bfs, collision_bound
    if graph:
        raise ValueError("sharded_search records no state graph")
    start = time.monotonic()
    deadline = start + (budget if budget is not None else float("inf"))
    k = max(0, depth - 1 if split is None else min(split, depth - 1))
    found, frontier = Found(), []

    def visit(trace, h, d):
        found.see(trace, d, model.properties(h))
        if d == k and not h.dead:
            frontier.append(trace)
    client = bfs(model, k, budget, check=False, visit=visit, fingerprint=True)
    res = ExploreResult(depth=depth, complete=client.complete)
    fps = dict(client.fingerprints)
    plain = _explore_model()[0](model.target, model.cfg, symbols=model.symbols)
    candidates = found.ranked(lambda t: bfs_rank(plain, t))
    if client.complete and depth > k and frontier:
        n = max(1, shards or runner.width)
        buckets = [[] for _ in range(n)]
        for trace in frontier:                 # in bfs order, kept in each bucket
            buckets[shard_of(trace, n)].append(trace)
        stale = model.stale is not None
        symmetric = model.sym is not None
        calls = [(task or shard_task, (name, model.cfg, tuple(b), k, depth, stale)
                  + ((symmetric,) if symmetric else ()))
                 for b in buckets if b]
        results = _waiting(runner.run, calls, deadline)
        broken = sorted(r.broken for r in results if r is not None and r.broken)
        if broken:
            raise SymmetryBroken(broken[0])
        breaches = [r.breach for r in results if r is not None and r.breach]
        if breaches:
            raise StaleWordRead(min(breaches)[1])
        for r in results:
            if r is None or not r.complete:
                res.complete = False
            if r is None:
                continue
            model.twins += r.twins
            for fp, made in r.fingerprints.items():
                if made > fps.get(fp, 0) or fp not in fps:
                    fps[fp] = made
            candidates.extend(r.candidates)
    res.states, res.transitions = len(fps), sum(fps.values())
    res.collision = collision_bound(res.states, res.transitions, model.sym is not None)
    res.violations = merge_candidates(candidates)
    res.seconds = time.monotonic() - start
    return res


def merge_candidates(candidates) -> list:
    """[(invariant, message, trace)]: per signature the candidate bfs would
    keep, in the order bfs would first have met each signature (see
    sharded_search)."""
    first, best = {}, {}
    for sig, inv, msg, trace, depth, n, rank in candidates:
        at = (depth, rank, n)
        if sig not in first or at < first[sig]:
            first[sig] = at
        win = (len(trace), depth, rank, n)
        if sig not in best or win < best[sig][0]:
            best[sig] = (win, (inv, msg, trace))
    return [best[sig][1] for sig in sorted(first, key=first.get)]


# --- stateful swarm blocks ------------------------------------------------------------------

def block_seed(seed, block) -> int:
    """Block ``block``'s seed: ``seed`` itself for block 0 (one block is
    exactly run_stateful), else 32 bits of a digest of both."""
    if block == 0:
        return seed
    return int(digest(("vcpcheck swarm block", seed, block), 4), 16)


def block_plan(seed, examples, blocks) -> list:
    """[(seed, examples)] of each block: ``examples`` shared out, the first
    blocks taking one more where they do not divide; never more blocks
    than examples."""
    blocks = max(1, min(blocks, examples))
    each, extra = divmod(examples, blocks)
    return [(block_seed(seed, b), each + (b < extra)) for b in range(blocks)]


def block_task(seconds, target, cfg, seed, examples, rounds, call_timeout, exclude):
    """One swarm block: run_stateful with its own seed and share of the
    examples, rounds as asked, excluding what the other engines found.
    ``target``: a built-in's name (on a worker) or a Target."""
    from .stateful import run_stateful
    from .targets import TARGETS
    t = TARGETS[target] if isinstance(target, str) else target
    return run_stateful(t, cfg, seed=seed, max_examples=examples, rounds=rounds,
                        budget=seconds, call_timeout=call_timeout, exclude=exclude)


def run_blocks(runner, target, cfg, args, deadline, exclude=()):
    """The stateful engine on one configuration as --blocks swarm blocks.

    The sample of ``args.examples`` examples is split into N fixed blocks
    (block_plan): block b has its own seed (block_seed; block 0 has
    --seed) and its share of the examples, and runs run_stateful with
    --rounds on its own, excluding what the engines before it found (not
    what the other blocks find: no block waits for another).  Each block is
    a function of its arguments alone, so the merge (merge_blocks, in
    block order) is the same whichever worker ran which block, and equals
    the same blocks run one after the other here (LocalRunner).  With one
    block it is run_stateful itself.  A block the budget cut, or that did
    not come back, makes the result incomplete (never a pass)."""
    plan = block_plan(args.seed, args.examples, getattr(args, "blocks", 1))
    calls = [(block_task, (target, cfg, s, n, args.rounds, args.call_timeout,
                           frozenset(exclude))) for s, n in plan]
    start = time.monotonic()
    res = merge_blocks(runner.run(calls, deadline))
    res.seconds = time.monotonic() - start
    return res


def run_blocks_local(target, cfg, args, deadline, exclude=()):
    """run_blocks in this process, one block after the other."""
    return run_blocks(LocalRunner(), target, cfg, args, deadline, exclude)


def merge_blocks(results):
    """One RunResult of the blocks' (in block order; None: a block that did
    not run): counts summed; per signature the shortest trace, the earlier
    block's on a tie, where that signature was first listed."""
    from .stateful import RunResult, signature, strength
    results = list(results)
    if len(results) == 1 and results[0] is not None:
        return results[0]
    total, at = RunResult(), {}
    for r in results:
        if r is None:
            total.complete = False
            continue
        total.examples += r.examples
        total.steps += r.steps
        total.complete = total.complete and r.complete
        total.all_signatures |= set(r.all_signatures)
        for v in r.violations:
            sig = signature(v.invariant, v.message)
            if sig not in at:
                at[sig] = len(total.violations)
                total.violations.append(v)
            elif len(v.trace) < len(total.violations[at[sig]].trace):
                total.violations[at[sig]] = v
    for v in total.violations:
        v.strength = strength(total)
    return total


# --- --out DIR/units and --resume ---------------------------------------------------------------

class UnitStore:
    """The results of finished units, one file each in DIR/units, named by a
    stable digest of what the unit is: vcpcheck's code (code_digest), the
    target (and a variant file's text), the configuration, the phase,
    what it was told and the options that decide its result.  Written
    atomically (atomic.write_atomic) when a unit ends complete; a unit the
    budget cut is run again.  With ``resume``, a unit whose file is there
    is loaded instead of run.  The folder is made when the first unit
    ends, so a run stopped before that leaves nothing in DIR."""

    def __init__(self, out, resume=False):
        self.folder = os.path.join(out, UNITS)
        self.resume = resume
        self.loaded = 0
        for path in (out, self.folder):
            if os.path.exists(path) and not os.path.isdir(path):
                raise NotADirectoryError(20, "not a directory", path)

    def what(self, target, cfg, phase, told, args) -> tuple:
        source = None
        if os.path.isfile(target.name):
            with open(target.name, "rb") as f:
                source = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
        options = tuple((o, getattr(args, o, None)) for o in
                        ("depth", "smt_depth", "seed", "examples", "rounds", "blocks",
                         "coverage"))
        return ("vcpcheck unit", UNIT_FORMAT, code_digest(), target.name, source,
                cfg.values, phase, told if told is not None else (), options)

    def path(self, what) -> str:
        return os.path.join(self.folder, digest(what) + ".pickle")

    def load(self, target, cfg, phase, told, args):
        """The (result, cut) kept for this unit, or None."""
        if not self.resume:
            return None
        what = self.what(target, cfg, phase, told, args)
        try:
            with open(self.path(what), "rb") as f:
                kept_what, run = pickle.load(f)
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError,
                ImportError, ValueError, TypeError):
            return None
        if kept_what != _encode(what):
            return None
        self.loaded += 1
        return run

    def save(self, target, cfg, phase, told, args, run) -> None:
        res, cut = run
        if res is None or cut or not getattr(res, "complete", True) \
                or getattr(res, "cut", False):
            return
        what = self.what(target, cfg, phase, told, args)
        try:
            os.makedirs(self.folder, exist_ok=True)
            write_atomic(self.path(what), pickle.dumps((_encode(what), run)))
        except OSError as e:
            raise DistError(f"--out {self.folder}: {e.strerror or e}") from None
