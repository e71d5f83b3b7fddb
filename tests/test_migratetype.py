"""Scenario tests for grouping pages by mobility and the per-cpu lists
(impl/page_alloc.py, impl/gfp.py).

Each expectation was read from mm/page_alloc.c, include/linux/mmzone.h,
include/linux/gfp.h and include/linux/pageblock-flags.h at v2.6.25 before
it was checked against the model; line numbers are v2.6.25's.

Unless a test says otherwise the kernel has 64 pages and MAX_ORDER 3, so
pageblock_order is 2 (MAX_ORDER-1, pageblock-flags.h#L55), a pageblock is
4 pages, and 64 >= 4 * MIGRATE_TYPES (20) turns grouping on
(build_all_zonelists, #L2371).  memmap_init_zone marks every block
MIGRATE_MOVABLE, so the boot frees all sixteen order-2 blocks onto the
movable list, front first in the order freed (LIFO):

    pfn   0..3 | 4..7 | ... | 60..63        free_list[Movable][2]: 60 56 ... 0
          M      M            M            (M: pageblock MIGRATE_MOVABLE)
"""
from __future__ import annotations

import pytest

from conftest import make_kernel
from vcpcheck.impl.gfp import (GFP_HIGHUSER_MOVABLE, GFP_KERNEL, __GFP_COLD,
                               __GFP_MOVABLE, __GFP_NORETRY, __GFP_RECLAIMABLE)
from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.kernel import Kernel, Zone
from vcpcheck.impl.page_alloc import (MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE,
                                      MIGRATE_RESERVE, MIGRATE_UNMOVABLE,
                                      free_list_pages)
from vcpcheck.impl.symbols import KFunc, base_symbols


def grouped(**options):
    values = dict(mem_pages=64)
    values.update(options)
    return make_kernel(**values)


def lists(k, migratetype, zone=0):
    z = k.zones[zone]
    return [free_list_pages(k, z, o, migratetype) for o in range(k.MAX_ORDER)]


def pageblock_types(k):
    return list(k.pageblock_flags)


# --- build_all_zonelists / memmap_init_zone / get_pageblock_migratetype ------

@pytest.mark.parametrize("pages, disabled", [(16, True), (19, True), (20, False)])
def test_build_all_zonelists_disables_grouping_below_five_pageblocks(pages, disabled):
    """
    With pageblock_nr_pages 4, grouping needs 4 * MIGRATE_TYPES = 20 pages.

        build_all_zonelists()   (run at boot)

    Expect grouping off below 20 pages (#L2371), and then only
    MIGRATE_UNMOVABLE's free lists.
    """
    k = make_kernel(mem_pages=pages)
    assert k.page_group_by_mobility_disabled is disabled
    assert k.zones[0].nr_migratetypes() == (1 if disabled else 5)


def test_with_grouping_off_every_allocation_and_free_uses_unmovable_lists():
    """
    The checking bound: 16 pages, grouping off.

        pfn   0..3 | 4..7 | 8..11 | 12..15     free_area[2]: 12 8 4 0

        alloc_pages(GFP_HIGHUSER_MOVABLE, 0); __free_pages(page, 0)

    Expect allocflags_to_migratetype 0 for a movable mask (gfp.h#L112),
    get_pageblock_migratetype 0 for every page (mmzone.h#L52), pfn 12
    taken from and merged back onto the one list per order.
    """
    k = make_kernel()
    assert k.allocflags_to_migratetype(GFP_HIGHUSER_MOVABLE) == MIGRATE_UNMOVABLE
    assert all(k.get_pageblock_migratetype(p) == MIGRATE_UNMOVABLE for p in range(16))
    page = k.alloc_pages(GFP_HIGHUSER_MOVABLE, 0)
    assert page == 12
    assert lists(k, 0) == [[13], [14], [8, 4, 0]]
    k.__free_pages(page, 0)
    assert lists(k, 0) == [[], [], [12, 8, 4, 0]]


