"""The buddy allocator of mm/page_alloc.c (v2.6.25).

Modelled as in the kernel: free_area[order] lists threaded through the
pages' lru words (LIFO: frees and splits add at the front, allocation takes
the first entry), PG_buddy with the order in private on the first page of a
free block, __rmqueue/expand splitting off upper halves, __free_one_page
merging with the buddy at pfn ^ (1 << order), prep_new_page and
free_pages_check with bad_page, compound pages.

Grouping pages by mobility is modelled as 2.6.25 has it: migrate types
(MIGRATE_UNMOVABLE, RECLAIMABLE, MOVABLE, RESERVE; ISOLATE is counted in
MIGRATE_TYPES but never used), one free list per migrate type and order,
the migrate type of each pageblock, allocflags_to_migratetype,
__rmqueue_fallback with fallbacks[] and its pageblock stealing,
setup_zone_migrate_reserve, and page_group_by_mobility_disabled when memory
is smaller than pageblock_nr_pages * MIGRATE_TYPES (build_all_zonelists).
At the checking bound (16 pages) grouping is therefore off, as the kernel
would turn it off, and every block lives on MIGRATE_UNMOVABLE's lists.

Simplifications (each a labelled shim):
  * customised: per-cpu page lists (struct per_cpu_pages, one CPU) exist
    only with the model parameter per_cpu_pages=y (vcpcheck simulate).
    Without it, order-0 allocations and frees go straight to the buddy
    lists, so they merge earlier than in the kernel (§2.2 of the reference).
  * customised: pageblock_order is MAX_ORDER-1 (!CONFIG_HUGETLB_PAGE,
    include/linux/pageblock-flags.h#L55).
  * customised: reclaim and the OOM killer.  The model has no page cache and
    no process to kill, so where 2.6.25 would reclaim, OOM-kill and retry,
    __alloc_pages fails (NULL) and logs it; this keeps failure paths
    reachable instead of looping forever.
  * customised: a buddy beyond the end of mem_map is "not a buddy" (the
    kernel has reserved struct pages there).
"""
from __future__ import annotations

from .gfp import (__GFP_COLD, __GFP_COMP, __GFP_HIGH, __GFP_HIGHMEM,
                  __GFP_NOFAIL, __GFP_NORETRY, __GFP_NOWARN, __GFP_REPEAT,
                  __GFP_WAIT,
                  __GFP_ZERO, gfp_to_str)
from .kernel import LIST_POISON1, LIST_POISON2, MIGRATETYPE_SENTINEL_STRIDE
from .symbols import kfunc

_SRC = "mm/page_alloc.c (v2.6.25)"

# mm/page_alloc.c#L1204 alloc_flags
ALLOC_NO_WATERMARKS = 0x01
ALLOC_WMARK_MIN = 0x02
ALLOC_WMARK_LOW = 0x04
ALLOC_WMARK_HIGH = 0x08
ALLOC_HARDER = 0x10
ALLOC_HIGH = 0x20
ALLOC_CPUSET = 0x40
PAGE_ALLOC_COSTLY_ORDER = 3

# include/linux/mmzone.h#L37-L42
MIGRATE_UNMOVABLE = 0
MIGRATE_RECLAIMABLE = 1
MIGRATE_MOVABLE = 2
MIGRATE_RESERVE = 3
MIGRATE_ISOLATE = 4
MIGRATE_TYPES = 5
MIGRATETYPE_NAMES = ("Unmovable", "Reclaimable", "Movable", "Reserve", "Isolate")

# mm/page_alloc.c#L688: the lists fallen back to, in order, when a migrate
# type's own lists are empty.
fallbacks = {
    MIGRATE_UNMOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE, MIGRATE_RESERVE),
    MIGRATE_RECLAIMABLE: (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RESERVE),
    MIGRATE_MOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, MIGRATE_RESERVE),
    MIGRATE_RESERVE: (MIGRATE_RESERVE, MIGRATE_RESERVE, MIGRATE_RESERVE),
}


# --- free_area lists (include/linux/list.h list_add / list_del) ------------

def free_list_add(k, zone, order, page, migratetype=MIGRATE_UNMOVABLE):
    """list_add(&page->lru, &zone->free_area[order].free_list[migratetype]):
    at the front."""
    i = migratetype * k.MAX_ORDER + order
    s = zone.sentinel(order, migratetype)
    nxt = zone.head_next[i]
    k.lru_next[page], k.lru_prev[page] = nxt, s
    if nxt == s:
        zone.head_prev[i] = page
    else:
        k.lru_prev[nxt] = page
    zone.head_next[i] = page


def free_list_first(k, zone, order, migratetype):
    """The first page of free_area[order].free_list[migratetype], or None
    if it is empty (or, with grouping off, does not exist)."""
    i = migratetype * k.MAX_ORDER + order
    if i >= len(zone.head_next):
        return None
    page = zone.head_next[i]
    return None if page < 0 else page


