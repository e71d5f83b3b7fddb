"""What a check ran: kernel functions called and series branches taken.

A PASS says nothing about code no engine ran.  This module measures, per
engine, on every configuration, in the process that runs it (a --jobs
worker included), and sends the figures back with the engine's result:

- always: which functions of a variant file (REPLACE / ADD) were called.
  guard.guarded, which wraps each of them anyway, records the name, so
  the cost is one set insertion per call of the variant's own functions.
  One that no engine called is a warning in the verdict.
- with --coverage: calls per kernel function, by C name, counted by a
  wrapper around every symbol of the build (impl/symbols.py: callers reach
  each other only through the symbol table, k.name(...)); and the branches
  of the series' and the variant's own functions (those that differ from
  the base mm's), from coverage.py's arc tracer limited to their files.
  A branch is an arc from a line with two or more possible next lines
  (coverage.py's static analysis), e.g. an ``if`` whose else was never
  taken; ``exit`` is a return from the function.

Functions a kernel function calls as a plain Python helper (not k.name)
are not in the symbol table and are not counted.  The figures are
deterministic for the same options and seed, with any --jobs (each run
starts from zeroed counters in its own process), unless the budget cut a
run short.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import os

from vcpcheck.impl.symbols import base_symbols

from . import guard

_COUNTS: dict = {}          # C name -> calls in this process's current run


class CoverageError(Exception):
    """A --coverage request that cannot be met (one line, exit 2)."""


def check_options(args) -> None:
    """--coverage is printed in the text report and carried by --json."""
    if not getattr(args, "coverage", False):
        return
    if getattr(args, "format", "text") == "ktap":
        raise CoverageError("--coverage is printed after each target's text summary "
                            "or carried in --json stats; KTAP has no place for it "
                            "(use --format text or --json)")
    try:
        import coverage  # noqa: F401
    except ImportError:
        raise CoverageError("--coverage needs coverage.py (pip install 'coverage>=7.4')")


# --- in the process that runs an engine ---------------------------------------------------

def _counter(name, fn):
    counts = _COUNTS

    @functools.wraps(fn)
    def call(*args, **kwargs):
        counts[name] = counts.get(name, 0) + 1
        return fn(*args, **kwargs)
    return call


def counted(target):
    """``target`` with every kernel function of its builds counted."""
    symbols_fn = target.symbols

    def symbols(cfg):
        return {name: dataclasses.replace(kf, fn=_counter(name, kf.fn))
                for name, kf in symbols_fn(cfg).items()}
    return dataclasses.replace(target, symbols=symbols)


def series_functions(target, cfg) -> dict:
    """{C name: function} of the build's functions that are not the base
    mm's: the series' and the variant's own."""
    base = base_symbols(cfg)
    return {name: kf.fn for name, kf in target.symbols(cfg).items()
            if name not in base or base[name].fn is not kf.fn}


def source_span(fn):
    """(file, first line, last line) of a function's source, or None (code
    made from a string has no file coverage.py could analyse)."""
    fn = inspect.unwrap(fn)
    try:
        lines, first = inspect.getsourcelines(fn)
        path = inspect.getsourcefile(fn)
    except (OSError, TypeError):
        return None
    if not path or not os.path.isfile(path):
        return None
    return os.path.abspath(path), first, first + len(lines) - 1


def measured(run, target, cfg, engine, deadline, args, told):
    """``run(target, cfg, engine, deadline, args, told)`` (cli.run_engine),
    with what it ran attached to its result as ``res.coverage``."""
    guard.VARIANT_CALLED.clear()
    if not getattr(args, "coverage", False):
        res, cut = run(target, cfg, engine, deadline, args, told)
        if res is not None:
            res.coverage = {"variant_called": sorted(guard.VARIANT_CALLED)}
        return res, cut
    import coverage
    files = sorted({span[0] for span in map(source_span,
                                            series_functions(target, cfg).values())
                    if span})
    tracer = (coverage.Coverage(data_file=None, branch=True, config_file=False,
                                include=files) if files else None)
    _COUNTS.clear()
    if tracer:
        tracer.start()
    try:
        res, cut = run(counted(target), cfg, engine, deadline, args, told)
    finally:
        if tracer:
            tracer.stop()
    if res is not None:
        data = tracer.get_data() if tracer else None
        res.coverage = {"variant_called": sorted(guard.VARIANT_CALLED),
                        "calls": dict(sorted(_COUNTS.items())),
                        "arcs": {f: sorted(data.arcs(f) or []) for f in files}
                        if data else {}}
    return res, cut


# --- in check_target: merged over configurations, per engine ------------------------------

