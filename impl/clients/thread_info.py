"""Kernel stacks: alloc_thread_info()/free_thread_info() and the stack mask.

Models include/asm-x86/thread_info_64.h#L66-L88 and thread_info_32.h#L57-L105
(v2.6.25): THREAD_SIZE is 8 KiB on both (i386 without 4KSTACKS), the stack
and thread_info come from __get_free_pages(GFP_KERNEL, order 1), and the
thread_info of the running task is found by masking the stack pointer with
~(THREAD_SIZE - 1) (i386 current_thread_info(), x86_64 stack_thread_info()).
"""
from __future__ import annotations

from ..gfp import GFP_KERNEL
from ..symbols import kfunc

THREAD_SIZE = 8192
THREAD_ORDER = 1


@kfunc("include/asm-x86/thread_info_64.h / thread_info_32.h (v2.6.25)")
def alloc_thread_info(k, tsk):
    """alloc_thread_info(): __get_free_pages(GFP_KERNEL, THREAD_ORDER)."""
    return k.call("__get_free_pages", GFP_KERNEL, THREAD_ORDER)


@kfunc("include/asm-x86/thread_info_64.h / thread_info_32.h (v2.6.25)")
def free_thread_info(k, ti):
    """free_thread_info(): free_pages(ti, THREAD_ORDER)."""
    k.free_pages(ti, THREAD_ORDER)


@kfunc("include/asm-x86/thread_info_32.h#L91 / thread_info_64.h#L71 (v2.6.25)")
def stack_thread_info(k, sp):
    """current_thread_info() (i386) / stack_thread_info() (x86_64): sp & ~(THREAD_SIZE-1)."""
    return sp & ~(THREAD_SIZE - 1)
