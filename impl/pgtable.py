"""Kernel page tables of init_mm for the vmalloc window.

Models the table allocation of mm/memory.c (__pud_alloc, __pmd_alloc,
__pte_alloc_kernel) with include/asm-x86/pgalloc_64.h / pgalloc_32.h
(pud_alloc_one, pmd_alloc_one, pte_alloc_one_kernel) at v2.6.25:
x86_64 has four levels, so the first mapping under a fresh pgd entry takes
a pud, a pmd and a pte page from the buddy allocator; i386 without PAE has
two (pud and pmd are folded into the pgd) and takes only a pte page.  Table
pages are allocated with GFP_KERNEL|__GFP_REPEAT (zeroed) and never freed,
as in 2.6.25.  The present PTEs themselves are the dict ``k.ptes``
(virtual page -> pfn); ``k.pgtables`` maps (level, index) to the table's pfn.

customised: ``k.fail_pt_alloc`` is a fault-injection point in front of the
*_alloc_one calls (the kernel's fail_page_alloc would hit them as well).
"""
from __future__ import annotations

from .gfp import GFP_KERNEL, __GFP_REPEAT, __GFP_ZERO
from .symbols import kfunc

_SRC64 = "include/asm-x86/pgalloc_64.h (v2.6.25)"
_SRC32 = "include/asm-x86/pgalloc_32.h (v2.6.25)"


def _is64(cfg):
    return cfg.ARCH == "x86_64"


def _is32(cfg):
    return cfg.ARCH == "i386"


def pt_shifts(k):
    """Address bits covered by one entry of each allocated level's parent."""
    if k.BITS == 64:
        return {"pud": 39, "pmd": 30, "pte": 21}
    return {"pte": 22}


def _alloc_table_page(k, function):
    if k.fail_pt_alloc > 0:
        k.fail_pt_alloc -= 1
        return 0
    return k.get_zeroed_page(GFP_KERNEL | __GFP_REPEAT)


@kfunc(_SRC64, when=_is64)
def pud_alloc_one(k, mm, addr):
    """pud_alloc_one(): get_zeroed_page(GFP_KERNEL|__GFP_REPEAT)."""
    return _alloc_table_page(k, "pud_alloc_one")


@kfunc(_SRC64, when=_is64)
def pmd_alloc_one(k, mm, addr):
    """pmd_alloc_one(): get_zeroed_page(GFP_KERNEL|__GFP_REPEAT)."""
    return _alloc_table_page(k, "pmd_alloc_one")


@kfunc(_SRC64, when=_is64)
def pte_alloc_one_kernel(k, mm, address):
    """pte_alloc_one_kernel(): get_zeroed_page(GFP_KERNEL|__GFP_REPEAT)."""
    return _alloc_table_page(k, "pte_alloc_one_kernel")


@kfunc(_SRC32, name="pte_alloc_one_kernel", when=_is32)
def pte_alloc_one_kernel_32(k, mm, address):
    """pte_alloc_one_kernel(): __get_free_page(GFP_KERNEL|__GFP_REPEAT|__GFP_ZERO)."""
    if k.fail_pt_alloc > 0:
        k.fail_pt_alloc -= 1
        return 0
    return k.__get_free_page(GFP_KERNEL | __GFP_REPEAT | __GFP_ZERO)


def _table_alloc(k, level, addr, alloc_one):
    key = (level, addr >> pt_shifts(k)[level])
    if key in k.pgtables:
        return True
    table = alloc_one("init_mm", addr)
    if not table:
        return False
    k.pgtables[key] = k.virt_to_page(table)
    return True


@kfunc("include/linux/mm.h / mm/memory.c (v2.6.25)", when=_is64)
def pud_alloc(k, mm, pgd, addr):
    """pud_alloc(): the pud table under pgd, allocated if none (__pud_alloc)."""
    return _table_alloc(k, "pud", addr, k.pud_alloc_one)


@kfunc("include/linux/mm.h / mm/memory.c (v2.6.25)", when=_is64)
def pmd_alloc(k, mm, pud, addr):
    """pmd_alloc(): the pmd table under pud, allocated if none (__pmd_alloc)."""
    return _table_alloc(k, "pmd", addr, k.pmd_alloc_one)


@kfunc("include/asm-generic/pgtable-nopud.h (v2.6.25)", name="pud_alloc", when=_is32)
def pud_alloc_folded(k, mm, pgd, addr):
    """pud_alloc(): folded into the pgd on 2-level i386; never fails."""
    return True


@kfunc("include/asm-generic/pgtable-nopmd.h (v2.6.25)", name="pmd_alloc", when=_is32)
def pmd_alloc_folded(k, mm, pud, addr):
    """pmd_alloc(): folded into the pgd on 2-level i386; never fails."""
    return True


@kfunc("include/linux/mm.h / mm/memory.c (v2.6.25)")
def pte_alloc_kernel(k, pmd, address):
    """pte_alloc_kernel(): the pte table under pmd (__pte_alloc_kernel)."""
    return _table_alloc(k, "pte", address, k.pte_alloc_one_kernel)


def pt_level_end(k, level, addr, end):
    """pgd/pud/pmd_addr_end(): the end of the entry holding addr, or end."""
    shift = {"pgd": 39 if k.BITS == 64 else 22, "pud": 30, "pmd": 21}[level]
    if k.BITS == 32 and level != "pgd":
        return end                       # folded levels span the pgd entry
    boundary = ((addr >> shift) + 1) << shift
    return boundary if boundary - 1 < end - 1 else end
