"""The contract of the base kernel API: what a caller may pass, and when.

Hyperkernel style: one pure function per operation, one commented clause
per precondition in the kernel's own terms.  A state machine that only
makes calls these functions allow must never see an invariant fail; a
call outside them is a caller bug, not a kernel one.

The legal domain, per call (v2.6.25; every engine draws from it, the
explore engine one representative per class of ``explore_gfps``):

  * gfp masks (GFP_DOMAIN): any of gfp.h's bases (GFP_NOWAIT, GFP_ATOMIC,
    GFP_NOIO, GFP_NOFS, GFP_KERNEL, GFP_TEMPORARY, GFP_USER, GFP_HIGHUSER,
    include/linux/gfp.h#L56-L80) with any of the modifier bits
    (GFP_MODIFIERS), except what ``gfp_legal`` rules out;
  * orders (``orders``): 0 up to MAX_ORDER and beyond -- alloc_pages() and
    alloc_pages_node() answer NULL for order >= MAX_ORDER (gfp.h#L177-L193),
    with no report; the engines try MAX_ORDER itself;
  * contexts (CONTEXTS): process context, under a spinlock with interrupts
    on, with interrupts off (local_irq_disable, spin_lock_irqsave), and a
    hard interrupt handler; each call states which it may be made in;
  * frees: every allocation by the call that matches how it was made, in
    every context the call allows; vfree() and vunmap() of a vmap() area
    (vfree's __vunmap(addr, 1) frees area->nr_pages pages, which vmap()
    leaves 0 in 2.6.25: mm/vmalloc.c#L386-L397, so it only unmaps);
  * vmap() of any pages the caller holds, in any form: pages of an
    alloc_pages() block of any order (compound or not, any subpage), of
    __get_free_pages(), of a vmalloc() area (as vmalloc_to_page gives them).

Caller bugs, kept out of every engine (the kernel line that makes each a
bug):

  * a sleeping (__GFP_WAIT) allocation in atomic or interrupt context:
    might_sleep_if() in __alloc_pages (mm/page_alloc.c#L1475); vmalloc(),
    vmap() and the vcompound allocators always sleep (GFP_KERNEL page
    tables, mm/vmalloc.c#L215 BUG_ON(in_interrupt()) too);
  * __GFP_ZERO|__GFP_HIGHMEM in interrupt context: VM_BUG_ON in
    prep_zero_page (mm/page_alloc.c#L318);
  * __GFP_MOVABLE together with __GFP_RECLAIMABLE: WARN_ON in
    allocflags_to_migratetype (gfp.h#L110), BUG_ON in set_migrateflags
    (gfp.h#L149);
  * __GFP_HIGHMEM to kmalloc: BUG_ON(flags & GFP_SLAB_BUG_MASK)
    (gfp.h#L97, mm/slub.c#L1074); to __get_free_pages and the address
    returning vcompound API: page_address() of a highmem page is NULL and
    the page leaks (mm/page_alloc.c#L1654-L1661);
  * __GFP_DMA, __GFP_DMA32: not a caller bug, but the model has no
    ZONE_DMA/ZONE_DMA32 (impl/kernel.py boot), so they are left out;
  * vfree()/vunmap() in interrupt context: BUG_ON(in_interrupt())
    (mm/vmalloc.c#L419, #L435); with interrupts off: the TLB flush's
    smp_call_function() WARNs, it can deadlock (arch/x86/kernel/
    smp_64.c#L395, smp_32.c#L562; impl/smp.py);
  * a free by the wrong call or order, a double free, a free of a page
    still vmapped, vmap() of a page the caller does not hold: bad_page /
    put_page_testzero's VM_BUG_ON (mm/page_alloc.c#L459, mm.h#L218), a
    use after free; the harness refuses them (HarnessError).
"""
from __future__ import annotations

from vcpcheck.impl.gfp import (GFP_ATOMIC, GFP_HIGHUSER, GFP_KERNEL, GFP_NOFS,
                               GFP_NOIO, GFP_USER, __GFP_COLD, __GFP_COMP,
                               __GFP_HARDWALL, __GFP_HIGH, __GFP_HIGHMEM,
                               __GFP_MOVABLE, __GFP_NOFAIL, __GFP_NOMEMALLOC,
                               __GFP_NORETRY, __GFP_NOWARN, __GFP_RECLAIMABLE,
                               __GFP_REPEAT, __GFP_THISNODE, __GFP_WAIT,
                               __GFP_ZERO)

