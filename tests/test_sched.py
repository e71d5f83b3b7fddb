"""Scenario tests for the execution context: include/linux/hardirq.h,
include/linux/preempt.h, kernel/spinlock.c, kernel/softirq.c and
kernel/sched.c __might_sleep (v2.6.25, CONFIG_DEBUG_SPINLOCK_SLEEP on).

From the source: preempt_count() holds the preemption count in bits 0-7
and the hardirq count from bit 16 (HARDIRQ_OFFSET); irq_enter() adds
HARDIRQ_OFFSET; spin_lock() does preempt_disable(), which is a no-op
without CONFIG_PREEMPT (preempt.h:57); in_atomic() is preempt_count() != 0
(hardirq.h:82); preemptible() is 0 without CONFIG_PREEMPT (hardirq.h:101);
__might_sleep() reports when in_atomic() || irqs_disabled()
(sched.c:7298).

Pictures show the context as a stack of what has been entered, oldest
first, e.g. ``process > spin_lock > irq``.
"""
from __future__ import annotations

import pytest

from conftest import make_kernel
from vcpcheck.impl.gfp import GFP_ATOMIC, GFP_KERNEL
from vcpcheck.impl.kernel import KernelOops
from vcpcheck.impl.sched import HARDIRQ_OFFSET

SLEEP_BUG = "BUG: sleeping function called from invalid context at"
PREEMPT = [pytest.param(True, id="PREEMPT=y"), pytest.param(False, id="PREEMPT=n")]


@pytest.fixture(params=PREEMPT)
def kp(request):
    return make_kernel(PREEMPT=request.param)


def context(k):
    """The context predicates by name."""
    return dict(preempt_count=k.preempt_count(), in_irq=bool(k.in_irq()),
                in_interrupt=bool(k.in_interrupt()),
                in_atomic=bool(k.in_atomic()),
                irqs_disabled=bool(k.irqs_disabled()),
                preemptible=bool(k.preemptible()))


def sleep_reports(k):
    return [e for e in k.events if e.kind == "might_sleep"]


# --- the predicates ------------------------------------------------------------------

def test_process_context(kp):
    """
    process
        in_interrupt(), in_atomic(), irqs_disabled(), preemptible()
    Expect nothing atomic; preemptible() only under PREEMPT.
    """
    assert context(kp) == dict(preempt_count=0, in_irq=False,
                               in_interrupt=False, in_atomic=False,
                               irqs_disabled=False,
                               preemptible=kp.cfg.PREEMPT)


def test_spinlock_raises_preempt_count_only_with_preempt(kp):
    """
    process > spin_lock > spin_lock
        preempt_count(), in_atomic(), preemptible()
    Expect each lock to add 1 under PREEMPT (_spin_lock -> preempt_disable)
    and nothing without it, so in_atomic() cannot see the locks there.
    """
    kp.spin_lock()
    kp.spin_lock()
    held = 2 if kp.cfg.PREEMPT else 0
    assert context(kp) == dict(preempt_count=held, in_irq=False,
                               in_interrupt=False, in_atomic=bool(held),
                               irqs_disabled=False, preemptible=False)
    kp.spin_unlock()
    kp.spin_unlock()
    assert context(kp)["preemptible"] == kp.cfg.PREEMPT
    assert kp.preempt_count() == 0


def test_irqs_disabled_is_not_atomic_but_not_preemptible(kp):
    """
    process > local_irq_disable
        in_atomic(), irqs_disabled(), preemptible()
    Expect irqs_disabled() but preempt_count() 0, so in_atomic() false;
    preemptible() false (it requires irqs on, and is 0 without PREEMPT).
    """
    kp.local_irq_disable()
    assert context(kp) == dict(preempt_count=0, in_irq=False,
                               in_interrupt=False, in_atomic=False,
                               irqs_disabled=True, preemptible=False)
    kp.local_irq_enable()
    assert not kp.irqs_disabled()


def test_hard_interrupt_context(kp):
    """
    process > spin_lock > irq
        preempt_count(), in_irq(), in_interrupt(), in_atomic()
    Expect HARDIRQ_OFFSET (1 << 16) added by irq_enter() whatever PREEMPT
    says, plus the lock under PREEMPT; in_irq/in_interrupt/in_atomic true.
    irq_exit() takes it away again.
    """
    kp.spin_lock()
    kp.irq_enter()
    held = 1 if kp.cfg.PREEMPT else 0
    ctx = context(kp)
    assert ctx["preempt_count"] == HARDIRQ_OFFSET + held
    assert ctx["in_irq"] and ctx["in_interrupt"] and ctx["in_atomic"]
    assert not ctx["preemptible"]
    kp.irq_exit()
    assert kp.preempt_count() == held
    assert not kp.in_interrupt()


