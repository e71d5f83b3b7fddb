"""Benchmark: page allocator alloc+free operations per second vs memory size.

    python bench/bench_alloc.py [--ops N] [--seed S]

Boots the base kernel (x86_64, MAX_ORDER 11) at 2^10 and 2^20 pages and
runs the same seeded mix of alloc_pages/__free_pages (orders 0-3, plain and
__GFP_COMP, about 512 live blocks), then prints boot time and operations
per second for each size.  The allocation path must not scan memory, so
the two rates should be about equal.
"""
from __future__ import annotations

import argparse
import random
import time

from vcpcheck.impl.gfp import GFP_KERNEL, __GFP_COMP
from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.kernel import Kernel


def workload(k, ops, seed, live_target=512):
    rng = random.Random(seed)
    live = []
    free_pages = getattr(k, "__free_pages")
    done = 0
    start = time.perf_counter()
    while done < ops:
        if live and (len(live) >= live_target or rng.random() < 0.45):
            page, order = live.pop(rng.randrange(len(live)))
            free_pages(page, order)
        else:
            order = rng.randrange(4)
            gfp = GFP_KERNEL | (__GFP_COMP if order and rng.random() < 0.5 else 0)
            page = k.alloc_pages(gfp, order)
            if page is not None:
                live.append((page, order))
        done += 1
    return ops / (time.perf_counter() - start)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"{'pages':>9} {'boot s':>8} {'alloc+free ops/s':>18}")
    rates = {}
    for shift in (10, 20):
        t0 = time.perf_counter()
        k = Kernel(Kconfig.make(mem_pages=1 << shift, FORCE_MAX_ZONEORDER=11))
        boot = time.perf_counter() - t0
        rates[shift] = workload(k, args.ops, args.seed)
        print(f"{1 << shift:>9} {boot:>8.2f} {rates[shift]:>18,.0f}")
    print(f"ratio 2^20/2^10: {rates[20] / rates[10]:.2f} (1.00 = no growth with size)")


if __name__ == "__main__":
    main()