def test_memmap_init_zone_marks_blocks_movable_and_boot_lists_them_there():
    """
    64 pages, grouping on.

        boot: memmap_init_zone(), then the bootmem frees

    Expect every pageblock MIGRATE_MOVABLE (#L2547) and all sixteen blocks
    on free_list[MIGRATE_MOVABLE][2], last freed first (__free_one_page
    lists by the pageblock's type, #L454); the other lists empty.
    """
    k = grouped()
    assert pageblock_types(k) == [MIGRATE_MOVABLE] * 16
    assert lists(k, MIGRATE_MOVABLE) == [[], [], list(range(60, -1, -4))]
    for t in (MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_RESERVE):
        assert lists(k, t) == [[], [], []]
    assert k.zones[0].nr_free == [0, 0, 16]


def test_memmap_init_zone_leaves_a_block_holding_only_its_first_page():
    """
    A zone of 61 pages ends one page into the block at pfn 60.

        memmap_init_zone(61, 0, zone, 0)

    Expect that block left as it was (0, MIGRATE_UNMOVABLE): the kernel
    marks the block of each pfn that is not the first of its pageblock
    (#L2547), and pfn 60 is the only one the zone has there.
    """
    k = grouped(mem_pages=61)
    assert pageblock_types(k)[:15] == [MIGRATE_MOVABLE] * 15
    assert pageblock_types(k)[15] == MIGRATE_UNMOVABLE


# --- allocflags_to_migratetype ------------------------------------------------

@pytest.mark.parametrize("gfp, expect", [
    (GFP_KERNEL, MIGRATE_UNMOVABLE),
    (GFP_KERNEL | __GFP_RECLAIMABLE, MIGRATE_RECLAIMABLE),
    (GFP_HIGHUSER_MOVABLE, MIGRATE_MOVABLE),
])
def test_allocflags_to_migratetype(gfp, expect):
    """
        allocflags_to_migratetype(gfp)

    Expect __GFP_MOVABLE << 1 | __GFP_RECLAIMABLE (gfp.h#L116), no warning.
    """
    k = grouped()
    assert k.allocflags_to_migratetype(gfp) == expect
    assert k.events == []


def test_allocflags_to_migratetype_warns_on_both_mobility_bits():
    """
        allocflags_to_migratetype(GFP_KERNEL | __GFP_MOVABLE | __GFP_RECLAIMABLE)

    Expect a WARN (gfp.h#L110) and the value both bits make, 3, which is
    MIGRATE_RESERVE.
    """
    k = grouped()
    got = k.allocflags_to_migratetype(GFP_KERNEL | __GFP_MOVABLE | __GFP_RECLAIMABLE)
    assert got == MIGRATE_RESERVE
    assert [e.kind for e in k.events] == ["WARN"]


# --- __rmqueue_smallest / __rmqueue_fallback / move_freepages_block ------------

def test_rmqueue_smallest_looks_at_its_own_migratetype_only():
    """
    All free blocks are movable.

        __rmqueue_smallest(zone, 0, MIGRATE_UNMOVABLE)
        __rmqueue_smallest(zone, 0, MIGRATE_MOVABLE)

    Expect None from the empty unmovable lists (#L665), then pfn 60 from
    the movable list, split onto the movable lists (expand, #L589).
    """
    k = grouped()
    z = k.zones[0]
    assert k.__rmqueue_smallest(z, 0, MIGRATE_UNMOVABLE) is None
    assert k.__rmqueue_smallest(z, 0, MIGRATE_MOVABLE) == 60
    assert lists(k, MIGRATE_MOVABLE) == [[61], [62], list(range(56, -1, -4))]


