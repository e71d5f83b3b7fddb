"""Tests of ``vcpcheck simulate`` (checks/simulate.py, checks/workloads_sim.py).

The simulator's counts are checked against the allocator's own after every
step, its runs are reproducible by seed, its workloads make no call the
kernel complains of, and each measure is checked on a small scenario whose
answer is known.
"""
from __future__ import annotations

import json
import os

import pytest

from vcpcheck.checks.cli import main
from vcpcheck.checks.simulate import (Result, Simulator, SimulateError,
                                      buddyinfo_lines, parse_memory, simulate,
                                      unusable_free_index, vmalloc_use)
from vcpcheck.checks.workloads_sim import WORKLOADS, wait_table_hash_nr_entries
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.kernel import Zone
from vcpcheck.impl.page_alloc import free_list_pages

PAGE = 4096


def walk_counts(k, zone):
    """Free blocks per order, by walking every migrate type's list."""
    return [sum(len(free_list_pages(k, zone, o, t)) for t in range(zone.nr_migratetypes()))
            for o in range(k.MAX_ORDER)]


def check_counts(sim):
    """buddyinfo (nr_free) equals a walk of the lists, NR_FREE_PAGES their
    pages, and every page is free, on a per-cpu list or held."""
    k = sim.k
    for z in k.zones:
        walked = walk_counts(k, z)
        assert z.nr_free == walked, (sim.calls, z.name)
        assert z.NR_FREE_PAGES == sum(n << o for o, n in enumerate(walked))
    for p in k.pcp:
        assert p.count == len(p.list)
        for q in p.list:
            assert k._count[q] == 0 and not k.PageBuddy(q)
    assert sim.unaccounted_pages() == 0, sim.calls
    for user, objs in sim.live.items():
        assert sim.held_pages[user] == sum(1 << o.order for o in objs)


@pytest.mark.parametrize("pages, workload", [
    (1024, "page-cache"), (2048, "slab"), (4096, "stress-highalloc"),
    (8192, "users"),                # 8192 >= 5 pageblocks: grouping on
])
def test_buddyinfo_matches_the_allocator_after_every_step(pages, workload):
    sim = Simulator("reference", "x86_64", pages * PAGE, workload, seed=1, calls=3000)
    assert sim.k.page_group_by_mobility_disabled is (pages < 5 * 1024)
    sim.workload.boot(sim)
    sim.booted = True
    check_counts(sim)
    while sim.calls < sim.total_calls:
        sim.workload.step(sim, sim.rng)
        if sim.calls % 64 == 0:
            sim._kswapd()
            sim.k.run_workqueue()
        check_counts(sim)


def test_same_seed_same_numbers():
    a = simulate(["reference"], "8M", "i386", "stress-highalloc", seed=3, calls=4000)[0]
    b = simulate(["reference"], "8M", "i386", "stress-highalloc", seed=3, calls=4000)[0]
    c = simulate(["reference"], "8M", "i386", "stress-highalloc", seed=4, calls=4000)[0]
    strip = lambda r: {k: v for k, v in r.as_json().items() if k != "seconds"}  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@pytest.mark.parametrize("arch", ["i386", "x86_64"])
def test_workload_calls_are_legal(workload, arch):
    """No BUG, bad_page or WARN, nothing leaked, on the correct design."""
    r = simulate(["reference"], "16M", arch, workload, seed=0, calls=6000)[0]
    assert r.oops is None and r.kernel_errors == 0, r.first_error
    assert all(s["unaccounted"] == 0 for s in r.samples)
    assert r.calls == 6000


# --- measures on known scenarios -------------------------------------------------------

def test_unusable_free_space_index():
    """
    free blocks: order 0: 2, order 1: 1, order 3: 1 -> 12 free pages.

    Expect F_u(0) = 0, F_u(1) = (12 - 10) / 12, F_u(3) = (12 - 8) / 12,
    F_u(4) = 1, and 1 for a zone with nothing free.
    """
    z = Zone("Normal", 0, 0, 64, 5, nr_free=[2, 1, 0, 1, 0], NR_FREE_PAGES=12)
    assert [unusable_free_index(z, j) for j in range(5)] == [0, 2 / 12, 4 / 12, 4 / 12, 1]
    assert unusable_free_index(Zone("Normal", 0, 0, 64, 5, nr_free=[0] * 5), 0) == 1.0


def test_vmalloc_use_and_largest_gap():
    """
    A 64-page window; vmalloc(4096) takes +0..+1 (page and guard), then
    vmalloc(8192) +2..+4; the first is freed:

        +0 +1 | +2 +3 +4 | +5 ... +63
        free  | v  v  g  | free

    Expect 3 pages used and a largest gap of 59 pages.
    """
    sim = Simulator("reference", "x86_64", 64 * PAGE, "users", calls=1)
    k = sim.k
    k.VMALLOC_END = k.VMALLOC_START + 64 * PAGE
    a = k.vmalloc(PAGE)
    k.vmalloc(2 * PAGE)
    assert vmalloc_use(k) == (5 * PAGE, 59 * PAGE)
    k.vfree(a)
    assert vmalloc_use(k) == (3 * PAGE, 59 * PAGE)


