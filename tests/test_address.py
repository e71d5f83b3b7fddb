"""Scenario tests for address translation (impl/page.py, impl/mm.py,
impl/highmem.py).

Kernel sources: include/asm-x86/page.h, page_32.h, page_64.h and
arch/x86/mm/ioremap.c (__phys_addr) for __pa/__va/virt_to_page/
virt_addr_valid/pfn_valid; include/linux/mm.h for is_vmalloc_addr,
compound_head, virt_to_head_page and page_address; mm/highmem.c for the
HASHED_PAGE_VIRTUAL page_address/set_page_address of i386 HIGHMEM; all at
v2.6.25.  Every kernel here has 16 pages (pfn 0..15).
"""
from __future__ import annotations

import pytest

from conftest import make_kernel
from vcpcheck.impl.gfp import GFP_HIGHUSER, GFP_KERNEL, __GFP_COMP
from vcpcheck.impl.kernel import KernelOops

PAGE_SIZE = 4096
X86_64_PAGE_OFFSET = 0xffff810000000000      # page_64.h#L29
X86_64_START_KERNEL_MAP = 0xffffffff80000000  # page_64.h#L44
I386_PAGE_OFFSET = 0xC0000000                 # CONFIG_PAGE_OFFSET, 3G/1G

ARCH_CONFIGS = [
    pytest.param(dict(ARCH="x86_64"), X86_64_PAGE_OFFSET, id="x86_64"),
    pytest.param(dict(ARCH="i386"), I386_PAGE_OFFSET, id="i386"),
]
ALL_CONFIGS = [
    pytest.param(dict(ARCH="x86_64"), id="x86_64"),
    pytest.param(dict(ARCH="i386"), id="i386"),
    pytest.param(dict(ARCH="i386", HIGHMEM=True), id="i386-HIGHMEM"),
]


# --- __pa / __va -------------------------------------------------------------

@pytest.mark.parametrize("options, page_offset", ARCH_CONFIGS)
def test_va_and_pa_are_page_offset_arithmetic(options, page_offset):
    """
    The linear map (page.h#L161-L166):

        phys  0x0000 0x3000 0xf123            virt = phys + PAGE_OFFSET
        virt  PO     PO+0x3000  PO+0xf123

    Expect __va(x) == x + PAGE_OFFSET and __pa(__va(x)) == x.
    """
    k = make_kernel(**options)

    for phys in (0x0, 0x3000, 0xf123):
        assert k.__va(phys) == page_offset + phys
        assert k.__pa(page_offset + phys) == phys


def test_x86_64_pa_of_a_kernel_image_address():
    """
    x86_64 __phys_addr (arch/x86/mm/ioremap.c#L30-L35, v2.6.25), phys_base 0:

        0xffffffff80201000   (kernel text, >= __START_KERNEL_map)
        __pa(0xffffffff80201000)

    Expect 0x201000: kernel-image addresses subtract __START_KERNEL_map, not
    PAGE_OFFSET.
    """
    k = make_kernel(ARCH="x86_64")

    assert k.__pa(X86_64_START_KERNEL_MAP + 0x201000) == 0x201000


# --- virt_to_page / page_address / pfn_valid / virt_addr_valid ---------------

@pytest.mark.parametrize("options, page_offset", ARCH_CONFIGS)
def test_virt_to_page_and_page_address_invert_each_other(options, page_offset):
    """
    Every pfn of a lowmem-only kernel:

        pfn    0        1        ...  15
        addr   PO       PO+4K         PO+60K

    Expect page_address(pfn) == PAGE_OFFSET + pfn*4K, pfn_to_kaddr agrees,
    and virt_to_page() of any byte of that page returns pfn.
    """
    k = make_kernel(**options)

    for pfn in range(16):
        addr = page_offset + pfn * PAGE_SIZE
        assert k.page_address(pfn) == addr
        assert k.pfn_to_kaddr(pfn) == addr
        assert k.virt_to_page(addr) == pfn
        assert k.virt_to_page(addr + PAGE_SIZE - 1) == pfn