def test_rmqueue_fallback_steals_a_whole_pageblock():
    """
        pfn   ... 56..59 | 60..63
                  M      | M            free_list[Movable][2]: 60 56 ... 0

        __rmqueue(zone, 0, MIGRATE_UNMOVABLE)

    Expect __rmqueue_fallback to take the largest block, order 2 (= the
    pageblock order, #L772), from the movable list (fallbacks[UNMOVABLE]
    tries RECLAIMABLE first, #L688), move its pageblock's free pages to the
    unmovable lists and mark the block MIGRATE_UNMOVABLE (#L795-L813):
    pfn 60 returned, its split halves 62 (order 1) and 61 (order 0) on the
    unmovable lists.
    """
    k = grouped()
    z = k.zones[0]
    assert k.__rmqueue(z, 0, MIGRATE_UNMOVABLE) == 60
    assert pageblock_types(k)[15] == MIGRATE_UNMOVABLE
    assert lists(k, MIGRATE_UNMOVABLE) == [[61], [62], []]
    assert lists(k, MIGRATE_MOVABLE) == [[], [], list(range(56, -1, -4))]
    assert z.nr_free == [1, 1, 15] and z.NR_FREE_PAGES == 63


def test_rmqueue_fallback_takes_a_small_block_without_stealing():
    """
    Every page allocated movable, then pfn 5 freed:

        pfn   4   5   6   7
              a   .   a   a         free_list[Movable][0]: 5 (block M)

        __rmqueue(zone, 0, MIGRATE_UNMOVABLE)

    Expect pfn 5: order 0 is below pageblock_order / 2 (#L795), so nothing
    moves and the pageblock stays MIGRATE_MOVABLE.
    """
    k = grouped()
    z = k.zones[0]
    for _ in range(16):
        assert k.__rmqueue(z, 2, MIGRATE_MOVABLE) is not None
    k.__free_one_page(5, z, 0)
    assert lists(k, MIGRATE_MOVABLE)[0] == [5]
    assert k.__rmqueue(z, 0, MIGRATE_UNMOVABLE) == 5
    assert pageblock_types(k)[1] == MIGRATE_MOVABLE
    assert z.NR_FREE_PAGES == 0


@pytest.mark.parametrize("free, claimed", [((5,), False), ((5, 7), True)])
def test_rmqueue_fallback_steals_for_reclaimable_even_when_small(free, claimed):
    """
    Every page allocated movable, then pfn 5 (and 7) freed:

        pfn   4   5   6   7
              a   .   a   .         free_list[Movable][0]: 7 5

        __rmqueue(zone, 0, MIGRATE_RECLAIMABLE)

    Expect the block's free pages moved to the reclaimable lists (a
    reclaimable request always moves, #L796), and the pageblock claimed
    only when the pages moved are at least half of it, 2 of 4 (#L801).
    The front page is returned; the other stays on the reclaimable list.
    """
    k = grouped()
    z = k.zones[0]
    for _ in range(16):
        k.__rmqueue(z, 2, MIGRATE_MOVABLE)
    for pfn in free:
        k.__free_one_page(pfn, z, 0)
    assert k.__rmqueue(z, 0, MIGRATE_RECLAIMABLE) == free[-1]
    assert lists(k, MIGRATE_RECLAIMABLE)[0] == list(free[:-1])
    assert lists(k, MIGRATE_MOVABLE)[0] == []
    assert pageblock_types(k)[1] == (MIGRATE_RECLAIMABLE if claimed else MIGRATE_MOVABLE)


def test_move_freepages_block_stops_at_the_zone_end():
    """
    66 pages: the last pageblock, pfn 64..67, is cut by the zone's end.

        move_freepages_block(zone, 64, MIGRATE_UNMOVABLE)
        move_freepages_block(zone, 8, MIGRATE_UNMOVABLE)

    Expect 0 for the cut block (#L755) and 4 pages for block 8, now on the
    unmovable order-2 list.
    """
    k = grouped(mem_pages=66)
    z = k.zones[0]
    assert k.move_freepages_block(z, 64, MIGRATE_UNMOVABLE) == 0
    assert k.move_freepages_block(z, 9, MIGRATE_UNMOVABLE) == 4
    assert lists(k, MIGRATE_UNMOVABLE)[2] == [8]


