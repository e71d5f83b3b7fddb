"""V3 patches 06-14: the users converted to virtual compound pages, as posted.

Each function replaces the base version in impl/clients/ (same C name);
notes per patch in docs/series-notes/v3.md.  V3 exports nothing, so the
modular users (crypto/xor, e1000, e1000e, dccp) would not load as modules;
the model builds them in.  The IA64 half of 11/14 is not modelled (no IA64).
"""
from __future__ import annotations

from ..clients.e1000 import ENOMEM, PS_PAGE_BUFFERS, sizeof_e1000_buffer
from ..clients.slub_loc import grow_loc_track, sizeof_location
from ..clients.swapfile import EINVAL
from ..clients.thread_info import THREAD_ORDER
from ..clients.wait_table import init_wait_table, wait_queue_head_size
from ..clients.xor import xor_touch
from ..gfp import GFP_KERNEL, __GFP_ZERO
from . import Patch
from ..clients.inet_hashtables import SIZEOF_RWLOCK, _rwlock_init_all


def _sparse_does_not_compile(cfg):
    if cfg.MEMORY_HOTPLUG and not cfg.SPARSEMEM_VMEMMAP:
        return ("mm/sparse.c does not compile: one ')' too many, and "
                "memmap_size is no longer declared")
    return None


# 07: bit_waitqueue
def bit_waitqueue(k, word, bit):
    """bit_waitqueue() (07): page_zone(vcompound_head_page(word))."""
    from ..clients.wait import _hash
    zone = k.page_zone(k.vcompound_head_page(word))
    return zone.idx, _hash(word, bit)


# 08: zone wait table
def zone_wait_table_init(k, entries):
    """zone_wait_table_init() (08): __alloc_vcompound(GFP_KERNEL, get_order(size))."""
    alloc_size = entries * wait_queue_head_size(k)
    table = k.call("__alloc_vcompound", GFP_KERNEL, k.get_order(alloc_size))
    return init_wait_table(k, table, entries)


# 09: crypto xor
def calibrate_xor_blocks(k):
    """calibrate_xor_blocks() (09): __alloc_vcompound(GFP_KERNEL, 2), __free_vcompound."""
    b1 = k.call("__alloc_vcompound", GFP_KERNEL, 2)
    if not b1:
        return -ENOMEM
    xor_touch(k, b1)
    k.call("__free_vcompound", b1)
    return 0


# 10: SLUB location tables
def free_loc_track(k, t):
    """free_loc_track() (10): __free_vcompound(t->loc)."""
    if t.max:
        k.call("__free_vcompound", t.loc)


def alloc_loc_track(k, t, max_, flags):
    """alloc_loc_track() (10): __alloc_vcompound(flags, order)."""
    order = k.get_order(sizeof_location(k) * max_)
    return grow_loc_track(k, t, max_, k.call("__alloc_vcompound", flags, order))


# 11: stacks (x86 part)
def alloc_thread_info(k, tsk):
    """alloc_thread_info() (11): __alloc_vcompound(GFP_KERNEL, THREAD_ORDER)."""
    return k.call("__alloc_vcompound", GFP_KERNEL, THREAD_ORDER)


def free_thread_info(k, ti):
    """free_thread_info() (11): __free_vcompound(ti)."""
    k.call("__free_vcompound", ti)


# 12: e1000 / e1000e
def e1000_setup_tx_resources(k, ring):
    """e1000_setup_tx_resources() (12): GFP_KERNEL|__GFP_ZERO, memset removed."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    ring.buffer_info = k.call("__alloc_vcompound", GFP_KERNEL | __GFP_ZERO,
                              k.get_order(ring.size))
    if not ring.buffer_info:
        return -ENOMEM
    return 0


def e1000_free_tx_resources(k, ring):
    """e1000_free_tx_resources() (12): __free_vcompound(buffer_info)."""
    k.call("__free_vcompound", ring.buffer_info)
    ring.buffer_info = 0


def e1000_setup_rx_resources(k, ring):
    """e1000_setup_rx_resources() (12): passes the byte size as the order."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    return setup_rx_with_order(k, ring, ring.size)


def setup_rx_with_order(k, ring, order):
    """The body of the converted e1000 rx setup, given the order it asks for
    (V3 12/14 passes the size, V5 11/11 get_order(size))."""
    ring.buffer_info = k.call("__alloc_vcompound", GFP_KERNEL, order)
    if not ring.buffer_info:
        return -ENOMEM
    k.memset(ring.buffer_info, 0, ring.size)
    ring.ps_page = k.kcalloc(ring.count, PS_PAGE_BUFFERS * k.PTR_SIZE, GFP_KERNEL)
    if not ring.ps_page:
        k.call("__free_vcompound", ring.buffer_info)
        return -ENOMEM
    return 0


