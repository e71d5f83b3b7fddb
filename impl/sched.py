"""Execution context: in_interrupt(), in_atomic(), preemptible(), might_sleep().

Models include/linux/hardirq.h, include/linux/preempt.h, kernel/sched.c
(__might_sleep, CONFIG_DEBUG_SPINLOCK_SLEEP on) and the spin_lock /
local_irq_* / irq_enter entry points at v2.6.25, as far as the model needs
to know which context a call runs in.  Without CONFIG_PREEMPT a spinlock
does not raise preempt_count, so in_atomic() cannot see it, exactly as in
2.6.25; the model still knows a lock is held and reports a sleeping call
under it separately ("model:" prefix), so the checker never depends on
the kernel's blind spot.
"""
from __future__ import annotations

from .symbols import kfunc

HARDIRQ_OFFSET = 1 << 16


@kfunc("include/linux/hardirq.h (v2.6.25)")
def preempt_count(k):
    """preempt_count(): hardirq count, plus held spinlocks under PREEMPT."""
    spins = k.ctx.spin_depth if k.cfg.PREEMPT else 0
    return k.ctx.hardirq * HARDIRQ_OFFSET + spins


@kfunc("include/linux/hardirq.h (v2.6.25)")
def in_irq(k):
    """in_irq(): in hard interrupt context."""
    return k.ctx.hardirq > 0


@kfunc("include/linux/hardirq.h (v2.6.25)")
def in_interrupt(k):
    """in_interrupt(): hard or soft irq context (no softirqs in the model)."""
    return k.ctx.hardirq > 0


@kfunc("include/linux/hardirq.h (v2.6.25)")
def in_atomic(k):
    """in_atomic(): preempt_count() != 0."""
    return k.preempt_count() != 0


@kfunc("include/asm-x86/irqflags.h (v2.6.25)")
def irqs_disabled(k):
    """irqs_disabled(): interrupts off (always so in a hard irq handler)."""
    return k.ctx.irqs_disabled or k.ctx.hardirq > 0


@kfunc("include/linux/hardirq.h (v2.6.25)")
def preemptible(k):
    """preemptible(): 0 without CONFIG_PREEMPT; else no count and irqs on."""
    if not k.cfg.PREEMPT:
        return False
    return k.preempt_count() == 0 and not k.irqs_disabled()


@kfunc("kernel/sched.c (v2.6.25)")
def __might_sleep(k, where):
    """__might_sleep(): report a sleeping call from atomic context."""
    if k.in_atomic() or k.irqs_disabled():
        k.report("might_sleep", where,
                 f"BUG: sleeping function called from invalid context at "
                 f"{where}\nin_atomic():{int(k.in_atomic())}, "
                 f"irqs_disabled():{int(k.irqs_disabled())}")
    elif k.ctx.spin_depth:
        k.report("might_sleep", where,
                 f"model: sleeping call in {where} with a spinlock held "
                 f"(2.6.25 without PREEMPT cannot see it)")


@kfunc("include/linux/kernel.h (v2.6.25)")
def might_sleep(k, where="might_sleep"):
    """might_sleep(): __might_sleep() under DEBUG_SPINLOCK_SLEEP."""
    k.__might_sleep(where)


@kfunc("include/linux/kernel.h (v2.6.25)")
def might_sleep_if(k, cond, where="might_sleep_if"):
    """might_sleep_if(): might_sleep() when cond holds."""
    if cond:
        k.__might_sleep(where)


@kfunc("include/linux/spinlock.h (v2.6.25)")
def spin_lock(k, lock="lock"):
    """spin_lock(): hold a lock (preempt_disable() under PREEMPT)."""
    k.ctx.spin_depth += 1


@kfunc("include/linux/spinlock.h (v2.6.25)")
def spin_unlock(k, lock="lock"):
    """spin_unlock(): release; unlocking a free lock is a spinlock-debug BUG."""
    if k.ctx.spin_depth == 0:
        # customised: CONFIG_DEBUG_SPINLOCK prints this line and goes on
        # (lib/spinlock_debug.c:93 -> spin_bug(), :61); the unlock then
        # corrupts the lock and, under PREEMPT, drives preempt_count
        # negative, so the model stops here instead.
        k.oops("BUG: spinlock already unlocked on CPU#0, vcpcheck", "spin_unlock")
    k.ctx.spin_depth -= 1


@kfunc("include/linux/irqflags.h (v2.6.25)")
def local_irq_disable(k):
    """local_irq_disable(): interrupts off."""
    k.ctx.irqs_disabled = True


@kfunc("include/linux/irqflags.h (v2.6.25)")
def local_irq_enable(k):
    """local_irq_enable(): interrupts on."""
    k.ctx.irqs_disabled = False


@kfunc("kernel/softirq.c (v2.6.25)")
def irq_enter(k):
    """irq_enter(): enter a hard interrupt handler."""
    k.ctx.hardirq += 1


@kfunc("kernel/softirq.c (v2.6.25)")
def irq_exit(k):
    """irq_exit(): leave the interrupt handler."""
    k.BUG_ON(k.ctx.hardirq == 0, "irq_exit", "kernel/softirq.c (model: not in irq)")
    k.ctx.hardirq -= 1
