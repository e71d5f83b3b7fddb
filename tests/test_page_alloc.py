"""Scenario tests for the buddy allocator (impl/page_alloc.py, impl/swap.py,
impl/mm.py, impl/internal.py).

Each expectation was read from mm/page_alloc.c, mm/swap.c,
include/linux/mm.h and mm/internal.h at v2.6.25 before it was checked
against the model; line numbers are v2.6.25's.

Unless a test says otherwise the kernel has 16 pages and MAX_ORDER 3, so a
fresh boot leaves four free order-2 blocks, listed front first in the order
the boot freed them (LIFO):

    pfn   0 ... 3 | 4 ... 7 | 8 ... 11 | 12 ... 15
          order 2 | order 2 | order 2  | order 2       free_area[2]: 12 8 4 0

Pictures use: .  free   a  allocated   H/T  compound head/tail
              p  pinned   R  reserved.
"""
from __future__ import annotations

import pytest

from conftest import make_kernel
from vcpcheck.impl import memory
from vcpcheck.impl.gfp import (GFP_ATOMIC, GFP_HIGHUSER, GFP_KERNEL,
                               __GFP_COMP, __GFP_HIGHMEM, __GFP_NOFAIL,
                               __GFP_NORETRY, __GFP_NOWARN, __GFP_ZERO)
from vcpcheck.impl.kernel import (LIST_POISON1, LIST_POISON2, UNINITIALISED,
                                  KernelOops)
from vcpcheck.impl.page_alloc import (ALLOC_HARDER, ALLOC_HIGH, free_list_pages,
                                      pin_free_page)

PAGE_SIZE = 4096
BOOT_LISTS = [[], [], [12, 8, 4, 0]]


# --- helpers -----------------------------------------------------------------

def free_lists(k, zone=0):
    """free_area[order] of one zone, front first, for every order."""
    z = k.zones[zone]
    return [free_list_pages(k, z, o) for o in range(k.MAX_ORDER)]


def spy_bad_page(k):
    """Record the pfn of every bad_page() call (then run the real one)."""
    seen = []
    real = k.bad_page

    def bad_page(page):
        seen.append(page)
        real(page)
    k.bad_page = bad_page
    return seen


def failure_messages(k):
    return [e.message for e in k.events if "page allocation failure" in e.message]


def assert_free_block(k, pfn, order):
    """The first page of a free block: PG_buddy, order in private, count 0."""
    assert k.PageBuddy(pfn), pfn
    assert k.private[pfn] == order, pfn
    assert k._count[pfn] == 0, pfn


def compound_bits(k, pfn):
    """The head/tail marks a page carries under its encoding."""
    if k.cfg.PAGEFLAGS_EXTENDED:
        mask = 1 << k.PG_head | 1 << k.PG_tail
    else:
        mask = k.PG_head_tail_mask
    return k.flags[pfn] & mask


# --- __rmqueue_smallest / expand ---------------------------------------------

def test_rmqueue_smallest_splits_off_upper_halves():
    """
    A 4-page kernel holds one free order-2 block:

        pfn   0   1   2   3
              |  order 2    |       free_area[2]: 0

        __rmqueue_smallest(zone, 0)

    Expect pfn 0 (the lowest pages are kept, #L657/#L589): expand() lists
    the upper half pfn 2 at order 1 and pfn 1 at order 0, each PG_buddy with
    its order in private; pfn 0 is unlinked (lru poisoned), PG_buddy cleared,
    private 0, still count 0 (prep_new_page has not run); NR_FREE_PAGES
    drops by 1 only.
    """
    k = make_kernel(mem_pages=4)
    z = k.zones[0]
    assert free_lists(k) == [[], [], [0]]

    page = k.__rmqueue_smallest(z, 0)

    assert page == 0
    assert free_lists(k) == [[1], [2], []]
    assert z.nr_free == [1, 1, 0]
    assert z.NR_FREE_PAGES == 3
    assert_free_block(k, 2, 1)
    assert_free_block(k, 1, 0)
    assert not k.PageBuddy(0)
    assert k.private[0] == 0 and k._count[0] == 0
    assert (k.lru_next[0], k.lru_prev[0]) == (LIST_POISON1, LIST_POISON2)


def test_rmqueue_smallest_takes_the_smallest_order_that_fits():
    """
    After one order-0 allocation split block 12:

        pfn   ... 8..11 | 12  13  14  15
                order 2 | a   .   [order 1]
        free_area[0]: 13   free_area[1]: 14   free_area[2]: 8 4 0

        __rmqueue_smallest(zone, 1); then __rmqueue_smallest(zone, 0)

    Expect 14 from the order-1 list (no order-2 block is split), then 13
    from the order-0 list.
    """
    k = make_kernel()
    z = k.zones[0]
    assert k.__rmqueue_smallest(z, 0) == 12
    assert free_lists(k) == [[13], [14], [8, 4, 0]]

    assert k.__rmqueue_smallest(z, 1) == 14
    assert free_lists(k) == [[13], [], [8, 4, 0]]
    assert k.__rmqueue_smallest(z, 0) == 13
    assert free_lists(k) == [[], [], [8, 4, 0]]
    assert z.NR_FREE_PAGES == 12


def test_rmqueue_smallest_takes_the_front_of_the_list():
    """
    Fresh boot, free_area[2]: 12 8 4 0 (block 12 was freed last):

        __rmqueue_smallest(zone, 2)

    Expect 12, the front entry; no split, the rest stays in order.
    """
    k = make_kernel()

    assert k.__rmqueue_smallest(k.zones[0], 2) == 12
    assert free_lists(k) == [[], [], [8, 4, 0]]
    assert k.zones[0].nr_free == [0, 0, 3]


def test_rmqueue_smallest_returns_null_without_a_large_enough_block():
    """
    4 pages, pfn 0 taken:

        pfn   0   1   2   3
              a   .   [order 1]     free_area[0]: 1  free_area[1]: 2

        __rmqueue_smallest(zone, 2)

    Expect NULL and nothing changed.
    """
    k = make_kernel(mem_pages=4)
    z = k.zones[0]
    assert k.__rmqueue_smallest(z, 0) == 0

    assert k.__rmqueue_smallest(z, 2) is None
    assert free_lists(k) == [[1], [2], []]
    assert z.NR_FREE_PAGES == 3