def test_nested_interrupts_count(k):
    """
    process > irq > irq
        preempt_count()
    Expect two HARDIRQ_OFFSETs; one irq_exit leaves in_interrupt() true.
    """
    k.irq_enter()
    k.irq_enter()
    assert k.preempt_count() == 2 * HARDIRQ_OFFSET
    k.irq_exit()
    assert k.in_interrupt()


# --- might_sleep ---------------------------------------------------------------------

def test_might_sleep_in_process_context_is_silent(kp):
    """
    process
        might_sleep("here")
    Expect no report.
    """
    kp.might_sleep("here")
    assert kp.events == []


def test_might_sleep_under_spinlock_with_preempt_reports_kernel_text():
    """
    PREEMPT=y: process > spin_lock
        might_sleep("mm/x.c:1")
    Expect the kernel's two lines: "BUG: sleeping function called from
    invalid context at mm/x.c:1" and "in_atomic():1, irqs_disabled():0".
    """
    k = make_kernel(PREEMPT=True)
    k.spin_lock()
    k.might_sleep("mm/x.c:1")
    [event] = sleep_reports(k)
    assert event.function == "mm/x.c:1"
    assert event.message == (f"{SLEEP_BUG} mm/x.c:1\n"
                             "in_atomic():1, irqs_disabled():0")
    assert event.is_error()


def test_might_sleep_with_irqs_disabled_reports_kernel_text(kp):
    """
    process > local_irq_disable
        might_sleep("here")
    Expect the kernel's report under either PREEMPT setting:
    in_atomic():0, irqs_disabled():1.
    """
    kp.local_irq_disable()
    kp.might_sleep("here")
    [event] = sleep_reports(kp)
    assert event.message == f"{SLEEP_BUG} here\nin_atomic():0, irqs_disabled():1"


def test_might_sleep_in_interrupt_reports_kernel_text(kp):
    """
    process > irq
        might_sleep("here")
    Expect the kernel's report: in_atomic() is true from the hardirq count.
    """
    kp.irq_enter()
    kp.might_sleep("here")
    [event] = sleep_reports(kp)
    assert event.message.startswith(f"{SLEEP_BUG} here\nin_atomic():1,")


def test_might_sleep_under_spinlock_without_preempt_is_a_model_report():
    """
    PREEMPT=n: process > spin_lock   (preempt_count() stays 0)
        might_sleep("here")
    Expect no kernel report (2.6.25 cannot see the lock: in_atomic() and
    irqs_disabled() are both 0) but one report prefixed "model:".
    """
    k = make_kernel(PREEMPT=False)
    k.spin_lock()
    assert not k.in_atomic() and not k.irqs_disabled()
    k.might_sleep("here")
    [event] = sleep_reports(k)
    assert event.message.startswith("model: sleeping call in here")
    assert SLEEP_BUG not in event.message
    k.spin_unlock()
    k.might_sleep("here")
    assert len(sleep_reports(k)) == 1


def test_might_sleep_if_checks_only_when_the_condition_holds(kp):
    """
    process > irq
        might_sleep_if(0); might_sleep_if(1)
    Expect one report, from the second call.
    """
    kp.irq_enter()
    kp.might_sleep_if(0, "first")
    kp.might_sleep_if(1, "second")
    assert [e.function for e in sleep_reports(kp)] == ["second"]


# --- locks and interrupts out of balance ------------------------------------------------

def test_unlocking_an_unheld_spinlock_oopses(kp):
    """
    process (no lock held)
        spin_unlock()
    Expect the spinlock-debug "BUG: spinlock already unlocked on CPU#0"
    (lib/spinlock_debug.c:93); the model stops there (the kernel would
    print and go on with a corrupt lock).
    """
    with pytest.raises(KernelOops) as oops:
        kp.spin_unlock()
    assert oops.value.message.startswith("BUG: spinlock already unlocked on CPU#0")
    assert [e.kind for e in kp.events] == ["BUG"]
    assert kp.ctx.spin_depth == 0 and kp.preempt_count() == 0


def test_irq_exit_without_irq_enter_oopses(k):
    """
    process
        irq_exit()
    Expect the model's BUG: the hardirq count would underflow.
    """
    with pytest.raises(KernelOops):
        k.irq_exit()
    assert k.ctx.hardirq == 0


# --- the page allocator's might_sleep_if ------------------------------------------------

def test_gfp_kernel_alloc_pages_in_interrupt_reports_might_sleep(kp):
    """
    process > irq
        alloc_pages(GFP_KERNEL, 0); alloc_pages(GFP_ATOMIC, 0)
    Expect __alloc_pages' might_sleep_if(wait) (page_alloc.c:1475) to report
    the GFP_KERNEL call only; both allocations still succeed.
    """
    kp.irq_enter()
    p = kp.alloc_pages(GFP_KERNEL, 0)
    q = kp.alloc_pages(GFP_ATOMIC, 0)
    assert p is not None and q is not None
    [event] = sleep_reports(kp)
    assert event.function == "__alloc_pages"
    assert event.message.startswith(f"{SLEEP_BUG} __alloc_pages\nin_atomic():1,")
