"""The contract of the base kernel API: when a caller may make each call.

Hyperkernel style: one pure function per operation, one commented clause
per precondition in the kernel's own terms.  A state machine that only
makes calls these functions allow must never see an invariant fail; a
call outside them is a caller bug, not a kernel one.
"""
from __future__ import annotations

from vcpcheck.impl.gfp import __GFP_HIGHMEM, __GFP_WAIT, __GFP_ZERO


def may_sleep(k) -> bool:
    """Process context with no lock held and interrupts on."""
    c = k.ctx
    # might_sleep(): not in_atomic() and not irqs_disabled(); the model also
    # counts spinlocks when PREEMPT=n hides them from preempt_count.
    return c.hardirq == 0 and c.spin_depth == 0 and not c.irqs_disabled


def gfp_allowed(k, gfp) -> bool:
    """A gfp mask the current context may pass to the page allocator."""
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
    # vfree/vunmap: BUG_ON(in_interrupt()) (vmalloc.c#L419); the TLB flush of
    # unmap_kernel_range needs interrupts on, so process context only.
    return may_sleep(k)


def pre_kmalloc(k, gfp) -> bool:
    # slab_alloc: might_sleep_if(gfp & __GFP_WAIT).
    return gfp_allowed(k, gfp)


def pre_spin_unlock(k) -> bool:
    # only a held lock is released
    return k.ctx.spin_depth > 0


def pre_irq_exit(k) -> bool:
    # irq_exit pairs with irq_enter
    return k.ctx.hardirq > 0


def pre_alloc_vcompound(k) -> bool:
    # 04/14 and 04/11 changelogs: allocation only from preemptible (process)
    # context -- the fallback maps pages and allocates page tables.
    return may_sleep(k)


def pre_free_vcompound(k) -> bool:
    # 04/14 and 04/11 changelogs: freeing is allowed from any context (the
    # free is deferred to keventd where it cannot run directly).
    return True


def pre_run_workqueue(k) -> bool:
    # keventd runs in process context, never inside the caller's lock.
    return may_sleep(k)
