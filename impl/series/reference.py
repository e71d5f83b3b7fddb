"""reference: a correct virtual compound page design with V3's API.

Not a posted version: vcpcheck's own design, to show the contract in
spec/vcompound.py is satisfiable under every Kconfig and engine, and that
the checker raises no false alarm.  It keeps V3's entry points
(alloc_vcompound, __alloc_vcompound, free_vcompound, __free_vcompound,
vcompound_head_page) and VFALLBACK_ALWAYS, and differs where V3 breaks the
contract:

  * the physical attempt adds __GFP_COMP, so every object is a compound
    page and frees by its own order;
  * the fallback marks the head PageHead and only the tails PageTail; tails
    drop their reference (_count 0) like prep_compound_page's tails;
  * no page flag is borrowed: the vmalloc address lives in head->private
    (usable on a compound head since 2.6.22, 0 on a physical one after
    prep_new_page), and PageVcompound() is "a head whose private word is a
    vmalloc address", so no page ever tests as swap cache (V2/V3's
    PG_compound|PG_swapcache overlay does);
  * set_page_address() is never called, so HIGHMEM kernels work;
    compound_order() is taught to read the order from pages[1];
  * a failed mapping removes the area; orders >= MAX_ORDER get NULL;
  * NULL frees are no-ops; a free that cannot run here (not preemptible)
    is deferred to keventd, as in V3.
"""
from __future__ import annotations

from ..gfp import GFP_RECLAIM_MASK, __GFP_COMP, __GFP_NORETRY, __GFP_NOWARN
from ..vmalloc import PAGE_KERNEL, array_get, array_set
from . import Patch, Series, option

VM_VCOMPOUND = 0x00000020


def PageVcompound(k, page):
    """PageVcompound(): a compound head whose private word is its vmalloc address."""
    return k.PageHead(page) and k.is_vmalloc_addr(k.page_private(page))


def compound_order(k, page):
    """compound_order(): page[1] of the object -- pages[1] when virtual."""
    if not k.PageHead(page):
        return 0
    if k.PageVcompound(page):
        second = k.vmalloc_to_page(k.private[page] + k.PAGE_SIZE)
        return k.lru_prev[k.deref(second, "compound_order")]
    return k.lru_prev[k.deref(page + 1, "compound_order")]


def vcompound_head_page(k, x):
    """vcompound_head_page(): the head of the object holding x (NULL if unmapped)."""
    page = k.vmalloc_to_page(x) if k.is_vmalloc_addr(x) else k.virt_to_page(x)
    return None if page is None else k.compound_head(page)


def ____alloc_vcompound(k, gfp_mask, order, caller):
    """Build a virtually mapped compound page of 2^order order-0 pages."""
    gfp_mask &= ~__GFP_COMP
    nr_pages = 1 << order
    pages = k.kmalloc(nr_pages * k.PTR_SIZE, gfp_mask & GFP_RECLAIM_MASK)
    if not pages:
        return None
    got = 0
    while got < nr_pages:
        page = k.alloc_page(gfp_mask)
        if page is None:
            break
        array_set(k, pages, got, page)
        got += 1
    vm = None
    if got == nr_pages:
        vm = k.call("__get_vm_area_node", nr_pages << k.PAGE_SHIFT, VM_VCOMPOUND,
                    k.VMALLOC_START, k.VMALLOC_END, -1, gfp_mask, caller)
    if vm is not None:
        vm.pages, vm.nr_pages = pages, nr_pages
        if k.map_vm_area(vm, PAGE_KERNEL, [pages]):
            area = k.remove_vm_area(vm.addr)
            k.kfree(area.desc)
            vm = None
    if vm is None:
        for i in range(got):
            k.call("__free_page", array_get(k, pages, i))
        k.kfree(pages)
        return None
    head = array_get(k, pages, 0)
    k.lru_prev[array_get(k, pages, 1)] = order
    k.call("__SetPageHead", head)
    k.private[head] = vm.addr
    for i in range(1, nr_pages):
        tail = array_get(k, pages, i)
        k.call("__SetPageTail", tail)
        k.private[tail] = k.page_to_word(head)  # first_page
        k.set_page_count(tail, 0)
    return vm