@pytest.mark.parametrize("options", ALL_CONFIGS)
def test_pfn_valid_bounds(options):
    """
    pfn_valid (page_32.h#L68 pfn < max_mapnr, page_64.h#L87 pfn < end_pfn):

        pfn   0 .......... 15 | 16
              valid           | not

    Expect True for 0 and 15, False for 16.
    """
    k = make_kernel(**options)

    assert k.pfn_valid(0) and k.pfn_valid(15)
    assert not k.pfn_valid(16)


@pytest.mark.parametrize("options, page_offset", ARCH_CONFIGS)
def test_virt_addr_valid_is_pfn_valid_of_pa(options, page_offset):
    """
    virt_addr_valid(kaddr) = pfn_valid(__pa(kaddr) >> PAGE_SHIFT)
    (page.h#L173):

        PO ......... PO+64K-1 | PO+64K
        linear map of 16 pages| past the end

    Expect True for the first and last byte of the linear map and False
    for the first byte after it.
    """
    k = make_kernel(**options)

    assert k.virt_addr_valid(page_offset)
    assert k.virt_addr_valid(page_offset + 16 * PAGE_SIZE - 1)
    assert not k.virt_addr_valid(page_offset + 16 * PAGE_SIZE)


def test_i386_highmem_virt_addr_valid_only_checks_the_pfn():
    """
    i386 HIGHMEM, lowmem pfn 0..7, highmem pfn 8..15:

        PO ... PO+32K | PO+32K ... PO+64K
        mapped lowmem | nothing mapped here (above high_memory)

    virt_addr_valid(__va(12 << PAGE_SHIFT))

    Expect True: pfn 12 is a valid pfn, although no linear address maps it
    -- 2.6.25's virt_addr_valid does not compare against high_memory.
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True)

    assert k.virt_addr_valid(k.__va(12 * PAGE_SIZE))
    assert k.page_address(12) is None


@pytest.mark.parametrize("options", ALL_CONFIGS)
def test_virt_to_page_of_a_vmalloc_address_lies_outside_mem_map(options):
    """
    One vmalloc'ed page, mapped at VMALLOC_START:

        vmalloc  [VMALLOC_START: pfn p | guard]
        virt_to_page(VMALLOC_START)

    Expect the macro to compute (VMALLOC_START - PAGE_OFFSET) >> PAGE_SHIFT
    with no check: a struct page pointer far beyond mem_map, not the backing
    pfn p; virt_addr_valid says False, and dereferencing the pointer
    (page_count) oopses.  vmalloc_to_page finds the real page.
    """
    k = make_kernel(**options)
    addr = k.vmalloc(PAGE_SIZE)
    assert addr == k.VMALLOC_START

    bogus = k.virt_to_page(addr)

    assert bogus == (addr - k.PAGE_OFFSET) >> 12
    assert bogus >= 16
    assert bogus != k.vmalloc_to_page(addr)
    assert 0 <= k.vmalloc_to_page(addr) < 16
    assert not k.virt_addr_valid(addr)
    with pytest.raises(KernelOops, match="outside mem_map"):
        k.page_count(bogus)


# --- is_vmalloc_addr ---------------------------------------------------------

@pytest.mark.parametrize("options, start, end", [
    # pgtable_64.h#L140-L141
    pytest.param(dict(ARCH="x86_64"), 0xffffc20000000000, 0xffffe1ffffffffff,
                 id="x86_64"),
    # pgtable_32.h#L61-L75: high_memory (PO+64K) + 8M gap, 8M aligned;
    # end = FIXADDR_START (model: 0xfff4f000) - 2 pages.
    pytest.param(dict(ARCH="i386"), 0xc1000000, 0xfff4d000, id="i386"),
    # end = PKMAP_BASE (model: 0xff800000) - 2 pages with HIGHMEM.
    pytest.param(dict(ARCH="i386", HIGHMEM=True), 0xc1000000, 0xff7fe000,
                 id="i386-HIGHMEM"),
])
def test_is_vmalloc_addr_bounds(options, start, end):
    """
    is_vmalloc_addr (mm.h#L244): VMALLOC_START <= addr < VMALLOC_END.

        ... start-1 | start ............ end-1 | end ...
            no      | yes                      | no

    Expect exactly that half-open range, and a linear-map address outside.
    """
    k = make_kernel(**options)
    assert (k.VMALLOC_START, k.VMALLOC_END) == (start, end)

    assert not k.is_vmalloc_addr(start - 1)
    assert k.is_vmalloc_addr(start)
    assert k.is_vmalloc_addr(end - 1)
    assert not k.is_vmalloc_addr(end)
    assert not k.is_vmalloc_addr(k.page_address(0))


# --- compound_head / virt_to_head_page ---------------------------------------

def test_compound_head_and_virt_to_head_page(k_enc):
    """
    An order-2 compound page and an order-0 page:

        pfn   8    ...   12   13   14   15
              a          H    T    T    T
        virt_to_head_page(page_address(14) + 123)

    Expect 12 (mm.h#L255, #L274): a tail resolves through first_page; the
    head and a non-compound page resolve to themselves.
    """
    k = k_enc
    head = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    single = k.alloc_pages(GFP_KERNEL, 0)
    assert (head, single) == (12, 8)

    assert k.virt_to_head_page(k.page_address(14) + 123) == 12
    assert [k.compound_head(p) for p in (12, 13, 14, 15)] == [12, 12, 12, 12]
    assert k.compound_head(single) == single
    assert k.virt_to_head_page(k.page_address(single)) == single


# --- page_address / set_page_address -----------------------------------------

def test_i386_highmem_page_address_is_null_until_set():
    """
    i386 HIGHMEM (HASHED_PAGE_VIRTUAL, mm/highmem.c#L279-L355):

        pfn   0 ... 7 | 8 ... 15
              lowmem  | highmem, no permanent address
        set_page_address(12, v); ... ; set_page_address(12, NULL)

    Expect page_address(12) NULL, then v, then NULL again; lowmem pages
    answer with their linear address throughout.
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True)
    v = 0xff800000 + 3 * PAGE_SIZE          # a pkmap slot

    assert k.page_address(12) is None
    k.set_page_address(12, v)
    assert k.page_address(12) == v
    assert k.page_address(11) is None
    k.set_page_address(12, 0)
    assert k.page_address(12) is None
    assert k.page_address(7) == I386_PAGE_OFFSET + 7 * PAGE_SIZE


@pytest.mark.parametrize("debug_vm", [True, False])
def test_i386_highmem_set_page_address_on_lowmem_bugs(debug_vm):
    """
    i386 HIGHMEM, pfn 3 is lowmem:

        set_page_address(3, VMALLOC_START)

    Expect BUG (mm/highmem.c#L319, BUG_ON(!PageHighMem(page)), not a
    VM_BUG_ON: also without DEBUG_VM).
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True, DEBUG_VM=debug_vm)

    with pytest.raises(KernelOops):
        k.set_page_address(3, k.VMALLOC_START)
    assert k.events[-1].kind == "BUG"


@pytest.mark.parametrize("options, page_offset", ARCH_CONFIGS)
def test_set_page_address_is_a_noop_without_highmem(options, page_offset):
    """
    x86_64, or i386 without HIGHMEM (mm.h#L583-L584):

        set_page_address(3, VMALLOC_START)

    Expect no effect: page_address(3) stays the linear address.
    """
    k = make_kernel(**options)

    k.set_page_address(3, k.VMALLOC_START)

    assert k.page_address(3) == page_offset + 3 * PAGE_SIZE
    assert k.events == []


def test_i386_highmem_allocation_has_no_address():
    """
    i386 HIGHMEM, fresh boot: the HighMem zone is tried first for
    GFP_HIGHUSER.

        alloc_pages(GFP_HIGHUSER, 0)

    Expect a highmem page (pfn >= 8) whose page_address is NULL, and
    __get_free_pages-style callers must not use it.
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True)

    page = k.alloc_pages(GFP_HIGHUSER, 0)

    assert page >= 8 and k.PageHighMem(page)
    assert k.page_address(page) is None
