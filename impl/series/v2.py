"""Virtual Compound Page Support V2 (C. Lameter, 3 October 2007), as posted.

The GFP_VFALLBACK design: the page allocator itself falls back to a
virtually mapped compound page for ``order && __GFP_VFALLBACK`` requests,
page_address()/virt_to_head_page()/compound_nth_page() are taught about
vcompound pages, and the free paths (__free_pages, free_pages and the
compound destructor) recognise them.  Notes per patch:
docs/series-notes/v2.md.

V2 was against linux-2.6 of 3 Oct 2007 (2.6.23-rc9); the model applies it
to its 2.6.25 base, whose page flags (PageHead = PG_compound without
PG_reclaim), vmalloc list and allocator paths are the same for everything
V2 touches.  __GFP_VFALLBACK takes 0x2000, free in 2.6.25 too.  Without a
PG_compound bit (PAGEFLAGS_EXTENDED=y) 05/18 does not build.
"""
from __future__ import annotations

from ..gfp import GFP_KERNEL, GFP_RECLAIM_MASK, __GFP_COMP
from ..page_alloc import (ALLOC_NO_WATERMARKS, _mark, allocation_failed,
                          freelist_passes)
from ..vmalloc import PAGE_KERNEL, VM_MAP, array_get, array_set, reserve_vm_area
from . import Patch, Series, cname, option
from . import v3

__GFP_VFALLBACK = 0x2000
GFP_VFALLBACK = GFP_KERNEL | __GFP_VFALLBACK


def _needs_pg_compound(cfg):
    if cfg.PAGEFLAGS_EXTENDED:
        return ("posted against 2.6.23, whose page flags have one PG_compound "
                "bit; PAGEFLAGS_EXTENDED=y has no PG_compound for "
                "PG_vcompound_mask")
    return None


# --- 03: vmalloc_address ----------------------------------------------------------------

def vmalloc_address(k, page):
    """vmalloc_address() (03/18): the first vmalloc address whose PTE maps the
    page, by a linear walk of the kernel page tables (NULL if none)."""
    for vpage in sorted(k.ptes):
        va = vpage << k.PAGE_SHIFT
        if k.VMALLOC_START <= va < k.VMALLOC_END and k.ptes[vpage] == page:
            return va
    return 0


# --- 04: virt_to_head_page knows vmalloc addresses ---------------------------------------

def virt_to_head_page(k, x):
    """virt_to_head_page() (04/18): vmalloc_to_page() for vmalloc addresses."""
    page = k.vmalloc_to_page(x) if k.is_vmalloc_addr(x) else k.virt_to_page(x)
    return k.compound_head(page)


# --- 06: page_address / set_page_address -------------------------------------------------

@cname("page_address")
def page_address_v2(k, page):
    """page_address() (06/18): vmalloc_address() for a Vcompound page."""
    if k.cfg.HIGHMEM and k.PageHighMem(page):
        return k.page_address_map.get(page)
    if k.PageVcompound(page):
        return k.vmalloc_address(page)
    return k.lowmem_page_address(page)


@cname("set_page_address")
def set_page_address_v2(k, page, virtual):
    """set_page_address() (06/18): HASHED: lowmem pages must be Vcompound and
    are left alone; highmem as before.  Otherwise a no-op."""
    if not k.cfg.HIGHMEM:
        return None
    if not k.PageHighMem(page):
        k.BUG_ON(not k.PageVcompound(page), "set_page_address", "mm/highmem.c (06/18)")
        return None
    if virtual:
        k.page_address_map[page] = virtual
    else:
        k.page_address_map.pop(page, None)
    return None


# --- 07: compound_nth_page ------------------------------------------------------------------

def vmalloc_nth_page(k, page, n):
    """vmalloc_nth_page() (07/18): vmalloc_to_page(page_address(page) + n pages)."""
    return k.vmalloc_to_page(k.page_address(page) + n * k.PAGE_SIZE)


def compound_nth_page(k, page, n):
    """compound_nth_page() (07/18): page + n, or vmalloc_nth_page() if Vcompound."""
    if not k.PageVcompound(page):
        return page + n
    return k.vmalloc_nth_page(page, n)


