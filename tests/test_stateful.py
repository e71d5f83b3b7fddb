"""The Hypothesis engine: silent on the base kernel, loud on broken ones.

The "must fail" list holds kernels with one function replaced by a broken
one (the way a bad patch would); the engine must find each with a short
trace, the trace must replay the violation on the broken build, and the
same calls must be clean on the base kernel.
"""
from __future__ import annotations

import pytest

from vcpcheck.checks.harness import Harness
from vcpcheck.checks.stateful import run_stateful
from vcpcheck.checks.targets import Target, get_target, with_replacements
from vcpcheck.impl.page_alloc import free_list_add
from vcpcheck.impl.symbols import base_symbols

BASE = get_target("base")


@pytest.mark.parametrize("cfg", BASE.configs(), ids=lambda c: c.short())
def test_base_kernel_has_no_violation(cfg):
    r = run_stateful(BASE, cfg, seed=3, max_examples=60)
    assert r.violations == []
    assert r.examples >= 60 and r.steps > 200


# --- broken kernels -----------------------------------------------------------

def free_one_page_without_merging(k, page, zone, order):
    """__free_one_page that lists the block without looking for its buddy."""
    if k.PageCompound(page):
        k.destroy_compound_page(page, order)
    zone.NR_FREE_PAGES += 1 << order
    k.set_page_order(page, order)
    free_list_add(k, zone, order, page)
    zone.nr_free[order] += 1


def vunmap_keeping_pages(k, addr, deallocate_pages):
    """__vunmap that unmaps the area but never frees its pages or array."""
    area = k.remove_vm_area(addr)
    if area is not None:
        k.kfree(area.desc)


def prep_compound_page_short(k, page, order):
    """prep_compound_page that forgets the last tail."""
    k.set_compound_page_dtor(page, "free_compound_page")
    k.set_compound_order(page, order)
    k.call("__SetPageHead", page)
    for i in range(1, (1 << order) - 1):
        k.call("__SetPageTail", page + i)
        k.private[page + i] = k.page_to_word(page)


def expand_dropping_halves(k, zone, page, low, high):
    """expand that forgets to put the upper halves back on the lists."""
    return None


MUST_FAIL = [
    ("__free_one_page", free_one_page_without_merging,
     {"free_blocks_maximally_merged"}),
    ("__vunmap", vunmap_keeping_pages, {"no_leak"}),
    ("prep_compound_page", prep_compound_page_short,
     {"compound_head_tail_consistent", "kernel_reported_no_errors"}),
    ("expand", expand_dropping_halves,
     {"no_leak", "free_lists_consistent", "every_pfn_accounted_once"}),
]


@pytest.mark.parametrize("name,fn,expected", MUST_FAIL, ids=[m[0] for m in MUST_FAIL])
def test_broken_kernel_is_caught_with_a_short_replayable_trace(name, fn, expected):
    target = Target(f"broken-{name}", "test", with_replacements(base_symbols, {name: fn}),
                    BASE.config_matrix)
    cfg = target.configs()[0]
    r = run_stateful(target, cfg, seed=0, max_examples=300)
    assert r.violations, f"broken {name} not caught"
    got = {v.invariant for v in r.violations}
    assert got & expected, got
    trace = r.violations[0].trace
    assert 1 <= len(trace) <= 8
    broken = Harness(cfg, target.symbols(cfg)).replay(trace)
    assert {n for n, _ in broken.violations()} & expected
    assert Harness(cfg).replay(trace).violations() == []


def test_same_seed_same_trace():
    target = Target("broken", "test",
                    with_replacements(base_symbols, {"__vunmap": vunmap_keeping_pages}),
                    BASE.config_matrix)
    cfg = target.configs()[1]
    a = run_stateful(target, cfg, seed=7, max_examples=100)
    b = run_stateful(target, cfg, seed=7, max_examples=100)
    assert a.violations and [v.trace for v in a.violations] == [v.trace for v in b.violations]
