"""Benchmark: the smt engine's z3 queries.

    python bench/bench_smt.py [--depth N] [--targets base v2 v3 v5 reference]

Bench configuration: the check bound (16 pages, MAX_ORDER 3, a 64-page
vmalloc window), each target's first buildable configuration with its
debugging fallback option at y (x86_64, the flag encoding the target builds
with), the queries decided on every state within ``--depth`` calls (1 by
default, as `vcpcheck check`), solver seed 0.  Prints, per target: states,
obligations proved / refuted / unknown, the most z3 rlimit one decided
check used (z3's deterministic resource count: how far below
symbolic.RLIMIT the target's queries are), time to the verdict, time to
the first refutation; then z3 time per query kind (obligations, mean and
maximum seconds per obligation, symbolic paths included).
"""
from __future__ import annotations

import argparse
import time

from vcpcheck.checks.smt import run_smt
from vcpcheck.checks.symbolic import RLIMIT
from vcpcheck.checks.targets import TARGETS


def bench_cfg(t):
    opts = [o for o in ("VFALLBACK_ALWAYS", "VIRTUALIZE_ALWAYS") if o in t.options]
    over = {o: True for o in opts}
    return next(c for c in t.configs(over) if t.try_build(c)[1] is None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=1)
    ap.add_argument("--targets", nargs="*", default=["base", "v2", "v3", "v5", "reference"])
    args = ap.parse_args(argv)
    print(f"{'target':10} {'states':>6} {'proved':>6} {'refuted':>7} {'unknown':>7} "
          f"{'paths':>6} {'rlimit max':>10} {'verdict s':>9} {'first cex s':>11}")
    per_query: dict = {}
    most = 0
    for name in args.targets:
        t = TARGETS[name]
        cfg = bench_cfg(t)
        t0 = time.perf_counter()
        r = run_smt(t, cfg, depth=args.depth, timings=per_query)
        total = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = run_smt(t, cfg, depth=args.depth, stop_after=1)
        first_s = f"{time.perf_counter() - t0:.2f}" if first.violations else "-"
        c = r.counts()
        print(f"{name:10} {r.states:>6} {c['proved']:>6} {c['refuted']:>7} "
              f"{c['unknown']:>7} {r.paths:>6} {r.rlimit_used:>10} {total:>9.2f} "
              f"{first_s:>11}")
        most = max(most, r.rlimit_used)
    print(f"rlimit per z3 check {RLIMIT}, {RLIMIT / max(most, 1):.0f}x the most used")
    print()
    print(f"{'query':28} {'obligations':>11} {'mean s':>8} {'max s':>8}")
    for q, secs in per_query.items():
        print(f"{q:28} {len(secs):>11} {sum(secs) / len(secs):>8.4f} {max(secs):>8.4f}")


if __name__ == "__main__":
    main()
