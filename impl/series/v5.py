"""Virtualizable Compound Page Support V5 (C. Lameter, 29 April 2008), as posted.

Against linux-2.6 of 28-29 April 2008 (the 2.6.26 merge window: the
page-flags rewrite with PAGEFLAGS_EXTENDED is in).  Notes per patch:
docs/series-notes/v5.md.  Where V5 repeats V3 word for word (01's __vunmap,
03's vmallocinfo, vcompound_head_page, the free entry points) the V3
function is reused.

02/11 adds a real PG_vcompound bit "after PG_tail" under PAGEFLAGS_EXTENDED;
the model gives it the next unused bit (19) instead of renumbering the
enum, which nothing in the model can observe.  Without PAGEFLAGS_EXTENDED,
02/11 does not compile (a stray '+' before #define PageVcompound).
"""
from __future__ import annotations

from ..gfp import GFP_RECLAIM_MASK, __GFP_COMP, __GFP_NORETRY, __GFP_NOWARN
from ..vmalloc import PAGE_KERNEL, array_get, array_set
from . import Patch, Series, cname, option
from . import v3
from .clients_v5 import CLIENT_PATCHES

VM_VCOMPOUND = 0x00000020
PG_vcompound = 19


def _extended_only(cfg):
    if not cfg.PAGEFLAGS_EXTENDED:
        return ("does not compile without PAGEFLAGS_EXTENDED: the hunk adding "
                "the PageVcompound() macro leaves a stray '+' before #define")
    return None


# --- 02: PG_vcompound -------------------------------------------------------------

def PageVcompound(k, page):
    """PageVcompound() (02/11): __PAGEFLAG(Vcompound, vcompound)."""
    k.deref(page, "PageVcompound")
    return bool(k.flags[page] >> PG_vcompound & 1)


def __SetPageVcompound(k, page):
    """__SetPageVcompound() (02/11)."""
    k.deref(page, "__SetPageVcompound")
    k.flags[page] |= 1 << PG_vcompound


def __ClearPageVcompound(k, page):
    """__ClearPageVcompound() (02/11)."""
    k.deref(page, "__ClearPageVcompound")
    k.flags[page] &= ~(1 << PG_vcompound)


# --- 04: the core -------------------------------------------------------------------

def ____alloc_vcompound(k, node, gfp_mask, order, caller):
    """____alloc_vcompound() (04/11): pages, VM_VCOMPOUND area with pages set
    by hand, head = Head+Vcompound, tails = Tail with first_page."""
    nr_pages = 1 << (order & 31)
    pages = k.kmalloc(nr_pages * k.PTR_SIZE, gfp_mask & GFP_RECLAIM_MASK)
    k.BUG_ON(not order or order >= k.MAX_ORDER, "____alloc_vcompound",
             "mm/vmalloc.c (04/11)")
    if not pages:
        return None
    i, vm = 0, None
    while i < nr_pages:
        page = (k.alloc_page(gfp_mask) if node == -1
                else k.alloc_pages_node(node, gfp_mask, 0))
        if page is None:
            break
        array_set(k, pages, i, page)
        i += 1
    else:
        vm = k.call("__get_vm_area_node", nr_pages << k.PAGE_SHIFT, VM_VCOMPOUND,
                    k.VMALLOC_START, k.VMALLOC_END, node, gfp_mask, caller)
        if vm is not None:
            vm.caller = caller
            vm.pages, vm.nr_pages = pages, nr_pages
            if k.map_vm_area(vm, PAGE_KERNEL, [pages]):
                vm = None                          # abort: vm stays listed
    if vm is None:
        while i > 0:
            i -= 1
            page = array_get(k, pages, i)
            if page is not None:
                k.set_page_address(page, 0)
                k.call("__ClearPageTail", page)
                k.call("__ClearPageHead", page)
                k.call("__ClearPageVcompound", page)
                k.call("__free_page", page)
        k.kfree(pages)
        return None
    head = array_get(k, pages, 0)
    k.call("__SetPageHead", head)
    k.call("__SetPageVcompound", head)
    k.set_page_address(head, vm.addr)
    k.lru_prev[k.deref(array_get(k, pages, 1), "____alloc_vcompound")] = order
    for i in range(1, nr_pages):
        page = array_get(k, pages, i)
        k.call("__SetPageTail", page)
        k.private[page] = k.page_to_word(head)     # page->first_page
        k.set_page_address(page, vm.addr + i * k.PAGE_SIZE)
    return vm


def _virtualize_always(k, order):
    return k.cfg.VIRTUALIZE_ALWAYS and k.system_state == "SYSTEM_RUNNING" and order


