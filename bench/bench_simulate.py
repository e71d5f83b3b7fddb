"""Benchmark: ``vcpcheck simulate`` at real memory sizes.

    python bench/bench_simulate.py [--calls N] [--target T] [--workload W] [--profile]

Runs the target (reference by default) under the workload
(stress-highalloc by default) on a 1 GiB i386 machine (262144 pages,
HIGHMEM, 896 MiB lowmem) and on a 4 GiB x86_64 machine (1048576 pages),
10^6 calls each, on one core, and prints the boot time, the CPU time of
the run, the calls per second, and the fallback rate.  The goal is under
5 minutes for each.  --profile runs cProfile over the x86_64 run and
prints the 15 functions with the most time of their own.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from vcpcheck.checks.simulate import Simulator, _pct

MACHINES = [("i386", 1 << 30), ("x86_64", 4 << 30)]


def run(target, arch, mem, workload, calls, profile=False):
    t0 = time.process_time()
    sim = Simulator(target, arch, mem, workload, seed=0, calls=calls)
    boot = time.process_time() - t0
    if profile:
        prof = cProfile.Profile()
        result = prof.runcall(sim.run)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    else:
        result = sim.run()
    return boot, result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--target", default="reference")
    ap.add_argument("--workload", default="stress-highalloc")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    print(f"{'machine':<14} {'pages':>8} {'boot s':>7} {'run s (CPU)':>12} "
          f"{'calls/s':>9} {'fallback':>9}  target {args.target}, {args.workload}, "
          f"{args.calls} calls")
    for arch, mem in MACHINES:
        boot, r = run(args.target, arch, mem, args.workload, args.calls,
                      args.profile and arch == "x86_64")
        print(f"{arch + ' ' + str(mem >> 30) + 'G':<14} {r.mem_pages:>8} {boot:>7.2f} "
              f"{r.seconds:>12.2f} {r.calls / max(r.seconds, 1e-9):>9.0f} "
              f"{_pct(r.fallback_rate()):>9}"
              + (f"  (oops at call {r.oops['call']})" if r.oops else ""))


if __name__ == "__main__":
    main()