def test_free_one_page_lists_by_the_pageblock_type():
    """
    After the fallback above made block 60 unmovable:

        __free_pages(60, 0)

    Expect pfn 60 merged with 61 and 62 back into the order-2 block on the
    unmovable list (#L454 uses get_pageblock_migratetype of the page).
    """
    k = grouped()
    page = k.alloc_pages(GFP_KERNEL, 0)
    assert page == 60
    k.__free_pages(page, 0)
    assert lists(k, MIGRATE_UNMOVABLE) == [[], [], [60]]


# --- setup_zone_migrate_reserve ---------------------------------------------------

def test_setup_zone_migrate_reserve_reserves_from_the_zone_start():
    """
    pages_min 5 rounds up to two pageblocks.

        setup_zone_migrate_reserve(zone)   (run at boot)

    Expect blocks 0 and 4 MIGRATE_RESERVE with their free pages on the
    reserve list (#L2484-L2490), the rest still movable.
    """
    k = grouped(watermark_pages=5)
    assert pageblock_types(k)[:3] == [MIGRATE_RESERVE, MIGRATE_RESERVE, MIGRATE_MOVABLE]
    assert lists(k, MIGRATE_RESERVE) == [[], [], [4, 0]]
    assert len(lists(k, MIGRATE_MOVABLE)[2]) == 14


def test_setup_zone_migrate_reserve_gives_back_surplus_reserve_blocks():
    """
    Two reserve blocks, then pages_min drops to 1 (one block).

        setup_zone_migrate_reserve(zone)

    Expect block 0 kept, block 4 back to MIGRATE_MOVABLE with its pages
    (#L2495-L2498).
    """
    k = grouped(watermark_pages=5)
    z = k.zones[0]
    z.pages_min = 1
    k.setup_zone_migrate_reserve(z)
    assert pageblock_types(k)[:2] == [MIGRATE_RESERVE, MIGRATE_MOVABLE]
    assert lists(k, MIGRATE_RESERVE)[2] == [0]
    assert lists(k, MIGRATE_MOVABLE)[2][0] == 4


def test_rmqueue_fallback_uses_the_reserve_last():
    """
    Block 0 reserved, the other fifteen taken as movable:

        pfn   0..3 | 4..63
              R    | a a a ...

        __rmqueue(zone, 2, MIGRATE_UNMOVABLE)

    Expect pfn 0 from MIGRATE_RESERVE, which fallbacks[] skips in the loop
    and __rmqueue_fallback tries only at the end (#L827).
    """
    k = grouped(watermark_pages=4)
    z = k.zones[0]
    for _ in range(15):
        assert k.__rmqueue(z, 2, MIGRATE_MOVABLE) not in (None, 0)
    assert k.__rmqueue(z, 2, MIGRATE_UNMOVABLE) == 0
    assert k.__rmqueue(z, 0, MIGRATE_UNMOVABLE) is None


@pytest.mark.parametrize("name, pages, lowmem, expect", [
    ("Normal", 229376, 229376, 957),          # 1 GiB i386: 896 MiB lowmem
    ("HighMem", 32768, 229376, 32),
    ("HighMem", 262144, 229376, 128),
])
def test_setup_per_zone_pages_min(name, pages, lowmem, expect):
    """
    min_free_kbytes = int_sqrt(lowmem_kbytes * 16) (#L4171): for 896 MiB,
    3831 KiB, 957 pages.

        setup_per_zone_pages_min(min_free_kbytes)

    Expect the lowmem zone to get its share by size; a HighMem zone
    present/1024 clamped to [32, 128] (#L4112-L4120).
    """
    from math import isqrt
    k = grouped()
    k.zones = [Zone(name, 0, 0, pages, 3)]
    if name == "HighMem":
        k.zones.insert(0, Zone("Normal", 0, 0, lowmem, 3))
    k.setup_zone_migrate_reserve = lambda zone: None
    k.setup_per_zone_pages_min(isqrt(lowmem * 4 * 16))
    assert k.zones[-1].pages_min == expect