def free_list_del(k, zone, order, page):
    """list_del(&page->lru): unlink and poison the page's lru words.

    As list_del, it follows the page's own links, whatever list they lead
    to: ``zone`` and ``order`` name the list the caller means, but a page
    on another order's list is unlinked from that one (a negative link is
    the head of the list it encodes, Zone.sentinel)."""
    prv, nxt = k.lru_prev[page], k.lru_next[page]
    if prv < 0:
        z, i = _list_head(k, prv)
        z.head_next[i] = nxt
    else:
        k.lru_next[prv] = nxt
    if nxt < 0:
        z, i = _list_head(k, nxt)
        z.head_prev[i] = prv
    else:
        k.lru_prev[nxt] = prv
    k.lru_next[page], k.lru_prev[page] = LIST_POISON1, LIST_POISON2


def _list_head(k, link):
    """(zone, list index) of the free list whose head a negative link is
    (Zone.sentinel: the index is migratetype * MAX_ORDER + order)."""
    mt, rest = divmod(-1 - link, MIGRATETYPE_SENTINEL_STRIDE)
    zi, order = divmod(rest, k.MAX_ORDER)
    return k.zones[zi], mt * k.MAX_ORDER + order


def free_list_pages(k, zone, order, migratetype=MIGRATE_UNMOVABLE):
    """The pages on free_area[order].free_list[migratetype], front first
    (for checks and pictures)."""
    s = zone.sentinel(order, migratetype)
    i = migratetype * k.MAX_ORDER + order
    if i >= len(zone.head_next):
        return []
    out, page, seen = [], zone.head_next[i], 0
    while page != s:
        out.append(page)
        seen += 1
        if seen > k.nr_pages or not 0 <= page < k.nr_pages:
            out.append(None)        # corrupt list: cycle or wild link
            break
        page = k.lru_next[page]
    return out


# --- pageblocks and grouping by mobility -------------------------------------

@kfunc("include/linux/mmzone.h (v2.6.25)")
def get_pageblock_migratetype(k, page):
    """get_pageblock_migratetype(): MIGRATE_UNMOVABLE with grouping off,
    else the pageblock's PB_migrate bits (mmzone.h#L50-L56)."""
    if k.page_group_by_mobility_disabled:
        return MIGRATE_UNMOVABLE
    return k.pageblock_flags[page >> k.pageblock_order]


@kfunc(_SRC)
def set_pageblock_migratetype(k, page, migratetype):
    """set_pageblock_migratetype(): write the pageblock's PB_migrate bits
    (#L171)."""
    k.pageblock_flags[page >> k.pageblock_order] = migratetype


@kfunc(_SRC)
def memmap_init_zone(k, size, nid, zone, start_pfn):
    """memmap_init_zone(): mark pageblocks MIGRATE_MOVABLE (#L2515-L2558).

    The kernel marks the block of every pfn that is not the first of its
    pageblock (#L2547, ``if ((pfn & (pageblock_nr_pages-1)))``), so a block
    is marked unless the zone holds its first page only.  The model makes
    that test once per block instead of once per pfn; the struct page
    fields the loop also initialises are set by Kernel.__init__."""
    end_pfn = start_pfn + size
    nr = k.pageblock_nr_pages
    block = start_pfn & ~(nr - 1)
    while block < end_pfn:
        lo, hi = max(block, start_pfn), min(block + nr, end_pfn)
        if hi - lo > 1 or lo & (nr - 1):
            k.set_pageblock_migratetype(lo, MIGRATE_MOVABLE)
        block += nr


@kfunc(_SRC)
def build_all_zonelists(k):
    """build_all_zonelists(): grouping by mobility is disabled when the
    pages in the system are fewer than pageblock_nr_pages * MIGRATE_TYPES
    (#L2350-L2383).  vm_total_pages is nr_free_pagecache_pages(): each
    zone's present pages less its pages_high, 0 this early in boot."""
    vm_total_pages = sum(z.spanned_pages for z in k.zones)
    k.page_group_by_mobility_disabled = (
        vm_total_pages < k.pageblock_nr_pages * MIGRATE_TYPES)