class Collected:
    """Every run's coverage of one target, merged per engine."""

    def __init__(self):
        self.variant_called: set = set()
        self.calls: dict = {}        # engine -> {C name: calls}
        self.arcs: dict = {}         # engine -> {file: set of arcs}

    def add(self, engine, res) -> None:
        cov = getattr(res, "coverage", None)
        if not cov:
            return
        self.variant_called.update(cov["variant_called"])
        if "calls" not in cov:
            return
        calls = self.calls.setdefault(engine, {})
        for name, n in cov["calls"].items():
            calls[name] = calls.get(name, 0) + n
        arcs = self.arcs.setdefault(engine, {})
        for path, pairs in cov["arcs"].items():
            arcs.setdefault(path, set()).update(map(tuple, pairs))


def variant_functions(target, cfgs) -> dict:
    """{C name: (file, "replaces" or "adds")} of the functions a variant or
    series file puts in the target's builds."""
    out = {}
    for cfg in cfgs:
        for name, kf in target.symbols(cfg).items():
            path = getattr(kf.fn, "__vcpcheck_variant__", None)
            if path:
                out[name] = (path, getattr(kf.fn, "__vcpcheck_kind__", "replaces"))
    return out


def warnings(target, cfgs, collected, verdict) -> list:
    """One line per variant function no engine called."""
    out = []
    for name, (path, kind) in sorted(variant_functions(target, cfgs).items()):
        if name not in collected.variant_called:
            out.append(f"{path} {kind} {name}, which no engine called: this "
                       f"{verdict.upper()} says nothing about it")
    return out


def _missing_branches(path, arcs, spans) -> dict:
    """{C name: ["a->b", ...]} of the branch arcs of each function in
    ``spans`` ({C name: (first, last)}) that ``arcs`` does not hold."""
    import coverage
    tracer = coverage.Coverage(data_file=None, branch=True, config_file=False)
    tracer.get_data().add_arcs({path: sorted(arcs)})
    # coverage.py's own analysis of the file: its possible arcs, and which
    # lines branch (no public call gives them for data held in memory).
    missing = tracer._analyze(path).missing_branch_arcs()
    out = {}
    for name, (first, last) in spans.items():
        pairs = [f"{line}->{'exit' if to < 0 else to}"
                 for line in sorted(missing) if first <= line <= last
                 for to in sorted(missing[line])]
        if pairs:
            out[name] = pairs
    return out


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _shown(path) -> str:
    """A file as the report names it: relative to vcpcheck's tree if in it."""
    if path.startswith(_ROOT + os.sep):
        return os.path.relpath(path, _ROOT)
    return path


def report(target, cfgs, collected) -> dict:
    """--coverage's figures per engine, for stats["coverage"]."""
    names, series = set(), {}
    for cfg in cfgs:
        names.update(target.symbols(cfg))
        series.update(series_functions(target, cfg))
    spans = {name: source_span(fn) for name, fn in series.items()}
    out = {}
    for engine, calls in collected.calls.items():
        never = sorted(n for n in series if not calls.get(n))
        by_file: dict = {}
        for name, span in spans.items():
            if span and calls.get(name):
                by_file.setdefault(span[0], {})[name] = span[1:]
        branches = {}
        for path, fns in sorted(by_file.items()):
            for name, pairs in _missing_branches(
                    path, collected.arcs.get(engine, {}).get(path, ()), fns).items():
                branches[name] = {"file": _shown(path), "arcs": pairs}
        out[engine] = {"functions": len(names),
                       "called": sum(1 for n in names if calls.get(n)),
                       "calls": dict(sorted(calls.items())),
                       "series_functions": len(series),
                       "series_never_called": never,
                       "branches_not_taken": dict(sorted(branches.items()))}
    return out


def attach(result, target, cfgs, collected, args) -> None:
    """Add the warnings (always) and --coverage's figures to a target's
    result stats."""
    st = result["stats"]
    st["warnings"] = warnings(target, cfgs, collected, result["verdict"])
    if getattr(args, "coverage", False):
        st["coverage"] = report(target, cfgs, collected)


def text_lines(st) -> list:
    """The warnings and the --coverage report, as the text report prints
    them after a target's summary line."""
    lines = [f"  warning: {w}" for w in st.get("warnings", [])]
    for engine, c in (st.get("coverage") or {}).items():
        lines.append(f"  coverage ({engine}): {c['called']} of {c['functions']} kernel "
                     f"functions called")
        never = c["series_never_called"]
        lines.append(f"    series/variant functions never called: "
                     f"{', '.join(never) if never else 'none'} (of "
                     f"{c['series_functions']})")
        for name, b in c["branches_not_taken"].items():
            lines.append(f"    branches not taken in {name} ({b['file']}): "
                         f"{', '.join(b['arcs'])}")
    return lines