def test_fallback_is_counted_when_memory_is_fragmented():
    """
    256 pages, every page the allocator gives allocated, then every other
    one freed (and the per-cpu lists drained), so no order-1 block exists:

        pfn  0 1 2 3 ...
             . a . a

        __alloc_vcompound(GFP_KERNEL, 1)

    Expect a vmalloc'd object: fallback rate 1 for order 1 and the user.
    """
    sim = Simulator("reference", "x86_64", 256 * PAGE, "users", calls=10)
    sim.k.zones[0].pages_min = 0              # no watermark: fill every page
    while sim.alloc_pages("slab", GFP_KERNEL, 0) is not None:
        pass
    for obj in list(sim.live["slab"]):
        if obj.handle % 2 == 0:
            sim.live["slab"].remove(obj)
            sim._release("slab", obj)
    sim.k.drain_all_pages()
    assert all(n == 0 for n in sim.k.zones[0].nr_free[1:])
    addr = sim.alloc_vcompound("stack", GFP_KERNEL, 1)
    assert addr and sim.k.is_vmalloc_addr(addr)
    r = sim.run()
    assert r.vcompound["stack"][1][1] >= 1
    assert r.fallback_rate(user="stack", order=1) > 0


def test_first_failed_allocation_is_the_first_null():
    """
    64 pages and nothing to reclaim: order-2 vcompound allocations until
    one fails.

    Expect first_failure to name that call, user and order.
    """
    sim = Simulator("reference", "x86_64", 64 * PAGE, "users", calls=10)
    n = 0
    while sim.alloc_vcompound("highalloc", GFP_KERNEL, 2):
        n += 1
    ff = sim.result.first_failure
    assert ff["call"] == n + 1 and ff["user"] == "highalloc" and ff["order"] == 2
    assert ff["function"] == "__alloc_vcompound"


def test_fallback_rates_from_counts():
    r = Result("t", "i386", 1, 1, "w", 0, 1, vcompound={
        "stack": {1: [3, 1, 0]}, "e1000": {1: [0, 0, 0], 2: [1, 2, 1]},
        "wait_table": {0: [5, 0, 0]}})
    assert r.totals() == [4, 3, 1]
    assert r.fallback_rate() == 3 / 8
    assert r.fallback_rate(order=1) == 1 / 4
    assert r.fallback_rate(user="e1000") == 2 / 4
    assert r.fallback_rate(user="wait_table") is None     # order 0 never falls back


def test_buddyinfo_format():
    r = Result("t", "i386", 1, 1, "w", 0, 1,
               buddyinfo={"Normal": [12, 0, 3], "HighMem": [1, 2, 3]})
    assert buddyinfo_lines(r) == [
        "Node 0, zone   Normal     12      0      3 ",
        "Node 0, zone  HighMem      1      2      3 "]


def test_direct_reclaim_takes_the_oldest_and_is_lumpy_above_costly_order():
    sim = Simulator("reference", "x86_64", 1024 * PAGE, "page-cache", calls=10)
    for _ in range(100):
        sim.pagecache_add()
    oldest = list(sim.lru[0])[:32]
    zl = sim.k.node_zonelist(GFP_KERNEL)
    assert sim._try_to_free_pages(sim.k, zl, 0, GFP_KERNEL) == 32
    assert not set(oldest) & set(sim.pc_pages)
    first = next(iter(sim.lru[0]))
    block = set(range(first & ~15, (first & ~15) + 16)) & set(sim.pc_pages)
    freed = sim._try_to_free_pages(sim.k, zl, 4, GFP_KERNEL)
    assert freed >= 32 and not block & set(sim.pc_pages)


def test_wait_table_hash_nr_entries():
    assert [wait_table_hash_nr_entries(p) for p in (16, 229376, 1 << 20, 1 << 22)] == \
        [4, 1024, 4096, 4096]


# --- input and the command ----------------------------------------------------------

@pytest.mark.parametrize("text, pages", [("1G", 262144), ("512M", 131072), ("64K", 16)])
def test_parse_memory(text, pages):
    assert parse_memory(text) == pages * PAGE


@pytest.mark.parametrize("argv, words", [
    (["--memory", "0"], "--memory '0'"),
    (["--arch", "sparc"], "--arch 'sparc'"),
    (["--workload", "nope"], "unknown workload 'nope'"),
    (["--memory", "8G"], "at most 4G on i386"),
])
def test_bad_input_is_one_line_exit_2(argv, words, capsys):
    assert main(["simulate", "v3", "--calls", "10"] + argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vcpcheck: error: ") and words in err[0]


@pytest.mark.parametrize("target, words", [("nosuch", "unknown target"),
                                           ("base", "no vcompound API")])
def test_bad_target_is_one_line_exit_2(target, words, capsys):
    assert main(["simulate", target, "--calls", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_unwritable_plots_dir_is_one_line_exit_2(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("")
    assert main(["simulate", "v3", "--calls", "10", "--plots", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--plots" in err[0]


def test_text_json_and_plots(tmp_path, capsys):
    argv = ["simulate", "v3", "reference", "--memory", "8M", "--arch", "i386",
            "--workload", "stress-highalloc", "--calls", "3000"]
    assert main(argv + ["--plots", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "v3: stress-highalloc on i386 8M" in out and "fallback rate" in out
    assert "/proc/buddyinfo:" in out and "Node 0, zone   Normal" in out
    assert out.count("reference") >= 2                      # report and comparison
    for name in ("fallback_rate", "vmalloc", "buddyinfo", "fragmentation"):
        for ext in ("png", "svg"):
            assert os.path.getsize(tmp_path / "p" / f"{name}.{ext}") > 1000
    assert main(argv + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["target"] for r in data["results"]] == ["v3", "reference"]
    ref = data["results"][1]
    assert 0 <= ref["fallback_rate"] <= 1 and ref["buddyinfo"]["Normal"]


def test_v2_and_v5_use_their_own_api():
    for t in ("v2", "v5"):
        r = simulate([t], "8M", "x86_64", "stress-highalloc", calls=2000)[0]
        assert sum(r.totals()) > 0