# include/linux/gfp.h#L56-L80: the masks callers start from.
GFP_NOWAIT = GFP_ATOMIC & ~__GFP_HIGH
GFP_TEMPORARY = GFP_KERNEL | __GFP_RECLAIMABLE
GFP_BASES = {"GFP_NOWAIT": GFP_NOWAIT, "GFP_ATOMIC": GFP_ATOMIC, "GFP_NOIO": GFP_NOIO,
             "GFP_NOFS": GFP_NOFS, "GFP_KERNEL": GFP_KERNEL,
             "GFP_TEMPORARY": GFP_TEMPORARY, "GFP_USER": GFP_USER,
             "GFP_HIGHUSER": GFP_HIGHUSER}
# include/linux/gfp.h#L35-L52: the bits a caller may add (the zone bits
# __GFP_DMA and __GFP_DMA32 are out: no DMA zones in the model).
GFP_MODIFIERS = (__GFP_HIGHMEM, __GFP_COLD, __GFP_NOWARN, __GFP_REPEAT, __GFP_NOFAIL,
                 __GFP_NORETRY, __GFP_COMP, __GFP_ZERO, __GFP_NOMEMALLOC,
                 __GFP_HARDWALL, __GFP_THISNODE, __GFP_RECLAIMABLE, __GFP_MOVABLE)
GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE

# Where a call may be made: (name, the harness calls that enter it, that
# leave it).  "spinlock" holds a lock with interrupts on; "irqs-off" is
# local_irq_disable(), as under spin_lock_irqsave(); "interrupt" is a hard
# interrupt handler (interrupts off, in_interrupt()).
CONTEXTS = (("process", (), ()),
            ("spinlock", ("spin_lock",), ("spin_unlock",)),
            ("irqs-off", ("local_irq_disable",), ("local_irq_enable",)),
            ("interrupt", ("irq_enter",), ("irq_exit",)))


def gfp_legal(gfp) -> bool:
    """A mask of the domain: gfp.h's bits only, never both migrate bits."""
    # gfp.h#L110 WARN_ON / #L149 BUG_ON: movable and reclaimable together.
    return gfp & GFP_MOVABLE_MASK != GFP_MOVABLE_MASK


def orders(max_order) -> range:
    """The orders the engines try: every valid one and MAX_ORDER itself,
    which stands for every order >= MAX_ORDER (gfp.h#L180: NULL)."""
    return range(max_order + 1)


# The explore engine's calls: one per class of mask the 2.6.25 allocator
# tells apart -- sleeping or not (__GFP_WAIT; __GFP_HIGH with GFP_ATOMIC),
# zeroed (__GFP_ZERO, prep_zero_page), HighMem (__GFP_HIGHMEM, gfp_zone),
# compound (__GFP_COMP) -- as (mask, orders): "all" is every order up to
# MAX_ORDER itself (``orders``), "small" orders 0 and 1 (the zeroing, the
# zone and the compound metadata do not depend on the order beyond that).
# The other bits change nothing the model does but a report
# (__GFP_NOWARN) or a retry it does not model (__GFP_NORETRY,
# __GFP_REPEAT, __GFP_NOFAIL); the stateful engine samples them, and every
# order, from the whole domain (GFP_BASES with any GFP_MODIFIERS).
EXPLORE_PAGE_GFPS = ((GFP_KERNEL, "all"), (GFP_ATOMIC, "all"),
                     (GFP_KERNEL | __GFP_ZERO, "order 0"),
                     (GFP_HIGHUSER | __GFP_ZERO, "order 0"))
EXPLORE_VCOMPOUND_GFPS = ((GFP_KERNEL, "all"), (GFP_KERNEL | __GFP_ZERO, "order 1"),
                          (GFP_KERNEL | __GFP_COMP, "order 1"), (GFP_ATOMIC, "order 1"))


def distinct_gfp(k, gfp) -> bool:
    """Whether the explore engine tries ``gfp`` on ``k``: a __GFP_HIGHMEM
    mask only where there is a HighMem zone, since gfp_zone() gives every
    other kernel the same zonelist for it as without (gfp.h#L140-L146)."""
    return not gfp & __GFP_HIGHMEM or len(k.zones) > 1