def _second(k, page, who):
    return k.deref(k.compound_nth_page(page, 1), who)


def set_compound_page_dtor(k, page, dtor):
    """set_compound_page_dtor() (07/18): via compound_nth_page(page, 1)."""
    k.lru_next[_second(k, page, "set_compound_page_dtor")] = k.func_addr(dtor)


def get_compound_page_dtor(k, page):
    """get_compound_page_dtor() (07/18): via compound_nth_page(page, 1)."""
    return k.lru_next[_second(k, page, "get_compound_page_dtor")]


def compound_order(k, page):
    """compound_order() (07/18): 0 unless PageHead, else nth(1)->lru.prev."""
    if not k.PageHead(page):
        return 0
    return k.lru_prev[_second(k, page, "compound_order")]


def set_compound_order(k, page, order):
    """set_compound_order() (07/18): via compound_nth_page(page, 1)."""
    k.lru_prev[_second(k, page, "set_compound_order")] = order


def prep_compound_page(k, page, order):
    """prep_compound_page() (07/18): tails found by compound_nth_page()."""
    k.set_compound_page_dtor(page, "free_compound_page")
    k.set_compound_order(page, order)
    k.call("__SetPageHead", page)
    for i in range(1, 1 << order):
        p = k.deref(k.compound_nth_page(page, i), "prep_compound_page")
        k.call("__SetPageTail", p)
        k.private[p] = k.page_to_word(page)


def destroy_compound_page(k, page, order):
    """destroy_compound_page() (07/18): order, tails via nth page, head last."""
    if k.compound_order(page) != order:
        k.bad_page(page)
    head_word = k.page_to_word(page)
    for i in range(1, 1 << order):
        p = k.deref(k.compound_nth_page(page, i), "destroy_compound_page")
        if not k.PageTail(p) or k.private[p] != head_word:
            k.bad_page(page)
        k.call("__ClearPageTail", p)
    if not k.PageHead(page):
        k.bad_page(page)
    k.call("__ClearPageHead", page)


# --- 08: GFP_VFALLBACK in the page allocator ----------------------------------------------

def alloc_vcompound(k, gfp_mask, order, zonelist, alloc_flags):
    """alloc_vcompound() (08/18): order-0 pages from the free lists, a VM_MAP
    area (not NULL-checked), mapped, then prep_compound_page()."""
    nr_pages = 1 << order
    pages = k.kmalloc(nr_pages * k.PTR_SIZE, gfp_mask & (GFP_RECLAIM_MASK | __GFP_COMP))
    if not pages:
        return None
    gfp_mask &= ~(__GFP_COMP | __GFP_VFALLBACK)
    for i in range(nr_pages):
        page = k.get_page_from_freelist(gfp_mask, 0, zonelist, alloc_flags)
        if page is None:
            return _abort(k, pages, i)
        k.call("__SetPageVcompound", page)
        array_set(k, pages, i, page)
    vm = k.get_vm_area_node(nr_pages << k.PAGE_SHIFT, VM_MAP, -1, gfp_mask)
    if vm is None:
        k.oops("BUG: unable to handle kernel NULL pointer dereference "
               "(vm of a failed get_vm_area_node)", "alloc_vcompound")
    if k.map_vm_area(vm, PAGE_KERNEL, [pages]):
        return _abort(k, pages, nr_pages)          # vm stays listed
    head = array_get(k, pages, 0)
    k.prep_compound_page(head, order)
    for i in range(nr_pages):
        k.set_page_address(head, vm.addr + i * k.PAGE_SIZE)   # pages[0], always
    return head


def _abort(k, pages, i):
    while i > 0:
        i -= 1
        page = array_get(k, pages, i)
        k.set_page_address(page, 0)
        k.call("__ClearPageVcompound", page)
        k.call("__free_page", page)
    k.kfree(pages)
    return None


