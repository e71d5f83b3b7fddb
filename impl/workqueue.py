"""The shared work queue (keventd): INIT_WORK, schedule_work, run_workqueue.

Models include/linux/workqueue.h and kernel/workqueue.c (v2.6.25) as far as
a deferred free needs: a struct work_struct lives in memory (data, entry,
func: four words), schedule_work() queues it unless already pending, and
keventd later calls work->func(work) in process context.  The checker runs
the queue as an explicit step (``k.run_workqueue()``), like a flush.

customised: the queue itself is a Python list of work addresses; the
work_struct words are stored in kernel memory, so a work item written over
memory that is freed or reused is read back as whatever is there.
"""
from __future__ import annotations

from . import memory
from .symbols import kfunc

_SRC = "kernel/workqueue.c (v2.6.25)"
WORK_STRUCT_PENDING = 1          # bit 0 of work->data


def _words(k, work):
    return [work + i * k.PTR_SIZE for i in range(4)]   # data, next, prev, func


@kfunc("include/linux/workqueue.h (v2.6.25)")
def INIT_WORK(k, work, func):
    """INIT_WORK(): data 0, empty entry, func = the named kernel function."""
    data, nxt, prv, fn = _words(k, work)
    memory.store(k, data, 0, "INIT_WORK")
    memory.store(k, nxt, nxt, "INIT_WORK")
    memory.store(k, prv, nxt, "INIT_WORK")
    memory.store(k, fn, k.func_addr(func), "INIT_WORK")


@kfunc(_SRC)
def schedule_work(k, work):
    """schedule_work(): queue on keventd unless pending; 1 if queued (#L549)."""
    data = _words(k, work)[0]
    flags = memory.load(k, data, "schedule_work")
    if flags & WORK_STRUCT_PENDING:
        return 0
    memory.store(k, data, flags | WORK_STRUCT_PENDING, "schedule_work")
    k.workqueue.append(work)
    return 1


@kfunc(_SRC)
def run_workqueue(k):
    """run_workqueue(): keventd runs every queued item in process context (#L242)."""
    saved = (k.ctx.hardirq, k.ctx.irqs_disabled, k.ctx.spin_depth)
    k.ctx.hardirq, k.ctx.irqs_disabled, k.ctx.spin_depth = 0, False, 0
    try:
        while k.workqueue:
            work = k.workqueue.pop(0)
            data, _n, _p, fn = _words(k, work)
            memory.store(k, data, memory.load(k, data) & ~WORK_STRUCT_PENDING)
            k.call_function_pointer(memory.load(k, fn, "run_workqueue"), work)
    finally:
        k.ctx.hardirq, k.ctx.irqs_disabled, k.ctx.spin_depth = saved
