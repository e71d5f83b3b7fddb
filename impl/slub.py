"""A small kmalloc/kfree (mm/slub.c, include/linux/slub_def.h, v2.6.25).

stubbed: slab internals.  Objects up to PAGE_SIZE come from slab pages the
model does not track; each gets a slot in an arena placed just past the
modelled lowmem (so it never aliases a modelled page), and its contents
are kept with the object.  Larger requests go, as in SLUB 2.6.25, to
kmalloc_large(): __get_free_pages(flags | __GFP_COMP, get_order(size)),
and kfree() of those does virt_to_head_page() + put_page().

customised: kfree() of a pointer kmalloc did not return, or of one already
freed, is reported (as SLUB debugging would) and otherwise ignored; the
kernel without debugging would corrupt its free lists.  ``k.fail_kmalloc``
is a fault-injection point (failslab arrived only in 2.6.28).
"""
from __future__ import annotations

from .gfp import __GFP_COMP, __GFP_WAIT, __GFP_ZERO
from .kernel import KmallocObject
from .symbols import kfunc

_SRC = "mm/slub.c (v2.6.25)"
ZERO_SIZE_PTR = 16
SLOT_SHIFT = 12                    # one slot per object, objects <= PAGE_SIZE


def arena(k):
    """(base, number of slots) of the kmalloc shim's address range."""
    return k.KMALLOC_ARENA                # worked out once, by Kernel()


def kmalloc_arena(k):
    """arena(), from the configuration's constants."""
    if k.BITS == 64:
        return k.PAGE_OFFSET + (1 << 40), 1 << 24
    # i386: inside the 8 MiB hole between high_memory and VMALLOC_START.
    base = k.consts["high_memory"] + (1 << 20)
    return base, (6 << 20) >> SLOT_SHIFT


def kmalloc_lookup(k, addr):
    """The live small object whose bytes contain addr, or None."""
    base, nslots = k.KMALLOC_ARENA
    slot = (addr - base) >> SLOT_SHIFT
    if not 0 <= slot < nslots:
        return None
    obj = k.kmalloc_objs.get(base + (slot << SLOT_SHIFT))
    if obj is None or obj.large_page is not None or addr - obj.addr >= obj.size:
        return None
    return obj


@kfunc("include/asm-generic/page.h (v2.6.25)")
def get_order(k, size):
    """get_order(): the smallest order with 2^order pages >= size."""
    # size is an unsigned long: get_order(0) wraps to ULONG_MAX and yields
    # BITS - PAGE_SHIFT (include/asm-generic/page.h:14); a Python -1 would
    # never shift down to 0.
    size = ((size - 1) & ((1 << k.BITS) - 1)) >> (k.PAGE_SHIFT - 1)
    order = -1
    while size:
        size >>= 1
        order += 1
    return max(order, 0)


@kfunc(_SRC)
def kmalloc_large(k, size, flags):
    """kmalloc_large(): __get_free_pages(flags | __GFP_COMP, get_order(size))."""
    addr = k.__get_free_pages(flags | __GFP_COMP, k.get_order(size))
    if addr:
        k.kmalloc_objs[addr] = KmallocObject(addr, size, flags,
                                             large_page=k.virt_to_page(addr))
    return addr


@kfunc(_SRC)
def __kmalloc(k, size, flags):
    """__kmalloc(): a slab object, or kmalloc_large() above PAGE_SIZE."""
    if size > k.PAGE_SIZE:
        return k.kmalloc_large(size, flags)
    if size == 0:
        # get_slab() answers ZERO_SIZE_PTR and __kmalloc returns it before
        # slab_alloc() (mm/slub.c:2576-2577, 2600-2601): nothing that may sleep.
        return ZERO_SIZE_PTR
    # customised: 2.6.25 slab_alloc() has no might_sleep; a __GFP_WAIT call
    # sleeps (and is reported, mm/page_alloc.c:1475) only when the slow path
    # needs a new slab page.  The model has no slabs, so it reports every
    # sleeping allocation, as if each one could need a new slab.
    k.might_sleep_if(flags & __GFP_WAIT, "slab_alloc")
    if k.fail_kmalloc > 0:
        k.fail_kmalloc -= 1
        return 0
    base, nslots = arena(k)
    if k.kmalloc_free_slots:
        slot = k.kmalloc_free_slots.pop()
    elif k.kmalloc_next < nslots:
        slot = k.kmalloc_next
        k.kmalloc_next += 1
    else:
        return 0
    addr = base + (slot << SLOT_SHIFT)
    obj = KmallocObject(addr, size, flags)
    if flags & __GFP_ZERO:
        obj.words[-1] = 0
    k.kmalloc_objs[addr] = obj
    k.freed_kmalloc.discard(addr)
    return addr


@kfunc(_SRC)
def kmalloc(k, size, flags):
    """kmalloc(): __kmalloc(size, flags)."""
    return k.__kmalloc(size, flags)


@kfunc(_SRC)
def kmalloc_node(k, size, flags, node):
    """kmalloc_node(): one node in the model, so as kmalloc()."""
    return k.__kmalloc(size, flags)


@kfunc("include/linux/slab.h (v2.6.25)")
def kzalloc(k, size, flags):
    """kzalloc(): kmalloc(size, flags | __GFP_ZERO)."""
    return k.kmalloc(size, flags | __GFP_ZERO)


@kfunc("include/linux/slab.h (v2.6.25)")
def kcalloc(k, n, size, flags):
    """kcalloc(): NULL on overflow, else __kmalloc(n * size, flags | __GFP_ZERO)."""
    if n and size > ((1 << k.BITS) - 1) // n:
        return 0
    return k.__kmalloc(n * size, flags | __GFP_ZERO)


@kfunc(_SRC)
def kfree(k, x):
    """kfree(): free a kmalloc object; large ones via put_page() (#L2674)."""
    if x <= ZERO_SIZE_PTR:                      # ZERO_OR_NULL_PTR
        return
    obj = k.kmalloc_objs.get(x)
    if obj is None:
        if x in k.freed_kmalloc:
            k.report("kmalloc", "kfree", f"kfree: double free of {x:#x}")
        else:
            k.report("kmalloc", "kfree",
                     f"kfree: {x:#x} is not an object kmalloc returned")
        return
    del k.kmalloc_objs[x]
    k.freed_kmalloc.add(x)
    if obj.large_page is not None:
        k.put_page(k.virt_to_head_page(x))
        return
    base, _ = arena(k)
    k.kmalloc_free_slots.append((x - base) >> SLOT_SHIFT)
