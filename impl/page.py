"""Linear map and pfn <-> struct page translation on x86.

Models include/asm-x86/page.h, page_32.h, page_64.h, arch/x86/mm/ioremap.c
(__phys_addr) and include/asm-generic/memory_model.h (FLATMEM / VMEMMAP: the
memory map is one array indexed by pfn) at v2.6.25.  In the model a
``struct page *`` is its pfn (an int) and NULL is None; none of these
functions checks its argument, exactly like the kernel's macros.
"""
from __future__ import annotations

from .symbols import kfunc

_SRC = "include/asm-x86/page.h (v2.6.25)"


def _mask(k, x):
    return x & ((1 << k.BITS) - 1)


@kfunc("arch/x86/mm/ioremap.c __phys_addr / page_32.h (v2.6.25)")
def __pa(k, x):
    """__pa(): linear (or x86_64 kernel-image) address -> physical address."""
    if k.BITS == 64 and x >= k.consts["__START_KERNEL_map"]:
        return _mask(k, x - k.consts["__START_KERNEL_map"])   # phys_base 0
    return _mask(k, x - k.PAGE_OFFSET)


@kfunc(_SRC)
def __va(k, x):
    """__va(): physical address -> linear-map address (x + PAGE_OFFSET)."""
    return _mask(k, x + k.PAGE_OFFSET)


@kfunc("include/asm-generic/memory_model.h (v2.6.25)")
def pfn_to_page(k, pfn):
    """pfn_to_page(): mem_map + pfn (FLATMEM, ARCH_PFN_OFFSET 0) / vmemmap + pfn."""
    return pfn


@kfunc("include/asm-generic/memory_model.h (v2.6.25)")
def page_to_pfn(k, page):
    """page_to_pfn(): page - mem_map."""
    return page


@kfunc("include/asm-x86/page_32.h#L68 / page_64.h#L87 (v2.6.25)")
def pfn_valid(k, pfn):
    """pfn_valid(): pfn < max_mapnr (i386) or end_pfn (x86_64)."""
    return 0 <= pfn < k.nr_pages


@kfunc(_SRC)
def virt_to_page(k, kaddr):
    """virt_to_page(): pfn_to_page(__pa(kaddr) >> PAGE_SHIFT), unchecked."""
    return k.pfn_to_page(k.__pa(kaddr) >> k.PAGE_SHIFT)


@kfunc(_SRC)
def virt_addr_valid(k, kaddr):
    """virt_addr_valid(): pfn_valid(__pa(kaddr) >> PAGE_SHIFT)."""
    return k.pfn_valid(k.__pa(kaddr) >> k.PAGE_SHIFT)


@kfunc(_SRC)
def pfn_to_kaddr(k, pfn):
    """pfn_to_kaddr(): __va(pfn << PAGE_SHIFT)."""
    return k.__va(pfn << k.PAGE_SHIFT)
