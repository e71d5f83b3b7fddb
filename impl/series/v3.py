"""Virtual Compound Page Support V3 (C. Lameter, 20/21 March 2008), as posted.

Against 2.6.25-rc5-mm1.  Every function here does what the mail's code
does, defects included; notes per patch are in docs/series-notes/v3.md.
Patch 00 is the -mm prerequisite the cover names (the page-flags rewrite:
in rc5-mm1 PageHead() tests PG_compound alone, so it is also true on
tails); the 2.6.26 PAGEFLAGS_EXTENDED layout has no PG_compound, so 02/14
does not build there.
"""
from __future__ import annotations

from ..gfp import GFP_RECLAIM_MASK, __GFP_NORETRY, __GFP_NOWARN
from ..vmalloc import PAGE_KERNEL, array_get, array_set
from ..vmalloc import map_vm_area as _map_vm_area_2625
from ..vmalloc import vmallocinfo as _s_show
from . import Patch, Series, cname, option
from .clients_v3 import CLIENT_PATCHES

VM_VCOMPOUND = 0x00000020


# --- 00: 2.6.25-rc5-mm1 page flags (the -mm rewrite the series sits on) -------

@cname("PageHead")
def PageHead_rc5mm1(k, page):
    """PageHead(): __PAGEFLAG(Head, compound) -- PG_compound set, tails too."""
    k.deref(page, "PageHead")
    return bool(k.flags[page] >> k.PG_compound & 1)


def _rc5mm1_flags(cfg):
    if cfg.PAGEFLAGS_EXTENDED:
        return ("V3's base tree, 2.6.25-rc5-mm1, has no PAGEFLAGS_EXTENDED "
                "(one PG_compound bit only)")
    return None


def _needs_pg_compound(cfg):
    if cfg.PAGEFLAGS_EXTENDED:
        return ("posted against 2.6.25-rc5-mm1, whose page flags have one "
                "PG_compound bit; PAGEFLAGS_EXTENDED=y (2.6.26 PG_head/PG_tail) "
                "has no PG_compound to build PG_vcompound_mask from")
    return None


# --- 01: vunmap returns the page array; map_vm_area records it ----------------

def map_vm_area(k, area, prot, pages):
    """map_vm_area() (01/14): record *pages in the area first, and afterwards
    the number of pointers the walk consumed (partial on failure)."""
    start = pages[0]
    area.pages = start
    err = _map_vm_area_2625(k, area, prot, pages)
    area.nr_pages = (pages[0] - start) // k.PTR_SIZE
    return err


def __vunmap(k, addr, deallocate_pages):
    """__vunmap() (01/14): as 2.6.25, returning area->pages (dangling if freed)."""
    if not addr:
        return 0
    if addr & (k.PAGE_SIZE - 1):
        k.WARN_ON(True, "__vunmap", f"Trying to vfree() bad address ({addr:#x})")
        return 0
    area = k.remove_vm_area(addr)
    if area is None:
        k.WARN_ON(True, "__vunmap",
                  f"Trying to vfree() nonexistent vm area ({addr:#x})")
        return 0
    pages = area.pages
    if deallocate_pages:
        for i in range(area.nr_pages):
            page = array_get(k, area.pages, i)
            k.BUG_ON(page is None, "__vunmap", "mm/vmalloc.c:393")
            k.call("__free_page", page)
        if area.flags & 0x10:                      # VM_VPAGES
            k.vfree(area.pages)
        else:
            k.kfree(area.pages)
    k.kfree(area.desc)
    return pages


def vunmap(k, addr):
    """vunmap() (01/14): BUG_ON(in_interrupt()); return __vunmap(addr, 0)."""
    k.BUG_ON(k.in_interrupt(), "vunmap", "mm/vmalloc.c:435")
    return k.call("__vunmap", addr, 0)


# --- 02: PageVcompound = PG_compound | PG_swapcache ---------------------------

def _vcompound_mask(k):
    return 1 << k.PG_compound | 1 << k.PG_swapcache


def PageVcompound(k, page):
    """PageVcompound() (02/14): both PG_compound and PG_swapcache set."""
    k.deref(page, "PageVcompound")
    m = _vcompound_mask(k)
    return k.flags[page] & m == m


def __SetPageVcompound(k, page):
    """__SetPageVcompound() (02/14): set PG_compound and PG_swapcache."""
    k.deref(page, "__SetPageVcompound")
    k.flags[page] |= _vcompound_mask(k)


