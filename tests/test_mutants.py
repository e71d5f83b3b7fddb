"""bench/mutants.py's list: every mutation applies exactly once and its
variant file loads.  (The mutation run itself is a bench, not a test.)"""
from __future__ import annotations

import importlib.util
import os

import pytest

from vcpcheck.checks.targets import TARGETS
from vcpcheck.checks.variants import load_variant

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
_spec = importlib.util.spec_from_file_location("vcpcheck_bench_mutants",
                                               os.path.join(BENCH, "mutants.py"))
mutants = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutants)
MUTATIONS = mutants.load_mutations()


def test_the_list_is_long_enough_and_named_once():
    names = [m["name"] for m in MUTATIONS]
    assert len(names) >= 30 and len(set(names)) == len(names)
    for m in MUTATIONS:
        assert m["snippet"] != m["replacement"] and m["description"]


@pytest.mark.parametrize("m", MUTATIONS, ids=[m["name"] for m in MUTATIONS])
def test_each_mutation_applies_once_and_its_variant_loads(m, tmp_path):
    src = mutants.mutated_source(m)        # raises unless the snippet is there once
    assert m["replacement"] in src
    path = mutants.write_variant(m, str(tmp_path))
    try:
        target = load_variant(path)
        cfg = target.configs()[0]
        table = target.symbols(cfg)
        for cname, _ in mutants.replaced(m):
            fn = table[cname].fn
            assert getattr(fn, "__vcpcheck_variant__", None) == path
    finally:
        TARGETS.pop(path, None)


def test_a_snippet_that_is_not_there_once_fails_loudly():
    m = dict(MUTATIONS[0], snippet="k.")           # many times in __free_one_page
    with pytest.raises(mutants.MutationError, match="occurs .* times"):
        mutants.mutated_source(m)
    with pytest.raises(mutants.MutationError, match="occurs 0 times"):
        mutants.mutated_source(dict(MUTATIONS[0], snippet="no such text"))


def test_the_mutated_copy_is_what_the_variant_runs(tmp_path):
    """The seeded defect of bench_spin: the mutant's __free_one_page skips
    rmv_page_order, so a freed buddy keeps PG_buddy after a merge."""
    (m,) = [m for m in MUTATIONS if m["name"] == "free_one_page_no_rmv_order"]
    path = mutants.write_variant(m, str(tmp_path))
    try:
        target = load_variant(path)
        from vcpcheck.impl.kernel import Kernel
        cfg = target.configs()[0]
        k = Kernel(cfg, target.symbols(cfg))
        page = k.alloc_pages(0, 0)
        k.__free_pages(page, 0)
        buddies = [p for p in range(k.nr_pages) if k.PageBuddy(p)]
        good = Kernel(cfg, TARGETS["reference"].symbols(cfg))
        good.__free_pages(good.alloc_pages(0, 0), 0)
        assert len(buddies) > len([p for p in range(good.nr_pages) if good.PageBuddy(p)])
    finally:
        TARGETS.pop(path, None)


def test_a_wild_free_list_link_is_reported_not_a_crash():
    """Found by the mutant combined_index_or: a free list whose last link
    points far outside mem_map made free_lists_consistent index the page
    arrays with it (IndexError, so vcpcheck exited 2 instead of reporting).

        free_area[2]:  head -> 12 -> 8 -> 4 -> 0 -> (wild link 2^40)

    Expect the list reported corrupt, and no block at the wild link."""
    from vcpcheck.impl.kconfig import Kconfig
    from vcpcheck.impl.kernel import Kernel
    from vcpcheck.spec.invariants import free_blocks, free_lists_consistent
    k = Kernel(Kconfig.make(mem_pages=16, FORCE_MAX_ZONEORDER=3))
    z = k.zones[0]
    last = z.head_prev[2]
    k.lru_next[last] = 1 << 40
    problems = free_lists_consistent(k, None)
    assert "zone Normal free_area[2]: list is corrupt (cycle or link outside mem_map)" \
        in problems
    assert all(0 <= p < k.nr_pages for _z, _o, p in free_blocks(k))
