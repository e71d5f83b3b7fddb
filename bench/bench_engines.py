"""Benchmark: does the explore engine find what the stateful engine finds?

    python bench/bench_engines.py [--targets base v2 v3 v5 reference] [--depth D]
                                  [--examples 100] [--rounds 5] [--seed 0] [--jobs 1]

For each built-in target and each configuration it builds under, runs the
stateful engine (seed 0, 100 examples, 5 rounds: what `vcpcheck check` runs)
and the explore engine to depth D (the CLI default unless given), and
prints, per configuration:

- the violation signatures (checks/stateful.py `signature`: numbers and
  addresses blanked) the stateful engine reports and explore misses;
- the signatures only explore reports;
- for the common ones, the length of each engine's trace (explore's is
  shortest by construction and must be no longer than the stateful
  engine's delta-debugged one).

The last lines total the misses and the common signatures where explore's
trace is longer (issue 4's acceptance criterion wants both at 0).
"""
from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

from vcpcheck.checks.cli import build_parser
from vcpcheck.checks.explore import run_explore
from vcpcheck.checks.stateful import run_stateful, signature
from vcpcheck.checks.targets import DEFAULT_TARGETS, TARGETS


def default_depth() -> int:
    return build_parser().parse_args(["check"]).depth


def compare_config(name, cfg, depth, seed, examples, rounds) -> dict:
    """Both engines on one configuration: {signature: trace length} each."""
    t = TARGETS[name]
    t0 = time.monotonic()
    s = run_stateful(t, cfg, seed=seed, max_examples=examples, rounds=rounds)
    t1 = time.monotonic()
    e = run_explore(t, cfg, depth=depth)
    t2 = time.monotonic()
    lengths = lambda vs: {signature(v.invariant, v.message): len(v.trace)  # noqa: E731
                          for v in vs}
    return {"stateful": lengths(s.violations), "explore": lengths(e.violations),
            "stateful_s": t1 - t0, "explore_s": t2 - t1, "states": e.states,
            "transitions": e.transitions, "complete": e.complete}


def _row(sig):
    inv, msg = sig
    return f"{inv}: {msg}"


def report(name, cfg, r) -> tuple[int, int]:
    """Print one configuration; (signatures missed, common ones longer)."""
    st, ex = r["stateful"], r["explore"]
    print(f"{name} [{cfg.short()}]: stateful {len(st)} signatures "
          f"({r['stateful_s']:.1f}s); explore {len(ex)} signatures "
          f"({r['explore_s']:.1f}s, {r['states']} states, {r['transitions']} "
          f"transitions{'' if r['complete'] else ', PARTIAL'})")
    missed = sorted(set(st) - set(ex))
    only = sorted(set(ex) - set(st))
    common = sorted(set(st) & set(ex))
    longer = 0
    for sig in missed:
        print(f"  MISSED by explore (stateful trace {st[sig]}): {_row(sig)}")
    for sig in common:
        flag = "" if ex[sig] <= st[sig] else "  LONGER"
        longer += ex[sig] > st[sig]
        print(f"  common: explore {ex[sig]} / stateful {st[sig]}{flag}: {_row(sig)}")
    for sig in only:
        print(f"  explore only (trace {ex[sig]}): {_row(sig)}")
    return len(missed), longer


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", nargs="+", default=list(DEFAULT_TARGETS),
                    choices=sorted(TARGETS), metavar="TARGET")
    ap.add_argument("--depth", type=int, default=default_depth())
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1,
                    help="configurations compared in parallel (processes)")
    args = ap.parse_args(argv)
    print(f"explore depth {args.depth}; stateful seed {args.seed}, "
          f"{args.examples} examples, {args.rounds} rounds")
    work = []
    for name in args.targets:
        t = TARGETS[name]
        work += [(name, c) for c in t.configs() if t.try_build(c)[1] is None]
    rest = (args.depth, args.seed, args.examples, args.rounds)
    start = time.monotonic()
    if args.jobs > 1:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=ctx) as pool:
            futures = [pool.submit(compare_config, n, c, *rest) for n, c in work]
            results = [f.result() for f in futures]
    else:
        results = [compare_config(n, c, *rest) for n, c in work]
    missed = longer = common = 0
    for (name, cfg), r in zip(work, results):
        m, lg = report(name, cfg, r)
        missed += m
        longer += lg
        common += len(set(r["stateful"]) & set(r["explore"]))
    st_s = sum(r["stateful_s"] for r in results)
    ex_s = sum(r["explore_s"] for r in results)
    print(f"total over {len(work)} configurations: {missed} stateful signatures "
          f"missed by explore; {longer} of {common} common signatures with a "
          f"longer explore trace")
    print(f"engine time: stateful {st_s:.1f}s, explore {ex_s:.1f}s "
          f"(wall {time.monotonic() - start:.1f}s)")


if __name__ == "__main__":
    main()
