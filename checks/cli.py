"""The vcpcheck command line.

    vcpcheck list [--json]
    vcpcheck check [TARGET...] [--engine stateful,explore] [--config KEY=VALUE]...
                   [--seed N] [--examples N] [--rounds N] [--blocks N] [--budget SECONDS]
                   [--jobs N | --scheduler [ADDR]] [--out DIR [--resume]] [--json] [-v]
    vcpcheck bisect SERIES [options as for check]
    vcpcheck compare A B [--config KEY=VALUE]... [--seed N] [--examples N] [--json]
    vcpcheck replay FILE.json [--target T]

A TARGET is a built-in name (`vcpcheck list`) or a variant file (*.py).
Exit status: 0 no violation (no difference, not reproduced), 1 a violation
(a difference, reproduced), 2 a usage or input error: one line on stderr
naming the problem, a traceback only with -v, never a pass.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import sys
import threading
import time
import traceback
from concurrent.futures.process import BrokenProcessPool

from vcpcheck.impl.kconfig import OPTIONS, ConfigError, parse_value

from . import cover, guard, report
from .dist import LOCAL, DistError, scheduler_address
from .formats import check_format_options, run_rows, write_formats
from .harness import ModelCrash
from .pool import worker_pool
from .explore import STALE_MERGE_DEPTH, STALE_SHALLOW
from .stateful import run_stateful, shortest_lengths
from .targets import BOUNDS, DEFAULT_BOUND, DEFAULT_TARGETS, TARGETS
from .timeouts import Hang
from .traces import TraceFileError
from .variants import VariantError

ENGINES = ("stateful", "explore", "smt")
# The order the engines run in: the one that answers soonest first.  The
# explore engine gives the shortest counterexamples in seconds; smt next;
# the sampled engine last, with what is left, told what was found.
RUN_ORDER = ("explore", "smt", "stateful")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


# --- arguments -------------------------------------------------------------------------

def parse_config(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"--config {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        key = key.strip()
        if key.startswith("CONFIG_"):
            key = key[len("CONFIG_"):]
        if key not in OPTIONS:
            raise UsageError(f"--config {pair!r}: unknown Kconfig option {key!r}")
        try:
            out[key] = parse_value(OPTIONS[key], value)
        except ConfigError as e:
            raise UsageError(f"--config {pair!r}: {e}")
    return out


def engine_list(text: str) -> str:
    """--engine: one engine, a comma-separated list of them, or all; the
    engines run in RUN_ORDER whatever order they are named in."""
    names = [n.strip() for n in text.split(",")]
    for n in names:
        if n not in ENGINES + ("all",):
            raise argparse.ArgumentTypeError(
                f"invalid choice: {n!r} (choose from {', '.join(ENGINES)}, all, or a "
                f"comma-separated list)")
    if "all" in names:
        return "all"
    return ",".join(e for e in RUN_ORDER if e in names)


def _number(kind, low, inclusive, what):
    """An argparse type: a finite ``kind`` (int or float) above ``low``
    (or at it, if ``inclusive``); anything else is one line, exit 2."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if value < low or (value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value
    return parse


positive_int = _number(int, 1, True, "a whole number of at least 1")
natural_int = _number(int, 0, True, "a whole number of at least 0")
positive_seconds = _number(float, 0, False, "a finite number of seconds above 0")


def bound_list(text: str) -> tuple:
    """--bound: one bound of BOUNDS, a comma-separated list of them, or all;
    in the order of BOUNDS whatever order they are named in."""
    names = [n.strip() for n in text.split(",")]
    for n in names:
        if n not in BOUNDS and n != "all":
            raise argparse.ArgumentTypeError(
                f"unknown bound {n!r} (choose from {', '.join(BOUNDS)}, all, or a "
                f"comma-separated list)")
    return tuple(BOUNDS) if "all" in names else tuple(b for b in BOUNDS if b in names)


def _bounds_help() -> str:
    """The bounds and what each is for, as argparse help text."""
    return "; ".join(f"{b.name} ({b.describe()}): {b.purpose}".replace("%", "%%")
                     for b in BOUNDS.values())


def selected_engines(engine: str) -> list:
    """The engines an --engine value names, in the order they run."""
    return [e for e in RUN_ORDER if engine == "all" or e in engine.split(",")]


def _run_options(p, examples=100):
    p.add_argument("--engine", default="all", type=engine_list,
                   help="explore (BFS, exhaustive to --depth), smt (z3 queries over "
                        "the target's own code on the states within --smt-depth "
                        "calls), stateful (Hypothesis, sampled), a comma-separated "
                        "list of them, or all (default); they run in that order.  "
                        "The stateful engine is told what the others found and "
                        "looks for something else; explore then searches one call "
                        "deeper for a stateful counterexample longer than --depth "
                        "that it missed")
    p.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                   help="Kconfig option or model parameter (repeatable)")
    p.add_argument("--seed", type=natural_int, default=0)
    p.add_argument("--examples", type=positive_int, default=examples,
                   help="examples per configuration for the stateful engine")
    p.add_argument("--rounds", type=positive_int, default=None,
                   help="stateful engine: after a violation, search again with "
                        "what was found excluded, until a round finds nothing new "
                        "or the budget ends (default), or at most this many rounds "
                        "per configuration")
    p.add_argument("--budget", type=positive_seconds, default=120.0,
                   help=f"seconds per target at most, split between the engines "
                        f"({_shares_text()}; what one leaves goes to the next); "
                        f"whatever it cuts short is reported as partial, never "
                        f"as a pass")
    p.add_argument("--jobs", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="configurations checked in parallel (processes)")
    p.add_argument("--bound", type=bound_list, default=None, metavar="NAME[,NAME]|all",
                   help=f"the bounds to check at, each with every engine asked for "
                        f"on every configuration (default: {DEFAULT_BOUND} so, and "
                        f"each other bound with explore only, on one configuration: "
                        f"i386 HIGHMEM for a bound that moves the lowmem boundary, "
                        f"x86_64 otherwise).  The bounds: {_bounds_help()}")
    p.add_argument("--depth", type=positive_int, default=2,
                   help="explore engine: every call sequence up to this length")
    p.add_argument("--smt-depth", type=positive_int, default=1,
                   help="smt engine: decide its queries on every state within "
                        "this many calls")
    p.add_argument("--call-timeout", type=positive_seconds, default=10.0,
                   help="seconds one kernel call may take: a variant's call that "
                        "runs longer is stopped, whatever it does, and the run "
                        "exits 2 (a hang is an error, never a pass)")
    p.add_argument("--json", action="store_true")
    p.add_argument("-x", "--fail-fast", action="store_true",
                   help="stop at the first violation (the verdict is fail and the "
                        "strength says the search was stopped)")
    p.add_argument("-v", "--verbose", action="store_true")