# --- __free_one_page ---------------------------------------------------------

def test_freed_pages_go_to_the_front_of_their_list():
    """
    Block 12 handed out page by page:

        pfn   12  13  14  15
              a   a   a   a

        __free_page(12); __free_page(14)

    Expect no merging (buddies 13 and 15 are allocated), free_area[0] ==
    [14, 12] (list_add at the front, #L454), and the next order-0
    allocation returns 14, the last page freed.
    """
    k = make_kernel()
    assert [k.alloc_pages(GFP_KERNEL, 0) for _ in range(4)] == [12, 13, 14, 15]

    k.__free_page(12)
    k.__free_page(14)

    assert free_lists(k) == [[14, 12], [], [8, 4, 0]]
    assert k.alloc_pages(GFP_KERNEL, 0) == 14


def test_free_one_page_merges_up_to_max_order_minus_one():
    """
    pfns 12..14 freed already (12+13 merged), 15 still allocated:

        pfn   8 ...... 11 | 12  13 | 14 | 15
              order 2     | order 1| .  | a

        __free_page(15)

    Expect 15 to merge with 14 (order 1), then with 12 (order 2), and to
    stop there because order 2 == MAX_ORDER-1 (#L437), although pfn 8 is a
    free order-2 buddy (12 ^ 4 == 8).  Block 12 goes to the front.
    """
    k = make_kernel()
    for _ in range(4):
        k.alloc_pages(GFP_KERNEL, 0)
    for pfn in (12, 13, 14):
        k.__free_page(pfn)
    assert free_lists(k) == [[14], [12], [8, 4, 0]]

    k.__free_page(15)

    assert free_lists(k) == BOOT_LISTS
    assert k.zones[0].nr_free == [0, 0, 4]
    assert k.zones[0].NR_FREE_PAGES == 16
    for pfn in (0, 4, 8, 12):
        assert_free_block(k, pfn, 2)
    assert not any(k.PageBuddy(p) for p in (13, 14, 15))
    assert k.private[14] == 0


def test_free_one_page_stops_at_an_allocated_buddy():
    """
    pfn 12 and 13 allocated:

        pfn   12  13  14  15
              a   a   [order 1]

        __free_page(12)

    Expect pfn 12 listed alone at order 0: its buddy 13 is not PG_buddy.
    """
    k = make_kernel()
    assert [k.alloc_pages(GFP_KERNEL, 0) for _ in range(2)] == [12, 13]

    k.__free_page(12)

    assert free_lists(k) == [[12], [14], [8, 4, 0]]
    assert_free_block(k, 12, 0)


def test_free_one_page_stops_at_a_buddy_of_another_order():
    """
    An order-1 block at 12; pfn 14 free at order 0, pfn 15 allocated:

        pfn   12  13 | 14  15
              a   a  | .   a

        __free_pages(12, 1)

    Expect no merge: buddy 14 is PG_buddy but of order 0, not 1
    (page_is_buddy, #L390).  12 is listed at order 1, 14 stays at order 0.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 1) == 12
    assert [k.alloc_pages(GFP_KERNEL, 0) for _ in range(2)] == [14, 15]
    k.__free_page(14)

    k.__free_pages(12, 1)

    assert free_lists(k) == [[14], [12], [8, 4, 0]]
    assert_free_block(k, 12, 1)
    assert_free_block(k, 14, 0)


def test_free_one_page_does_not_merge_across_zones():
    """
    i386 HIGHMEM with the zone boundary at pfn 6, inside an aligned block:

        pfn   0 ... 3 | 4   5 | 6   7 | 8 ... 15
              order 2 | ord 1 | ord 1 | ...
              ZONE_NORMAL     | ZONE_HIGHMEM

        alloc_pages(GFP_KERNEL, 1) -> 4;  __free_pages(4, 1)

    Expect 4 to stay an order-1 block in ZONE_NORMAL: its buddy 6 is free at
    order 1 but page_zone_id differs (#L387).
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True, lowmem_pages=6)
    assert free_lists(k, 0) == [[], [4], [0]]
    assert free_lists(k, 1) == [[], [6], [12, 8]]
    assert k.alloc_pages(GFP_KERNEL, 1) == 4

    k.__free_pages(4, 1)

    assert free_lists(k, 0) == [[], [4], [0]]
    assert free_lists(k, 1) == [[], [6], [12, 8]]
    assert k.zones[0].NR_FREE_PAGES == 6


@pytest.mark.parametrize("debug_vm", [True, False])
def test_page_is_buddy_bugs_on_a_free_buddy_with_a_count(debug_vm):
    """
    pfn 12 allocated; its buddy 13 is listed free at order 0, but something
    took a reference on it:

        pfn   12  13       14  15
              a   .(cnt 1) [order 1]

        __free_page(12)

    Expect BUG (#L391, BUG_ON(page_count(buddy) != 0)) -- a plain BUG_ON,
    so also without DEBUG_VM.
    """
    k = make_kernel(DEBUG_VM=debug_vm)
    assert k.alloc_pages(GFP_KERNEL, 0) == 12
    k._count[13] = 1

    with pytest.raises(KernelOops) as oops:
        k.__free_page(12)
    assert oops.value.function == "page_is_buddy"
    assert "VM_BUG_ON" not in oops.value.message