@cname("__alloc_pages")
def __alloc_pages_v2(k, gfp_mask, order, zonelist):
    """__alloc_pages() (08/18): as the model's 2.6.25 path, but where a request
    would fail, try alloc_vcompound() for order && __GFP_VFALLBACK
    (try_vcompound; after no reclaim progress for sleeping requests)."""
    page, alloc_flags = freelist_passes(k, gfp_mask, order, zonelist)
    if page is not None or not alloc_flags:
        return page
    if order and gfp_mask & __GFP_VFALLBACK:          # try_vcompound:
        page = k.alloc_vcompound(gfp_mask, order, zonelist, alloc_flags)
        if page is not None:
            return page
    allocation_failed(k, gfp_mask, order)
    return None


def __free_vcompound(k, addr):
    """__free_vcompound() (08/18): destroy, vunmap, free head and tails."""
    page = k.vmalloc_to_page(addr)
    order = k.compound_order(page)
    if not k.PageVcompound(page) or not k.PageHead(page):
        k.bad_page(page)
        return
    k.destroy_compound_page(page, order)
    pages = k.vunmap(addr)
    if not pages:
        k.oops("BUG: unable to handle kernel NULL pointer dereference "
               "(page array of vunmap)", "__free_vcompound")
    head = array_get(k, pages, 0)
    k.set_page_address(head, 0)
    k.call("__ClearPageVcompound", head)
    k.free_hot_page(head)
    for i in range(1, 1 << order):
        page = array_get(k, pages, i)
        k.set_page_address(page, 0)
        k.call("__ClearPageVcompound", page)
        k.call("__free_page", page)
    k.kfree(pages)


@cname("free_vcompound")
def free_vcompound_08(k, addr):
    """free_vcompound() (08/18): __free_vcompound(addr)."""
    k.call("__free_vcompound", addr)


@cname("free_compound_page")
def free_compound_page_v2(k, page):
    """free_compound_page() (08/18): Vcompound -> free_vcompound(page_address);
    else destroy_compound_page, then __free_pages_ok(page, compound_order())
    -- read after the head mark is gone, so order 0."""
    if k.PageVcompound(page):
        k.free_vcompound(k.page_address(page))
        return
    k.destroy_compound_page(page, k.compound_order(page))
    k.call("__free_pages_ok", page, k.compound_order(page))


@cname("__free_pages")
def __free_pages_v2(k, page, order):
    """__free_pages() (08/18): a PageHead page goes to free_compound_page()."""
    if k.put_page_testzero(page):
        if order == 0:
            k.free_hot_page(page)
        elif k.PageHead(page):
            k.free_compound_page(page)
        else:
            k.call("__free_pages_ok", page, order)


@cname("free_pages")
def free_pages_v2(k, addr, order):
    """free_pages() (08/18): vmalloc_to_page() for vmalloc addresses."""
    if addr == 0:
        return
    if k.VMALLOC_START <= addr < k.VMALLOC_END:
        page = k.vmalloc_to_page(addr)
    else:
        k.VM_BUG_ON(not k.virt_addr_valid(addr), "free_pages", "mm/page_alloc.c")
        page = k.virt_to_page(addr)
    k.call("__free_pages", page, order)


# --- 09: VFALLBACK_ALWAYS in get_page_from_freelist -------------------------------------

@cname("get_page_from_freelist")
def get_page_from_freelist_v2(k, gfp_mask, order, zonelist, alloc_flags):
    """get_page_from_freelist() (09/18): after boot, __GFP_VFALLBACK requests go
    straight to alloc_vcompound() -- any order, order 0 included."""
    classzone_idx = zonelist[0].idx
    for zone in zonelist:
        if not alloc_flags & ALLOC_NO_WATERMARKS:
            if not k.zone_watermark_ok(zone, order, _mark(zone, alloc_flags),
                                       classzone_idx, alloc_flags):
                continue
        if (k.cfg.VFALLBACK_ALWAYS and gfp_mask & __GFP_VFALLBACK
                and k.system_state == "SYSTEM_RUNNING"):
            return k.alloc_vcompound(gfp_mask, order, zonelist, alloc_flags)
        page = k.buffered_rmqueue(zone, order, gfp_mask)
        if page is not None:
            return page
    return None


# --- 16: vmalloc space from interrupt context ----------------------------------------------

