"""Scenario tests for the kmalloc shim (mm/slub.c, include/linux/slub_def.h,
include/linux/slab.h, v2.6.25).

Expectations come from the source first: __kmalloc sends size > PAGE_SIZE
to kmalloc_large() = __get_free_pages(flags | __GFP_COMP, get_order(size))
(slub.c:2595-2596, slub_def.h:192-195), size 0 gets ZERO_SIZE_PTR
(slub.c:2576-2577), kfree() ignores ZERO_OR_NULL_PTR and put_page()s a
non-slab page (slub.c:2674-2688).  Where the shim departs (no slabs;
double or wild kfree reported instead of corrupting a freelist) the test
says so.

Pictures show the buddy allocator's pages, one cell per pfn:

    H  head of a compound page     T  its tail
    o  an order-0 page in use      .  free
and kmalloc objects as [obj] (they come from untracked slab pages).
"""
from __future__ import annotations

import pytest

from conftest import ARCHES, make_kernel
from vcpcheck.impl import memory
from vcpcheck.impl.gfp import (GFP_ATOMIC, GFP_KERNEL, __GFP_COMP,
                               __GFP_ZERO)
from vcpcheck.impl.kconfig import PAGE_SIZE
from vcpcheck.impl.kernel import UNINITIALISED
from vcpcheck.impl.slub import ZERO_SIZE_PTR, kmalloc_lookup

P = PAGE_SIZE
SLEEP_BUG = "BUG: sleeping function called from invalid context"


def kmalloc_events(k):
    return [e for e in k.events if e.kind == "kmalloc"]


def might_sleep_events(k):
    return [e for e in k.events if e.kind == "might_sleep"]


# --- small objects ---------------------------------------------------------------

def test_small_kmalloc_is_a_slab_object(k):
    """
    |. . . . . . . .|   []
        kmalloc(64, GFP_KERNEL)
    Expect an object from a slab, not a page of the buddy allocator, with
    uninitialised contents; it resolves as a kmalloc object.
    |. . . . . . . .|   [obj]
    """
    x = k.kmalloc(64, GFP_KERNEL)
    obj = k.kmalloc_objs[x]
    assert (obj.size, obj.gfp, obj.large_page) == (64, GFP_KERNEL, None)
    assert k.nr_free_pages() == 16
    assert kmalloc_lookup(k, x + 8) is obj
    assert memory.load(k, x) == UNINITIALISED
    memory.store(k, x + 8, 42)
    assert memory.load(k, x + 8) == 42
    assert k.events == []


def test_two_objects_do_not_overlap(k):
    """
        kmalloc(64) twice
    Expect two distinct objects whose bytes do not resolve to each other.
    """
    x, y = k.kmalloc(64, GFP_KERNEL), k.kmalloc(64, GFP_KERNEL)
    assert x != y
    assert kmalloc_lookup(k, x + 63) is k.kmalloc_objs[x]
    assert kmalloc_lookup(k, y) is k.kmalloc_objs[y]


def test_page_size_object_is_still_slab(k):
    """
        kmalloc(PAGE_SIZE, GFP_KERNEL)
    Expect the kmalloc-4096 cache: only size > PAGE_SIZE goes to the page
    allocator in 2.6.25 (slub.c:2595).
    """
    x = k.kmalloc(P, GFP_KERNEL)
    assert k.kmalloc_objs[x].large_page is None
    assert k.nr_free_pages() == 16


def test_kmalloc_node_is_kmalloc(k):
    """
        kmalloc_node(64, GFP_KERNEL, 0); kmalloc_node(2 * PAGE_SIZE, ...)
    Expect the same answers as kmalloc on a one-node machine: a slab object,
    and a compound page for the large one (kmalloc_large_node, slub.c:2607).
    """
    x = k.kmalloc_node(64, GFP_KERNEL, 0)
    y = k.kmalloc_node(2 * P, GFP_KERNEL, 0)
    assert k.kmalloc_objs[x].large_page is None
    assert k.PageHead(k.kmalloc_objs[y].large_page)


# --- large objects: compound pages ---------------------------------------------------

