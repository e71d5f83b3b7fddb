"""The Hypothesis engine: silent on the base kernel, loud on broken ones.

The "must fail" list holds kernels with one function replaced by a broken
one (the way a bad patch would); the engine must find each with a short
trace, the trace must replay the violation on the broken build, and the
same calls must be clean on the base kernel.
"""
from __future__ import annotations

import importlib
import sys
import time
from types import SimpleNamespace

import pytest

from vcpcheck.checks import stateful
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


def _fingerprint(r):
    return (r.examples, r.steps, r.complete,
            [(v.invariant, v.message, v.trace, v.original_length) for v in r.violations])


def test_same_seed_same_examples_whatever_the_process_loaded(tmp_path):
    """The same seed and options give the same examples, counts and traces
    however many modules the process has loaded in between.  Hypothesis
    draws now and then on constants read from every local module loaded so
    far, and which are loaded depends on what ran before (the other
    engines, the minimiser, a --jobs worker's earlier configurations): the
    engine must not let it."""
    target = Target("broken", "test",
                    with_replacements(base_symbols, {"__vunmap": vunmap_keeping_pages}),
                    BASE.config_matrix)
    cfg = target.configs()[1]
    a = run_stateful(target, cfg, seed=7, max_examples=60, rounds=2)
    numbers = list(range(64)) + [4095, 4096, 4097, 8191, 8192, 12288, 16384, 20480]
    (tmp_path / "vcp_loaded_later.py").write_text(f"NUMBERS = {numbers}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("vcp_loaded_later")
        b = run_stateful(target, cfg, seed=7, max_examples=60, rounds=2)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("vcp_loaded_later", None)
    assert a.violations and a.complete
    assert _fingerprint(a) == _fingerprint(b)


def test_budget_stops_between_examples_and_says_partial():
    """A budget that runs out stops the run before the next example; the
    result says it is partial.  One that does not run out changes nothing."""
    cfg = BASE.configs()[0]
    t0 = time.monotonic()
    cut = run_stateful(BASE, cfg, seed=0, max_examples=2000, budget=1.0)
    assert time.monotonic() - t0 < 1 + 9       # the last example, on a busy machine
    assert not cut.complete and 0 < cut.examples < 2000
    assert cut.violations == []
    none = run_stateful(BASE, cfg, seed=0, max_examples=30, budget=0.0)
    assert not none.complete and none.examples == 0
    free = run_stateful(BASE, cfg, seed=0, max_examples=30)
    roomy = run_stateful(BASE, cfg, seed=0, max_examples=30, budget=600)
    assert free.complete and _fingerprint(free) == _fingerprint(roomy)


def test_budget_that_runs_out_while_shrinking_keeps_the_violation(monkeypatch):
    """The clock runs out as soon as an invariant has failed, so the
    budget stops Hypothesis before it shrinks: the violation it found is
    still reported (minimised by delta debugging), marked partial."""
    target = Target("broken", "test",
                    with_replacements(base_symbols, {"__vunmap": vunmap_keeping_pages}),
                    BASE.config_matrix)
    cfg = target.configs()[1]
    failed = []
    real = stateful.signature

    def noting(invariant, message):       # called only on a failing check
        failed.append(invariant)
        return real(invariant, message)
    monkeypatch.setattr(stateful, "signature", noting)
    monkeypatch.setattr(stateful, "time",
                        SimpleNamespace(monotonic=lambda: 1e9 if failed else 0.0))
    r = run_stateful(target, cfg, seed=7, max_examples=60, rounds=2, budget=10)
    assert not r.complete and r.violations
    v = r.violations[0]
    assert v.invariant == "no_leak" and v.strength.endswith("(partial: the budget ran out)")
    broken = Harness(cfg, target.symbols(cfg)).replay(v.trace)
    assert "no_leak" in {n for n, _ in broken.violations()}