@cname("__get_vm_area_node")
def __get_vm_area_node_v2(k, size, flags, start, end, node, gfp_mask, caller=""):
    """__get_vm_area_node() (16/18): no BUG_ON(in_interrupt()); write_trylock
    for atomic callers (always succeeds in the single-threaded model)."""
    return reserve_vm_area(k, size, flags, start, end, node, gfp_mask, caller)


# --- 17: deferred free in interrupt context --------------------------------------------------

def vcompound_free_work(k, w):
    """vcompound_free_work() (17/18): __free_vcompound(w)."""
    k.call("__free_vcompound", w)


def free_vcompound(k, addr):
    """free_vcompound() (17/18): defer via keventd if irqs off or in interrupt."""
    if k.irqs_disabled() or k.in_interrupt():
        k.INIT_WORK(addr, "vcompound_free_work")
        k.schedule_work(addr)
    else:
        k.call("__free_vcompound", addr)


S = "v2"
PATCHES = [
    Patch(S, 2, "vunmap: return page array passed on vmap()",
          "20071004040002.172507452@sgi.com",
          functions=(v3.map_vm_area, v3.__vunmap, v3.vunmap)),
    Patch(S, 3, "vmalloc_address(): Determine vmalloc address from page struct",
          "20071004040002.395028045@sgi.com", functions=(vmalloc_address,)),
    Patch(S, 4, "Vcompound: Smart up virt_to_head_page()",
          "20071004040002.622421554@sgi.com", functions=(virt_to_head_page,)),
    Patch(S, 5, "Page flags: Add PageVcompound()", "20071004040002.849512773@sgi.com",
          functions=(v3.PageVcompound, v3.__SetPageVcompound, v3.__ClearPageVcompound),
          unbuildable=_needs_pg_compound),
    Patch(S, 6, "Vcompound: Update page address determination",
          "20071004040003.082188692@sgi.com", depends=(3, 5),
          functions=(page_address_v2, set_page_address_v2)),
    Patch(S, 7, "Vcompound: Add compound_nth_page() to determine nth base page",
          "20071004040003.303112696@sgi.com", depends=(5, 6),
          functions=(vmalloc_nth_page, compound_nth_page, set_compound_page_dtor,
                     get_compound_page_dtor, compound_order, set_compound_order,
                     prep_compound_page, destroy_compound_page)),
    Patch(S, 8, "GFP_VFALLBACK: Allow fallback of compound pages to virtual mappings",
          "20071004040003.556122828@sgi.com", depends=(2, 5, 6, 7),
          functions=(alloc_vcompound, __alloc_pages_v2, __free_vcompound,
                     free_vcompound_08, free_compound_page_v2, __free_pages_v2,
                     free_pages_v2)),
    Patch(S, 9, "Vcompound: GFP_VFALLBACK debugging aid",
          "20071004040003.797970826@sgi.com", depends=(8,),
          functions=(get_page_from_freelist_v2,),
          options=(option("VFALLBACK_ALWAYS", True,
                          "Always fall back to Virtual Compound pages (09/18; "
                          "default y, no dependency, as posted)"),)),
    Patch(S, 16, "Virtual Compound page allocation from interrupt context.",
          "20071004040005.396698805@sgi.com", depends=(8,),
          functions=(__get_vm_area_node_v2,)),
    Patch(S, 17, "Virtual compound page freeing in interrupt context",
          "20071004040005.631121150@sgi.com", depends=(8,),
          functions=(vcompound_free_work, free_vcompound)),
]



# How a V2 user spells the vcompound API (not kernel code: the caller's side).
def api_alloc_addr(k, gfp, order):
    extra = __GFP_VFALLBACK | (__GFP_COMP if order else 0)
    return k.call("__get_free_pages", gfp | extra, order)


def api_free_addr(k, addr, order):
    k.free_pages(addr, order)


def api_alloc_page(k, gfp, order):
    return k.alloc_pages(gfp | __GFP_VFALLBACK | (__GFP_COMP if order else 0), order)


def api_free_page(k, page, order):
    k.call("__free_pages", page, order)


USER_API = {"__alloc_vcompound": api_alloc_addr, "__free_vcompound": api_free_addr,
            "alloc_vcompound": api_alloc_page, "free_vcompound": api_free_page,
            "head_page": "virt_to_head_page"}