def e1000_free_rx_resources(k, ring):
    """e1000_free_rx_resources() (12): __free_vcompound on buffer_info and on
    the kcalloc'ed ps_page."""
    k.call("__free_vcompound", ring.buffer_info)
    ring.buffer_info = 0
    k.call("__free_vcompound", ring.ps_page)
    ring.ps_page = 0


def e1000e_setup_tx_resources(k, ring):
    """e1000e_setup_tx_resources() (12): __alloc_vcompound; err: frees it (NULL)."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    ring.buffer_info = k.call("__alloc_vcompound", GFP_KERNEL, k.get_order(ring.size))
    if not ring.buffer_info:
        k.call("__free_vcompound", ring.buffer_info)   # the err: label
        return -ENOMEM
    k.memset(ring.buffer_info, 0, ring.size)
    return 0


def e1000e_free_tx_resources(k, ring):
    """e1000e_free_tx_resources() (12): __free_vcompound(buffer_info)."""
    k.call("__free_vcompound", ring.buffer_info)
    ring.buffer_info = 0


# 13: swap_map
def sys_swapon(k, p, header_ok):
    """sys_swapon() (13): zeroed by __GFP_ZERO; bad_swap_2 frees the NULL map."""
    if not header_ok:
        k.call("__free_vcompound", p.swap_map)         # bad_swap_2:
        return -EINVAL
    p.swap_map = k.call("__alloc_vcompound", GFP_KERNEL | __GFP_ZERO,
                        k.get_order(p.maxpages * 2))
    if not p.swap_map:
        return -ENOMEM
    return 0


def sys_swapoff(k, p):
    """sys_swapoff() (13): __free_vcompound(swap_map)."""
    k.call("__free_vcompound", p.swap_map)
    p.swap_map = 0


# 14: ehash locks
def inet_ehash_locks_alloc(k, nr):
    """inet_ehash_locks_alloc() (14): __alloc_vcompound above a page."""
    size = nr * SIZEOF_RWLOCK
    if size > k.PAGE_SIZE:
        locks = k.call("__alloc_vcompound", GFP_KERNEL, k.get_order(size))
    else:
        locks = k.kmalloc(size, GFP_KERNEL)
    if not locks:
        return 0
    _rwlock_init_all(k, locks, nr)
    return locks


def inet_ehash_locks_free(k, locks, nr):
    """inet_ehash_locks_free() (14): __free_vcompound above a page."""
    if nr * SIZEOF_RWLOCK > k.PAGE_SIZE:
        k.call("__free_vcompound", locks)
    else:
        k.kfree(locks)


S = "v3"
CLIENT_PATCHES = [
    Patch(S, 6, "vcompound: Virtual fallback for sparsemem",
          "20080321061725.476134262@sgi.com", depends=(4,),
          unbuildable=_sparse_does_not_compile, clients=("sparse",)),
    Patch(S, 7, "vcompound: bit waitqueue support", "20080321061725.701640800@sgi.com",
          depends=(4,), functions=(bit_waitqueue,), clients=("stack",)),
    Patch(S, 8, "vcompound: Fallback for zone wait table",
          "20080321061726.035952517@sgi.com", depends=(4,),
          functions=(zone_wait_table_init,), clients=("wait_table",)),
    Patch(S, 9, "vcompound: crypto: Fallback for temporary order 2 allocation",
          "20080321061726.192070985@sgi.com", depends=(4,),
          functions=(calibrate_xor_blocks,), clients=("xor",)),
    Patch(S, 10, "vcompound: slub: Use for buffer to correlate allocation addresses",
          "20080321061726.446275264@sgi.com", depends=(4,),
          functions=(alloc_loc_track, free_loc_track), clients=("slub_loc",)),
    Patch(S, 11, "vcompound: Fallbacks for order 1 stack allocations on IA64 and x86",
          "20080321061726.782068299@sgi.com", depends=(4,),
          functions=(alloc_thread_info, free_thread_info), clients=("stack",)),
    Patch(S, 12, "vcompound: Avoid vmalloc in e1000 driver",
          "20080321061727.013005177@sgi.com", depends=(4,),
          functions=(e1000_setup_tx_resources, e1000_free_tx_resources,
                     e1000_setup_rx_resources, e1000_free_rx_resources,
                     e1000e_setup_tx_resources, e1000e_free_tx_resources),
          clients=("e1000", "e1000e")),
    Patch(S, 13, "vcompound: Use vcompound for swap_map",
          "20080321061727.269764652@sgi.com", depends=(4,),
          functions=(sys_swapon, sys_swapoff), clients=("swap",)),
    Patch(S, 14, "vcompound: Avoid vmalloc for ehash_locks",
          "20080321061727.491610308@sgi.com", depends=(4,),
          functions=(inet_ehash_locks_alloc, inet_ehash_locks_free), clients=("ehash",)),
]
