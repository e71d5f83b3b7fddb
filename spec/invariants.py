"""Named invariants over a kernel state and the callers' ledger.

Each invariant is a pure function ``(k, ledger) -> list[str]`` returning the
problems it finds (empty = holds).  They read the kernel's fields directly
with the configuration's bit numbers, never the target's own helper
functions, so a patched PageTail() cannot vouch for itself.  Each docstring
cites the kernel rule it encodes (reference: kernel-mm-2008.md §7).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from vcpcheck.impl import memory
from vcpcheck.impl.page_alloc import free_list_pages
from vcpcheck.impl.vmalloc import VM_ALLOC, VM_VPAGES

from .ledger import Ledger


# --- reading the state (pure) ------------------------------------------------

# While check_all runs, every invariant reads one state: the readings below
# that several invariants share are taken once (keyed by the kernel and
# ledger objects) and shared; callers only read them.
_shared = None


def _once(fn):
    @functools.wraps(fn)
    def reading(k, *args):
        if _shared is None:
            return fn(k, *args)
        key = (fn, id(k), *map(id, args))
        got = _shared.get(key, _shared)        # (the dict itself: not there)
        if got is _shared:
            got = _shared[key] = fn(k, *args)
        return got
    return reading


def is_tail(k, p) -> bool:
    f = k.flags[p]
    if k.cfg.PAGEFLAGS_EXTENDED:
        return bool(f >> k.PG_tail & 1)
    m = k.PG_head_tail_mask
    return f & m == m


def is_head(k, p) -> bool:
    """A true head: PG_head, or (2.6.25) PG_compound without PG_reclaim."""
    f = k.flags[p]
    if k.cfg.PAGEFLAGS_EXTENDED:
        return bool(f >> k.PG_head & 1)
    return f & k.PG_head_tail_mask == 1 << k.PG_compound


def compound_bits(k) -> int:
    """The bits that make a page head or tail (2.6.25: PG_reclaim is the
    tail half of PG_head_tail_mask)."""
    if k.cfg.PAGEFLAGS_EXTENDED:
        return 1 << k.PG_head | 1 << k.PG_tail
    return k.PG_head_tail_mask


@_once
def free_blocks(k) -> list[tuple]:
    """(zone, order, pfn) of every block on a free list, walking the lists."""
    out = []
    for z in k.zones:
        for o in range(k.MAX_ORDER):
            for t in range(z.nr_migratetypes()):
                for p in free_list_pages(k, z, o, t):
                    # a corrupt list ends in its wild link and None (reported
                    # by free_lists_consistent): no block there
                    if p is not None and 0 <= p < k.nr_pages:
                        out.append((z, o, p))
    return out


@_once
def free_map(k) -> dict[int, tuple]:
    """pfn -> (block pfn, order) for every page inside a listed free block
    (the first block wins where blocks overlap)."""
    m = {}
    for _z, o, p in free_blocks(k):
        for q in range(p, min(p + (1 << o), k.nr_pages)):
            m.setdefault(q, (p, o))
    return m


def linear_pfn(k, addr) -> int:
    return (addr - k.PAGE_OFFSET) >> k.PAGE_SHIFT


def area_at(k, addr):
    for a in k.vmlist:
        if a.addr == addr:
            return a
    return None


@_once
def area_pages(k, area) -> list:
    """pages[0..nr_pages) of an area, read from its array (None if unreadable)."""
    if not area.pages:
        return [None] * area.nr_pages
    return [None if w is None else k.word_to_page(w)
            for w in memory.read_words(k, area.pages, area.nr_pages)]


def pending_free_pages(k) -> set:
    """Pages of objects whose free is queued on keventd: their last
    reference is gone, their pages not yet returned."""
    out = set()
    for work in k.workqueue:
        for area in k.vmlist:
            if area.addr <= work < area.addr + area.size:
                out.update(p for p in area_pages(k, area) if p is not None)
    return out


def head_area(k, head):
    """The address of the vm area whose pages[0] is ``head``, or None."""
    for area in k.vmlist:
        if area.pages and area.nr_pages and area_pages(k, area)[0] == head:
            return area.addr
    return None


def _order_of_size(k, size) -> int:
    o = 0
    while (k.PAGE_SIZE << o) < size:
        o += 1
    return o


@dataclass
class Ownership:
    """Who holds each allocated pfn, and which objects are reachable."""
    owners: dict          # pfn -> [owner descriptions] (exclusive owners)
    areas: set            # addr of vm areas reachable from the ledger
    objects: set          # addr of kmalloc objects reachable
    problems: list        # ledger entries that refer to nothing

    def claim(self, pfn, who):
        self.owners.setdefault(pfn, []).append(who)


# ownership()'s walk; module functions rather than closures inside it,
# because a closure that calls itself is a reference cycle, left for the
# garbage collector on every state checked.
def _reach_object(k, own, addr, who):
    obj = k.kmalloc_objs.get(addr)
    if obj is None:
        own.problems.append(f"{who}: refers to {addr:#x}, no live kmalloc object")
        return
    own.objects.add(addr)
    if obj.large_page is not None:
        for q in range(obj.large_page,
                       obj.large_page + (1 << _order_of_size(k, obj.size))):
            own.claim(q, f"kmalloc {addr:#x}")


def _reach_area(k, own, addr, who, owns_pages=False):
    area = area_at(k, addr)
    if area is None:
        own.problems.append(f"{who}: no vm area starts at {addr:#x}")
        return
    if addr in own.areas:
        return
    own.areas.add(addr)
    _reach_object(k, own, area.desc, f"vm area {addr:#x} descriptor")
    # vmalloc areas own their pages and array (vfree frees them); a
    # vcompound object or a pending work item owns its area's as well.
    if area.pages and (area.flags & VM_ALLOC or owns_pages):
        if area.flags & VM_VPAGES:
            _reach_area(k, own, area.pages, f"vm area {addr:#x} page array")
        else:
            _reach_object(k, own, area.pages, f"vm area {addr:#x} page array")
        mine = f"vm area {addr:#x}"
        for p in area_pages(k, area):
            if p is not None:
                own.claim(p, mine)


def _reach_linear(k, own, addr, order, who):
    p = linear_pfn(k, addr)
    for q in range(p, p + (1 << order)):
        own.claim(q, who)


@_once
def ownership(k, ledger: Ledger) -> Ownership:
    """Reachability from the callers' ledger and the kernel's own roots.

    kmemleak-style: vmlist and the slab are the allocator's own metadata,
    not references; an area or object is live only if a caller's handle (or
    a live area that points to it) reaches it.  Kernel page tables are a
    root of their own.
    """
    own = Ownership({}, set(), set(), [])
    claim = own.claim
    for key, pfn in sorted(k.pgtables.items()):
        claim(pfn, f"page table {key[0]}")
    for _i, a in sorted(ledger.items.items()):
        if a.kind in ("page", "pin"):
            who = a.describe()
            for q in range(a.handle, a.handle + (1 << a.order)):
                claim(q, who)
        elif a.kind == "addr":
            _reach_linear(k, own, a.handle, a.order, a.describe())
        elif a.kind in ("vmalloc", "vmap"):
            _reach_area(k, own, a.handle, a.describe())
        elif a.kind == "kmalloc":
            _reach_object(k, own, a.handle, a.describe())
        elif a.kind in ("vcompound", "vcompound_page", "client"):
            addr = a.handle if a.kind != "vcompound_page" else head_area(k, a.handle)
            if addr is not None and k.VMALLOC_START <= addr < k.VMALLOC_END:
                _reach_area(k, own, addr, a.describe(), owns_pages=True)
            elif a.kind != "vcompound_page":
                _reach_linear(k, own, a.handle, a.order, a.describe())
            else:
                who = a.describe()
                for q in range(a.handle, a.handle + (1 << a.order)):
                    claim(q, who)
    # Pending work (keventd) references the memory its work_struct lies in.
    for work in k.workqueue:
        for area in k.vmlist:
            if area.addr <= work < area.addr + area.size:
                _reach_area(k, own, area.addr, f"work {work:#x}", owns_pages=True)
                break
        else:
            if k.PAGE_OFFSET <= work < k.PAGE_OFFSET + (k.lowmem_pages << k.PAGE_SHIFT):
                _reach_linear(k, own, work & ~(k.PAGE_SIZE - 1), 0, f"work {work:#x}")
    return own


# --- the invariants ----------------------------------------------------------

def free_lists_consistent(k, ledger) -> list[str]:
    """free_area[order] lists are well formed and counted.

    Rule: every entry of free_area[o].free_list is the first page of a free
    block -- PG_buddy set with o in page->private (set_page_order,
    mm/page_alloc.c#L325), naturally aligned and inside its zone -- the list
    links are consistent, nr_free[o] counts the entries, and NR_FREE_PAGES
    is the sum of 2^o * nr_free[o] (mmzone.h#L58; __free_one_page,
    __rmqueue_smallest).
    """
    out = []
    for z in k.zones:
        total = 0
        for o in range(k.MAX_ORDER):
            listed = 0
            for t in range(z.nr_migratetypes()):
                listed += _check_free_list(k, z, o, t, out)
            if z.nr_free[o] != listed:
                out.append(f"zone {z.name} nr_free[{o}] = {z.nr_free[o]} but "
                           f"the list holds {listed}")
            total += listed << o
        if z.NR_FREE_PAGES != total:
            out.append(f"zone {z.name} NR_FREE_PAGES = {z.NR_FREE_PAGES} but "
                       f"the lists hold {total} pages")
    return out


def _check_free_list(k, z, o, t, out) -> int:
    """free_lists_consistent on free_area[o].free_list[t]; returns how many
    entries it holds (with grouping off, t is 0 only)."""
    pages = free_list_pages(k, z, o, t)
    if pages and pages[-1] is None:
        out.append(f"zone {z.name} free_area[{o}]: list is corrupt "
                   f"(cycle or link outside mem_map)")
        # the wild link itself is listed before the None: no pfn
        pages = [p for p in pages[:-1] if 0 <= p < k.nr_pages]
    prev = z.sentinel(o, t)
    for p in pages:
        if k.lru_prev[p] != prev:
            out.append(f"pfn {p}: lru.prev does not point back along "
                       f"free_area[{o}]")
        prev = p
        if not k.flags[p] >> k.PG_buddy & 1:
            out.append(f"pfn {p} on free_area[{o}] without PG_buddy")
        if k.private[p] != o:
            out.append(f"pfn {p} on free_area[{o}] has order "
                       f"{k.private[p]} in private")
        if p & ((1 << o) - 1):
            out.append(f"pfn {p} on free_area[{o}] is not aligned to "
                       f"its order")
        if not (z.zone_start_pfn <= p and p + (1 << o) <= z.end_pfn()):
            out.append(f"free block pfn {p} order {o} leaves zone {z.name}")
    return len(pages)


def free_blocks_maximally_merged(k, ledger) -> list[str]:
    """No free block has a free buddy of the same order below MAX_ORDER-1.

    Rule: __free_one_page (mm/page_alloc.c#L421) merges a freed block with
    its buddy (pfn ^ 2^order, same zone, PG_buddy, same order) until it
    cannot; two free buddies of equal order are never both listed.
    """
    out = []
    listed = {(z.idx, o, p) for z, o, p in free_blocks(k)}
    for zi, o, p in sorted(listed):
        if o < k.MAX_ORDER - 1 and p < p ^ (1 << o):
            if (zi, o, p ^ (1 << o)) in listed:
                out.append(f"free blocks pfn {p} and pfn {p ^ (1 << o)} of "
                           f"order {o} are buddies but were not merged")
    return out


def buddy_flag_matches_order(k, ledger) -> list[str]:
    """PG_buddy is set exactly on listed free blocks, with their order.

    Rule: only the first page of a free block carries PG_buddy, and
    page_order() (private) is that block's order (mm/internal.h#L45,
    set_page_order/rmv_page_order in mm/page_alloc.c#L325-L335).
    """
    out = []
    heads = {p: o for _z, o, p in free_blocks(k)}
    bit = k.PG_buddy
    for p in range(k.nr_pages):
        if k.flags[p] >> bit & 1:
            if p not in heads:
                out.append(f"pfn {p} has PG_buddy (order {k.private[p]}) but "
                           f"is on no free list")
            elif heads[p] != k.private[p]:
                out.append(f"pfn {p} has PG_buddy with order {k.private[p]} "
                           f"but is listed at order {heads[p]}")
    return out


def every_pfn_accounted_once(k, ledger) -> list[str]:
    """Each pfn is free, reserved, or held by exactly one owner.

    Rule: a page is in exactly one state (reference §7): inside one buddy
    block, reserved, or allocated to one user (a caller's allocation, a vm
    area's pages, a kernel page table).  Overlapping free blocks, a free
    page that someone holds, and a page held twice are violations.
    """
    out = []
    seen = {}
    for _z, o, p in free_blocks(k):
        for q in range(p, min(p + (1 << o), k.nr_pages)):
            if q in seen:
                out.append(f"pfn {q} lies in two free blocks ({seen[q]} and "
                           f"pfn {p} order {o})")
            seen[q] = f"free block pfn {p} order {o}"
    own = ownership(k, ledger)
    for q, who in sorted(own.owners.items()):
        if not 0 <= q < k.nr_pages:
            out.append(f"{who[0]} holds pfn {q}, outside mem_map")
            continue
        if q in seen:
            out.append(f"pfn {q} is free ({seen[q]}) but held by {who[0]}")
        if len(who) > 1:
            out.append(f"pfn {q} is held twice: {who[0]} and {who[1]}")
        if k.flags[q] >> k.PG_reserved & 1:
            out.append(f"pfn {q} is PG_reserved but held by {who[0]}")
    for q in sorted(seen):
        if k.flags[q] >> k.PG_reserved & 1:
            out.append(f"pfn {q} is PG_reserved but free ({seen[q]})")
    out.extend(own.problems)
    return out


def compound_members(k, h):
    """The pages of the compound page headed by h, or a problem string.

    A head listed as pages[0] of a vm area is a virtually mapped compound
    (the series): its pages are the area's.  Otherwise the tails follow the
    head physically.  Either way the order sits in the second page's
    lru.prev (set_compound_order, mm.h#L319; pages[1]->lru.prev in 04/14).
    """
    addr = head_area(k, h)
    if addr is not None:
        pages = area_pages(k, area_at(k, addr))
        if len(pages) < 2 or None in pages:
            return f"head pfn {h} heads vm area {addr:#x} of {len(pages)} pages"
        o = k.lru_prev[pages[1]]
        if (1 << o if isinstance(o, int) and 0 <= o < 64 else None) != len(pages):
            return (f"virtual compound head pfn {h} records order {o!r}, its "
                    f"area maps {len(pages)} pages")
        return pages
    if h + 1 >= k.nr_pages:
        return f"head pfn {h} has no page[1] to hold its order"
    o = k.lru_prev[h + 1]
    if not isinstance(o, int) or not 1 <= o < k.MAX_ORDER:
        return f"head pfn {h} records order {o!r} in page[1].lru.prev"
    if h & ((1 << o) - 1):
        return f"head pfn {h} of order {o} is not naturally aligned"
    return list(range(h, min(h + (1 << o), k.nr_pages)))


def compound_head_tail_consistent(k, ledger) -> list[str]:
    """Compound heads and tails agree.

    Rule: prep_compound_page (mm/page_alloc.c#L275) marks the head, records
    the order in page[1].lru.prev, and makes every tail PageTail with
    first_page = head; tails keep _count 0 (mm/internal.h#L25), the head
    holds the count; destroy_compound_page (#L291) checks the same.  Every
    tail must belong to the head it points to.
    """
    out = []
    fm = free_map(k)
    counted = {}
    dying = pending_free_pages(k)
    for h in range(k.nr_pages):
        if h in fm or not is_head(k, h):
            continue
        members = compound_members(k, h)
        if isinstance(members, str):
            out.append(members)
            continue
        if k._count[h] < 1 and h not in dying:
            out.append(f"head pfn {h} is allocated with _count {k._count[h]}")
        for t in members[1:]:
            counted[t] = h
            if not is_tail(k, t):
                out.append(f"pfn {t}, a page of compound pfn {h}, is not PageTail")
            elif k.word_to_page(k.private[t]) != h:
                out.append(f"tail pfn {t} points to {k.word_to_page(k.private[t])}"
                           f", not to its head pfn {h}")
    for t in range(k.nr_pages):
        if t in fm or not is_tail(k, t):
            continue
        f = k.word_to_page(k.private[t])
        if t not in counted:
            if f is None or not 0 <= f < k.nr_pages or not is_head(k, f):
                what = "marked tail itself" if (f is not None and 0 <= f < k.nr_pages
                                                and is_tail(k, f)) else "not a head"
                out.append(f"tail pfn {t} points to pfn {f}, which is {what}")
            else:
                out.append(f"tail pfn {t} is not among the pages of its head pfn {f}")
        if k._count[t] != 0:
            out.append(f"tail pfn {t} has _count {k._count[t]} (must be 0)")
    return out


def free_pages_have_clean_flags(k, ledger) -> list[str]:
    """Free pages carry no compound, swap-cache or busy flags.

    Rule: free_pages_check (mm/page_alloc.c#L459) and prep_new_page (#L609)
    require count 0, mapcount -1, no mapping and none of
    PAGE_FLAGS_CHECK_AT_PREP (lru, private, locked, buddy, writeback, slab,
    swapcache, active, reserved, dirty); destroy_compound_page clears the
    compound marks before a block is listed.  PG_buddy belongs on the first
    page of the block only.
    """
    out = []
    bad = k.PAGE_FLAGS_CHECK_AT_PREP | compound_bits(k)
    buddy = 1 << k.PG_buddy
    for q, (p, o) in sorted(free_map(k).items()):
        stale = k.flags[q] & (bad & ~buddy if q == p else bad)
        if stale:
            out.append(f"free pfn {q} (block {p} order {o}) has stale flags "
                       f"{stale:#x}")
        if k._count[q] or k._mapcount[q] != -1 or k.mapping[q]:
            out.append(f"free pfn {q}: _count {k._count[q]}, _mapcount "
                       f"{k._mapcount[q]}, mapping {k.mapping[q]:#x}")
    return out


def vm_areas_disjoint_with_guard(k, ledger) -> list[str]:
    """vm areas are sorted, disjoint with their guard pages, and in bounds.

    Rule: __get_vm_area_node (mm/vmalloc.c#L207) keeps vmlist sorted by
    address, adds one guard page to every area's size, places areas inside
    [VMALLOC_START, VMALLOC_END) without overlap; map_vm_area (#L148) never
    maps the guard page.
    """
    out = []
    prev = None
    for a in k.vmlist:
        if a.addr < k.VMALLOC_START or a.addr + a.size > k.VMALLOC_END:
            out.append(f"vm area {a.addr:#x}+{a.size:#x} leaves the vmalloc "
                       f"window")
        if a.size % k.PAGE_SIZE or a.size < 2 * k.PAGE_SIZE:
            out.append(f"vm area {a.addr:#x} has size {a.size:#x}")
        if prev is not None and prev.addr + prev.size > a.addr:
            out.append(f"vm areas {prev.addr:#x} and {a.addr:#x} overlap "
                       f"(guard page included)")
        guard = (a.addr + a.size - k.PAGE_SIZE) >> k.PAGE_SHIFT
        if guard in k.ptes:
            out.append(f"guard page of vm area {a.addr:#x} is mapped")
        prev = a
    return out


def ptes_map_allocated_pages(k, ledger) -> list[str]:
    """Every present kernel PTE maps an allocated page inside a vm area.

    Rule: map_vm_area (mm/vmalloc.c#L148) maps only [addr, addr+size-guard)
    of a listed area; remove_vm_area unmaps before the area goes; __vunmap
    frees pages only after unmapping.  So no PTE outlives its area or points
    to a free page, and a VM_ALLOC area maps pages[i] at addr + i*PAGE_SIZE
    (vmalloc_to_page).
    """
    out = []
    fm = free_map(k)
    spans = [(a.addr >> k.PAGE_SHIFT,
              (a.addr + a.size - k.PAGE_SIZE) >> k.PAGE_SHIFT) for a in k.vmlist]
    for vpage, pfn in sorted(k.ptes.items()):
        va = vpage << k.PAGE_SHIFT
        if not 0 <= pfn < k.nr_pages:
            out.append(f"PTE {va:#x} maps pfn {pfn}, outside mem_map")
            continue
        if pfn in fm:
            out.append(f"PTE {va:#x} maps pfn {pfn}, which is free")
        if not any(lo <= vpage < hi for lo, hi in spans):
            out.append(f"PTE {va:#x} lies in no vm area")
    for a in k.vmlist:
        if a.flags & VM_ALLOC and a.pages:
            for i, p in enumerate(area_pages(k, a)):
                got = k.ptes.get((a.addr >> k.PAGE_SHIFT) + i)
                if got != p:
                    out.append(f"vm area {a.addr:#x}: page {i} maps pfn {got}, "
                               f"pages[{i}] is {p}")
    return out


def no_leak(k, ledger) -> list[str]:
    """Every allocated page, vm area and kmalloc object is reachable.

    Rule (kmemleak-style; kmemleak itself is mm/kmemleak.c from 2.6.31):
    memory that no live allocation reaches can never be freed, and every
    page is in exactly one state (reference §7).  Each pfn that is neither free nor reserved must be held by a
    caller's allocation, a reachable vm area, a reachable kmalloc_large
    object or a kernel page table; every vm area and kmalloc object must be
    reachable from a caller's handle.
    """
    out = []
    fm = free_map(k)
    own = ownership(k, ledger)
    for q in range(k.nr_pages):
        if q in fm or q in own.owners or k.flags[q] >> k.PG_reserved & 1:
            continue
        out.append(f"pfn {q} is allocated but no live allocation holds it "
                   f"(leaked)")
    for a in k.vmlist:
        if a.addr not in own.areas:
            out.append(f"vm area {a.addr:#x} is reachable from no caller (leaked)")
    for addr in sorted(k.kmalloc_objs):
        if addr not in own.objects:
            out.append(f"kmalloc object {addr:#x} is reachable from no caller "
                       f"(leaked)")
    return out


def kernel_reported_no_errors(k, ledger) -> list[str]:
    """The kernel printed no BUG, bad_page, WARN or sleep-in-atomic report.

    Rule: the kernel's own runtime checks (reference §7, P1-P22, V1-V15,
    H1-H2) are the first line of the spec: a legal sequence of calls never
    trips one.  Allocation-failure messages are information, not errors.
    """
    return [f"{e.kind} in {e.function}: {e.message}" for e in k.errors()]


@dataclass(frozen=True)
class Invariant:
    name: str
    check: Callable

    @property
    def doc(self) -> str:
        return (self.check.__doc__ or "").strip()


MM_INVARIANTS = [Invariant(f.__name__, f) for f in (
    free_lists_consistent, free_blocks_maximally_merged,
    buddy_flag_matches_order, every_pfn_accounted_once,
    compound_head_tail_consistent, free_pages_have_clean_flags,
    vm_areas_disjoint_with_guard, ptes_map_allocated_pages, no_leak,
    kernel_reported_no_errors)]



def all_invariants() -> list[Invariant]:
    """The mm invariants, then the vcompound contract's (spec/vcompound.py,
    imported here because it builds on the helpers above)."""
    return list(_all_invariants())


@functools.lru_cache(maxsize=None)
def _all_invariants() -> tuple:
    from .vcompound import VCOMPOUND_INVARIANT_FUNCTIONS
    return tuple(MM_INVARIANTS + [Invariant(f.__name__, f)
                                  for f in VCOMPOUND_INVARIANT_FUNCTIONS])


def __getattr__(name):
    if name == "INVARIANTS":
        return all_invariants()
    raise AttributeError(name)


def check_all(k, ledger, invariants=None) -> list[tuple[str, str]]:
    """(invariant name, problem) for every problem any invariant finds."""
    global _shared
    out, outer = [], _shared
    _shared = {} if outer is None else outer
    try:
        for inv in invariants or all_invariants():
            for problem in inv.check(k, ledger):
                out.append((inv.name, problem))
    finally:
        _shared = outer
    return out
