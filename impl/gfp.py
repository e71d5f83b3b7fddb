"""GFP flags and the alloc_pages() entry points (include/linux/gfp.h, v2.6.25).

Bit values from gfp.h#L19-L52.  0x2000 is free in 2.6.25 (the 2007 version
of the series took it for __GFP_VFALLBACK).
"""
from __future__ import annotations

import functools

from .symbols import kfunc

_SRC = "include/linux/gfp.h (v2.6.25)"

__GFP_DMA = 0x1
__GFP_HIGHMEM = 0x2
__GFP_DMA32 = 0x4
__GFP_WAIT = 0x10
__GFP_HIGH = 0x20
__GFP_IO = 0x40
__GFP_FS = 0x80
__GFP_COLD = 0x100
__GFP_NOWARN = 0x200
__GFP_REPEAT = 0x400
__GFP_NOFAIL = 0x800
__GFP_NORETRY = 0x1000
__GFP_COMP = 0x4000
__GFP_ZERO = 0x8000
__GFP_NOMEMALLOC = 0x10000
__GFP_HARDWALL = 0x20000
__GFP_THISNODE = 0x40000
__GFP_RECLAIMABLE = 0x80000
__GFP_MOVABLE = 0x100000

GFP_ATOMIC = __GFP_HIGH
GFP_NOIO = __GFP_WAIT
GFP_NOFS = __GFP_WAIT | __GFP_IO
GFP_KERNEL = __GFP_WAIT | __GFP_IO | __GFP_FS
GFP_USER = GFP_KERNEL | __GFP_HARDWALL
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
GFP_RECLAIM_MASK = (__GFP_WAIT | __GFP_HIGH | __GFP_IO | __GFP_FS | __GFP_NOWARN
                    | __GFP_REPEAT | __GFP_NOFAIL | __GFP_NORETRY
                    | __GFP_NOMEMALLOC)

# Every name above, for parsing and printing gfp masks.
GFP_BITS = {name: value for name, value in dict(globals()).items()
            if name.startswith("__GFP_")}
GFP_NAMES = {name: value for name, value in dict(globals()).items()
             if name.startswith("GFP_") and name != "GFP_BITS"}


@functools.lru_cache(maxsize=1 << 10)
def gfp_to_str(gfp: int) -> str:
    """A gfp mask as the kernel would write it: GFP_KERNEL|__GFP_ZERO.
    Cached: a failed allocation's report writes its mask each time."""
    if gfp == 0:
        return "0"
    for base in ("GFP_HIGHUSER", "GFP_USER", "GFP_KERNEL", "GFP_NOFS",
                 "GFP_NOIO", "GFP_ATOMIC"):
        v = GFP_NAMES[base]
        if gfp & v == v:
            parts, rest = [base], gfp & ~v
            break
    else:
        parts, rest = [], gfp
    for name, v in sorted(GFP_BITS.items(), key=lambda kv: kv[1]):
        if rest & v:
            parts.append(name)
            rest &= ~v
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE            # gfp.h#L54
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE             # gfp.h#L76


@kfunc(_SRC)
def allocflags_to_migratetype(k, gfp_flags):
    """allocflags_to_migratetype(): WARN on both mobility bits; with grouping
    off MIGRATE_UNMOVABLE, else __GFP_MOVABLE << 1 | __GFP_RECLAIMABLE
    (gfp.h#L108-L118)."""
    k.WARN_ON(gfp_flags & GFP_MOVABLE_MASK == GFP_MOVABLE_MASK,
              "allocflags_to_migratetype")
    if k.page_group_by_mobility_disabled:
        return 0                                          # MIGRATE_UNMOVABLE
    return (bool(gfp_flags & __GFP_MOVABLE) << 1) | bool(gfp_flags & __GFP_RECLAIMABLE)


@kfunc(_SRC)
def gfp_zone(k, gfp):
    """gfp_zone(): the highest zone a mask may use (Normal or HighMem)."""
    if gfp & __GFP_HIGHMEM and len(k.zones) > 1:
        return 1
    return 0


@kfunc(_SRC)
def node_zonelist(k, gfp):
    """The zonelist for a mask: allowed zones, highest first (one node)."""
    return [k.zones[i] for i in range(k.gfp_zone(gfp), -1, -1)]


@kfunc(_SRC)
def alloc_pages(k, gfp_mask, order):
    """alloc_pages(): NULL if order >= MAX_ORDER, else __alloc_pages() (#L177)."""
    if order >= k.MAX_ORDER:
        return None
    return k.__alloc_pages(gfp_mask, order, k.node_zonelist(gfp_mask))


@kfunc(_SRC)
def alloc_pages_node(k, nid, gfp_mask, order):
    """alloc_pages_node(): one node in the model, so as alloc_pages() (#L190)."""
    if order >= k.MAX_ORDER:
        return None
    return k.__alloc_pages(gfp_mask, order, k.node_zonelist(gfp_mask))


@kfunc(_SRC)
def alloc_page(k, gfp_mask):
    """alloc_page(): alloc_pages(gfp_mask, 0)."""
    return k.alloc_pages(gfp_mask, 0)