def test_free_one_page_bugs_on_a_misaligned_block():
    """
    An order-1 block at 12 is allocated:

        pfn   12  13  14  15
              a   a   [order 1]

        __free_one_page(13, zone, 1)

    Expect VM_BUG_ON(page_idx & (order_size - 1)) (#L433): 13 is not aligned
    to order 1.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 1) == 12

    with pytest.raises(KernelOops) as oops:
        k.__free_one_page(13, k.zones[0], 1)
    assert oops.value.function == "__free_one_page"


# --- free_pages_check / bad_page ---------------------------------------------

def _set_mapcount(k, p):
    k._mapcount[p] = 0                   # mapped once


def _set_mapping(k, p):
    k.mapping[p] = 0xffff810000100000    # an address_space (low bit clear)


def _set_flag(name):
    def corrupt(k, p):
        k.flags[p] |= 1 << getattr(k, name)
    corrupt.__name__ = name
    return corrupt


FREE_CHECK_REASONS = [_set_mapcount, _set_mapping] + [
    _set_flag(n) for n in ("PG_lru", "PG_private", "PG_locked", "PG_active",
                           "PG_slab", "PG_swapcache", "PG_writeback",
                           "PG_buddy")]


@pytest.mark.parametrize("corrupt", FREE_CHECK_REASONS,
                         ids=lambda f: f.__name__.lstrip("_"))
def test_free_pages_check_reports_a_busy_page(corrupt):
    """
    pfn 12 allocated, then left busy (mapped, in a mapping, or with one of
    lru/private/locked/active/slab/swapcache/writeback/buddy set):

        pfn   12  13  14  15
              a!  .   [order 1]

        __free_page(12)

    Expect one bad_page report on pfn 12 (#L459-L475), the field reset by
    bad_page (#L239-L251), the kernel tainted, and the page freed anyway:
    it merges back into block 12 of order 2.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 0) == 12
    corrupt(k, 12)
    bad = spy_bad_page(k)

    k.__free_page(12)

    assert bad == [12]
    assert [e.kind for e in k.events] == ["bad_page"]
    assert k.events[0].function == "bad_page"
    assert k.events[0].message.startswith("Bad page state in process 'vcpcheck'")
    assert k.tainted
    assert k._mapcount[12] == -1 and k.mapping[12] == 0
    assert k.flags[12] & k.PAGE_FLAGS == 1 << k.PG_buddy   # only the new mark
    assert free_lists(k) == BOOT_LISTS


def test_free_pages_check_reports_a_counted_subpage():
    """
    An order-1 block split into two counted pages, then freed as a block:

        pfn   12(cnt 1)  13(cnt 1)  14  15
        split_page(12, 1); __free_pages(12, 1)

    Expect put_page_testzero to drop only pfn 12, so free_pages_check finds
    pfn 13 with count 1 and reports it (#L464); bad_page zeroes the count and
    the block is freed, merging back to order 2.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 1) == 12
    k.split_page(12, 1)
    bad = spy_bad_page(k)

    k.__free_pages(12, 1)

    assert bad == [13]
    assert k._count[13] == 0
    assert free_lists(k) == BOOT_LISTS


def test_free_pages_check_clears_pg_dirty_silently():
    """
    pfn 12 allocated and left dirty:

        __free_page(12)

    Expect no report (PG_dirty is not in the free check, #L476-L477): the bit is
    cleared and the page freed.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 0) == 12
    k.SetPageDirty(12)

    k.__free_page(12)

    assert k.events == []
    assert not k.PageDirty(12)
    assert free_lists(k) == BOOT_LISTS


def test_free_of_a_reserved_page_leaks_the_whole_block():
    """
    An order-1 block at 12 whose second page is PG_reserved:

        pfn   12  13   14  15
              a   aR   [order 1]

        __free_pages(12, 1)

    Expect bad_page on pfn 13 (PG_reserved is in the free check) and, since
    free_pages_check returned PageReserved, __free_pages_ok to free nothing
    (#L530-L533): the lists and NR_FREE_PAGES are unchanged, pfn 12's count
    is 0 (the reference was dropped) and pfn 13 is still reserved.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 1) == 12
    k.SetPageReserved(13)
    bad = spy_bad_page(k)

    k.__free_pages(12, 1)

    assert bad == [13]
    assert free_lists(k) == [[], [14], [8, 4, 0]]
    assert k.zones[0].NR_FREE_PAGES == 14
    assert k._count[12] == 0
    assert k.PageReserved(13)


@pytest.mark.parametrize("order, reported", [(0, []), (1, [12])])
def test_anon_mapping_is_forgiven_only_on_order_0_frees(order, reported):
    """
    A page freed with an anon_vma still in ->mapping (low bit set):

        pfn   12 (mapping = anon_vma | PAGE_MAPPING_ANON)
        __free_pages(12, order)

    Expect free_hot_cold_page (order 0) to drop the anon mapping before the
    check (#L993-L994), so no report; __free_pages_ok (order 1) has no such
    step and reports the page.  Either way the mapping ends up NULL.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, order) == 12
    k.mapping[12] = 0xffff810000200000 | 1
    bad = spy_bad_page(k)

    k.__free_pages(12, order)

    assert bad == reported
    assert k.mapping[12] == 0
    assert free_lists(k) == BOOT_LISTS


def test_bad_page_clears_only_its_own_flag_list():
    """
    pfn 12 allocated, every flag bit of the encoding set, count 3,
    mapcount 2, a mapping:

        bad_page(12)

    Expect lru, private, locked, active, dirty, reclaim, slab, swapcache,
    writeback and buddy cleared (#L239-L251) and every other bit -- reserved,
    uptodate, referenced, error, ... -- kept; count 0, mapcount -1 (raw),
    mapping NULL, kernel tainted.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 0) == 12
    k.flags[12] = (1 << 20) - 1
    k._count[12], k._mapcount[12], k.mapping[12] = 3, 1, 0x1000
    cleared = 0
    for name in ("PG_lru", "PG_private", "PG_locked", "PG_active", "PG_dirty",
                 "PG_reclaim", "PG_slab", "PG_swapcache", "PG_writeback",
                 "PG_buddy"):
        cleared |= 1 << getattr(k, name)

    k.bad_page(12)

    assert k.flags[12] == ((1 << 20) - 1) & ~cleared
    assert k.PageReserved(12) and k.PageUptodate(12)
    assert (k._count[12], k._mapcount[12], k.mapping[12]) == (0, -1, 0)
    assert k.tainted
    assert [e.kind for e in k.events] == ["bad_page"]


def test_bad_page_on_a_tail_unmarks_it_under_2625(k_enc):
    """
    An order-2 compound page:

        pfn   12  13  14  15
              H   T   T   T
        bad_page(13)

    Expect, under 2.6.25, bad_page's clearing of PG_reclaim (the tail half
    of PG_head_tail_mask) to leave pfn 13 as PG_compound alone -- it now
    reads as a *head*; under 2.6.26 PG_tail is untouched.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12

    k.bad_page(13)

    if k.cfg.PAGEFLAGS_EXTENDED:
        assert k.PageTail(13) and not k.PageHead(13)
    else:
        assert not k.PageTail(13) and k.PageHead(13)
    assert k.PageCompound(13)