def _alloc_vcompound_node(k, node, flags, order, skip_physical):
    alloc_flags = flags | __GFP_NORETRY | __GFP_NOWARN
    if order:
        alloc_flags |= __GFP_COMP
    if skip_physical:
        page = None
    elif node == -1:
        page = k.alloc_pages(alloc_flags, order)
    else:
        page = k.alloc_pages_node(node, alloc_flags, order)
    if page is not None or not order:
        return page
    vm = k.call("____alloc_vcompound", node, flags, order, "alloc_vcompound_node")
    return array_get(k, vm.pages, 0) if vm is not None else None


@cname("alloc_vcompound_node")
def alloc_vcompound_node_04(k, node, flags, order):
    """alloc_vcompound_node() (04/11): __GFP_COMP for order > 0, then fallback."""
    return _alloc_vcompound_node(k, node, flags, order, False)


def alloc_vcompound_node(k, node, flags, order):
    """alloc_vcompound_node() with 05/11: no physical try under VIRTUALIZE_ALWAYS."""
    return _alloc_vcompound_node(k, node, flags, order, _virtualize_always(k, order))


def alloc_vcompound(k, flags, order):
    """alloc_vcompound() (04/11): the header's inline, node -1."""
    return k.alloc_vcompound_node(-1, flags, order)


def __alloc_vcompound(k, flags, order):
    """__alloc_vcompound() (04/11 with 05/11): still no __GFP_COMP."""
    if _virtualize_always(k, order):
        addr = 0
    else:
        addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN, order)
    if addr or not order:
        return addr
    vm = k.call("____alloc_vcompound", -1, flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


def __vcompound_free(k, addr):
    """__vcompound_free() (04/11): clears Vcompound+Head on the head, Tail on tails."""
    pages = k.vunmap(addr)
    if not pages:
        k.oops("BUG: unable to handle kernel NULL pointer dereference "
               "(pages[1] of a NULL page array)", "__vcompound_free")
    order = k.lru_prev[k.deref(array_get(k, pages, 1), "__vcompound_free")]
    k.check_order(order, "__vcompound_free")
    head = array_get(k, pages, 0)
    k.set_page_address(head, 0)
    k.call("__ClearPageVcompound", head)
    k.call("__ClearPageHead", head)
    k.free_hot_page(head)
    for i in range(1, 1 << order):
        page = array_get(k, pages, i)
        k.BUG_ON(not k.PageTail(page), "__vcompound_free", "mm/vmalloc.c (04/11)")
        k.set_page_address(page, 0)
        k.call("__ClearPageTail", page)
        k.call("__free_page", page)
    k.kfree(pages)


@cname("__alloc_vcompound")
def __alloc_vcompound_04(k, flags, order):
    """__alloc_vcompound() (04/11 before 05/11)."""
    addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN, order)
    if addr or not order:
        return addr
    vm = k.call("____alloc_vcompound", -1, flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


S = "v5"
PATCHES = [
    Patch(S, 1, "vmalloc: Return page array on vunmap", "20080430044319.072339672@sgi.com",
          functions=(v3.__vunmap, v3.vunmap)),
    Patch(S, 2, "vcompound: pageflags: Add PageVcompound()",
          "20080430044319.309218061@sgi.com",
          functions=(PageVcompound, __SetPageVcompound, __ClearPageVcompound),
          unbuildable=_extended_only),
    Patch(S, 3, "vmallocinfo: Support display of virtualized compound pages",
          "20080430044319.612279708@sgi.com", functions=(v3.vmallocinfo,)),
    Patch(S, 4, "vcompound: Core piece for virtualizable compound page allocation",
          "20080430044319.806574846@sgi.com", depends=(1, 2, 3),
          functions=(v3.vcompound_head_page, ____alloc_vcompound, alloc_vcompound_node_04,
                     alloc_vcompound, __alloc_vcompound_04, __vcompound_free,
                     v3.vcompound_free_work, v3.vcompound_free, v3.__free_vcompound,
                     v3.free_vcompound)),
    Patch(S, 5, "vcompound: Debugging aid", "20080430044320.082665180@sgi.com",
          depends=(4,), functions=(alloc_vcompound_node, __alloc_vcompound),
          options=(option("VIRTUALIZE_ALWAYS", True,
                          "Always allocate virtualized compound pages (05/11; "
                          "'Only for testing', default y, no dependency, as "
                          "posted)"),)),
] + CLIENT_PATCHES

SERIES = Series("v5", "Virtualizable Compound Page Support V5",
                "linux-2.6 of 29 April 2008 (2.6.26 page flags)", PATCHES)