def _physical(k, flags, order):
    return not (k.cfg.VFALLBACK_ALWAYS and k.system_state == "SYSTEM_RUNNING"
                and order)


def alloc_vcompound(k, flags, order):
    """alloc_vcompound(): a compound page, physically or virtually backed."""
    if order >= k.MAX_ORDER:
        return None
    if _physical(k, flags, order):
        page = k.alloc_pages(flags | __GFP_NORETRY | __GFP_NOWARN
                             | (__GFP_COMP if order else 0), order)
        if page is not None or not order:
            return page
    vm = k.call("____alloc_vcompound", flags, order, "alloc_vcompound")
    return array_get(k, vm.pages, 0) if vm is not None else None


def __alloc_vcompound(k, flags, order):
    """__alloc_vcompound(): as alloc_vcompound(), returning the address."""
    if order >= k.MAX_ORDER:
        return 0
    if _physical(k, flags, order):
        addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN
                      | (__GFP_COMP if order else 0), order)
        if addr or not order:
            return addr
    vm = k.call("____alloc_vcompound", flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


def __vcompound_free(k, addr):
    """Unmap the object and give every page back clean."""
    area = k.remove_vm_area(addr)
    k.BUG_ON(area is None, "__vcompound_free", "reference")
    pages, nr_pages = area.pages, area.nr_pages
    head = array_get(k, pages, 0)
    k.call("__ClearPageHead", head)
    k.private[head] = 0
    k.free_hot_page(head)                      # _count already 0
    for i in range(1, nr_pages):
        tail = array_get(k, pages, i)
        k.call("__ClearPageTail", tail)
        k.private[tail] = 0
        k.free_hot_page(tail)                  # tails hold no reference
    k.kfree(pages)
    k.kfree(area.desc)


def vcompound_free_work(k, w):
    """The deferred free, run by keventd."""
    k.call("__vcompound_free", w)


def vcompound_free(k, addr, page):
    """Drop the caller's reference; free now, or from keventd if we may not."""
    k.BUG_ON(not k.PageVcompound(page), "vcompound_free", "reference")
    if not k.put_page_testzero(page):
        return
    if not k.preemptible():
        k.INIT_WORK(addr, "vcompound_free_work")
        k.schedule_work(addr)
    else:
        k.call("__vcompound_free", addr)


def __free_vcompound(k, addr):
    """__free_vcompound(): NULL is a no-op; virtual or compound by its order."""
    if not addr:
        return
    if k.is_vmalloc_addr(addr):
        k.vcompound_free(addr, k.vmalloc_to_page(addr))
    else:
        page = k.virt_to_page(addr)
        k.call("__free_pages", page, k.compound_order(page))


def free_vcompound(k, page):
    """free_vcompound(): by the head page."""
    if page is None:
        return
    if k.PageVcompound(page):
        k.vcompound_free(k.private[page], page)
    else:
        k.call("__free_pages", page, k.compound_order(page))


PATCHES = [
    Patch("reference", 1, "virtual compound pages, a correct design with V3's API",
          "(none: vcpcheck's reference)",
          functions=(PageVcompound, compound_order, vcompound_head_page,
                     ____alloc_vcompound, alloc_vcompound, __alloc_vcompound,
                     __vcompound_free, vcompound_free_work, vcompound_free,
                     __free_vcompound, free_vcompound),
          options=(option("VFALLBACK_ALWAYS", True,
                          "Always use the virtually mapped fallback after boot "
                          "(as V3 05/14)"),)),
]

SERIES = Series("reference", "vcpcheck's correct virtual compound design",
                "2.6.25", PATCHES)