def __ClearPageVcompound(k, page):
    """__ClearPageVcompound() (02/14): clear both bits (PG_compound too)."""
    k.deref(page, "__ClearPageVcompound")
    k.flags[page] &= ~_vcompound_mask(k)


# --- 03: /proc/vmallocinfo shows " vcompound" ----------------------------------

def vmallocinfo(k):
    """s_show() (03/14): the 2.6.26 line plus " vcompound" for VM_VCOMPOUND."""
    lines = _s_show(k)
    return [line + (" vcompound" if a.flags & VM_VCOMPOUND else "")
            for a, line in zip(k.vmlist, lines)]


# --- 04: the core ---------------------------------------------------------------

def vcompound_head_page(k, x):
    """vcompound_head_page() (04/14): vmalloc_to_page or virt_to_page, then
    compound_head(); no NULL check."""
    if k.is_vmalloc_addr(x):
        page = k.vmalloc_to_page(x)
    else:
        page = k.virt_to_page(x)
    return k.compound_head(page)


def ____alloc_vcompound(k, gfp_mask, order, caller):
    """____alloc_vcompound() (04/14): order-0 pages, a VM_VCOMPOUND area,
    every page marked Vcompound and Tail with first_page = pages[0]."""
    nr_pages = 1 << (order & 31)                    # int shift, x86 masks it
    pages = k.kmalloc(nr_pages * k.PTR_SIZE, gfp_mask & GFP_RECLAIM_MASK)
    if not pages:
        return None
    i = 0
    vm = None
    while i < nr_pages:
        page = k.alloc_page(gfp_mask)
        if page is None:
            break
        k.call("__SetPageVcompound", page)
        array_set(k, pages, i, page)
        i += 1
    else:
        vm = k.call("__get_vm_area_node", nr_pages << k.PAGE_SHIFT, VM_VCOMPOUND,
                    k.VMALLOC_START, k.VMALLOC_END, -1, gfp_mask, caller)
        if vm is not None:
            vm.caller = caller
            if k.map_vm_area(vm, PAGE_KERNEL, [pages]):
                vm = None                           # abort: vm stays listed
    if vm is None:
        while i > 0:                                # abort
            i -= 1
            page = array_get(k, pages, i)
            if page is not None:
                k.set_page_address(page, 0)
                k.call("__ClearPageVcompound", page)
                k.call("__free_page", page)
        k.kfree(pages)
        return None
    head = array_get(k, pages, 0)
    k.lru_prev[k.deref(array_get(k, pages, 1), "____alloc_vcompound")] = order
    for i in range(nr_pages):
        page = array_get(k, pages, i)
        k.call("__SetPageTail", page)
        k.private[page] = k.page_to_word(head)      # page->first_page
        k.set_page_address(page, vm.addr + i * k.PAGE_SIZE)
    return vm


def alloc_vcompound(k, flags, order):
    """alloc_vcompound() (04/14): alloc_pages(|NORETRY|NOWARN), else fallback."""
    page = k.alloc_pages(flags | __GFP_NORETRY | __GFP_NOWARN, order)
    if page is not None or not order:
        return page
    vm = k.call("____alloc_vcompound", flags, order, "alloc_vcompound")
    return array_get(k, vm.pages, 0) if vm is not None else None


