"""The cross-CPU TLB flush behind every kernel unmap, with its context check.

Models, at v2.6.25 on an SMP kernel (CONFIG_SMP=y, what every x86
distribution kernel of 2008 was):

  * include/asm-x86/tlbflush.h:152-156 flush_tlb_kernel_range(): the whole
    TLB, flush_tlb_all();
  * arch/x86/kernel/smp_64.c:282-285 and smp_32.c:463-466 flush_tlb_all():
    on_each_cpu(do_flush_tlb_all, NULL, 1, 1);
  * kernel/softirq.c:654-664 on_each_cpu(): preempt_disable(),
    smp_call_function(), then the function on this CPU between
    local_irq_disable() and local_irq_enable() -- so it returns with
    interrupts on, whatever they were before;
  * arch/x86/kernel/smp_64.c:456-460 smp_call_function() ->
    smp_call_function_mask(), whose first statement is
    WARN_ON(irqs_disabled()) (smp_64.c:395; i386:
    native_smp_call_function_mask, smp_32.c:562): with interrupts off the
    IPI can deadlock.

stubbed: there is one CPU in the model and its TLB is not modelled, so
the IPI and do_flush_tlb_all() do nothing; preempt_disable()/
preempt_enable() in on_each_cpu() cancel out and are left out.
"""
from __future__ import annotations

from .symbols import kfunc

_SRC = "arch/x86/kernel/smp_64.c, smp_32.c (v2.6.25)"

# Where the kernel's WARN_ON(irqs_disabled()) sits, per architecture.
_WARN_AT = {"x86_64": "arch/x86/kernel/smp_64.c:395 smp_call_function_mask()",
            "i386": "arch/x86/kernel/smp_32.c:562 native_smp_call_function_mask()"}


@kfunc(_SRC)
def smp_call_function_mask(k, mask, func, info, wait):
    """smp_call_function_mask(): WARN_ON(irqs_disabled()), then the IPI."""
    k.WARN_ON(k.irqs_disabled(), "smp_call_function_mask",
              f"WARNING: at {_WARN_AT[k.cfg.ARCH]}")
    return 0


@kfunc(_SRC)
def smp_call_function(k, func, info, nonatomic, wait):
    """smp_call_function(): smp_call_function_mask(cpu_online_map, ...)."""
    return k.smp_call_function_mask("cpu_online_map", func, info, wait)


@kfunc("kernel/softirq.c (v2.6.25)")
def on_each_cpu(k, func, info, retry, wait):
    """on_each_cpu(): the other CPUs by IPI, then this one with interrupts
    off; interrupts are on when it returns (softirq.c:654-664)."""
    ret = k.smp_call_function(func, info, retry, wait)
    k.local_irq_disable()
    k.local_irq_enable()
    return ret


@kfunc(_SRC)
def flush_tlb_all(k):
    """flush_tlb_all(): on_each_cpu(do_flush_tlb_all, NULL, 1, 1)."""
    k.on_each_cpu("do_flush_tlb_all", None, 1, 1)


@kfunc("include/asm-x86/tlbflush.h (v2.6.25)")
def flush_tlb_kernel_range(k, start, end):
    """flush_tlb_kernel_range(): flush_tlb_all() (tlbflush.h:152-156)."""
    k.flush_tlb_all()
