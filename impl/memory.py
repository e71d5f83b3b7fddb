"""The contents of memory: loads, stores, clear_highpage(), memset().

customised shim: the kernel's memory is bytes; the model keeps words
(unsigned long) per page, sparsely.  A page never written reads as
UNINITIALISED garbage, so "was it zeroed?" is observable; clear_highpage()
(include/linux/highmem.h, v2.6.25) makes it read 0.  Addresses resolve the
way the MMU would: the linear map by arithmetic, the vmalloc window through
the kernel page tables, slab objects through the kmalloc shim.  A load or
store anywhere else is the oops the kernel would take.
"""
from __future__ import annotations

from .kernel import UNINITIALISED
from .slub import kmalloc_lookup
from .symbols import kfunc


def resolve(k, addr):
    """(pfn, offset, None) or (None, offset, object) behind a kernel
    virtual address, or None where nothing is mapped."""
    low_end = k.PAGE_OFFSET + (k.lowmem_pages << k.PAGE_SHIFT)
    if k.PAGE_OFFSET <= addr < low_end:
        off = addr - k.PAGE_OFFSET
        return off >> k.PAGE_SHIFT, off & (k.PAGE_SIZE - 1), None
    if k.VMALLOC_START <= addr < k.VMALLOC_END:
        pfn = k.ptes.get(addr >> k.PAGE_SHIFT)
        if pfn is not None:
            return pfn, addr & (k.PAGE_SIZE - 1), None
        return None
    obj = kmalloc_lookup(k, addr)
    if obj is not None:
        return None, addr - obj.addr, obj
    return None


def _resolve_or_oops(k, addr, function):
    where = resolve(k, addr)
    if where is None:
        k.oops(f"BUG: unable to handle kernel paging request at {addr:#x}",
               function)
    return where


def peek(k, addr):
    """The word at addr, or None if nothing is mapped there (no oops;
    for checks and pictures)."""
    where = resolve(k, addr & ~(k.PTR_SIZE - 1))
    if where is None:
        return None
    return _read(k, *where)


def _read(k, pfn, off, obj):
    if obj is not None:
        return obj.words.get(off, obj.words.get(-1, UNINITIALISED))
    words = k.pagemem.get(pfn)
    if words is None:
        return UNINITIALISED
    return words.get(off, words.get(-1, 0))


def load(k, addr, function="load"):
    """*(unsigned long *)addr."""
    addr &= ~(k.PTR_SIZE - 1)
    return _read(k, *_resolve_or_oops(k, addr, function))


def store(k, addr, value, function="store"):
    """*(unsigned long *)addr = value."""
    addr &= ~(k.PTR_SIZE - 1)
    value &= (1 << k.BITS) - 1
    pfn, off, obj = _resolve_or_oops(k, addr, function)
    if obj is not None:
        obj.words[off] = value
        return
    words = k.pagemem.get(pfn)
    if words is None:
        # First store into a never-written page: the rest stays garbage
        # (key -1 holds the value of every word not stored to).
        words = k.pagemem[pfn] = {-1: UNINITIALISED}
    words[off] = value


@kfunc("include/linux/highmem.h (v2.6.25)")
def clear_highpage(k, page):
    """clear_highpage(): zero one page (via kmap_atomic for highmem)."""
    k.deref(page, "clear_highpage")
    k.pagemem[page] = {}


@kfunc("lib/string.c (v2.6.25)")
def memset(k, s, c, count):
    """memset(): fill count bytes with c (word-granular in the model)."""
    byte = c & 0xff
    word = int.from_bytes(bytes([byte]) * k.PTR_SIZE, "little")
    for a in range(s, s + count, k.PTR_SIZE):
        store(k, a, word, "memset")
    return s
