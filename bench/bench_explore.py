"""Benchmark: the explore engine and time to the first counterexample.

    python bench/bench_explore.py [--depth N] [--replay]

Bench configuration: x86_64, PAGEFLAGS_EXTENDED as each target builds,
16 pages, MAX_ORDER 3, a 64-page vmalloc window, the first buildable
configuration of each target's matrix (base and reference for the
search, v2, v3 and v5 for the first counterexample), depth 2 unless
--depth says otherwise.  Prints distinct states, transitions, states per
second and time to verdict (wall clock, and the CPU time, steadier on
a shared machine) with the state-hashing reduction and the stale-word
merge (``stale``, the engine's default from depth STALE_MERGE_DEPTH on),
with hashing only (``hash``, its default below), and with neither
(``none``), block symmetry on with hashing as in run_explore,
and per built-in target the time each engine takes to its first
counterexample.  States are reached by restoring the parent's snapshot
and making one call; --replay adds rows for reaching each state by
replaying its calls on a fresh build instead (the engine before
snapshots), with the same states and transitions.
"""
from __future__ import annotations

import argparse
import time

from vcpcheck.checks.explore import KernelModel, bfs
from vcpcheck.checks.harness import Harness
from vcpcheck.checks.stateful import run_stateful
from vcpcheck.checks.targets import TARGETS


def first_cfg(t):
    return next(c for c in t.configs() if t.try_build(c)[1] is None)


class ReplayModel(KernelModel):
    """Each state rebuilt by replaying its calls on a fresh build."""

    def load(self, snap) -> Harness:
        h = self.fresh()
        h.replay([{"call": c, "args": list(a), "ret": r} for c, a, r in snap.trace])
        return h


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--replay", action="store_true",
                    help="also reach states by replay (slower), for comparison")
    args = ap.parse_args(argv)
    print(f"{'target':10} {'reduction':9} {'reached by':10} {'states':>8} {'trans':>8} "
          f"{'states/s':>9} {'seconds':>8} {'cpu s':>8}")
    models = [("restore", KernelModel)] + ([("replay", ReplayModel)] if args.replay
                                           else [])
    for name in ("base", "reference"):
        t = TARGETS[name]
        cfg = first_cfg(t)
        for reduction in ("stale", "hash", "none"):
            for how, cls in models:
                if reduction == "stale" and cls is ReplayModel:
                    continue
                cpu = time.process_time()
                r = bfs(cls(t, cfg, stale=reduction == "stale",
                            symmetry=reduction != "none"), args.depth,
                        hash_states=reduction != "none")
                cpu = time.process_time() - cpu
                print(f"{name:10} {reduction:9} {how:10} "
                      f"{r.states:>8} {r.transitions:>8} "
                      f"{r.states / max(r.seconds, 1e-9):>9.0f} {r.seconds:>8.2f} "
                      f"{cpu:>8.2f}")
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