def test_compound_free_with_a_busy_tail(k_enc):
    """
    An order-2 compound page whose tail 13 was left in a mapping:

        pfn   12  13  14  15
              H   T!  T   T
        put_page(12)

    Expect free_pages_check to report pfn 13.  Under 2.6.25 that bad_page
    clears PG_reclaim on 13, so destroy_compound_page then finds 13 not
    PageTail and reports the head 12 as well (#L305-L307); under 2.6.26 one
    report.  The block is freed either way, with no compound marks left.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    k.mapping[13] = 0xffff810000100000
    bad = spy_bad_page(k)

    k.put_page(12)

    assert bad == ([13] if k.cfg.PAGEFLAGS_EXTENDED else [13, 12])
    assert free_lists(k) == BOOT_LISTS
    assert [compound_bits(k, p) for p in range(12, 16)] == [0, 0, 0, 0]


# --- prep_new_page -----------------------------------------------------------

def test_prep_new_page_reports_a_dirty_free_page():
    """
    The front order-2 block's first page became dirty while free:

        pfn   12(dirty) 13  14  15      free_area[2]: 12 8 4 0
        alloc_pages(GFP_KERNEL, 2)

    Expect bad_page on 12 (PG_dirty is in the prep check, #L620), which
    clears it, and 12 still handed out with count 1.
    """
    k = make_kernel()
    k.SetPageDirty(12)
    bad = spy_bad_page(k)

    assert k.alloc_pages(GFP_KERNEL, 2) == 12

    assert bad == [12]
    assert not k.PageDirty(12)
    assert k._count[12] == 1


def test_prep_new_page_checks_only_the_first_page():
    """
    The front order-2 block's *second* page is dirty:

        pfn   12  13(dirty) 14  15
        alloc_pages(GFP_KERNEL, 2)

    Expect no report: prep_new_page looks at the first page only (#L609).
    """
    k = make_kernel()
    k.SetPageDirty(13)

    assert k.alloc_pages(GFP_KERNEL, 2) == 12

    assert k.events == []
    assert k.PageDirty(13)


def test_prep_new_page_skips_a_reserved_page():
    """
    The front order-2 block's first page is PG_reserved:

        pfn   8 ... 11 | 12R 13  14  15       free_area[2]: 12 8 4 0
        alloc_pages(GFP_KERNEL, 2)

    Expect bad_page on 12, prep_new_page returning 1 so buffered_rmqueue
    tries again (#L632-L633, #L1110-L1111) and hands out 8.  Block 12 is lost:
    on no list, still reserved, count 0; NR_FREE_PAGES counts neither.
    """
    k = make_kernel()
    k.SetPageReserved(12)
    bad = spy_bad_page(k)

    assert k.alloc_pages(GFP_KERNEL, 2) == 8

    assert bad == [12]
    assert free_lists(k) == [[], [], [4, 0]]
    assert k.zones[0].NR_FREE_PAGES == 8
    assert k.PageReserved(12) and k._count[12] == 0


def test_prep_new_page_resets_the_first_page():
    """
    The front block's first page carries stale state that is not checked:

        pfn   12: uptodate error referenced readahead arch_1 owner_priv_1
                  mappedtodisk; private = 2 (its buddy order)
        alloc_pages(GFP_KERNEL, 2)

    Expect no report; those bits cleared (#L635-L638), private 0, count 1,
    PG_buddy gone.
    """
    k = make_kernel()
    stale = ("PG_uptodate", "PG_error", "PG_referenced", "PG_readahead",
             "PG_arch_1", "PG_owner_priv_1", "PG_mappedtodisk")
    for name in stale:
        k.flags[12] |= 1 << getattr(k, name)

    assert k.alloc_pages(GFP_KERNEL, 2) == 12

    assert k.events == []
    assert k.flags[12] == 0
    assert k.private[12] == 0 and k._count[12] == 1


@pytest.mark.parametrize("zero", [True, False])
def test_gfp_zero_clears_every_page_of_the_block(zero):
    """
    Block 12 of order 2, every page written with 0x1234 at offsets 0 and
    PAGE_SIZE-8 while free:

        pfn   12  13  14  15
              w   w   w   w
        alloc_pages(GFP_KERNEL [| __GFP_ZERO], 2)

    Expect, with __GFP_ZERO, all four pages to read 0 everywhere
    (prep_zero_page clears 1 << order pages, #L321-L322); without it the
    old words and the never-written garbage are still there.
    """
    k = make_kernel()
    for pfn in range(12, 16):
        base = k.page_address(pfn)
        memory.store(k, base, 0x1234)
        memory.store(k, base + PAGE_SIZE - 8, 0x1234)

    gfp = GFP_KERNEL | (__GFP_ZERO if zero else 0)
    assert k.alloc_pages(gfp, 2) == 12

    for pfn in range(12, 16):
        base = k.page_address(pfn)
        if zero:
            assert memory.load(k, base) == 0
            assert memory.peek(k, base + PAGE_SIZE - 8) == 0
            assert memory.peek(k, base + 8) == 0
        else:
            assert memory.load(k, base) == 0x1234
            assert memory.peek(k, base + 8) == UNINITIALISED


def test_prep_zero_page_bugs_for_highmem_in_interrupt():
    """
    In a hard interrupt handler:

        alloc_pages(GFP_ATOMIC | __GFP_HIGHMEM | __GFP_ZERO, 0)

    Expect VM_BUG_ON((gfp & __GFP_HIGHMEM) && in_interrupt()) (#L320):
    clear_highpage would use KM_USER0 from interrupt context.
    """
    k = make_kernel()
    k.irq_enter()

    with pytest.raises(KernelOops) as oops:
        k.alloc_pages(GFP_ATOMIC | __GFP_HIGHMEM | __GFP_ZERO, 0)
    assert oops.value.function == "prep_zero_page"


# --- prep_compound_page / destroy_compound_page ------------------------------

def test_gfp_comp_makes_a_compound_page(k_enc):
    """
    Fresh boot:

        alloc_pages(GFP_KERNEL | __GFP_COMP, 2)

    Expect 12 as head and 13..15 as tails (#L275-L288): head marked
    (PG_head, or PG_compound under 2.6.25), tails marked (PG_tail, or
    PG_compound|PG_reclaim), each tail's first_page = head; dtor
    free_compound_page in page[1].lru.next, order 2 in page[1].lru.prev;
    head count 1, tails count 0 and mapcount -1.
    """
    k = k_enc

    head = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)

    assert head == 12
    if k.cfg.PAGEFLAGS_EXTENDED:
        head_mark, tail_mark = 1 << 13, 1 << 14
    else:
        head_mark, tail_mark = 1 << 14, 1 << 14 | 1 << 17
    assert k.flags[12] == head_mark
    assert [k.flags[p] for p in (13, 14, 15)] == [tail_mark] * 3
    assert [k.private[p] for p in (13, 14, 15)] == [k.page_to_word(12)] * 3
    assert k.lru_next[13] == k.func_addr("free_compound_page")
    assert k.lru_prev[13] == 2 and k.compound_order(12) == 2
    assert k._count[12] == 1
    assert [k._count[p] for p in (13, 14, 15)] == [0, 0, 0]
    assert [k._mapcount[p] for p in (13, 14, 15)] == [-1, -1, -1]
    assert [k.page_count(p) for p in (12, 13, 14, 15)] == [1, 1, 1, 1]


@pytest.mark.parametrize("order, compound", [(0, False), (1, True)])
def test_gfp_comp_needs_an_order_above_0(k_enc, order, compound):
    """
    Fresh boot:

        alloc_pages(GFP_KERNEL | __GFP_COMP, order)

    Expect an ordinary page for order 0 and a compound page (head 12, tail
    13, order 1) for order 1: "order && (gfp & __GFP_COMP)" (#L647).
    """
    k = k_enc

    page = k.alloc_pages(GFP_KERNEL | __GFP_COMP, order)

    assert page == 12
    assert k.PageCompound(page) is compound
    if compound:
        assert k.PageHead(12) and k.PageTail(13)
        assert k.compound_order(12) == 1


def test_destroy_compound_page_with_the_wrong_order(k_enc):
    """
    An order-2 compound page freed as order 1:

        pfn   12  13  14  15
              H   T   T   T
        __free_pages(12, 1)

    Expect one bad_page on the head (stored order 2 != 1, #L296-L297); the
    free goes on: 12..13 are unmarked and listed at order 1 (buddy 14 is
    not free), while 14 and 15 keep their tail marks, leaked.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    bad = spy_bad_page(k)

    k.__free_pages(12, 1)

    assert bad == [12]
    assert free_lists(k) == [[], [12], [8, 4, 0]]
    assert compound_bits(k, 12) == 0 and compound_bits(k, 13) == 0
    assert k.PageTail(14) and k.PageTail(15)


def test_destroy_compound_page_on_a_non_head(k_enc):
    """
    An order-1 block allocated without __GFP_COMP, with a tail mark and
    first_page forged on pfn 13:

        pfn   12  13
              a   T(first_page 12)
        destroy_compound_page(12, 1)

    Expect two reports on 12: compound_order() of a non-head is 0 != 1, and
    !PageHead (#L296-L300); the tail itself is consistent and is unmarked.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL, 1) == 12
    k.__SetPageTail(13)
    k.private[13] = k.page_to_word(12)
    bad = spy_bad_page(k)

    k.destroy_compound_page(12, 1)

    assert bad == [12, 12]
    assert compound_bits(k, 13) == 0


def test_destroy_compound_page_on_a_tail(k_enc):
    """
    An order-2 compound page; its second half is "freed" as if 14 were a
    head:

        pfn   12  13  14  15
              H   T   T   T
        destroy_compound_page(14, 1)

    Expect, under 2.6.26, three reports on 14: wrong order (0), not
    PageHead, and tail 15 pointing at 12 instead of 14.  Under 2.6.25 the
    first bad_page clears PG_reclaim on 14, turning it into a head, so the
    !PageHead test passes and only two reports are made -- and 14 ends
    up with no marks at all, while under 2.6.26 it keeps PG_tail.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    bad = spy_bad_page(k)

    k.destroy_compound_page(14, 1)

    if k.cfg.PAGEFLAGS_EXTENDED:
        assert bad == [14, 14, 14]
        assert k.PageTail(14)
    else:
        assert bad == [14, 14]
        assert compound_bits(k, 14) == 0
    assert compound_bits(k, 15) == 0


def test_destroy_compound_page_with_a_tail_pointing_elsewhere(k_enc):
    """
    An order-2 compound page whose tail 14 has first_page = pfn 8:

        pfn   12  13  14(->8)  15
              H   T   T        T
        put_page(12)

    Expect one bad_page naming the *head* 12 (#L305-L307), then the whole
    block freed and unmarked.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    k.private[14] = k.page_to_word(8)
    bad = spy_bad_page(k)

    k.put_page(12)

    assert bad == [12]
    assert free_lists(k) == BOOT_LISTS
    assert [compound_bits(k, p) for p in range(12, 16)] == [0, 0, 0, 0]


def test_destroy_compound_page_with_a_tail_that_lost_its_mark(k_enc):
    """
    An order-2 compound page; tail 13 loses its tail mark (2.6.26: PG_tail
    cleared; 2.6.25: someone used PG_reclaim and cleared it):

        pfn   12  13  14  15
              H   ?   T   T
        put_page(12)

    Expect one bad_page on the head (!PageTail(13)) and the block freed.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    if k.cfg.PAGEFLAGS_EXTENDED:
        k.__ClearPageTail(13)
    else:
        k.ClearPageReclaim(13)
    bad = spy_bad_page(k)

    k.put_page(12)

    assert bad == [12]
    assert free_lists(k) == BOOT_LISTS


# --- put_page / __free_pages / get_page --------------------------------------

@pytest.mark.parametrize("subpage", [12, 13, 15])
def test_put_page_on_any_subpage_runs_the_dtor(k_enc, subpage):
    """
    An order-2 compound page with a second reference taken via a subpage:

        pfn   12(cnt 2) 13  14  15
              H         T   T   T
        put_page(sub); put_page(sub)

    Expect get_page/put_page to act on the head's count (mm.h#L267,
    swap.c#L60-L69): after the first put the count is 1 and nothing is freed;
    the second calls the dtor from page[1].lru.next with the head, which
    frees the order-2 block.
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    calls = []
    real = k.free_compound_page
    k.free_compound_page = lambda page: (calls.append(page), real(page))
    k.get_page(subpage)
    assert [k._count[p] for p in range(12, 16)] == [2, 0, 0, 0]

    k.put_page(subpage)
    assert k._count[12] == 1 and calls == []
    assert k.zones[0].NR_FREE_PAGES == 12

    k.put_page(subpage)
    assert calls == [12]
    assert free_lists(k) == BOOT_LISTS
    assert k.events == []


def test_free_pages_on_a_compound_head_bypasses_the_dtor(k_enc):
    """
        pfn   12  13  14  15
              H   T   T   T
        __free_pages(12, 2)

    Expect the block freed through __free_pages_ok directly (#L1691), the
    dtor not called, and destroy_compound_page satisfied (no report).
    """
    k = k_enc
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12
    calls = []
    k.free_compound_page = lambda page: calls.append(page)

    k.__free_pages(12, 2)

    assert calls == []
    assert k.events == []
    assert free_lists(k) == BOOT_LISTS


def test_put_page_on_an_order_0_page():
    """
        pfn 12 allocated (count 1)
        put_page(12)

    Expect the count to reach 0 and the page to go back through
    __page_cache_release -> free_hot_page (swap.c#L75-L76), merging into
    block 12.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 0) == 12

    k.put_page(12)

    assert free_lists(k) == BOOT_LISTS


@pytest.mark.parametrize("debug_vm", [True, False])
def test_free_pages_on_a_tail(debug_vm):
    """
    An order-2 compound page; the caller frees a tail:

        pfn   12  13(cnt 0)  14  15
              H   T          T   T
        __free_pages(13, 0)

    Expect put_page_testzero on the tail itself (no head redirection,
    mm.h#L218-L222): VM_BUG_ON with DEBUG_VM; without it the tail's count
    goes to -1 and nothing is freed.
    """
    k = make_kernel(DEBUG_VM=debug_vm)
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12

    if debug_vm:
        with pytest.raises(KernelOops) as oops:
            k.__free_pages(13, 0)
        assert oops.value.function == "put_page_testzero"
        return
    k.__free_pages(13, 0)
    assert k._count[13] == -1
    assert k._count[12] == 1
    assert k.zones[0].NR_FREE_PAGES == 12
    assert k.PageTail(13)
    assert k.events == []


@pytest.mark.parametrize("debug_vm", [True, False])
def test_double_free(debug_vm):
    """
    pfn 12 freed once already (back in block 12 of order 2):

        pfn   12  13  14  15
              [  order 2     ]
        __free_page(12)

    Expect VM_BUG_ON(_count == 0) in put_page_testzero with DEBUG_VM;
    without it the count goes to -1 and the block stays listed once.
    """
    k = make_kernel(DEBUG_VM=debug_vm)
    assert k.alloc_pages(GFP_KERNEL, 0) == 12
    k.__free_page(12)

    if debug_vm:
        with pytest.raises(KernelOops):
            k.__free_page(12)
        return
    k.__free_page(12)
    assert k._count[12] == -1
    assert free_lists(k) == BOOT_LISTS
    assert k.zones[0].NR_FREE_PAGES == 16


@pytest.mark.parametrize("debug_vm", [True, False])
def test_get_page_on_a_free_page(debug_vm):
    """
    Fresh boot, block 12 free:

        get_page(12)

    Expect VM_BUG_ON(head count == 0) (mm.h#L270) with DEBUG_VM; without it
    the free page gets count 1, which prep_new_page reports when the block
    is next handed out.
    """
    k = make_kernel(DEBUG_VM=debug_vm)

    if debug_vm:
        with pytest.raises(KernelOops) as oops:
            k.get_page(12)
        assert oops.value.function == "get_page"
        return
    k.get_page(12)
    assert k._count[12] == 1
    bad = spy_bad_page(k)
    assert k.alloc_pages(GFP_KERNEL, 2) == 12
    assert bad == [12]
    assert k._count[12] == 1


# --- split_page --------------------------------------------------------------

def test_split_page_gives_every_subpage_a_count():
    """
    An order-2 block allocated without __GFP_COMP:

        pfn   12(cnt 1) 13(0) 14(0) 15(0)
        split_page(12, 2); then __free_page() each

    Expect counts 1,1,1,1 (#L1038-L1045), and the four single frees to
    merge back into block 12 of order 2 with no report.
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL, 2) == 12

    k.split_page(12, 2)

    assert [k._count[p] for p in range(12, 16)] == [1, 1, 1, 1]
    for pfn in range(12, 16):
        k.__free_page(pfn)
    assert k.events == []
    assert free_lists(k) == BOOT_LISTS


def test_split_page_bugs_on_a_compound_page():
    """
        pfn   12  13  14  15
              H   T   T   T
        split_page(12, 2)

    Expect VM_BUG_ON(PageCompound(page)) (#L1042).
    """
    k = make_kernel()
    assert k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2) == 12

    with pytest.raises(KernelOops) as oops:
        k.split_page(12, 2)
    assert oops.value.function == "split_page"


def test_split_page_bugs_on_a_free_page():
    """
    Fresh boot, block 12 free (count 0):

        split_page(12, 2)

    Expect VM_BUG_ON(!page_count(page)) (#L1043).
    """
    k = make_kernel()

    with pytest.raises(KernelOops) as oops:
        k.split_page(12, 2)
    assert oops.value.function == "split_page"


# --- zone_watermark_ok -------------------------------------------------------

def _fragmented(k):
    """Pin every odd pfn: 8 free pages, all single."""
    for pfn in range(1, 16, 2):
        assert pin_free_page(k, pfn) == pfn


def _contiguous(k):
    """Pin pfns 8..15: 8 free pages as two order-2 blocks."""
    for pfn in range(8, 16):
        assert pin_free_page(k, pfn) == pfn


@pytest.mark.parametrize("layout, nr_free, ok_by_order", [
    pytest.param(_contiguous, [0, 0, 2], [True, True, True], id="contiguous"),
    pytest.param(_fragmented, [8, 0, 0], [True, False, False], id="fragmented"),
])
def test_zone_watermark_ok_discounts_small_blocks(layout, nr_free, ok_by_order):
    """
    Eight free pages either way, mark 2:

        contiguous  pfn  0..3 4..7 | 8 ........ 15
                         ord2 ord2 | p p p p p p p p
        fragmented  pfn  0 1 2 3 4 5 6 7 8 9 ...
                         . p . p . p . p . p ...

        zone_watermark_ok(zone, order, 2, 0, 0) for order 0, 1, 2

    Expect both to pass at order 0 (8 > 2); at order >= 1 the fragmented
    zone fails, because the order-0 pages are subtracted (8 - 2 + 1 - 8 =
    -1 <= 1, #L1242-L1249), while the contiguous one passes.
    """
    k = make_kernel()
    layout(k)
    z = k.zones[0]
    assert z.NR_FREE_PAGES == 8 and z.nr_free == nr_free

    assert [k.zone_watermark_ok(z, o, 2, 0, 0) for o in range(3)] == ok_by_order


@pytest.mark.parametrize("mark, alloc_flags, ok", [
    (15, 0, True),                          # 16 > 15
    (16, 0, False),                         # 16 <= 16
    (20, ALLOC_HARDER, True),               # min 20 - 5 = 15
    (24, ALLOC_HARDER, False),              # min 24 - 6 = 18
    (24, ALLOC_HIGH, True),                 # min 24 - 12 = 12
    (40, ALLOC_HIGH | ALLOC_HARDER, True),  # 40 - 20 = 20, 20 - 5 = 15
    (44, ALLOC_HIGH | ALLOC_HARDER, False), # 44 - 22 = 22, 22 - 5 = 17
])
def test_zone_watermark_ok_high_and_harder(mark, alloc_flags, ok):
    """
    A fresh 16-page zone, order 0 (free_pages = 16 - 1 + 1 = 16):

        zone_watermark_ok(zone, 0, mark, 0, alloc_flags)

    Expect min = mark, less half of it with ALLOC_HIGH (min -= min/2), then
    less a quarter with ALLOC_HARDER (min -= min/4); pass iff 16 > min
    (#L1235-L1241).
    """
    k = make_kernel()

    assert k.zone_watermark_ok(k.zones[0], 0, mark, 0, alloc_flags) is ok


def test_zone_watermark_ok_halves_the_minimum_per_order():
    """
    pfn 13 pinned: 15 free pages as one order-0, one order-1 and three
    order-2 blocks:

        pfn   0..3 4..7 8..11 | 12  13  14  15
              ord2 ord2 ord2  | .   p   [ord 1]

        zone_watermark_ok(zone, 2, 9, 0, 0)

    Expect True: free = 15 - 4 + 1 = 12 > 9; without order 0, 11 > 9/2 = 4;
    without order 1, 9 > 4/2 = 2 (#L1242-L1249, "min >>= 1").  Order-2 pages
    are not discounted for an order-2 request.
    """
    k = make_kernel()
    assert pin_free_page(k, 13) == 13
    z = k.zones[0]
    assert z.nr_free == [1, 1, 3] and z.NR_FREE_PAGES == 15

    assert k.zone_watermark_ok(z, 2, 9, 0, 0)
    assert not k.zone_watermark_ok(z, 2, 12, 0, 0)     # 12 <= 12


# --- __alloc_pages -----------------------------------------------------------

@pytest.mark.parametrize("gfp, warns", [
    pytest.param(GFP_ATOMIC, True, id="GFP_ATOMIC"),
    pytest.param(GFP_ATOMIC | __GFP_NOWARN, False, id="GFP_ATOMIC|NOWARN"),
    pytest.param(GFP_KERNEL | __GFP_NORETRY, True, id="GFP_KERNEL|NORETRY"),
    pytest.param(GFP_KERNEL | __GFP_NORETRY | __GFP_NOWARN, False,
                 id="GFP_KERNEL|NORETRY|NOWARN"),
])
def test_alloc_pages_failure_returns_null_and_warns(gfp, warns):
    """
    All four order-2 blocks allocated:

        pfn   0..3 4..7 8..11 12..15
              a    a    a     a
        alloc_pages(gfp, 2)

    Expect NULL and, unless __GFP_NOWARN, the kernel's "<comm>: page
    allocation failure. order:2, mode:0x<gfp>" (#L1637-L1644), logged as
    information, not as an error; the lists are untouched.  GFP_ATOMIC
    fails after the second freelist pass (#L1561-L1562); a sleeping
    request fails only with __GFP_NORETRY once reclaim finds nothing
    (#L1624-L1636) -- plain GFP_KERNEL at order 2 would loop in 2.6.25.
    """
    k = make_kernel()
    assert [k.alloc_pages(GFP_ATOMIC, 2) for _ in range(4)] == [12, 8, 4, 0]

    assert k.alloc_pages(gfp, 2) is None

    expected = [f"vcpcheck: page allocation failure. order:2, mode:{gfp:#x}"]
    assert failure_messages(k) == (expected if warns else [])
    assert all(e.kind == "info" for e in k.events)
    assert k.errors() == []
    if gfp == GFP_ATOMIC | __GFP_NOWARN:
        assert k.events == []
    assert k.zones[0].NR_FREE_PAGES == 0


def test_fail_page_alloc_fails_one_allocation():
    """
    Plenty of free memory, fail_page_alloc armed for one failure:

        fail_page_alloc = 1
        alloc_pages(GFP_KERNEL, 0); alloc_pages(GFP_KERNEL, 0)

    Expect the first call to return NULL at should_fail_alloc_page, before
    any zone is looked at and without the failure message (#L1477-L1478);
    the second succeeds with 12.
    """
    k = make_kernel()
    k.fail_page_alloc = 1

    assert k.alloc_pages(GFP_KERNEL, 0) is None
    assert k.events == []
    assert k.fail_page_alloc == 0
    assert free_lists(k) == BOOT_LISTS

    assert k.alloc_pages(GFP_KERNEL, 0) == 12


def test_fail_page_alloc_never_fails_gfp_nofail():
    """
        fail_page_alloc = 1
        alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0)

    Expect success: should_fail_alloc_page returns 0 for __GFP_NOFAIL before
    consulting the fault attributes (#L1162), so the budget is kept.
    """
    k = make_kernel()
    k.fail_page_alloc = 1

    assert k.alloc_pages(GFP_KERNEL | __GFP_NOFAIL, 0) == 12
    assert k.fail_page_alloc == 1


@pytest.mark.parametrize("order", [3, 4, 11])
def test_alloc_pages_order_beyond_max_order(order):
    """
    MAX_ORDER 3 (orders 0..2), all memory free:

        alloc_pages(GFP_KERNEL, order >= 3)

    Expect NULL at once (gfp.h#L180), without a message or any change.
    """
    k = make_kernel()

    assert k.alloc_pages(GFP_KERNEL, order) is None
    assert k.alloc_pages_node(0, GFP_KERNEL, order) is None
    assert k.events == []
    assert free_lists(k) == BOOT_LISTS


def test_alloc_pages_might_sleep_with_irqs_disabled():
    """
    Interrupts disabled:

        alloc_pages(GFP_KERNEL, 0); alloc_pages(GFP_ATOMIC, 0)

    Expect might_sleep_if(__GFP_WAIT) (#L1475) to report the GFP_KERNEL call
    (which still succeeds) and to stay silent for GFP_ATOMIC.
    """
    k = make_kernel()
    k.local_irq_disable()

    assert k.alloc_pages(GFP_KERNEL, 0) == 12
    assert [e.kind for e in k.events] == ["might_sleep"]
    assert k.alloc_pages(GFP_ATOMIC, 0) == 13
    assert len(k.events) == 1


# --- fragmentation with pin_free_page ----------------------------------------

def test_pinned_pages_fragment_memory_so_order_2_fails():
    """
    One page pinned in each order-2 block:

        pfn   0 1 2 3 | 4 5 6 7 | 8 9 10 11 | 12 13 14 15
              . p . . | . p . . | . p .  .  | .  p  .  .

        alloc_pages(GFP_ATOMIC, 2)

    Expect 12 pages free, as four order-0 and four order-1 blocks, yet NULL:
    zone_watermark_ok discounts them (12-4+1-4-8 < 0) and no list at
    order >= 2 has a block.  Order 1 still succeeds.
    """
    k = make_kernel()
    for pfn in (1, 5, 9, 13):
        assert pin_free_page(k, pfn) == pfn
    z = k.zones[0]
    assert z.NR_FREE_PAGES == 12
    assert z.nr_free == [4, 4, 0]
    assert free_lists(k) == [[12, 8, 4, 0], [14, 10, 6, 2], []]

    assert k.alloc_pages(GFP_ATOMIC, 2) is None
    assert not k.zone_watermark_ok(z, 2, 0, 0, 0)
    assert k.__rmqueue_smallest(z, 2) is None
    assert k.alloc_pages(GFP_ATOMIC, 1) == 14


def test_pin_free_page_prepares_the_page_and_refuses_a_busy_one():
    """
        pfn   12  13  14  15
              [  order 2     ]
        pin_free_page(13); pin_free_page(13)

    Expect 13 to become an allocated order-0 page (count 1, no PG_buddy)
    with 12 and 14 left free at orders 0 and 1; the second pin finds 13
    not free and returns None.
    """
    k = make_kernel()

    assert pin_free_page(k, 13) == 13
    assert k._count[13] == 1 and not k.PageBuddy(13)
    assert free_lists(k) == [[12], [14], [8, 4, 0]]
    assert pin_free_page(k, 13) is None
    assert k.zones[0].NR_FREE_PAGES == 15


# --- HIGHMEM zones (i386) ----------------------------------------------------

def test_lowmem_allocations_never_return_highmem_pages():
    """
    i386 HIGHMEM, 8 lowmem and 8 highmem pages:

        pfn   0 ........ 7 | 8 ........ 15
              ZONE_NORMAL  | ZONE_HIGHMEM
        alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0) until NULL

    Expect exactly pfns 0..7: without __GFP_HIGHMEM the zonelist holds only
    ZONE_NORMAL (gfp_zone), so the ninth call fails with 8 highmem pages
    still free.
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True)
    got = []
    while (page := k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, 0)) is not None:
        got.append(page)
        assert len(got) <= 16

    assert sorted(got) == list(range(8))
    assert not any(k.PageHighMem(p) for p in got)
    assert k.zones[1].NR_FREE_PAGES == 8


def test_highmem_allocations_prefer_highmem_then_fall_back():
    """
    i386 HIGHMEM, fresh boot:

        ZONE_NORMAL  free_area[2]: 4 0      ZONE_HIGHMEM free_area[2]: 12 8
        alloc_pages(GFP_HIGHUSER, 2) four times

    Expect 12 and 8 from ZONE_HIGHMEM first (its zonelist is HighMem,
    Normal), then 4 and 0 from ZONE_NORMAL.
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True)

    assert [k.alloc_pages(GFP_HIGHUSER, 2) for _ in range(4)] == [12, 8, 4, 0]
    assert [k.PageHighMem(p) for p in (12, 8, 4, 0)] == [True, True, False, False]


def test_list_del_follows_the_pages_own_links_whatever_order_it_is_told():
    """list_del(&page->lru) (include/linux/list.h) takes no list: a page
    on the order-1 list unlinked as if it were on order 0 leaves the order-1
    list without it and the order-0 list untouched, as in the kernel."""
    from vcpcheck.impl.page_alloc import free_list_add, free_list_del
    k = make_kernel()
    z = k.zones[0]
    k.alloc_pages(GFP_KERNEL, 0)              # splits: order-0 and order-1 buddies listed
    lists = {o: free_list_pages(k, z, o) for o in range(k.MAX_ORDER)}
    assert lists[1] and lists[0]
    p = lists[1][0]
    free_list_del(k, z, 0, p)
    assert free_list_pages(k, z, 1) == lists[1][1:]
    assert free_list_pages(k, z, 0) == lists[0]
    assert (k.lru_next[p], k.lru_prev[p]) == (LIST_POISON1, LIST_POISON2)
    free_list_add(k, z, 1, p)
    assert free_list_pages(k, z, 1) == [p] + lists[1][1:]