def explore_orders(which, max_order) -> range:
    """The orders an EXPLORE_*_GFPS entry stands for."""
    return {"all": orders(max_order), "small": range(min(2, max_order + 1)),
            "order 0": range(1), "order 1": range(1, 2)}[which]


def may_sleep(k) -> bool:
    """Process context with no lock held and interrupts on."""
    c = k.ctx
    # might_sleep(): not in_atomic() and not irqs_disabled(); the model also
    # counts spinlocks when PREEMPT=n hides them from preempt_count.
    return c.hardirq == 0 and c.spin_depth == 0 and not c.irqs_disabled


def gfp_allowed(k, gfp) -> bool:
    """A gfp mask the current context may pass to the page allocator."""
    if not gfp_legal(gfp):
        return False
    # __alloc_pages: might_sleep_if(gfp & __GFP_WAIT) (page_alloc.c#L1475).
    if gfp & __GFP_WAIT and not may_sleep(k):
        return False
    # prep_zero_page: VM_BUG_ON(__GFP_HIGHMEM && in_interrupt()) (#L312).
    if gfp & __GFP_ZERO and gfp & __GFP_HIGHMEM and k.ctx.hardirq:
        return False
    return True


def pre_alloc_pages(k, gfp, order) -> bool:
    # any order: alloc_pages returns NULL for order >= MAX_ORDER (gfp.h#L180)
    return gfp_allowed(k, gfp)


def pre_get_free_pages(k, gfp, order) -> bool:
    # __get_free_pages returns page_address(): no highmem pages wanted.
    return gfp_allowed(k, gfp) and not gfp & __GFP_HIGHMEM


def pre_free(k) -> bool:
    # __free_pages / put_page / kfree: any context (zone->lock is irq-safe).
    return True


def pre_vmalloc(k) -> bool:
    # vmalloc: GFP_KERNEL and __get_vm_area_node's BUG_ON(in_interrupt()).
    return may_sleep(k)


def pre_vfree(k) -> bool:
    """vfree/vunmap: not in interrupt context, interrupts on; a spinlock
    may be held (nothing on the path sleeps)."""
    # BUG_ON(in_interrupt()) (vmalloc.c#L419, #L435)
    if k.ctx.hardirq:
        return False
    # unmap_kernel_range -> flush_tlb_kernel_range -> on_each_cpu ->
    # smp_call_function: WARN_ON(irqs_disabled()) (smp_64.c#L395)
    return not k.ctx.irqs_disabled


def pre_vmap(k) -> bool:
    # vmap -> get_vm_area: BUG_ON(in_interrupt()) (vmalloc.c#L215) and a
    # GFP_KERNEL descriptor and page tables: process context only.
    return may_sleep(k)


def pre_kmalloc(k, gfp) -> bool:
    # slab_alloc: might_sleep_if(gfp & __GFP_WAIT); new_slab:
    # BUG_ON(flags & GFP_SLAB_BUG_MASK) (slub.c#L1074, gfp.h#L97).
    return gfp_allowed(k, gfp) and not gfp & __GFP_HIGHMEM


def pre_spin_unlock(k) -> bool:
    # only a held lock is released
    return k.ctx.spin_depth > 0


def pre_irq_exit(k) -> bool:
    # irq_exit pairs with irq_enter
    return k.ctx.hardirq > 0


def pre_alloc_vcompound(k, gfp=GFP_KERNEL) -> bool:
    # 04/14 and 04/11 changelogs: allocation only from preemptible (process)
    # context -- the fallback maps pages and allocates page tables.  Any
    # mask of the domain but __GFP_HIGHMEM: the object is used through its
    # kernel address (the users, vcompound_head_page), which a highmem page
    # has not, as for __get_free_pages (mm/page_alloc.c#L1654-L1661).
    return may_sleep(k) and gfp_legal(gfp) and not gfp & __GFP_HIGHMEM


def pre_free_vcompound(k) -> bool:
    # 04/14 and 04/11 changelogs: freeing is allowed from any context (the
    # free is deferred to keventd where it cannot run directly).
    return True


def pre_run_workqueue(k) -> bool:
    # keventd runs in process context, never inside the caller's lock.
    return may_sleep(k)
