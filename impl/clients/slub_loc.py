"""SLUB's call-site tables: alloc_loc_track()/free_loc_track() (mm/slub.c, v2.6.25).

list_locations() (a sysfs read of alloc_calls/free_calls) allocates a table
of struct location with GFP_TEMPORARY outside any lock, then walks the
slabs under spin_lock_irqsave(&n->list_lock); when the table fills,
add_location() grows it with alloc_loc_track(t, 2 * max, GFP_ATOMIC) --
with interrupts off and the lock held.  A loc_track is the caller's
struct: the model keeps it as a small Python record.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import memory
from ..gfp import GFP_ATOMIC, GFP_KERNEL, __GFP_RECLAIMABLE
from ..symbols import kfunc

GFP_TEMPORARY = GFP_KERNEL | __GFP_RECLAIMABLE        # include/linux/gfp.h


def sizeof_location(k):
    return 72 if k.BITS == 64 else 40


@dataclass
class LocTrack:
    max: int = 0
    count: int = 0
    loc: int = 0


@kfunc("mm/slub.c (v2.6.25)")
def free_loc_track(k, t):
    """free_loc_track(): free_pages(t->loc, get_order(sizeof(location) * max))."""
    if t.max:
        k.free_pages(t.loc, k.get_order(sizeof_location(k) * t.max))


def copy_locations(k, dst, t):
    """The memcpy of the old entries into a grown table."""
    memory.copy(k, dst, t.loc, t.count * sizeof_location(k), "memcpy")


@kfunc("mm/slub.c (v2.6.25)")
def alloc_loc_track(k, t, max_, flags):
    """alloc_loc_track(): a bigger table; copy the old entries; free the old one."""
    order = k.get_order(sizeof_location(k) * max_)
    return grow_loc_track(k, t, max_, k.call("__get_free_pages", flags, order))


def grow_loc_track(k, t, max_, l):
    """The rest of alloc_loc_track() once the new table ``l`` is allocated:
    copy the old entries over, free the old table, switch (0 if l is NULL)."""
    if not l:
        return 0
    if t.count:
        copy_locations(k, l, t)
        k.free_loc_track(t)
    t.max, t.loc = max_, l
    return 1


@kfunc("mm/slub.c (v2.6.25)")
def list_locations(k, entries):
    """list_locations(): fill a table with ``entries`` call sites, growing it
    under the node's list_lock with interrupts off; then free it."""
    t = LocTrack()
    if not k.alloc_loc_track(t, k.PAGE_SIZE // sizeof_location(k), GFP_TEMPORARY):
        return -12
    k.local_irq_disable()                      # spin_lock_irqsave(&n->list_lock)
    k.spin_lock("list_lock")
    ok = True
    for _ in range(entries):
        if t.count >= t.max and not k.alloc_loc_track(t, 2 * t.max, GFP_ATOMIC):
            ok = False
            break
        memory.store(k, t.loc + t.count * sizeof_location(k), 1, "add_location")
        t.count += 1
    k.spin_unlock("list_lock")
    k.local_irq_enable()
    k.free_loc_track(t)
    return t.count if ok else -12