@pytest.mark.parametrize("size, order", [(P + 1, 1), (2 * P, 1), (3 * P, 2),
                                         (4 * P, 2)])
def test_large_kmalloc_is_a_compound_page(k_enc, size, order):
    """
    |. . . . . . . .|
        kmalloc(size > PAGE_SIZE, GFP_KERNEL)
    Expect __get_free_pages(GFP_KERNEL | __GFP_COMP, get_order(size)): a
    compound page of 2^order pages at its linear address, head counted,
    tails pointing at it (both page-flag encodings):
    |H T . . . . . .|    (order 1)
    """
    k = k_enc
    x = k.kmalloc(size, GFP_KERNEL)
    head = k.kmalloc_objs[x].large_page
    assert x == k.page_address(head)
    assert k.PageHead(head) and k.compound_order(head) == order
    assert k.page_count(head) == 1
    for i in range(1, 1 << order):
        assert k.PageTail(head + i)
        assert k.compound_head(head + i) == head
    assert k.nr_free_pages() == 16 - (1 << order)
    assert k.errors() == []


def test_kfree_of_a_large_object_frees_the_compound_page(k_enc):
    """
    |H T T T . . . .|
        kfree(x)
    Expect virt_to_head_page + put_page: the compound destructor frees all
    four pages and clears the head/tail marks, with no bad_page report.
    |. . . . . . . .|
    """
    k = k_enc
    x = k.kmalloc(3 * P, GFP_KERNEL)
    head = k.kmalloc_objs[x].large_page
    k.kfree(x)
    assert x not in k.kmalloc_objs
    assert k.nr_free_pages() == 16
    assert not any(k.PageCompound(head + i) for i in range(4))
    assert k.events == []


def test_large_kmalloc_fails_with_the_page_allocator(k):
    """
    |. . . . . . . .|   fail_page_alloc = 1
        kmalloc(2 * PAGE_SIZE, GFP_KERNEL)
    Expect NULL: kmalloc_large has only the page allocator to ask.
    """
    k.fail_page_alloc = 1
    assert k.kmalloc(2 * P, GFP_KERNEL) == 0
    assert k.kmalloc_objs == {} and k.nr_free_pages() == 16


def test_large_kmalloc_beyond_max_order_is_null(k):
    """
    MAX_ORDER = 3: orders 0-2, the largest block is 4 pages
        kmalloc(4 * PAGE_SIZE + 1, GFP_KERNEL)
    Expect NULL from alloc_pages (order 3 >= MAX_ORDER, gfp.h:180), with
    no message.
    """
    assert k.kmalloc(4 * P + 1, GFP_KERNEL) == 0
    assert k.events == []
    assert k.kmalloc_objs == {}


# --- zeroing, kcalloc, get_order ------------------------------------------------------

