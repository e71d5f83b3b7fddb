"""The explore engine's merge of states that differ only in stale struct
page words (spec/liveness.py, checks/explore.py StaleWords): exact where
the target keeps the rules, given up (and the search made again) where it
reads a stale word."""
from __future__ import annotations

import pytest

from vcpcheck.checks.explore import (KernelModel, StaleWordRead, StaleWords, bfs,
                                     run_explore)
from vcpcheck.checks.harness import Harness
from vcpcheck.checks.stateful import signature
from vcpcheck.checks.targets import DEFAULT_TARGETS, TARGETS, Target, with_replacements
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.symbols import base_symbols
from vcpcheck.spec.liveness import stale_words

from test_bench_spin import bs

SMALL = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)


def first_cfg(target):
    return next(c for c in target.configs() if target.try_build(c)[1] is None)


def test_stale_words_follow_the_flags():
    """On the booted kernel only the first page of each free block has a
    flag (PG_buddy): its order and list links are in use; the other pages'
    words are stale.  An allocated order-0 page has no flag: stale too."""
    t = TARGETS["base"]
    h = Harness(first_cfg(t), t.symbols(first_cfg(t)))
    k = h.k
    st = stale_words(k)
    firsts = {p for p in range(k.nr_pages) if k.flags[p]}
    assert firsts and all(k.PageBuddy(p) for p in firsts)
    assert st["private"] == st["lru_next"] == st["lru_prev"] == (
        frozenset(range(k.nr_pages)) - firsts)
    p = h.alloc_pages(GFP_KERNEL, 0)
    assert p in stale_words(k)["private"]


def test_a_word_put_back_in_use_without_a_write_stays_stale_and_a_read_is_caught():
    t = TARGETS["base"]
    h = Harness(first_cfg(t), t.symbols(first_cfg(t)))
    k = h.k
    p = h.alloc_pages(GFP_KERNEL, 0)
    audit = StaleWords()
    audit.watch(k, stale_words(k))
    k.flags[p] |= 1 << k.PG_private          # in use by its flags, never written
    audit.after_call(k)
    assert p in k.private.stale and audit.breach is None
    assert k.private[p] == 0                 # the read is caught ...
    assert audit.breach and f"private of pfn {p}" in audit.breach
    with pytest.raises(StaleWordRead, match=f"pfn {p}, a stale word"):
        audit.check()
    # ... unless the call writes it first; then it is in use.
    audit = StaleWords()
    audit.watch(k, stale_words(k))
    k.private[p] = 7
    assert k.private[p] == 7 and audit.breach is None
    audit.after_call(k)
    assert p not in k.private.stale


def _stale_by_the_definition(k):
    """stale_words written with spec/invariants.py's is_tail and is_head."""
    from vcpcheck.spec.invariants import area_pages, is_head, is_tail
    second = {area_pages(k, a)[1] for a in k.vmlist if a.nr_pages > 1}
    unused = {p for p in range(k.nr_pages) if not k.flags[p]}
    lru = (unused - second) | {p for p in range(k.nr_pages) if k.flags[p] and is_tail(k, p)
                               and p not in second and not (p and is_head(k, p - 1))}
    return {"private": unused, "lru_next": lru, "lru_prev": lru}


@pytest.mark.parametrize("name", ["reference", "v2", "v3", "v5"])
def test_stale_words_agree_with_is_tail_and_is_head_on_every_state(name):
    """On every state within 2 calls (compound pages and vcompounds of
    every order, both flag encodings among the configurations)."""
    t = TARGETS[name]
    for cfg in [c for c in t.configs() if t.try_build(c)[1] is None][:3]:
        seen = []
        bfs(KernelModel(t, cfg), 2, check=False,
            visit=lambda _t, h, _d: seen.append(
                stale_words(h.k) == _stale_by_the_definition(h.k)))
        assert seen and all(seen)


@pytest.mark.parametrize("npages,max_order", [(4, 3), (6, 3), (8, 3)])
def test_merged_buddy_system_is_the_abstract_one(npages, max_order):
    """On the SPIN bench's buddy system the merge leaves exactly the abstract
    states (ordered free lists, held blocks) and transitions that the
    independent enumeration counts; without it the search keeps more."""
    cfg = bs.bound_config(npages, max_order)
    merged = bs.BuddyModel(TARGETS["base"], cfg, stale=True)
    res = bfs(merged, bs.CLOSURE)
    a = bs.abstract_states(npages, max_order)
    assert res.complete and merged.stale.breach is None
    assert (res.states, res.transitions) == (a.states, a.transitions)
    plain = bfs(bs.BuddyModel(TARGETS["base"], cfg), bs.CLOSURE)
    assert plain.states > res.states