# --- per-cpu lists -------------------------------------------------------------------

@pytest.mark.parametrize("pages, batch", [(64, 0), (16384, 3), (229376, 31),
                                          (1 << 20, 31)])
def test_zone_batchsize(pages, batch):
    """
        zone_batchsize(zone)

    Expect present/1024 capped at 512 KiB of pages, quartered, at least 1,
    then (1 << (fls(b + b/2) - 1)) - 1 (#L2575-L2603): 0 for a tiny zone,
    31 from 512 MiB up.
    """
    k = grouped()
    assert k.zone_batchsize(Zone("Normal", 0, 0, pages, 3)) == batch


def pcp_kernel():
    """16384 pages, MAX_ORDER 11, per-cpu lists: batch 3, high 18."""
    return Kernel(Kconfig.make(mem_pages=16384, FORCE_MAX_ZONEORDER=11,
                               per_cpu_pages=True))


def test_per_cpu_pages_are_off_at_the_checking_bound():
    """Expect no per-cpu list without the model parameter (kconfig)."""
    assert make_kernel().pcp == []


def test_buffered_rmqueue_refills_the_pcp_list_with_a_batch():
    """
    16 pageblocks of 1024 pages, all movable and free; the pcp list empty.

        alloc_pages(GFP_KERNEL, 0)

    Expect rmqueue_bulk to take a batch of 3 unmovable pages (#L1068):
    the fallback steals block 15360 (the last freed), so 15360, 15361,
    15362 are put on the list in that order with private MIGRATE_UNMOVABLE
    (#L876); the first is handed out, two stay.
    """
    k = pcp_kernel()
    p = k.pcp[0]
    assert (p.count, p.high, p.batch, p.list) == (0, 18, 3, [])
    page = k.alloc_pages(GFP_KERNEL, 0)
    assert page == 15360
    assert (p.count, p.list) == (2, [15361, 15362])
    assert [k.private[q] for q in p.list] == [MIGRATE_UNMOVABLE] * 2
    assert k.pageblock_flags[15] == MIGRATE_UNMOVABLE


def test_buffered_rmqueue_refills_when_no_page_of_the_type_is_listed():
    """
    pcp list: 15360 15361 15362, all unmovable (15360 freed hot).

        alloc_pages(GFP_HIGHUSER_MOVABLE, 0)

    Expect no movable page on the list, so another batch of movable pages,
    14336..14338, put in front (#L1083-L1087); 14336 is taken.
    """
    k = pcp_kernel()
    p = k.pcp[0]
    k.__free_pages(k.alloc_pages(GFP_KERNEL, 0), 0)
    assert (p.count, p.list) == (3, [15360, 15361, 15362])
    page = k.alloc_pages(GFP_HIGHUSER_MOVABLE, 0)
    assert page == 14336
    assert p.list == [14337, 14338, 15360, 15361, 15362] and p.count == 5


def test_buffered_rmqueue_cold_takes_from_the_back():
    """
    pcp list: 15361 15362 (unmovable).

        alloc_pages(GFP_KERNEL | __GFP_COLD, 0)

    Expect the last page of the type, 15362 (#L1074).
    """
    k = pcp_kernel()
    k.alloc_pages(GFP_KERNEL, 0)
    assert k.alloc_pages(GFP_KERNEL | __GFP_COLD, 0) == 15362


