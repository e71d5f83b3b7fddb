"""Benchmark: the explore engine and time to the first counterexample.

    python bench/bench_explore.py [--depth N]

Bench configuration: x86_64, PAGEFLAGS_EXTENDED as each target builds,
16 pages, MAX_ORDER 3, a 64-page vmalloc window, the first buildable
configuration of each target's matrix.  Prints distinct states,
transitions, states per second and time to verdict with and without the
state-hashing reduction, and per built-in target the time each engine takes
to its first counterexample.
"""
from __future__ import annotations

import argparse
import time

from vcpcheck.checks.explore import KernelModel, bfs
from vcpcheck.checks.stateful import run_stateful
from vcpcheck.checks.targets import TARGETS


def first_cfg(t):
    return next(c for c in t.configs() if t.try_build(c)[1] is None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=2)
    args = ap.parse_args(argv)
    print(f"{'target':10} {'reduction':9} {'states':>8} {'trans':>8} {'states/s':>9} "
          f"{'seconds':>8}")
    for name in ("base", "reference"):
        t = TARGETS[name]
        model = KernelModel(t, first_cfg(t))
        for hashed in (True, False):
            r = bfs(model, args.depth, hash_states=hashed)
            print(f"{name:10} {'hash' if hashed else 'none':9} {r.states:>8} "
                  f"{r.transitions:>8} {r.states / max(r.seconds, 1e-9):>9.0f} "
                  f"{r.seconds:>8.2f}")
    print()
    print(f"{'target':10} {'engine':9} {'first counterexample':>21} {'trace':>6}")
    for name in ("v2", "v3", "v5"):
        t = TARGETS[name]
        cfg = first_cfg(t)
        t0 = time.perf_counter()
        r = bfs(KernelModel(t, cfg), args.depth, stop_after=1)
        dt = time.perf_counter() - t0
        n = min((len(tr) for _i, _m, tr in r.violations), default=0)
        print(f"{name:10} {'explore':9} {dt:>20.2f}s {n:>6}")
        t0 = time.perf_counter()
        s = run_stateful(t, cfg, seed=0, max_examples=100)
        dt = time.perf_counter() - t0
        n = min((len(v.trace) for v in s.violations), default=0)
        print(f"{name:10} {'stateful':9} {dt:>20.2f}s {n:>6}")


if __name__ == "__main__":
    main()
