"""The speed-up of a LocalCluster (vcpcheck check --scheduler) on one explore run.

    python bench/bench_dist.py [--target reference] [--depth 3] [--config KEY=VALUE]...
                               [--workers 2] [--shards N]

Runs the explore engine (run_explore) on one configuration in this
process, then the same search in shards (checks/dist.py sharded_search) on
a LocalCluster of --workers single-threaded worker processes on loopback,
as --scheduler starts it.  Prints, for each: the wall time, the CPU time
(this process, plus the workers' for the cluster), the states and
transitions (the two must agree, as must the violations), and the
speed-up in wall time.  The cluster's start (about two seconds, then each
worker's first import of vcpcheck) is timed apart and left out; the
first search on the cluster is a warm-up, not counted.  Needs
`pip install -e ".[dist]"`.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

from vcpcheck.checks import dist
from vcpcheck.checks.cli import parse_config
from vcpcheck.checks.explore import run_explore
from vcpcheck.checks.targets import TARGETS


def cpu_seconds() -> float:
    """This process's user + system CPU seconds (run on each worker too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def summary(res):
    return (res.states, res.transitions, res.complete, res.strength,
            [(v.invariant, v.message, v.trace) for v in res.violations])


def one_process(target, cfg, depth):
    wall, cpu = time.monotonic(), cpu_seconds()
    res = run_explore(target, cfg, depth=depth)
    return res, time.monotonic() - wall, cpu_seconds() - cpu


def on_cluster(client, runner, target, cfg, depth, shards):
    before = client.run(cpu_seconds)
    wall, cpu = time.monotonic(), cpu_seconds()
    res = run_explore(target, cfg, depth=depth,
                      search=dist._sharded(runner, target.name, shards))
    wall, cpu = time.monotonic() - wall, cpu_seconds() - cpu
    after = client.run(cpu_seconds)
    workers = sum(after[w] - before.get(w, 0.0) for w in after)
    return res, wall, cpu, workers


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="reference")
    p.add_argument("--depth", type=int, default=3)
    p.add_argument("--config", action="append", default=None, metavar="KEY=VALUE")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shards", type=int, default=None,
                   help="shards per search (default: one per worker)")
    args = p.parse_args(argv)
    configs = args.config if args.config is not None else [
        "ARCH=x86_64", "PAGEFLAGS_EXTENDED=n", "VFALLBACK_ALWAYS=n", "PREEMPT=n"]
    target = TARGETS[args.target]
    cfg = [c for c in target.configs(parse_config(configs))
           if not target.try_build(c)[1]][0]
    print(f"{target.name} [{cfg.short()}] explore to depth {args.depth}, "
          f"{os.cpu_count()} cores", flush=True)

    res1, wall1, cpu1 = one_process(target, cfg, args.depth)
    print(f"  1 process:        {wall1:7.1f} s wall, {cpu1:7.1f} s CPU; "
          f"{res1.states} states, {res1.transitions} transitions", flush=True)

    import logging

    from distributed import Client, LocalCluster
    t0 = time.monotonic()
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None, memory_limit=0,
                      silence_logs=logging.CRITICAL) as cluster, \
            Client(cluster) as client:
        runner = dist.DaskRunner(client)
        started = time.monotonic() - t0
        on_cluster(client, runner, target, cfg, 1, args.shards)       # warm-up
        res2, wall2, cpu2, cpu_w = on_cluster(client, runner, target, cfg, args.depth,
                                              args.shards)
    print(f"  LocalCluster of {args.workers}: {wall2:7.1f} s wall, {cpu2 + cpu_w:7.1f} s "
          f"CPU ({cpu2:.1f} client + {cpu_w:.1f} workers); {res2.states} states, "
          f"{res2.transitions} transitions (cluster start {started:.1f} s, not counted)")
    same = summary(res1) == summary(res2)
    print(f"  speed-up {wall1 / wall2:.2f}x wall; CPU {(cpu2 + cpu_w) / cpu1:.2f}x the "
          f"one process's; same result: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
