"""reference, but the fallback leaves each tail's _count at 1.

A one-line slip in ____alloc_vcompound: the loop over the tails marks them
and points them at the head, but forgets set_page_count(tail, 0), so every
tail keeps the reference alloc_page gave it.
"""
from vcpcheck.impl.gfp import GFP_RECLAIM_MASK, __GFP_COMP
from vcpcheck.impl.series.reference import VM_VCOMPOUND
from vcpcheck.impl.vmalloc import PAGE_KERNEL, array_get, array_set

BASE = "reference"


def ____alloc_vcompound(k, gfp_mask, order, caller):
    """The reference fallback without the tails' set_page_count(tail, 0)."""
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
    return vm


REPLACE = {"____alloc_vcompound": ____alloc_vcompound}