@pytest.mark.parametrize("size", [64, 3 * P])
def test_kzalloc_zeroes(k, size):
    """
        kzalloc(size, GFP_KERNEL)
    Expect kmalloc(size, flags | __GFP_ZERO): every word reads 0 (slab_alloc
    memsets, the page allocator clears each page), where a plain kmalloc
    would read garbage.
    """
    x = k.kzalloc(size, GFP_KERNEL)
    assert k.kmalloc_objs[x].gfp & __GFP_ZERO
    for off in range(0, size, 8 if size < P else P // 2):
        assert memory.load(k, x + off) == 0


def test_kcalloc_zeroes_n_times_size(k):
    """
        kcalloc(4, 16, GFP_KERNEL)
    Expect __kmalloc(64, GFP_KERNEL | __GFP_ZERO) (slab.h kcalloc).
    """
    x = k.kcalloc(4, 16, GFP_KERNEL)
    assert k.kmalloc_objs[x].size == 64
    assert memory.load(k, x + 56) == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_kcalloc_overflow_is_null(arch):
    """
        kcalloc(2, 1 << (BITS - 1), GFP_KERNEL)
    Expect NULL: size > ULONG_MAX / n, before any allocation.
    """
    k = make_kernel(ARCH=arch)
    assert k.kcalloc(2, 1 << (k.BITS - 1), GFP_KERNEL) == 0
    assert k.kcalloc(3, ((1 << k.BITS) - 1) // 3 + 1, GFP_KERNEL) == 0
    assert k.kmalloc_objs == {} and k.nr_free_pages() == 16
    assert k.events == []


def test_kcalloc_of_zero_elements_is_zero_size_ptr(k):
    """
        kcalloc(0, 8, GFP_KERNEL)
    Expect no overflow test (n == 0) and __kmalloc(0): ZERO_SIZE_PTR.
    """
    assert k.kcalloc(0, 8, GFP_KERNEL) == ZERO_SIZE_PTR


@pytest.mark.parametrize("size, order", [(1, 0), (P, 0), (P + 1, 1), (2 * P, 1),
                                         (2 * P + 1, 2), (8 * P, 3)])
def test_get_order(k, size, order):
    """
        get_order(size)
    Expect the smallest order with PAGE_SIZE << order >= size
    (include/asm-generic/page.h).
    """
    assert k.get_order(size) == order


@pytest.mark.parametrize("arch", ARCHES)
def test_get_order_of_zero_wraps(arch):
    """
        get_order(0)
    Expect size - 1 to wrap to ULONG_MAX (unsigned long), giving
    BITS - PAGE_SHIFT: 52 on x86_64, 20 on i386.
    """
    k = make_kernel(ARCH=arch)
    assert k.get_order(0) == k.BITS - k.PAGE_SHIFT


# --- kfree -------------------------------------------------------------------------

def test_kmalloc_zero_is_zero_size_ptr(k):
    """
        kmalloc(0, GFP_KERNEL)
    Expect ZERO_SIZE_PTR ((void *)16): no object, no page.
    """
    assert k.kmalloc(0, GFP_KERNEL) == ZERO_SIZE_PTR
    assert k.kmalloc_objs == {} and k.nr_free_pages() == 16


@pytest.mark.parametrize("ptr", [0, ZERO_SIZE_PTR])
def test_kfree_of_null_or_zero_size_ptr_does_nothing(k, ptr):
    """
    [obj]
        kfree(NULL) / kfree(ZERO_SIZE_PTR)
    Expect ZERO_OR_NULL_PTR to return at once: nothing freed or reported.
    """
    x = k.kmalloc(64, GFP_KERNEL)
    k.kfree(ptr)
    assert list(k.kmalloc_objs) == [x]
    assert k.events == []


def test_kfree_releases_a_small_object(k):
    """
    [obj]
        kfree(x)
    Expect the object gone and its slot reused by the next kmalloc.
    """
    x = k.kmalloc(64, GFP_KERNEL)
    k.kfree(x)
    assert k.kmalloc_objs == {}
    assert kmalloc_lookup(k, x) is None
    assert k.kmalloc(32, GFP_KERNEL) == x
    assert k.events == []


@pytest.mark.parametrize("size", [64, 2 * P])
def test_double_kfree_is_reported(k, size):
    """
    [obj] freed once
        kfree(x) again
    Expect a "kmalloc" event naming the double free; nothing freed twice
    (customised: SLUB without debugging would corrupt its freelist, and a
    large object would hit put_page_testzero's VM_BUG_ON).
    """
    x = k.kmalloc(size, GFP_KERNEL)
    k.kfree(x)
    free, slots = k.nr_free_pages(), list(k.kmalloc_free_slots)
    k.kfree(x)
    events = kmalloc_events(k)
    assert [(e.function, e.message) for e in events] == [
        ("kfree", f"kfree: double free of {x:#x}")]
    assert k.nr_free_pages() == free
    assert k.kmalloc_free_slots == slots


@pytest.mark.parametrize("what", ["interior", "never returned"])
def test_kfree_of_a_pointer_kmalloc_never_returned_is_reported(k, what):
    """
    [obj]
        kfree(x + 8) / kfree(an address no kmalloc returned)
    Expect a "kmalloc" event; the live object stays allocated.
    """
    x = k.kmalloc(64, GFP_KERNEL)
    bad = x + 8 if what == "interior" else x + 64 * P
    k.kfree(bad)
    assert [e.message for e in kmalloc_events(k)] == [
        f"kfree: {bad:#x} is not an object kmalloc returned"]
    assert list(k.kmalloc_objs) == [x]


# --- context and fault injection -------------------------------------------------------

def test_sleeping_kmalloc_in_atomic_context_reports():
    """
    PREEMPT=y, spin_lock() held
        kmalloc(64, GFP_KERNEL); kmalloc(64, GFP_ATOMIC)
    Expect a might_sleep report with the kernel's text for GFP_KERNEL and
    none for GFP_ATOMIC.  (customised: 2.6.25 reports only when the slow
    path allocates a new slab page; the model has no slabs and reports
    every sleeping call.)  The allocation itself still succeeds.
    """
    k = make_kernel(PREEMPT=True)
    k.spin_lock()
    x = k.kmalloc(64, GFP_KERNEL)
    y = k.kmalloc(64, GFP_ATOMIC)
    assert x and y
    events = might_sleep_events(k)
    assert len(events) == 1
    assert events[0].message.startswith(SLEEP_BUG)
    assert "in_atomic():1, irqs_disabled():0" in events[0].message


def test_large_sleeping_kmalloc_with_irqs_off_reports_from_the_page_allocator(k):
    """
    local_irq_disable()
        kmalloc(2 * PAGE_SIZE, GFP_KERNEL)
    Expect __alloc_pages' might_sleep_if(wait) (page_alloc.c:1475) to
    report irqs_disabled():1.
    """
    k.local_irq_disable()
    assert k.kmalloc(2 * P, GFP_KERNEL)
    events = might_sleep_events(k)
    assert [e.function for e in events] == ["__alloc_pages"]
    assert "in_atomic():0, irqs_disabled():1" in events[0].message


def test_sleeping_kmalloc_under_spinlock_without_preempt_is_a_model_report():
    """
    PREEMPT=n, spin_lock() held: preempt_count() stays 0
        kmalloc(64, GFP_KERNEL)
    Expect no kernel-text report (2.6.25 cannot see the lock) but the
    model's own "model:" report.
    """
    k = make_kernel(PREEMPT=False)
    k.spin_lock()
    k.kmalloc(64, GFP_KERNEL)
    events = might_sleep_events(k)
    assert len(events) == 1
    assert events[0].message.startswith("model:")
    assert SLEEP_BUG not in events[0].message


def test_kmalloc_of_zero_in_atomic_context_is_silent():
    """
    PREEMPT=y, spin_lock() held
        kmalloc(0, GFP_KERNEL)
    Expect ZERO_SIZE_PTR with no report: __kmalloc returns before
    slab_alloc (slub.c:2600-2601), so nothing could sleep.
    """
    k = make_kernel(PREEMPT=True)
    k.spin_lock()
    assert k.kmalloc(0, GFP_KERNEL) == ZERO_SIZE_PTR
    assert k.events == []


def test_fail_kmalloc_fails_the_next_small_allocations(k):
    """
    fail_kmalloc = 2
        kmalloc(64) three times; kmalloc(2 * PAGE_SIZE) in between
    Expect the first two small ones NULL, the third served; the large one
    bypasses slab_alloc (the failslab point) and is served from the pages.
    """
    k.fail_kmalloc = 2
    assert k.kmalloc(64, GFP_KERNEL) == 0
    big = k.kmalloc(2 * P, GFP_KERNEL)
    assert big and k.fail_kmalloc == 1
    assert k.kmalloc(64, GFP_KERNEL) == 0
    x = k.kmalloc(64, GFP_KERNEL)
    assert x and k.fail_kmalloc == 0
    assert set(k.kmalloc_objs) == {big, x}
    assert k.errors() == []


def test_kmalloc_large_passes_gfp_comp(k):
    """
        kmalloc(2 * PAGE_SIZE, GFP_KERNEL)
    Expect the page allocator to see GFP_KERNEL | __GFP_COMP: record the
    mask __get_free_pages is called with.
    """
    seen = []
    get_free_pages = k.__get_free_pages

    def record(gfp, order):
        seen.append((gfp, order))
        return get_free_pages(gfp, order)

    k.__get_free_pages = record
    k.kmalloc(2 * P, GFP_KERNEL)
    assert seen == [(GFP_KERNEL | __GFP_COMP, 1)]