def _address(text):
    try:
        return scheduler_address(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def _dist_options(p):
    """--blocks and --scheduler (check and bisect: the commands that run
    check_target's units of work)."""
    p.add_argument("--blocks", type=positive_int, default=1,
                   help="stateful engine: split each configuration's sample into "
                        "this many seed blocks, each with its own seed and share of "
                        "--examples (checks/dist.py run_blocks); --scheduler runs "
                        "them as separate tasks, with the same result as here")
    p.add_argument("--scheduler", nargs="?", const=LOCAL, default=None, type=_address,
                   metavar="ADDR",
                   help="run the units of work on a Dask cluster (pip install "
                        "'vcpcheck[dist]'): without ADDR, a cluster of one "
                        "single-threaded worker process per core started on "
                        "127.0.0.1; with ADDR (tcp://HOST:PORT), the cluster whose "
                        "scheduler is there.  Built-in targets only: a variant "
                        "file is checked on this machine, under its guard")


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (vcpcheck: error: ...)
    and exit status 2, as every other error is; -h prints the usage."""

    def error(self, message):
        command = " ".join(self.prog.split()[1:])
        sys.stderr.write(f"vcpcheck: error: {command + ': ' if command else ''}"
                         f"{message} (see {self.prog} -h)\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="vcpcheck", description=(
        "Model checker for the 2008 Virtual Compound Page series on an "
        "executable model of the 2.6.25 memory manager."))
    sub = p.add_subparsers(dest="command", required=True)
    lp = sub.add_parser("list", help="name the built-in targets")
    lp.add_argument("--json", action="store_true")
    cp = sub.add_parser("check", help="check targets against the invariants")
    cp.add_argument("targets", nargs="*", metavar="TARGET",
                    help="built-in target names or variant files (default: every "
                         "built-in target that is not a series prefix)")
    _run_options(cp)
    cp.add_argument("--out", metavar="DIR",
                    help="write each counterexample as JSON, ITF (NAME.itf.json), a "
                         "pytest file and SVG, and DIR/index.html listing them; "
                         "and the result of each finished unit of work in DIR/units")
    cp.add_argument("--resume", action="store_true",
                    help="with --out DIR: load the units of work a previous run "
                         "finished from DIR/units instead of running them again")
    _dist_options(cp)
    cp.add_argument("--junit", metavar="FILE",
                    help="also write JUnit XML: a testcase per configuration and "
                         "engine (a violation fails, an incomplete run is an "
                         "error, an unbuildable configuration is skipped)")
    cp.add_argument("--coverage", action="store_true",
                    help="after each target's summary, per engine: how many kernel "
                         "functions it called, the series' and variant's functions "
                         "it never called and their branches it never took (also "
                         "in --json stats)")
    cp.add_argument("--format", default="text", metavar="text|ktap",
                    help="stdout: the text report (default) or KTAP version 1")
    cp.add_argument("--graph", metavar="FILE",
                    help="explore engine: write the state graph to FILE.dot or "
                         "FILE.graphml (with several configurations, one file each, "
                         "the target and configuration inserted before the suffix)")
    bp = sub.add_parser("bisect", help="the first patch of a series after which "
                                        "an invariant fails")
    bp.add_argument("series", help="v2, v3, v5 or a series file (*.py)")
    _run_options(bp)
    _dist_options(bp)
    mp = sub.add_parser("compare", help="the first call where two targets differ")
    mp.add_argument("a")
    mp.add_argument("b")
    _run_options(mp, examples=200)
    gp = sub.add_parser("graph", help="write a series' patch-dependency graph")
    gp.add_argument("series", help="v2, v3, v5 or reference")
    gp.add_argument("--out", required=True, metavar="FILE.dot|FILE.graphml")
    rp = sub.add_parser("replay", help="re-execute a trace file")
    rp.add_argument("file")
    rp.add_argument("--target", help="replay on this target instead of the file's")
    rp.add_argument("-v", "--verbose", action="store_true")
    sp = sub.add_parser("simulate", help="run targets at a real memory size under "
                                         "a workload; measure the vmalloc fallback")
    sp.add_argument("targets", nargs="+", metavar="TARGET")
    sp.add_argument("--memory", default="1G", help="RAM, e.g. 1G or 512M (default 1G)")
    sp.add_argument("--arch", default="i386", help="i386 or x86_64 (default i386)")
    sp.add_argument("--workload", default="stress-highalloc",
                    help="page-cache, slab, users or stress-highalloc")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--calls", type=int, default=1_000_000)
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--plots", metavar="DIR", help="write PNG and SVG plots into DIR")
    sp.add_argument("-v", "--verbose", action="store_true")
    return p


# --- progress and colour ------------------------------------------------------------------

class Progress:
    """One self-rewriting line on a TTY stderr: per target, the engine at
    work, how many configurations it has done, its states or examples per
    second, and the time left of the target's budget; refreshed every
    second.  Off when stderr is not a TTY, with --json, or under CI (the
    CI convention: a log, not a terminal)."""

    def __init__(self, args):
        self.on = (sys.stderr.isatty() and not getattr(args, "json", False)
                   and not os.environ.get("CI"))
        self.budget = getattr(args, "budget", 0)
        self.start = time.monotonic()
        self.text = ""
        self.counts: dict = {}
        self.lock = threading.Lock()
        if self.on:
            threading.Thread(target=self._tick, daemon=True).start()

    def begin(self, target):
        """A new target: its own budget starts now."""
        self.start, self.counts = time.monotonic(), {}
        self.show(f"{target.name}: starting")

    def ran(self, target, phase, done, total, res):
        """A run of ``phase`` ended: ``done`` of ``total`` configurations."""
        unit, n = (("examples", res.examples) if phase == "stateful" else
                   ("states", res.states)) if res is not None else ("states", 0)
        c = self.counts.setdefault(phase, [0, 0.0])
        c[0] += n
        c[1] += res.seconds if res is not None else 0.0
        rate = f" ({c[0] / c[1]:,.0f}/s)" if c[1] > 0 else ""
        self.show(f"{target.name}: {phase} {done}/{total} configurations, "
                  f"{c[0]:,} {unit}{rate}")

    def show(self, text):
        self.text = text
        self._render()

    def _render(self):
        if not self.on or not self.text:
            return
        left = max(0.0, self.budget - (time.monotonic() - self.start))
        with self.lock:
            sys.stderr.write(f"\r\x1b[K{self.text} [{left:.0f}s of {self.budget:.0f}s "
                             f"budget left]")
            sys.stderr.flush()

    def _tick(self):
        while True:
            time.sleep(1.0)
            self._render()

    def done(self):
        if self.on:
            with self.lock:
                self.text = ""
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()


def colour(text, verdict):
    """ANSI colour on a TTY, unless NO_COLOR is set (no-color.org)."""
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    code = {"pass": "32", "fail": "31", "unknown": "33", "error": "31"}.get(verdict)
    return f"\x1b[{code}m{text}\x1b[0m" if code else text


# --- check -------------------------------------------------------------------------------------

# The share of a target's --budget each engine may use (see
# budget_deadlines), in RUN_ORDER, laid end to end: an engine that ends
# early leaves its time to the next.  Explore runs first and may not
# borrow, and over the bound matrix it needs the most of a passing target's
# time (reference: 27 s of explore on 2 loaded cores), so it has 40%; the
# stateful engine, which keeps finding new problems on a failing target
# until the budget ends, has whatever the others leave.  "deepen" is the
# explore engine's search one call deeper for a stateful counterexample it
# missed, run last.
SHARES = {"explore": 0.4, "smt": 0.15, "stateful": 0.4, "deepen": 0.05}


def _shares_text() -> str:
    """The shares as argparse help text (a literal % is %% there)."""
    return ", ".join(f"{e} {round(share * 100)}%%" for e, share in SHARES.items())


def phases(engines) -> list:
    """The phases of a check, in order: the engines, then (when both
    explore and stateful run) explore's deeper search."""
    deepen = ["deepen"] if {"explore", "stateful"} <= set(engines) else []
    return list(engines) + deepen


def budget_deadlines(engines, start, budget) -> dict:
    """{phase: the time.monotonic() by which it must stop} for one target.

    The phases (see phases()) run one after the other, each on every
    configuration.  The budget is split between them by SHARES, laid end
    to end from ``start``: a phase has its own share plus whatever the
    phases before it left unused, and none can eat a later one's.  The
    deadlines are absolute: time.monotonic() is the system's
    CLOCK_MONOTONIC, the same in the --jobs processes.
    """
    steps = phases(engines)
    total = sum(SHARES[e] for e in steps)
    out, t = {}, start
    for e in steps:
        t += budget * SHARES[e] / total
        out[e] = t
    return out


def run_engine(target, cfg, engine, deadline, args, told=None):
    """(result, cut) of one engine on one configuration, stopped at
    ``deadline``: ``cut`` is True if the budget ran out before it finished.
    The result is None if the deadline had passed before it could start.
    ``told``: for stateful, the signatures the engines before it found on
    this configuration (it looks for others); for explore's deeper search,
    its ``reach`` (see run_explore): the shortest length of each stateful
    counterexample there that explore missed."""
    from .explore import run_explore
    from .smt import run_smt
    left = deadline - time.monotonic()
    if left <= 0:
        return None, True
    if engine == "stateful" and getattr(args, "blocks", 1) > 1:
        from .dist import run_blocks_local
        res = run_blocks_local(target, cfg, args, deadline, exclude=told or ())
    elif engine == "stateful":
        res = run_stateful(target, cfg, seed=args.seed, max_examples=args.examples,
                           rounds=args.rounds, budget=left,
                           call_timeout=args.call_timeout, exclude=told or ())
    elif engine in ("explore", "deepen"):
        res = run_explore(target, cfg, depth=args.depth, budget=left, reach=told)
    else:
        res = run_smt(target, cfg, depth=args.smt_depth, budget=left, seed=args.seed)
    # stateful and explore are incomplete only when the budget stopped them;
    # smt also when z3 left a query unknown, which it keeps apart (res.cut).
    if engine == "smt":
        return res, res.cut
    return res, not res.complete and time.monotonic() >= deadline


def _run_one(name, *rest):
    return _run_measured(TARGETS[name], *rest)


def _run_measured(target, *rest):
    """run_engine, with what it ran attached to the result (cover.py)."""
    return cover.measured(run_engine, target, *rest)


def _told(done, i, phase):
    """What the engine of ``phase`` is told on configuration ``i`` of the
    phases before it (see run_engine), or None; for "deepen", None when
    there is nothing to search deeper for, and the phase is skipped."""
    from .stateful import signature
    found = [res for (j, e), (res, _cut) in done.items()
             if j == i and res is not None and e != phase]
    if phase == "stateful":
        return frozenset(signature(v.invariant, v.message)
                         for res in found for v in res.violations)
    if phase != "deepen":
        return None
    stateful = done.get((i, "stateful"), (None, False))[0]
    explored = done.get((i, "explore"), (None, False))[0]
    if stateful is None or explored is None or not stateful.violations:
        return None
    have = {signature(v.invariant, v.message) for v in explored.violations}
    missed = {sig: n for sig, n in shortest_lengths(stateful.violations).items()
              if sig not in have and n > explored.depth}
    return missed or None


def run_configs(target, cfgs, engines, args, start, engines_at=None):
    """((configuration index, phase), (result, cut)) for every phase and
    configuration, phase by phase (see phases and budget_deadlines): every
    configuration's run of one engine is over before the next starts, so
    the stateful engine is told what explore and smt found on the same
    configuration, and explore's deeper search ("deepen", whose result
    replaces explore's) the lengths of the stateful counterexamples it
    missed (see run_explore's ``reach``).

    Built-in targets run on ``--jobs`` processes (fork).  Every engine on
    every configuration has its own seed stream and draws on nothing a
    process keeps from earlier work, so the results do not depend on the
    split; only the budget, when it runs out, depends on the clock.
    Closing the generator (--fail-fast) ends the workers at once.
    ``engines_at[i]``: the engines that run on configuration ``i`` (see
    bound_plan; all of ``engines`` when None).

    With --scheduler (``args.runner``), a built-in target's units run on the
    Dask cluster instead (checks/dist.py run_phase), each configuration's
    explore search in shards and, with --blocks, its stateful sample in
    seed blocks.  With --out, every finished unit is kept in DIR/units
    (``args.store``, dist.UnitStore), and --resume loads it from there
    instead of running it.
    """
    deadlines = budget_deadlines(engines, start, args.budget)
    jobs = max(1, min(args.jobs, len(cfgs)))
    done = {}
    store, runner = getattr(args, "store", None), getattr(args, "runner", None)
    builtin = TARGETS.get(target.name) is target

    def todo(phase):
        told = {i: _told(done, i, phase) for i in range(len(cfgs))}
        return [(i, told[i]) for i in range(len(cfgs))
                if (phase != "deepen" or told[i]) and _runs_at(engines_at, i, phase)]

    def kept(i, e, told):
        return store.load(target, cfgs[i], e, told, args) if store else None

    def keep(i, e, told, run):
        if store:
            store.save(target, cfgs[i], e, told, args, run)
        return run

    from .dist import is_builtin
    if runner is not None and is_builtin(target):
        from .dist import run_phase
        for e in phases(engines):
            units = run_phase(runner, target, cfgs, e, todo(e), deadlines[e], args, store)
            try:
                for (i, _e), run in units:
                    done[i, e] = run
                    yield (i, e), run
            finally:
                units.close()
        return
    if jobs > 1 and builtin:
        ctx = multiprocessing.get_context("fork")
        with worker_pool(jobs, ctx) as pool:
            for e in phases(engines):
                work = todo(e)
                futures = [kept(i, e, told) or pool.submit(
                               _run_one, target.name, cfgs[i], e, deadlines[e], args, told)
                           for i, told in work]
                for (i, told_i), fut in zip(work, futures):
                    try:
                        done[i, e] = (fut if isinstance(fut, tuple) else
                                      keep(i, e, told_i, fut.result()))
                    except BrokenProcessPool:
                        running = guard.last_running()
                        raise UsageError(
                            f"{target.name}: a --jobs worker process ended while "
                            f"running {e} on [{cfgs[i].short()}]"
                            f"{' in ' + running if running else ''} (os._exit or "
                            f"a signal in variant code?); nothing is reported "
                            f"as a pass") from None
                    yield (i, e), done[i, e]
        return
    for e in phases(engines):
        for i, told in todo(e):
            done[i, e] = kept(i, e, told) or keep(
                i, e, told, _run_measured(target, cfgs[i], e, deadlines[e], args, told))
            yield (i, e), done[i, e]


def _runs_at(engines_at, i, phase) -> bool:
    """Whether ``phase`` runs on configuration ``i`` (see bound_plan)."""
    engine = "explore" if phase == "deepen" else phase
    return engines_at is None or engine in engines_at[i]


def bound_plan(target, args, overrides) -> list:
    """[(Kconfig, bound name, engines, why unbuildable or None)]: every
    configuration of ``target`` at every bound checked, and the engines
    that run on it.

    With --bound, each bound named runs every engine asked for, on every
    configuration.  Without it, DEFAULT_BOUND runs every engine on every
    configuration and, when explore is asked for, each other bound runs
    explore alone on one configuration (see representatives), so that the
    default check stays within its time.  A bound that applies to none of the target's
    configurations (lowmem-small without HIGHMEM) adds nothing; a
    configuration whose build fails for a reason already listed at an
    earlier bound is left out (unbuildability does not depend on the
    bound), and so is one an override made equal to an earlier one.
    """
    engines = tuple(selected_engines(args.engine))
    chosen = getattr(args, "bound", None)
    if chosen:
        order = [(b, engines) for b in chosen]
    else:
        order = [(DEFAULT_BOUND, engines)] + (
            [(b, ("explore",)) for b in BOUNDS if b != DEFAULT_BOUND]
            if "explore" in engines else [])
    out, seen, reasons = [], set(), set()
    for n, (name, engs) in enumerate(order):
        try:
            cfgs = target.configs(overrides, bound=name)
        except ConfigError as e:
            if n == 0 or chosen:
                raise UsageError(f"target {target.name} at bound {name}: {e}")
            continue                     # the overrides rule this bound out
        if n and not chosen:
            cfgs = representatives(target, cfgs, name)
        for cfg in cfgs:
            if cfg in seen:
                continue
            seen.add(cfg)
            why = target.try_build(cfg)[1]
            if why and n and why in reasons:
                continue                 # listed at the first bound already
            if why and not n:
                reasons.add(why)
            out.append((cfg, name, engs, why))
    if not out:
        raise UsageError(f"target {target.name}: no configuration at bound "
                         f"{', '.join(chosen or (DEFAULT_BOUND,))}")
    return out


def representatives(target, cfgs, bound) -> list:
    """The one buildable configuration of ``cfgs`` that a bound other than
    DEFAULT_BOUND is checked on by default: i386 HIGHMEM for a bound that
    moves the lowmem/highmem boundary (its zones are what it is about),
    x86_64 otherwise (the sizes it changes do not depend on the
    architecture); of those, the first with the fallback not forced
    (VFALLBACK_ALWAYS or VIRTUALIZE_ALWAYS n, so explore starts from the
    booted and the fragmented kernel and reaches the physical and the
    virtual path) and PREEMPT n.  The architectures, the flag encodings
    and PREEMPT are all checked at DEFAULT_BOUND."""
    from .explore import FALLBACK_FORCED
    zones = "lowmem_pages" in dict(BOUNDS[bound].params)

    def rank(cfg):
        forced = any(getattr(cfg, o) for o in FALLBACK_FORCED if o in target.options)
        wanted = (cfg.ARCH, cfg.HIGHMEM) == (("i386", True) if zones else ("x86_64", False))
        return (not wanted, forced, cfg.PREEMPT)
    ok = [c for c in cfgs if not target.try_build(c)[1]]
    return [min(ok, key=rank)] if ok else cfgs[:1]


def _looked(engine, res) -> bool:
    """The engine checked at least one example or state (a run that
    checked nothing proves nothing)."""
    return (res.examples if engine == "stateful" else res.states) > 0


def _cut_reason(engine, res) -> str:
    """What an engine the budget stopped had done."""
    if engine == "deepen":
        return ("the budget ran out before explore's search one call deeper (for "
                "a longer stateful counterexample it missed) ended; its search to "
                "--depth stands")
    if res is None:
        return "the budget ran out before it started"
    n, what = (res.examples, "example") if engine == "stateful" else (res.states, "state")
    return f"the budget ran out after {n} {what}{'s' if n != 1 else ''}"


def check_target(target, args, overrides, progress=None, stream=None) -> dict:
    """Run the engines on every configuration of one target.

    ``stream(target, cfg, violations)`` is called with each engine's new
    violations on a configuration as soon as that run is over (the text
    report prints them then); with --fail-fast the check stops there.
    """
    plan = bound_plan(target, args, overrides)
    configs = [cfg for cfg, _b, _e, _why in plan]
    start = time.monotonic()
    unbuildable = [{"config": cfg.short(), "reason": why}
                   for cfg, _b, _e, why in plan if why]
    runnable = [cfg for cfg, _b, _e, why in plan if not why]
    at = [(bound, engs) for _c, bound, engs, why in plan if not why]
    engines = selected_engines(args.engine)
    runs, shown, stopped, ran = {}, {}, False, {}
    collected = cover.Collected()
    if progress:
        progress.begin(target)
    gen = run_configs(target, runnable, engines, args, start,
                      [engs for _b, engs in at])
    try:
        for (i, phase), run in gen:
            if phase == "deepen" and (run[0] is None or run[1]):
                # the budget ran out before the deeper search ended: the
                # search to --depth stands, and the cut is reported as the
                # deeper search's; what it found before the cut is kept
                runs[i, "deepen"] = run
                if run[0] is not None and (i, "explore") in runs:
                    runs[i, "explore"][0].violations.extend(run[0].violations)
            elif phase == "deepen":
                runs[i, "explore"] = run
            else:
                runs[i, phase] = run
            collected.add("explore" if phase == "deepen" else phase, run[0])
            new = _unseen(run[0], shown)
            if stream and new:
                stream(target, runnable[i], new)
            if progress:
                ran[phase] = ran.get(phase, 0) + 1
                progress.ran(target, phase, ran[phase], len(runnable), run[0])
            if args.fail_fast and new:
                stopped = True
                break
    finally:
        gen.close()
    result = merge_runs(target, args, engines, configs, unbuildable, runnable, runs,
                        start, at)
    if stopped:
        result["stats"]["strength"] += (" (stopped at the first violation: "
                                        "--fail-fast)")
        result["stats"]["fail_fast"] = True
    cover.attach(result, target, runnable, collected, args)
    return result


def _unseen(res, shown) -> list:
    """The violations of one run not reported yet (one per configuration
    and signature), or with a shorter trace than the one reported."""
    from .stateful import signature
    out = []
    for v in (res.violations if res is not None else []):
        key = (v.config, signature(v.invariant, v.message))
        if key not in shown or len(v.trace) < shown[key]:
            shown[key] = len(v.trace)
            out.append(v)
    return out


def merge_runs(target, args, engines, configs, unbuildable, runnable, runs,
               start, at=None) -> dict:
    """One target's result from its runs {(config index, engine): (result,
    cut)}: merged in configuration order and RUN_ORDER, whatever order the
    processes finished in; a run that did not happen (--fail-fast) is
    missing and counts as not done.  ``at[i]``: (bound, engines) of
    configuration ``i`` (bound_plan); None: DEFAULT_BOUND, every engine."""
    at = at or [(DEFAULT_BOUND, tuple(engines))] * len(runnable)
    violations, examples, steps, done = [], 0, 0, 0
    explored, cut = [], []
    engine_seconds = {e: round(sum(run[0].seconds for (_i, n), run in runs.items()
                                   if n == e and run[0] is not None), 2)
                      for e in engines}
    smt = {"proved": 0, "refuted": 0, "unknown": 0, "states": 0, "unknown_reasons": []}
    for i, cfg in enumerate(runnable):
        results = {e: runs.get((i, e), (None, False))[0] for e in engines
                   if e in at[i][1]}
        for e in phases(engines):
            if runs.get((i, e), (None, False))[1]:
                cut.append({"config": cfg.short(), "engine": e,
                            "reason": _cut_reason(e, runs[i, e][0])})
        if args.verbose:
            for name, res in results.items():
                if res is not None:
                    print(f"  {target.name} [{cfg.short()}] {name}: "
                          f"{len(res.violations)} violations", file=sys.stderr)
        r, x, z = (results.get(n) for n in ENGINES)
        if x is not None:
            explored.append(x)
            violations.extend(_shortest_first(x.violations, violations))
        if z is not None:
            for key, n in z.counts().items():
                smt[key] += n
            smt["states"] += z.states
            smt["unknown_reasons"].extend(f"[{cfg.short()}] {u}" for u in z.unknown)
            violations.extend(_shortest_first(z.violations, violations))
        if r is not None:
            examples += r.examples
            steps += r.steps
            violations.extend(_shortest_first(r.violations, violations))
        done += all(res is not None for res in results.values())
    report.add_consequences(violations, target)
    buildable = len(configs) - len(unbuildable)
    # Cut by the budget, or (smt) a query z3 left undecided, or an engine
    # that looked at nothing (no example, no state), or a run that did not
    # happen: never a pass.
    incomplete = done < len(runnable) or any(
        res is None or not res.complete or not _looked(engine, res)
        for (_i, engine), (res, _cut) in runs.items())
    if violations:
        verdict = "fail"
    elif not buildable:
        verdict = "error"
    elif incomplete:
        verdict = "unknown"
    else:
        verdict = "pass"
    ran = [e for e in engines if any(n == e for (_i, n) in runs)]
    strength = _strength(args, ran, cut, examples, steps, explored, smt, done,
                         buildable, _bounds_run(ran, at))
    if len(ran) < len(engines):
        strength += "; not run: " + ", ".join(e for e in engines if e not in ran)
    return {"target": target.name, "verdict": verdict, "violations": violations,
            "stats": {"engine": args.engine, "strength": strength,
                      "examples": examples, "steps": steps,
                      "states": sum(x.states for x in explored),
                      "transitions": sum(x.transitions for x in explored),
                      "configs_checked": done, "configs": len(configs),
                      "smt": smt if "smt" in engines else None,
                      "unbuildable": unbuildable,
                      "runs": _planned_rows(run_rows(configs, runnable, unbuildable,
                                                     engines, runs), runnable, at),
                      "bounds": {name: BOUNDS[name].describe()
                                 for name in dict.fromkeys(b for b, _e in at)},
                      "budget": args.budget, "budget_ran_out": cut,
                      "engine_seconds": engine_seconds,
                      "seconds": round(time.monotonic() - start, 2),
                      "seed": args.seed}}


def _bounds_run(engines, at) -> dict:
    """{engine: [(bound, configurations it ran on there)], in BOUNDS order}."""
    out = {}
    for e in engines:
        counts = {b: sum(1 for bound, engs in at if bound == b and e in engs)
                  for b in BOUNDS}
        out[e] = [(b, n) for b, n in counts.items() if n]
    return out


def _where(bounds) -> str:
    """Where an engine ran, for the strength: at bound X, or over N bounds
    with the configurations at each."""
    if len(bounds) == 1:
        return f" at bound {bounds[0][0]}"
    return (f" over {len(bounds)} bounds ("
            + ", ".join(f"{b} {n} configuration{'s' if n != 1 else ''}"
                        for b, n in bounds) + ")")


def _planned_rows(rows, runnable, at) -> list:
    """run_rows without the rows of engines bound_plan did not run on a
    configuration (unbuildable rows stay)."""
    planned = {(cfg.short(), e) for cfg, (_b, engs) in zip(runnable, at) for e in engs}
    return [r for r in rows if r["outcome"] == "unbuildable"
            or (r["config"], r["engine"]) in planned]


def _strength(args, engines, cut, examples, steps, explored, smt, done, buildable,
              bounds=None):
    """Each engine's part of the strength, marked partial where the budget
    stopped it on some configuration, with the bounds it ran at."""
    stopped = {c["engine"] for c in cut}
    bounds = bounds or {e: [(DEFAULT_BOUND, done)] for e in engines}

    def mark(engine):
        return " (partial: the budget ran out)" if engine in stopped else ""
    parts = []
    if "stateful" in engines:
        parts.append(f"sampled: {examples} examples, {steps} steps"
                     f"{_where(bounds['stateful'])}{mark('stateful')}")
    if "explore" in engines:
        states = sum(x.states for x in explored)
        kind = "partial" if "explore" in stopped else "exhaustive"
        deeper = sorted({x.depth for x in explored if x.depth > args.depth})
        raised = (f" (to depth {'/'.join(map(str, deeper))} on "
                  f"{sum(x.depth > args.depth for x in explored)} of {len(explored)} "
                  f"configurations, to reach a longer stateful counterexample)"
                  if deeper else "")
        beyond = max((x.beyond for x in explored), default=0)
        if beyond:
            raised += (f" (a stateful counterexample of {beyond} calls is beyond "
                       f"the bound)")
        cut_deeper = sum(c["engine"] == "deepen" for c in cut)
        if cut_deeper:
            raised += (f" (the search one call deeper for a longer stateful "
                       f"counterexample was cut by the budget on {cut_deeper} "
                       f"configuration{'s' if cut_deeper != 1 else ''})")
        merged = sum(x.stale == "merged" for x in explored)
        shallow = sum(x.stale == STALE_SHALLOW for x in explored)
        merged = (f"{merged} (on by default from depth {STALE_MERGE_DEPTH})"
                  if shallow and not merged else merged)
        symmetric = sum(x.symmetry.startswith("block symmetry") for x in explored)
        collision = sum(x.collision for x in explored)
        parts.append(f"{kind} to depth {args.depth}{_where(bounds['explore'])}{raised}: "
                     f"{states} states, "
                     f"{sum(x.transitions for x in explored)} transitions, stale struct "
                     f"page words merged on {merged} and block symmetry used on "
                     f"{symmetric} of {len(explored)} configurations, fingerprint "
                     f"collision probability at most {collision:.1g}")
    if "smt" in engines:
        parts.append(f"decided by z3 on {smt['states']} states within "
                     f"{args.smt_depth} call{'s' if args.smt_depth != 1 else ''}: "
                     f"{smt['proved']} proved, {smt['refuted']} refuted, "
                     f"{smt['unknown']} unknown{_where(bounds['smt'])}{mark('smt')}")
    return (f"{'; '.join(parts)} over {done} of {buildable} buildable "
            f"configurations")


def _shortest_first(found, already):
    """Merge another engine's violations into ``already``: one report per
    configuration and signature, with the shorter trace.

    A violation ``already`` holds with a longer trace than the one found is
    replaced where it stands (in place: explore's shortest trace wins over
    the stateful engine's minimised one when it is shorter); the found ones
    of new signatures are returned, to be appended.  On a tie the earlier
    report stays.
    """
    from .stateful import signature
    key = lambda v: (v.config, signature(v.invariant, v.message))  # noqa: E731
    index = {key(v): i for i, v in enumerate(already)}
    new = {}
    for v in found:
        k = key(v)
        if k in index:
            if len(v.trace) < len(already[index[k]].trace):
                already[index[k]] = v
        elif k not in new or len(v.trace) < len(new[k].trace):
            new[k] = v
    return list(new.values())


def print_text(result, streamed=False) -> None:
    """The target's summary line, what was unbuildable or cut, and (unless
    they were printed as they were found) its violations."""
    st = result["stats"]
    print(colour(f"{result['target']}: {result['verdict'].upper()}", result["verdict"])
          + f" ({st['strength']}; {st['seconds']}s; seed {st['seed']})")
    for u in st["unbuildable"]:
        print(f"  unbuildable [{u['config']}]: {u['reason']}")
    for c in st.get("budget_ran_out", []):
        print(f"  unknown ({c['engine']}, not a pass): [{c['config']}] {c['reason']} "
              f"(--budget {st['budget']:g}s for the target)")
    for reason in (st.get("smt") or {}).get("unknown_reasons", []):
        print(f"  unknown (smt, not a pass): {reason}")
    for line in cover.text_lines(st):
        print(line)
    if streamed:
        n = len(result["violations"])
        if n:
            print(f"  {n} violation{'s' if n != 1 else ''}, printed above as found")
        return
    print_violations(TARGETS[result["target"]], result["violations"])


def print_violations(target, violations) -> None:
    """Violations with their traces as replayable calls, those that share a
    configuration and trace together."""
    groups: dict = {}
    for v in violations:
        groups.setdefault((v.config, json.dumps(v.trace)), []).append(v)
    for (cfg, _), vs in groups.items():
        for v in vs:
            print(f"  violation: {v.invariant} [{cfg.short()}] {v.message}")
            for inv, msg in v.consequences:
                print(f"    consequence of the oops (not a finding): {inv}: {msg}")
        trace = vs[0].trace
        orig = vs[0].original_length
        shrunk = f" (minimised from {orig})" if orig and orig != len(trace) else ""
        print(f"    engine {vs[0].engine}, {vs[0].strength}; trace of "
              f"{len(trace)} calls{shrunk}:")
        for line in report.trace_lines(trace, cfg, target.symbols(cfg), target.api):
            print(f"    {line}")


def _stream_text(progress):
    """A check_target stream that prints each violation as it is found,
    under the target's name (the summary line comes at the end)."""
    def stream(target, cfg, violations):
        report.add_consequences(violations, target)
        progress.done()
        n = len(violations)
        print(f"{target.name}: {n} new violation{'s' if n != 1 else ''} "
              f"({violations[0].engine})")
        print_violations(target, violations)
        sys.stdout.flush()
    return stream


def result_json(r) -> dict:
    return {"target": r["target"], "verdict": r["verdict"],
            "violations": [report.violation_json(v) for v in r["violations"]],
            "stats": r["stats"]}


def _check_coverage_option(args):
    try:
        cover.check_options(args)
    except cover.CoverageError as e:
        raise UsageError(str(e))


@contextlib.contextmanager
def units_of_work(args):
    """Where a command's units of work run and are kept: ``args.runner``,
    the Dask cluster of --scheduler (None: here, on --jobs processes), and
    ``args.store``, DIR/units of --out (None without it; see run_configs)."""
    if getattr(args, "resume", False) and not getattr(args, "out", None):
        raise UsageError("--resume needs --out DIR (the finished units of work "
                         "are kept in DIR/units)")
    args.store = args.runner = None
    if getattr(args, "out", None):
        from .dist import UnitStore
        try:
            args.store = UnitStore(args.out, args.resume)
        except OSError as e:
            raise UsageError(f"--out {e.filename or args.out!r}: {e.strerror or e}")
    if not getattr(args, "scheduler", None):
        yield
        return
    from .dist import open_scheduler
    with open_scheduler(args.scheduler) as runner:
        args.runner = runner
        try:
            yield
        finally:
            args.runner = None


def cmd_check(args) -> int:
    from .variants import resolve_target
    overrides = parse_config(args.config)
    if args.graph:
        from .graphs import check_suffix
        if "explore" not in selected_engines(args.engine):
            raise UsageError("--graph records the explore engine's states: use "
                             "--engine explore or all")
        try:
            check_suffix(args.graph)
        except ValueError as e:
            raise UsageError(f"--graph {e}")
        # one graph per configuration checked: at main unless --bound names others
        args.bound = args.bound or (DEFAULT_BOUND,)
    check_format_options(args)
    _check_coverage_option(args)
    targets = [resolve_target(n) for n in (args.targets or DEFAULT_TARGETS)]
    progress = Progress(args)
    # KTAP and JSON are documents printed whole at the end; text streams.
    stream = None if args.json or args.format == "ktap" else _stream_text(progress)
    results = []
    with units_of_work(args):
        for t in targets:
            results.append(check_target(t, args, overrides, progress, stream))
            if args.fail_fast and results[-1]["verdict"] == "fail":
                break
    progress.done()
    if args.verbose and args.store is not None and args.resume:
        print(f"  --resume: {args.store.loaded} finished units loaded from "
              f"{args.store.folder}", file=sys.stderr)
    if args.out:
        from .traces import write_outputs
        for t, r in zip(targets, results):
            paths = write_outputs(args.out, t.name, r["violations"], t.symbols, t.api)
            r["stats"]["files"] = paths
    if args.graph:
        from .graphs import export_check_graphs
        export_check_graphs(args, targets, results, overrides)
    if write_formats(args, targets, results):
        pass                            # --format ktap printed the results
    elif args.json:
        print(json.dumps({"targets": [result_json(r) for r in results]}))
    else:
        for r in results:
            print_text(r, streamed=True)
        if len(results) < len(targets):
            print(f"not checked (--fail-fast): "
                  f"{', '.join(t.name for t in targets[len(results):])}")
    if any(r["verdict"] in ("fail", "unknown", "error") for r in results):
        return 1
    return 0


# --- bisect ------------------------------------------------------------------------------------

def series_prefixes(name):
    """[(label, title, Target)] in patch order, for a built-in series or a file."""
    if name.endswith(".py") or os.sep in name:
        from .variants import load_series
        base, prefixes = load_series(name)
        return [(base.name, f"the base, {base.description}", base)] + prefixes
    if name not in ("v2", "v3", "v5"):
        raise UsageError(f"unknown series {name!r}: v2, v3, v5 or a series file")
    labels = sorted(t for t in TARGETS if t.startswith(name + ":"))
    return [("base", "the 2.6.25 base", TARGETS["base"])] + [
        (lb, TARGETS[lb].description, TARGETS[lb]) for lb in labels]


def cmd_bisect(args) -> int:
    overrides = parse_config(args.config)
    progress = Progress(args)
    rows, first_bad = [], None
    prefixes = series_prefixes(args.series)
    with units_of_work(args):
        for label, title, target in prefixes:
            r = check_target(target, args, overrides, progress)
            rows.append({"patch": label, "title": title, "verdict": r["verdict"],
                         "result": r})
            if r["verdict"] == "fail":
                first_bad = rows[-1]
                break
    progress.done()
    if args.json:
        print(json.dumps({"series": args.series, "first_bad": first_bad and first_bad["patch"],
                          "steps": [{"patch": x["patch"], "title": x["title"],
                                     "verdict": x["verdict"],
                                     "result": result_json(x["result"])} for x in rows]}))
    else:
        for x in rows:
            st = x["result"]["stats"]
            print(f"{x['patch']:>10}  {colour(x['verdict'].upper(), x['verdict']):<6} "
                  f"{x['title']}  ({st['strength']})")
        if first_bad:
            print(f"first bad patch: {first_bad['patch']} {first_bad['title']}")
            print_text(first_bad["result"])
        else:
            print(f"no patch of {args.series} breaks an invariant "
                  f"(to the strength shown)")
    return 1 if first_bad else 0


# --- compare -------------------------------------------------------------------------------------

def cmd_compare(args) -> int:
    from .compare import run_compare
    from .variants import resolve_target
    ta, tb = resolve_target(args.a), resolve_target(args.b)
    overrides = parse_config(args.config)
    cfgs = [c for c in ta.configs(overrides)
            if ta.try_build(c)[1] is None and tb.try_build(c)[1] is None]
    if not cfgs:
        raise UsageError(f"{ta.name} and {tb.name} build under no common configuration")
    start, found, examples, compared = time.monotonic(), None, 0, 0
    for cfg in cfgs:
        # Checked between configurations only: run_compare takes no budget.
        if time.monotonic() - start > args.budget:
            break
        r = run_compare(ta, tb, cfg, args.seed, args.examples, args.call_timeout)
        examples += r.examples
        compared += 1
        if r.violations:
            found = r.violations[0]
            break
    # The budget ran out before every configuration was compared: not "same".
    verdict = "differ" if found else "same" if compared == len(cfgs) else "unknown"
    strength = (f"sampled: {examples} examples over {compared} of {len(cfgs)} "
                f"configurations" + ("; the budget ran out" if verdict == "unknown" else ""))
    if args.json:
        print(json.dumps({"a": ta.name, "b": tb.name, "verdict": verdict,
                          "difference": report.violation_json(found) if found else None,
                          "stats": {"examples": examples, "strength": strength}}))
    elif found:
        print(f"{ta.name} vs {tb.name}: DIFFER [{found.config.short()}] {found.message}")
        print(f"    {found.strength}; calls made on both (A's values):")
        for line in report.trace_lines(found.trace, found.config,
                                       ta.symbols(found.config), ta.api):
            print(f"    {line}")
    else:
        print(f"{ta.name} vs {tb.name}: {verdict.upper()} ({strength})")
    return 0 if verdict == "same" else 1


# --- replay -----------------------------------------------------------------------------------

def cmd_replay(args) -> int:
    from .traces import load_record, replay_record
    record = load_record(args.file)
    reproduced, problems = replay_record(record, args.target)
    name = args.target or record.get("target")
    if reproduced:
        print(f"{args.file}: reproduces on {name}")
    else:
        print(f"{args.file}: does not reproduce on {name}")
    for inv, msg in problems:
        print(f"  {inv}: {msg}")
    return 1 if reproduced else 0


# --- list and main -------------------------------------------------------------------------------

def cmd_list(args) -> int:
    if args.json:
        print(json.dumps({"targets": [{"name": t.name, "description": t.description}
                                      for t in TARGETS.values()]}))
    else:
        for t in TARGETS.values():
            print(f"{t.name:12} {t.description}")
    return 0


def cmd_graph(args) -> int:
    from .graphs import check_suffix, patch_graph, write_graph
    try:
        check_suffix(args.out)
        g = patch_graph(args.series)
        write_graph(g, args.out)
    except ValueError as e:
        raise UsageError(f"graph: {e}")
    except OSError as e:
        raise UsageError(f"graph: {args.out}: {e.strerror}")
    print(f"{args.out}: {g.number_of_nodes()} patches, {g.number_of_edges()} dependencies")
    return 0


def cmd_simulate(args) -> int:
    from .simulate import SimulateError, main as simulate_main
    try:
        return simulate_main(args)
    except SimulateError as e:
        raise UsageError(f"simulate: {e}")


COMMANDS = {"list": cmd_list, "check": cmd_check, "bisect": cmd_bisect,
            "compare": cmd_compare, "graph": cmd_graph, "replay": cmd_replay,
            "simulate": cmd_simulate}


# Commands that may run a user's variant or series file: they run under
# guard.supervise, where variant code can be stopped whatever it does.
SUPERVISED = ("check", "bisect", "compare", "replay")


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:          # argparse already printed one line
        return 2 if e.code else 0
    if args.command in SUPERVISED:
        return guard.supervise(lambda: run_command(args),
                               getattr(args, "call_timeout", None))
    return run_command(args)


def run_command(args) -> int:
    """Run one parsed command: its exit status, every error one line."""
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:        # Ctrl-C: files are whole or absent
        print("vcpcheck: interrupted", file=sys.stderr)
        return 130
    except (UsageError, VariantError, TraceFileError, DistError) as e:
        msg = str(e)
    except Hang as e:
        msg = f"{e}; nothing is reported as a pass"
    except ModelCrash as e:
        msg = f"{e}; nothing is reported as a pass"
    except guard.VariantCallError as e:
        msg = f"{e.message}; nothing is reported as a pass"
    except Exception as e:           # a crash is never a pass
        if getattr(args, "verbose", False):
            traceback.print_exc()
        msg = (f"internal error: {type(e).__name__}: {e} (run with -v for the "
               f"traceback)")
    print(f"vcpcheck: error: {msg}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