@kfunc(_SRC)
def zone_batchsize(k, zone):
    """zone_batchsize(): about a thousandth of the zone, at most 512 KiB,
    quartered and clamped to 2^n - 1 (#L2575-L2603)."""
    batch = zone.spanned_pages // 1024
    if batch * k.PAGE_SIZE > 512 * 1024:
        batch = (512 * 1024) // k.PAGE_SIZE
    batch //= 4
    if batch < 1:
        batch = 1
    return (1 << ((batch + batch // 2).bit_length() - 1)) - 1


@kfunc(_SRC)
def setup_pageset(k, p, batch):
    """setup_pageset(): count 0, high 6 * batch, batch at least 1 (#L2605)."""
    p.count, p.high, p.batch, p.list = 0, 6 * batch, max(1, batch), []


@kfunc(_SRC)
def zone_pcp_init(k, zone):
    """zone_pcp_init(): the zone's per-cpu pageset (#L2799), one CPU.

    customised: only with the model parameter per_cpu_pages=y."""
    if not k.cfg.per_cpu_pages:
        return
    from .kernel import PerCpuPages
    p = PerCpuPages()
    k.setup_pageset(p, k.zone_batchsize(zone))
    k.pcp.append(p)


@kfunc(_SRC)
def setup_zone_migrate_reserve(k, zone):
    """setup_zone_migrate_reserve(): mark roundup(pages_min,
    pageblock_nr_pages) >> pageblock_order movable pageblocks, from the
    zone's start, MIGRATE_RESERVE and move their free pages there; give
    back reserve blocks beyond that number (#L2462-L2508)."""
    nr = k.pageblock_nr_pages
    reserve = ((zone.pages_min + nr - 1) // nr * nr) >> k.pageblock_order
    for pfn in range(zone.zone_start_pfn, zone.end_pfn(), nr):
        if k.PageReserved(pfn):
            continue
        block_migratetype = k.get_pageblock_migratetype(pfn)
        if reserve > 0 and block_migratetype == MIGRATE_RESERVE:
            reserve -= 1
            continue
        if reserve > 0 and block_migratetype == MIGRATE_MOVABLE:
            k.set_pageblock_migratetype(pfn, MIGRATE_RESERVE)
            k.move_freepages_block(zone, pfn, MIGRATE_RESERVE)
            reserve -= 1
            continue
        if block_migratetype == MIGRATE_RESERVE:
            k.set_pageblock_migratetype(pfn, MIGRATE_MOVABLE)
            k.move_freepages_block(zone, pfn, MIGRATE_MOVABLE)


@kfunc(_SRC)
def setup_per_zone_pages_min(k, min_free_kbytes):
    """setup_per_zone_pages_min(): share min_free_kbytes among the lowmem
    zones by size; a HighMem zone gets present/1024 clamped to [32, 128];
    then setup_zone_migrate_reserve() (#L4085-L4140).

    customised: the kernel reads the global min_free_kbytes; the model
    passes it.  pages_low and pages_high are derived from pages_min where
    they are used (_mark)."""
    pages_min = min_free_kbytes >> (k.PAGE_SHIFT - 10)
    lowmem_pages = sum(z.spanned_pages for z in k.zones if z.name != "HighMem")
    for zone in k.zones:
        if zone.name == "HighMem":
            zone.pages_min = min(max(zone.spanned_pages // 1024, 32), 128)
        else:
            zone.pages_min = pages_min * zone.spanned_pages // lowmem_pages
        k.setup_zone_migrate_reserve(zone)


@kfunc(_SRC)
def init_per_zone_pages_min(k):
    """init_per_zone_pages_min(): min_free_kbytes = int_sqrt(lowmem_kbytes
    * 16), clamped to [128, 65536], then setup_per_zone_pages_min()
    (#L4164-L4180).  Returns min_free_kbytes."""
    from math import isqrt
    lowmem_kbytes = sum(z.spanned_pages for z in k.zones
                        if z.name != "HighMem") * (k.PAGE_SIZE >> 10)
    min_free_kbytes = min(max(isqrt(lowmem_kbytes * 16), 128), 65536)
    k.setup_per_zone_pages_min(min_free_kbytes)
    return min_free_kbytes


@kfunc("mm/vmscan.c (v2.6.25)")
def try_to_free_pages(k, zonelist, order, gfp_mask):
    """try_to_free_pages(): direct reclaim; returns whether it made progress
    (vmscan.c#L1257).

    customised: the model has no page cache or slab to shrink, so reclaim
    finds nothing (0).  ``vcpcheck simulate`` links in its own, which
    reclaims the workload's page cache."""
    return 0


# --- bad_page and compound pages ------------------------------------------

@kfunc(_SRC)
def bad_range(k, zone, page):
    """bad_range(): page outside the zone's span or not a valid pfn (#L207)."""
    if not k.cfg.DEBUG_VM:
        return False
    return not (zone.zone_start_pfn <= page < zone.end_pfn()) or not k.pfn_valid(page)


@kfunc(_SRC)
def bad_page(k, page):
    """bad_page(): report, then clear the bad-page flags and counts (#L223)."""
    k.report("bad_page", "bad_page",
             f"Bad page state in process '{k.current_comm()}' page:pfn {page} "
             f"flags:{k.flags[page]:#x} mapping:{k.mapping[page]:#x} "
             f"mapcount:{k._mapcount[page] + 1} count:{k._count[page]}")
    k.flags[page] &= ~k.PAGE_FLAGS_CLEAR_WHEN_BAD
    k._count[page] = 0
    k._mapcount[page] = -1
    k.mapping[page] = 0
    k.tainted = True


@kfunc(_SRC)
def free_compound_page(k, page):
    """free_compound_page(): the default compound dtor (#L270)."""
    k.__free_pages_ok(page, k.compound_order(page))


@kfunc(_SRC)
def prep_compound_page(k, page, order):
    """prep_compound_page(): dtor, order, PG_head, tails -> head (#L275)."""
    k.set_compound_page_dtor(page, "free_compound_page")
    k.set_compound_order(page, order)
    k.__SetPageHead(page)
    for i in range(1, 1 << order):
        p = page + i
        k.__SetPageTail(p)
        k.private[p] = k.page_to_word(page)      # p->first_page = page


@kfunc(_SRC)
def destroy_compound_page(k, page, order):
    """destroy_compound_page(): check and clear head/tail marks (#L291).

    Reports bad_page(head) for a wrong stored order, a head that is not
    PageHead, and each tail that is not PageTail or points elsewhere;
    the free goes on regardless.
    """
    if k.compound_order(page) != order:
        k.bad_page(page)
    if not k.PageHead(page):
        k.bad_page(page)
    k.__ClearPageHead(page)
    head_word = k.page_to_word(page)
    for i in range(1, 1 << order):
        p = k.deref(page + i, "destroy_compound_page")
        if not k.PageTail(p) or k.private[p] != head_word:
            k.bad_page(page)
        k.__ClearPageTail(p)


@kfunc(_SRC)
def prep_zero_page(k, page, order, gfp_flags):
    """prep_zero_page(): clear_highpage() each page (#L312)."""
    k.VM_BUG_ON(gfp_flags & __GFP_HIGHMEM and k.in_interrupt(),
                "prep_zero_page", "mm/page_alloc.c:318")
    for i in range(1 << order):
        k.clear_highpage(page + i)


@kfunc(_SRC)
def set_page_order(k, page, order):
    """set_page_order(): private = order, __SetPageBuddy (#L325)."""
    k.set_page_private(page, order)
    k.__SetPageBuddy(page)


@kfunc(_SRC)
def rmv_page_order(k, page):
    """rmv_page_order(): __ClearPageBuddy, private = 0 (#L331)."""
    k.__ClearPageBuddy(page)
    k.set_page_private(page, 0)


@kfunc(_SRC)
def __page_find_buddy(k, page, page_idx, order):
    """__page_find_buddy(): page + ((page_idx ^ (1 << order)) - page_idx) (#L355)."""
    return page + ((page_idx ^ (1 << order)) - page_idx)


@kfunc(_SRC)
def __find_combined_index(k, page_idx, order):
    """__find_combined_index(): page_idx & ~(1 << order) (#L363)."""
    return page_idx & ~(1 << order)


@kfunc(_SRC)
def page_is_buddy(k, page, buddy, order):
    """page_is_buddy(): same zone, PG_buddy and the same order (#L381).

    BUG (always on) if such a buddy has a nonzero count.
    """
    if not 0 <= buddy < k.nr_pages:      # customised: past the end of mem_map
        return False
    if k.zone_of(page) is not k.zone_of(buddy):
        return False
    if k.PageBuddy(buddy) and k.page_order(buddy) == order:
        k.BUG_ON(k.page_count(buddy) != 0, "page_is_buddy",
                 "mm/page_alloc.c:392")
        return True
    return False


@kfunc(_SRC)
def __free_one_page(k, page, zone, order):
    """__free_one_page(): merge with free buddies and list the block on the
    free list of its pageblock's migrate type (#L421-L456)."""
    migratetype = k.get_pageblock_migratetype(page)
    if k.PageCompound(page):
        k.destroy_compound_page(page, order)
    page_idx = k.page_to_pfn(page) & ((1 << k.MAX_ORDER) - 1)
    k.VM_BUG_ON(page_idx & ((1 << order) - 1), "__free_one_page",
                "mm/page_alloc.c:434")
    k.VM_BUG_ON(k.bad_range(zone, page), "__free_one_page",
                "mm/page_alloc.c:435")
    zone.NR_FREE_PAGES += 1 << order
    while order < k.MAX_ORDER - 1:
        buddy = k.__page_find_buddy(page, page_idx, order)
        if not k.page_is_buddy(page, buddy, order):
            break
        free_list_del(k, zone, order, buddy)
        zone.nr_free[order] -= 1
        k.rmv_page_order(buddy)
        combined_idx = k.__find_combined_index(page_idx, order)
        page = page + (combined_idx - page_idx)
        page_idx = combined_idx
        order += 1
    k.set_page_order(page, order)
    free_list_add(k, zone, order, page, migratetype)
    zone.nr_free[order] += 1


@kfunc(_SRC)
def free_pages_check(k, page):
    """free_pages_check(): bad_page on a busy page; returns PageReserved (#L459)."""
    k.deref(page, "free_pages_check")
    if (k.page_mapcount(page) or k.mapping[page] or k.page_count(page) != 0
            or k.flags[page] & k.PAGE_FLAGS_CHECK_AT_FREE):
        k.bad_page(page)
    if k.PageDirty(page):
        k.__ClearPageDirty(page)
    return k.PageReserved(page)


@kfunc(_SRC)
def __free_pages_ok(k, page, order):
    """__free_pages_ok(): check every page, skip if any is reserved (#L524)."""
    k.check_order(order, "__free_pages_ok")
    reserved = 0
    for i in range(1 << order):
        reserved += k.free_pages_check(k.deref(page + i, "__free_pages_ok"))
    if reserved:
        return
    k.__free_one_page(page, k.page_zone(page), order)


@kfunc(_SRC)
def __free_pages_bootmem(k, page, order):
    """__free_pages_bootmem(): hand a boot-time block to the allocator (#L549)."""
    for i in range(1 << order):
        k.__ClearPageReserved(page + i)
    k.set_page_count(page, 1)
    k.__free_pages(page, order)


@kfunc(_SRC)
def expand(k, zone, page, low, high, migratetype=MIGRATE_UNMOVABLE):
    """expand(): put upper halves back on ``migratetype``'s lists, keep the
    lowest 2^low pages (#L589)."""
    size = 1 << high
    while high > low:
        high -= 1
        size >>= 1
        k.VM_BUG_ON(k.bad_range(zone, page + size), "expand",
                    "mm/page_alloc.c:598")
        free_list_add(k, zone, high, page + size, migratetype)
        zone.nr_free[high] += 1
        k.set_page_order(page + size, high)


@kfunc(_SRC)
def prep_new_page(k, page, order, gfp_flags):
    """prep_new_page(): check the first page, reset it, zero, compound (#L609).

    Returns 1 for a PG_reserved page, which the caller skips.
    """
    if (k.page_mapcount(page) or k.mapping[page] or k.page_count(page) != 0
            or k.flags[page] & k.PAGE_FLAGS_CHECK_AT_PREP):
        k.bad_page(page)
    if k.PageReserved(page):
        return 1
    k.flags[page] &= ~(1 << k.PG_uptodate | 1 << k.PG_error
                       | 1 << k.PG_readahead | 1 << k.PG_referenced
                       | 1 << k.PG_arch_1 | 1 << k.PG_owner_priv_1
                       | 1 << k.PG_mappedtodisk)
    k.set_page_private(page, 0)
    k.set_page_refcounted(page)
    if gfp_flags & __GFP_ZERO:
        k.prep_zero_page(page, order, gfp_flags)
    if order and gfp_flags & __GFP_COMP:
        k.prep_compound_page(page, order)
    return 0


@kfunc(_SRC)
def __rmqueue_smallest(k, zone, order, migratetype=MIGRATE_UNMOVABLE):
    """__rmqueue_smallest(): the first block of the smallest order that fits
    on ``migratetype``'s lists, split by expand() (#L657)."""
    for current_order in range(order, k.MAX_ORDER):
        page = free_list_first(k, zone, current_order, migratetype)
        if page is None:
            continue
        free_list_del(k, zone, current_order, page)
        k.rmv_page_order(page)
        zone.nr_free[current_order] -= 1
        zone.NR_FREE_PAGES -= 1 << order
        if migratetype:
            k.expand(zone, page, order, current_order, migratetype)
        else:
            # MIGRATE_UNMOVABLE: the call the checker's must-fail kernels
            # replace (tests/test_stateful.py) keeps its four arguments.
            k.expand(zone, page, order, current_order)
        return page
    return None


@kfunc(_SRC)
def move_freepages(k, zone, start_page, end_page, migratetype):
    """move_freepages(): every free block starting in [start_page, end_page]
    onto ``migratetype``'s list of its order; returns the pages moved
    (#L700-L739)."""
    k.BUG_ON(k.zone_of(start_page) is not k.zone_of(end_page),
             "move_freepages", "mm/page_alloc.c:717")
    page, moved = start_page, 0
    while page <= end_page:
        if not k.PageBuddy(page):
            page += 1
            continue
        order = k.page_order(page)
        free_list_del(k, zone, order, page)
        free_list_add(k, zone, order, page, migratetype)
        page += 1 << order
        moved += 1 << order
    return moved


@kfunc(_SRC)
def move_freepages_block(k, zone, page, migratetype):
    """move_freepages_block(): move_freepages() over the pageblock holding
    ``page``, not across the zone's ends (#L741-L759)."""
    start_pfn = page & ~(k.pageblock_nr_pages - 1)
    start_page = start_pfn
    end_page = start_pfn + k.pageblock_nr_pages - 1
    if start_pfn < zone.zone_start_pfn:
        start_page = page
    if end_page >= zone.zone_start_pfn + zone.spanned_pages:
        return 0
    return k.move_freepages(zone, start_page, end_page, migratetype)


@kfunc(_SRC)
def __rmqueue_fallback(k, zone, order, start_migratetype):
    """__rmqueue_fallback(): the largest block on another migrate type's
    lists, in fallbacks[] order; steal the rest of its pageblock when the
    block is at least half a pageblock or the request is reclaimable, and
    claim the pageblock when over half of it moved; else MIGRATE_RESERVE
    (#L762-L828)."""
    for current_order in range(k.MAX_ORDER - 1, order - 1, -1):
        for migratetype in fallbacks[start_migratetype]:
            if migratetype == MIGRATE_RESERVE:
                continue
            page = free_list_first(k, zone, current_order, migratetype)
            if page is None:
                continue
            zone.nr_free[current_order] -= 1
            if (current_order >= k.pageblock_order >> 1
                    or start_migratetype == MIGRATE_RECLAIMABLE):
                pages = k.move_freepages_block(zone, page, start_migratetype)
                if pages >= 1 << (k.pageblock_order - 1):
                    k.set_pageblock_migratetype(page, start_migratetype)
                migratetype = start_migratetype
            free_list_del(k, zone, current_order, page)
            k.rmv_page_order(page)
            zone.NR_FREE_PAGES -= 1 << order
            if current_order == k.pageblock_order:
                k.set_pageblock_migratetype(page, start_migratetype)
            k.expand(zone, page, order, current_order, migratetype)
            return page
    return k.__rmqueue_smallest(zone, order, MIGRATE_RESERVE)


@kfunc(_SRC)
def __rmqueue(k, zone, order, migratetype=MIGRATE_UNMOVABLE):
    """__rmqueue(): __rmqueue_smallest(), else __rmqueue_fallback() (#L831)."""
    page = k.__rmqueue_smallest(zone, order, migratetype)
    if page is None:
        page = k.__rmqueue_fallback(zone, order, migratetype)
    return page


@kfunc(_SRC)
def rmqueue_bulk(k, zone, order, count, lst, migratetype):
    """rmqueue_bulk(): up to ``count`` blocks from __rmqueue() onto the
    front of ``lst`` in the order taken, each page's private word set to
    ``migratetype``; returns how many (#L849-L880)."""
    got = []
    for _ in range(count):
        page = k.__rmqueue(zone, order, migratetype)
        if page is None:
            break
        k.set_page_private(page, migratetype)
        got.append(page)
    lst[0:0] = got
    return len(got)


@kfunc(_SRC)
def free_pages_bulk(k, zone, count, lst, order):
    """free_pages_bulk(): __free_one_page() ``count`` pages from the tail of
    ``lst`` (#L497-L513)."""
    for _ in range(count):
        k.VM_BUG_ON(not lst, "free_pages_bulk", "mm/page_alloc.c:506")
        k.__free_one_page(lst.pop(), zone, order)


@kfunc(_SRC)
def drain_pages(k, cpu):
    """drain_pages(): give every page on this CPU's lists back (#L910)."""
    for zone, pcp in zip(k.zones, k.pcp):
        k.free_pages_bulk(zone, pcp.count, pcp.list, 0)
        pcp.count = 0


@kfunc(_SRC)
def drain_all_pages(k):
    """drain_all_pages(): drain_pages() on each CPU; one CPU (#L943)."""
    k.drain_pages(0)


def _pcp_take(k, pcp, migratetype, cold):
    """The page buffered_rmqueue's list walk stops at: the first (cold: the
    last) page of ``migratetype`` on the list, else None (#L1073-L1081)."""
    lst, private = pcp.list, k.private
    rng = range(len(lst) - 1, -1, -1) if cold else range(len(lst))
    for i in rng:
        if private[lst[i]] == migratetype:
            return i
    return None


@kfunc(_SRC)
def buffered_rmqueue(k, zone, order, gfp_flags):
    """buffered_rmqueue(): order 0 from the per-cpu list (refilled by
    rmqueue_bulk), larger orders from __rmqueue(); prep the page and retry
    past a reserved one (#L1053-L1116).  As 2.6.25 does, when a refill
    brings no page of the wanted type the list's first page is taken."""
    cold = bool(gfp_flags & __GFP_COLD)
    migratetype = k.allocflags_to_migratetype(gfp_flags)
    while True:
        if order == 0 and k.pcp:
            pcp = k.pcp[zone.idx]
            if not pcp.count:
                pcp.count = k.rmqueue_bulk(zone, 0, pcp.batch, pcp.list,
                                           migratetype)
                if not pcp.count:
                    return None
            i = _pcp_take(k, pcp, migratetype, cold)
            if i is None:
                pcp.count += k.rmqueue_bulk(zone, 0, pcp.batch, pcp.list,
                                            migratetype)
                i = 0
            page = pcp.list.pop(i)
            pcp.count -= 1
        else:
            page = k.__rmqueue(zone, order, migratetype)
            if page is None:
                return None
        k.VM_BUG_ON(k.bad_range(zone, page), "buffered_rmqueue",
                    "mm/page_alloc.c:1093")
        if not k.prep_new_page(page, order, gfp_flags):
            return page


@kfunc(_SRC)
def zone_watermark_ok(k, z, order, mark, classzone_idx, alloc_flags):
    """zone_watermark_ok(): free pages above mark, discounting small blocks (#L1227)."""
    min_ = mark
    free_pages = z.NR_FREE_PAGES - (1 << order) + 1
    if alloc_flags & ALLOC_HIGH:
        min_ -= min_ // 2
    if alloc_flags & ALLOC_HARDER:
        min_ -= min_ // 4
    if free_pages <= min_:                   # lowmem_reserve is 0 in the model
        return False
    for o in range(order):
        free_pages -= z.nr_free[o] << o
        min_ >>= 1
        if free_pages <= min_:
            return False
    return True


def _mark(zone, alloc_flags):
    # setup_per_zone_pages_min(): low = min * 5/4, high = min * 3/2
    m = zone.pages_min
    if alloc_flags & ALLOC_WMARK_LOW:
        return m + m // 4
    if alloc_flags & ALLOC_WMARK_HIGH:
        return m + m // 2
    return m


@kfunc(_SRC)
def get_page_from_freelist(k, gfp_mask, order, zonelist, alloc_flags):
    """get_page_from_freelist(): first zone above its watermark (#L1380)."""
    classzone_idx = zonelist[0].idx
    for zone in zonelist:
        if not alloc_flags & ALLOC_NO_WATERMARKS:
            if not k.zone_watermark_ok(zone, order, _mark(zone, alloc_flags),
                                       classzone_idx, alloc_flags):
                continue
        page = k.buffered_rmqueue(zone, order, gfp_mask)
        if page is not None:
            return page
    return None


@kfunc(_SRC + " fail_page_alloc")
def should_fail_alloc_page(k, gfp_mask, order):
    """should_fail_alloc_page(): the fail_page_alloc fault-injection point."""
    # mm/page_alloc.c#L1162: __GFP_NOFAIL requests are never failed, whatever
    # the debugfs knobs say (the budget is not consumed either).
    if gfp_mask & __GFP_NOFAIL:
        return False
    if k.fail_page_alloc > 0:
        k.fail_page_alloc -= 1
        return True
    return False


def freelist_passes(k, gfp_mask, order, zonelist):
    """The start of __alloc_pages(): might_sleep, fault injection, the low
    then the min watermark pass.  Returns (page or None, alloc_flags of the
    last pass); alloc_flags 0 means the request failed before the passes
    (fault injection, empty zonelist), which the kernel does silently."""
    wait = gfp_mask & __GFP_WAIT
    k.might_sleep_if(wait, "__alloc_pages")
    if k.should_fail_alloc_page(gfp_mask, order) or not zonelist:
        return None, 0
    page = k.get_page_from_freelist(gfp_mask, order, zonelist,
                                    ALLOC_WMARK_LOW | ALLOC_CPUSET)
    if page is not None:
        return page, 0
    alloc_flags = ALLOC_WMARK_MIN
    if not wait:
        alloc_flags |= ALLOC_HARDER
    if gfp_mask & __GFP_HIGH:
        alloc_flags |= ALLOC_HIGH
    if wait:
        alloc_flags |= ALLOC_CPUSET
    return k.get_page_from_freelist(gfp_mask, order, zonelist, alloc_flags), alloc_flags


def allocation_failed(k, gfp_mask, order):
    """nopage: the kernel's failure warning unless __GFP_NOWARN."""
    if not gfp_mask & __GFP_NOWARN:
        k.report("info", "__alloc_pages",
                 f"{k.current_comm()}: page allocation failure. order:{order},"
                 f" mode:{gfp_mask:#x}")


@kfunc(_SRC)
def __alloc_pages(k, gfp_mask, order, zonelist):
    """__alloc_pages(): two freelist passes, then (model) no reclaim (#L1463)."""
    page, alloc_flags = freelist_passes(k, gfp_mask, order, zonelist)
    if page is not None or not alloc_flags:
        return page
    if gfp_mask & __GFP_WAIT:
        # #L1568-L1586: direct reclaim, drain the per-cpu lists for a
        # high-order request, and retry while reclaim makes progress and
        # the mask allows another round (#L1619-L1633).
        while True:
            progress = k.try_to_free_pages(zonelist, order, gfp_mask)
            if order != 0:
                k.drain_all_pages()
            if not progress:
                break
            page = k.get_page_from_freelist(gfp_mask, order, zonelist, alloc_flags)
            if page is not None:
                return page
            if gfp_mask & __GFP_NORETRY or not (
                    order <= PAGE_ALLOC_COSTLY_ORDER or gfp_mask & __GFP_NOFAIL
                    or gfp_mask & __GFP_REPEAT):
                allocation_failed(k, gfp_mask, order)
                return None
        # customised: out_of_memory() finds nothing to kill in the model;
        # 2.6.25 would retry (forever for order <= 3 or __GFP_NOFAIL); the
        # model fails.
        k.report("info", "__alloc_pages",
                 f"model: no reclaimable memory for order:{order} "
                 f"mode:{gfp_to_str(gfp_mask)}"
                 + (" (__GFP_NOFAIL would loop forever)"
                    if gfp_mask & __GFP_NOFAIL else ""))
    allocation_failed(k, gfp_mask, order)
    return None


@kfunc(_SRC)
def __get_free_pages(k, gfp_mask, order):
    """__get_free_pages(): page_address(alloc_pages()) or 0 (#L1654)."""
    page = k.alloc_pages(gfp_mask, order)
    if page is None:
        return 0
    # page_address() of an unmapped highmem page is NULL: 0, page leaked.
    return k.page_address(page) or 0


@kfunc(_SRC)
def __get_free_page(k, gfp_mask):
    """__get_free_page(): __get_free_pages(gfp_mask, 0)."""
    return k.__get_free_pages(gfp_mask, 0)


@kfunc(_SRC)
def get_zeroed_page(k, gfp_mask):
    """get_zeroed_page(): VM_BUG_ON(__GFP_HIGHMEM); a zeroed order-0 page (#L1666)."""
    k.VM_BUG_ON(gfp_mask & __GFP_HIGHMEM, "get_zeroed_page",
                "mm/page_alloc.c:1673")
    page = k.alloc_pages(gfp_mask | __GFP_ZERO, 0)
    if page is not None:
        return k.page_address(page)
    return 0


@kfunc(_SRC)
def __free_pages(k, page, order):
    """__free_pages(): drop the reference; at zero free the block (#L1691)."""
    if k.put_page_testzero(page):
        if order == 0:
            k.free_hot_page(page)
        else:
            k.__free_pages_ok(page, order)


@kfunc(_SRC)
def __free_page(k, page):
    """__free_page(): __free_pages(page, 0)."""
    k.__free_pages(page, 0)


@kfunc(_SRC)
def free_pages(k, addr, order):
    """free_pages(): VM_BUG_ON(!virt_addr_valid); __free_pages(virt_to_page) (#L1703)."""
    if addr != 0:
        k.VM_BUG_ON(not k.virt_addr_valid(addr), "free_pages",
                    "mm/page_alloc.c:1706")
        k.__free_pages(k.virt_to_page(addr), order)


@kfunc(_SRC)
def free_page(k, addr):
    """free_page(): free_pages(addr, 0)."""
    k.free_pages(addr, 0)


@kfunc(_SRC)
def free_hot_cold_page(k, page, cold):
    """free_hot_cold_page(): check an order-0 page and put it on the
    per-cpu list (hot at the front, cold at the back) with its pageblock's
    migrate type in private; at pcp->high give ``batch`` back (#L987-L1018).

    customised: with per_cpu_pages=n there is no list, and the page goes
    straight to __free_one_page.
    """
    # mm/page_alloc.c#L993: an anon page's mapping (anon_vma | 1) is dropped
    # before the check, so only order-0 frees forgive it.
    if k.PageAnon(page):
        k.mapping[page] = 0
    if k.free_pages_check(page):
        return
    zone = k.page_zone(page)
    if not k.pcp:                    # per_cpu_pages=n: straight to the buddy
        k.__free_one_page(page, zone, 0)
        return
    pcp = k.pcp[zone.idx]
    if cold:
        pcp.list.append(page)
    else:
        pcp.list.insert(0, page)
    k.set_page_private(page, k.get_pageblock_migratetype(page))
    pcp.count += 1
    if pcp.count >= pcp.high:
        k.free_pages_bulk(zone, pcp.batch, pcp.list, 0)
        pcp.count -= pcp.batch


@kfunc(_SRC)
def free_hot_page(k, page):
    """free_hot_page(): free_hot_cold_page(page, 0)."""
    k.free_hot_cold_page(page, 0)


@kfunc(_SRC)
def free_cold_page(k, page):
    """free_cold_page(): free_hot_cold_page(page, 1)."""
    k.free_hot_cold_page(page, 1)


@kfunc(_SRC)
def split_page(k, page, order):
    """split_page(): give each subpage its own count (#L1038)."""
    k.VM_BUG_ON(k.PageCompound(page), "split_page", "mm/page_alloc.c:1042")
    k.VM_BUG_ON(not k.page_count(page), "split_page", "mm/page_alloc.c:1043")
    for i in range(1, 1 << order):
        k.set_page_refcounted(page + i)


@kfunc(_SRC)
def nr_free_pages(k):
    """nr_free_pages(): sum of NR_FREE_PAGES over the zones."""
    return sum(z.NR_FREE_PAGES for z in k.zones)


def pin_free_page(k, pfn):
    """Model operation: an unmovable allocation that landed on ``pfn``.

    customised: the kernel has no call to take one chosen page; fragmentation
    in the field comes from long-lived allocations landing where they land.
    The model finds the free block holding ``pfn``, unlinks it, and gives the
    halves that do not hold ``pfn`` back to the lists the way expand() does,
    then prepares the page as an order-0 allocation.  Returns the page, or
    None if ``pfn`` is not free.
    """
    zone = k.zone_of(pfn)
    for order in range(k.MAX_ORDER):
        block = pfn & ~((1 << order) - 1)
        if (block >= zone.zone_start_pfn and k.flags[block] >> k.PG_buddy & 1
                and k.private[block] == order):
            break
    else:
        return None
    free_list_del(k, zone, order, block)
    migratetype = k.get_pageblock_migratetype(block)
    k.rmv_page_order(block)
    zone.nr_free[order] -= 1
    zone.NR_FREE_PAGES -= 1          # the halves put back stay counted
    while order > 0:
        order -= 1
        half = 1 << order
        other = block + half if pfn < block + half else block
        if other == block:
            block += half
        free_list_add(k, zone, order, other, migratetype)
        zone.nr_free[order] += 1
        k.set_page_order(other, order)
    k.prep_new_page(pfn, 0, 0)
    return pfn