def __alloc_vcompound(k, flags, order):
    """__alloc_vcompound() (04/14): __get_free_pages(|NORETRY|NOWARN), else
    the fallback's vmalloc address."""
    addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN, order)
    if addr or not order:
        return addr
    vm = k.call("____alloc_vcompound", flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


def __vcompound_free(k, addr):
    """__vcompound_free() (04/14): vunmap, free head then tails, kfree array."""
    pages = k.vunmap(addr)
    if not pages:
        k.oops("BUG: unable to handle kernel NULL pointer dereference "
               "(pages[1] of a NULL page array)", "__vcompound_free")
    order = k.lru_prev[k.deref(array_get(k, pages, 1), "__vcompound_free")]
    k.check_order(order, "__vcompound_free")
    head = array_get(k, pages, 0)
    k.set_page_address(head, 0)
    k.call("__ClearPageVcompound", head)
    k.free_hot_page(head)
    for i in range(1, 1 << order):
        page = array_get(k, pages, i)
        k.BUG_ON(not k.PageTail(page) or not k.PageVcompound(page),
                 "__vcompound_free", "mm/vmalloc.c (04/14)")
        k.set_page_address(page, 0)
        k.call("__ClearPageVcompound", page)
        k.call("__free_page", page)
    k.kfree(pages)


def vcompound_free_work(k, w):
    """vcompound_free_work() (04/14): __vcompound_free(w)."""
    k.call("__vcompound_free", w)


def vcompound_free(k, addr, page):
    """vcompound_free() (04/14): BUG unless Vcompound head; drop the ref;
    defer to keventd unless preemptible()."""
    k.BUG_ON(not k.PageVcompound(page) or not k.PageHead(page),
             "vcompound_free", "mm/vmalloc.c (04/14)")
    if not k.put_page_testzero(page):
        return
    if not k.preemptible():
        k.INIT_WORK(addr, "vcompound_free_work")
        k.schedule_work(addr)
    else:
        k.call("__vcompound_free", addr)


def __free_vcompound(k, addr):
    """__free_vcompound() (04/14): vmalloc address -> vcompound_free; else
    free_pages(addr, compound_order(virt_to_page(addr)))."""
    if k.is_vmalloc_addr(addr):
        k.vcompound_free(addr, k.vmalloc_to_page(addr))
    else:
        page = k.virt_to_page(addr)
        k.free_pages(addr, k.compound_order(page))


def free_vcompound(k, page):
    """free_vcompound() (04/14): Vcompound -> vcompound_free(page_address());
    else __free_pages(page, compound_order(page))."""
    if k.PageVcompound(page):
        k.vcompound_free(k.page_address(page), page)
    else:
        k.call("__free_pages", page, k.compound_order(page))


# --- 05: CONFIG_VFALLBACK_ALWAYS --------------------------------------------------

def _always(k, order):
    return k.cfg.VFALLBACK_ALWAYS and k.system_state == "SYSTEM_RUNNING" and order


@cname("alloc_vcompound")
def alloc_vcompound_05(k, flags, order):
    """alloc_vcompound() with 05/14: skip the physical try when VFALLBACK_ALWAYS."""
    if _always(k, order):
        page = None
    else:
        page = k.alloc_pages(flags | __GFP_NORETRY | __GFP_NOWARN, order)
    if page is not None or not order:
        return page
    vm = k.call("____alloc_vcompound", flags, order, "alloc_vcompound")
    return array_get(k, vm.pages, 0) if vm is not None else None


@cname("__alloc_vcompound")
def __alloc_vcompound_05(k, flags, order):
    """__alloc_vcompound() with 05/14: skip the physical try when VFALLBACK_ALWAYS."""
    if _always(k, order):
        addr = 0
    else:
        addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN, order)
    if addr or not order:
        return addr
    vm = k.call("____alloc_vcompound", flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


S = "v3"
PATCHES = [
    Patch(S, 1, "vcompound: Return page array on vunmap",
          "20080321061724.210918641@sgi.com",
          functions=(map_vm_area, __vunmap, vunmap)),
    Patch(S, 2, "vcompound: pageflags: Add PageVcompound()",
          "20080321061724.515504935@sgi.com",
          functions=(PageVcompound, __SetPageVcompound, __ClearPageVcompound),
          unbuildable=_needs_pg_compound),
    Patch(S, 3, "vmallocinfo: Support display of vcompound for a virtual compound page",
          "20080321061724.795229401@sgi.com", functions=(vmallocinfo,)),
    Patch(S, 4, "vcompound: Core piece", "20080321061724.956843984@sgi.com",
          depends=(1, 2, 3),
          functions=(vcompound_head_page, ____alloc_vcompound, alloc_vcompound,
                     __alloc_vcompound, __vcompound_free, vcompound_free_work,
                     vcompound_free, __free_vcompound, free_vcompound)),
    Patch(S, 5, "vcompound: Debugging aid", "20080321061725.277866037@sgi.com",
          depends=(4,), functions=(alloc_vcompound_05, __alloc_vcompound_05),
          options=(option("VFALLBACK_ALWAYS", True,
                          "Always fall back to virtually mapped compound pages "
                          "(05/14; default y, no dependency, as posted)"),)),
] + CLIENT_PATCHES

PREREQUISITES = [
    Patch(S, 0, "2.6.25-rc5-mm1 page flags: PageHead tests PG_compound only",
          "20080301040814.126294060@sgi.com", functions=(PageHead_rc5mm1,),
          unbuildable=_rc5mm1_flags,
          note="-mm prerequisite named in the cover; applies when "
               "PAGEFLAGS_EXTENDED=n"),
]


SERIES = Series("v3", "Virtual Compound Page Support V3", "2.6.25-rc5-mm1",
                PATCHES, PREREQUISITES)