# --- the converted users (10-15, 18) ------------------------------------------------------

def zone_wait_table_init(k, entries):
    """zone_wait_table_init() (11/18): __get_free_pages(GFP_VFALLBACK, order)."""
    from ..clients.wait_table import init_wait_table, wait_queue_head_size
    alloc_size = entries * wait_queue_head_size(k)
    table = k.call("__get_free_pages", GFP_VFALLBACK, k.get_order(alloc_size))
    return init_wait_table(k, table, entries)


def bit_waitqueue(k, word, bit):
    """bit_waitqueue() (12/18): page_zone(virt_to_head_page(word))."""
    from ..clients.wait import _hash
    zone = k.page_zone(k.virt_to_head_page(word))
    return zone.idx, _hash(word, bit)


def alloc_thread_info(k, tsk):
    """alloc_thread_info() (13/18, x86_64): __get_free_pages(THREAD_FLAGS =
    GFP_VFALLBACK, THREAD_ORDER); i386 keeps plain GFP_KERNEL."""
    from ..clients.thread_info import THREAD_ORDER
    flags = GFP_VFALLBACK if k.cfg.ARCH == "x86_64" else GFP_KERNEL
    return k.call("__get_free_pages", flags, THREAD_ORDER)


def calibrate_xor_blocks(k):
    """calibrate_xor_blocks() (15/18): __get_free_pages(GFP_VFALLBACK, 2)."""
    from ..clients.xor import ENOMEM, xor_touch
    b1 = k.call("__get_free_pages", GFP_VFALLBACK, 2)
    if not b1:
        return -ENOMEM
    xor_touch(k, b1)
    k.free_pages(b1, 2)
    return 0


def alloc_loc_track(k, t, max_, flags):
    """alloc_loc_track() (18/18): flags | __GFP_COMP | __GFP_VFALLBACK."""
    from ..clients.slub_loc import grow_loc_track, sizeof_location
    order = k.get_order(sizeof_location(k) * max_)
    l = k.call("__get_free_pages", flags | __GFP_COMP | __GFP_VFALLBACK, order)
    return grow_loc_track(k, t, max_, l)


def _sparse_v2(cfg):
    if cfg.MEMORY_HOTPLUG and not cfg.SPARSEMEM_VMEMMAP:
        return "mm/sparse.c does not compile: memmap_size is no longer declared"
    return None


PATCHES += [
    Patch(S, 10, "Sparsemem: Use fallback for the memmap.", "20071004040004.041950009@sgi.com",
          depends=(8,), unbuildable=_sparse_v2, clients=("sparse",)),
    Patch(S, 11, "Page allocator: Use a higher order allocation for the zone wait table.",
          "20071004040004.253793692@sgi.com", depends=(8,),
          functions=(zone_wait_table_init,), clients=("wait_table",)),
    Patch(S, 12, "Wait: Allow bit_waitqueue to wait on a bit in a virtual compound page",
          "20071004040004.482614498@sgi.com", depends=(4,), functions=(bit_waitqueue,)),
    Patch(S, 13, "x86_64: Allow fallback for the stack", "20071004040004.708466159@sgi.com",
          depends=(8,), functions=(alloc_thread_info,), clients=("stack",)),
    Patch(S, 14, "Configure stack size", "20071004040004.936534357@sgi.com",
          note="CONFIG_THREAD_ORDER, default 1: no change at the default"),
    Patch(S, 15, "Fallback for temporary order 2 allocation",
          "20071004040005.171632278@sgi.com", depends=(8,),
          functions=(calibrate_xor_blocks,), clients=("xor",)),
    Patch(S, 18, "SLUB: Use fallback for table of callers/freers of a slab cache",
          "20071004040005.850376534@sgi.com", depends=(8,),
          functions=(alloc_loc_track,), clients=("slub_loc",)),
]
PATCHES.sort(key=lambda p: p.number)
SERIES = Series("v2", "Virtual Compound Page Support V2 (GFP_VFALLBACK)",
                "linux-2.6 of 3 Oct 2007 (2.6.23-rc9)", PATCHES)