def test_free_hot_cold_page_gives_a_batch_back_at_high():
    """
    high 4, batch 2 (as setup_pagelist_highmark would set them); four
    allocated pages a, b, c, d freed hot one after another.

        __free_pages(a..d, 0)

    Expect each put at the front (#L1007); at count 4 = high, the two at the
    tail, a then b, go back to the buddy lists (#L1011-L1013): list d c,
    count 2, a and b on the buddy lists again.
    """
    k = pcp_kernel()
    p = k.pcp[0]
    pages = [k.alloc_pages(GFP_KERNEL, 0) for _ in range(4)]
    k.drain_all_pages()
    p.high, p.batch = 4, 2
    before = k.zones[0].NR_FREE_PAGES
    for q in pages:
        k.__free_pages(q, 0)
    a, b, c, d = pages
    assert p.list == [d, c] and p.count == 2
    assert k.zones[0].NR_FREE_PAGES == before + 2
    assert all(k._count[q] == 0 for q in pages)


def test_drain_all_pages_empties_the_list():
    """
        drain_all_pages()

    Expect every page on the list back with the buddy allocator, merged:
    after the one allocation is freed and the list drained, block 15360 is
    one free order-10 block again (#L910-L932).
    """
    k = pcp_kernel()
    page = k.alloc_pages(GFP_KERNEL, 0)
    k.__free_pages(page, 0)
    k.drain_all_pages()
    assert k.pcp[0].count == 0 and k.pcp[0].list == []
    assert k.zones[0].NR_FREE_PAGES == 16384
    assert k.PageBuddy(15360) and k.private[15360] == 10


# --- __alloc_pages: direct reclaim --------------------------------------------------

def reclaiming_kernel(freed):
    """16 pages; try_to_free_pages frees the held blocks in ``freed``."""
    def try_to_free_pages(k, zonelist, order, gfp_mask):
        if not freed:
            return 0
        k.__free_pages(freed.pop(0), 2)
        return 1
    symbols = dict(base_symbols(Kconfig.make(mem_pages=16, FORCE_MAX_ZONEORDER=3)))
    symbols["try_to_free_pages"] = KFunc("try_to_free_pages", try_to_free_pages, "test")
    return Kernel(Kconfig.make(mem_pages=16, FORCE_MAX_ZONEORDER=3), symbols)


def test_alloc_pages_retries_after_reclaim_makes_progress():
    """
    All four order-2 blocks allocated:

        pfn   0..3 | 4..7 | 8..11 | 12..15
              a      a      a       a

        alloc_pages(GFP_KERNEL, 2)   with reclaim freeing block 8

    Expect try_to_free_pages to run (#L1576) and the retry to return 8
    (#L1586-L1590), with no failure warning.
    """
    freed = []
    k = reclaiming_kernel(freed)
    held = [k.alloc_pages(GFP_KERNEL, 2) for _ in range(4)]
    freed.append(held[1])
    assert k.alloc_pages(GFP_KERNEL, 2) == held[1]
    assert not [e for e in k.events if "failure" in e.message]


def test_alloc_pages_noretry_fails_after_one_reclaim_round():
    """
    As above, but reclaim frees order-2 blocks one at a time and the
    request is order 3 (nothing of that order can form in 16 pages with
    MAX_ORDER 3), __GFP_NORETRY.

        alloc_pages(GFP_KERNEL | __GFP_NORETRY, 2) with all blocks held
        and reclaim making progress without freeing anything usable

    Expect one reclaim round, then failure without looping (#L1619).
    """
    calls = []

    def try_to_free_pages(k, zonelist, order, gfp_mask):
        calls.append(order)
        return 1
    cfg = Kconfig.make(mem_pages=16, FORCE_MAX_ZONEORDER=3)
    symbols = dict(base_symbols(cfg))
    symbols["try_to_free_pages"] = KFunc("try_to_free_pages", try_to_free_pages, "test")
    k = Kernel(cfg, symbols)
    for _ in range(4):
        k.alloc_pages(GFP_KERNEL, 2)
    assert k.alloc_pages(GFP_KERNEL | __GFP_NORETRY, 2) is None
    assert calls == [2]