def _lengths(res):
    return {signature(v.invariant, v.message): len(v.trace) for v in res.violations}


@pytest.mark.parametrize("name", DEFAULT_TARGETS)
def test_merged_and_unmerged_searches_find_the_same(name):
    """Every signature, at the same shortest length, with or without the
    merge (given up or not), on the first configuration at depth 2."""
    t = TARGETS[name]
    cfg = first_cfg(t)
    merged = run_explore(t, cfg, depth=2, stale=True)
    plain = run_explore(t, cfg, depth=2, stale=False)
    assert _lengths(merged) == _lengths(plain)
    assert merged.states <= plain.states and plain.stale == "not merged"
    assert merged.stale == "merged" or merged.stale.startswith("not merged: ")
    assert ("stale struct page words not merged" in merged.strength) == (
        merged.stale != "merged")


@pytest.mark.slow
@pytest.mark.parametrize("name,cfg", [(n, c) for n in DEFAULT_TARGETS
                                      for c in TARGETS[n].configs()
                                      if TARGETS[n].try_build(c)[1] is None],
                         ids=lambda x: x if isinstance(x, str) else x.short())
def test_merged_and_unmerged_searches_find_the_same_everywhere(name, cfg):
    t = TARGETS[name]
    merged = run_explore(t, cfg, depth=2, stale=True)
    plain = run_explore(t, cfg, depth=2, stale=False)
    assert _lengths(merged) == _lengths(plain) and merged.states <= plain.states


def page_is_buddy_order_first(k, page, buddy, order):
    """page_is_buddy() that compares page_private() with the order before
    it tests PG_buddy: the same answers, but it reads private of pages
    that have no order."""
    if not 0 <= buddy < k.nr_pages:
        return False
    if k.zone_of(page) is not k.zone_of(buddy):
        return False
    if k.page_private(buddy) == order and k.PageBuddy(buddy):
        k.BUG_ON(k.page_count(buddy) != 0, "page_is_buddy", "mm/page_alloc.c:392")
        return True
    return False


def test_a_target_that_reads_a_stale_word_is_searched_again_unmerged():
    t = Target("order-first", "test",
               with_replacements(base_symbols, {"page_is_buddy": page_is_buddy_order_first}),
               [SMALL])
    cfg = first_cfg(t)
    r = run_explore(t, cfg, depth=2, stale=True)
    assert r.stale.startswith("not merged: page_private read private of pfn")
    assert "(stale struct page words not merged: page_private read private" in r.strength
    plain = run_explore(t, cfg, depth=2, stale=False)
    assert (r.states, r.transitions, r.violations) == (plain.states, plain.transitions, [])
    # The model raises at the first save or check after the read.
    model = KernelModel(t, cfg, stale=True)
    with pytest.raises(StaleWordRead):
        bfs(model, 2)


def test_the_watch_sees_negative_indices_slices_and_iteration():
    t = TARGETS["base"]
    h = Harness(first_cfg(t), t.symbols(first_cfg(t)))
    k = h.k
    last = k.nr_pages - 1
    assert not k.flags[last]
    for read in (lambda f: f[-1], lambda f: f[1:3], lambda f: list(f), lambda f: sum(f),
                 lambda f: 7 in f, lambda f: f.index(0), lambda f: f == [], lambda f: f.copy()):
        audit = StaleWords()
        audit.watch(k, stale_words(k))
        read(k.lru_next)
        assert audit.breach and "lru_next" in audit.breach
    audit = StaleWords()
    audit.watch(k, stale_words(k))
    k.lru_prev[-1] = 5                       # written first: reading it is fine
    assert k.lru_prev[last] == 5 and audit.breach is None


def test_run_explore_merges_stale_words_by_default_only_from_its_depth():
    """Below STALE_MERGE_DEPTH the search is the unmerged one, and says why;
    asked for, the merge is made at any depth."""
    from vcpcheck.checks.explore import STALE_MERGE_DEPTH
    t = TARGETS["base"]
    cfg = first_cfg(t)
    shallow = run_explore(t, cfg, depth=2)
    plain = run_explore(t, cfg, depth=2, stale=False)
    assert (shallow.states, shallow.transitions) == (plain.states, plain.transitions)
    assert shallow.stale == (f"not merged (below depth {STALE_MERGE_DEPTH} it costs "
                             f"more time than it saves)")
    assert run_explore(t, cfg, depth=2, stale=True).stale == "merged"
    deep = run_explore(t, cfg, depth=STALE_MERGE_DEPTH, budget=0.5)
    assert deep.stale == "merged"
