"""Scenario tests for mm/vmalloc.c (v2.6.25) and the kernel page tables.

Each expectation was written from the v2.6.25 source first
(mm/vmalloc.c, mm/memory.c __pud_alloc/__pmd_alloc/__pte_alloc_kernel,
include/asm-x86/pgalloc_64.h, arch/x86/mm/pgtable_32.c), then checked
against the model.

Pictures show the vmalloc window from VMALLOC_START, one cell per page:

    A, B, ...  a mapped page of the area with that name
    g          the area's guard page (reserved, never mapped)
    r          a page of an area reserved by get_vm_area() (nothing mapped)
    .          free address space
    |          the end of a pte table's reach (x86_64: 2 MiB, i386: 4 MiB)
"""
from __future__ import annotations

from collections import Counter

import pytest

from conftest import ARCHES, make_kernel
from vcpcheck.impl import memory
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.kconfig import PAGE_SIZE
from vcpcheck.impl.kernel import KernelOops, VmStruct
from vcpcheck.impl.vmalloc import (ENOMEM, PAGE_KERNEL, VM_ALLOC, VM_IOREMAP,
                                   VM_MAP, VM_VPAGES, array_get)

P = PAGE_SIZE
OUT_OF_SPACE = ("allocation failed: out of vmalloc space - use vmalloc=<size>"
                " to increase size.")
# Pages one pte table maps: PTRS_PER_PTE (x86_64 512, i386 non-PAE 1024).
PTE_SPAN = {"x86_64": 512, "i386": 1024}


@pytest.fixture(params=ARCHES)
def ka(request):
    """A 16-page kernel for each architecture."""
    return make_kernel(ARCH=request.param)


def layout(k):
    """vmlist as (first page, pages incl. guard, flags), pages from VMALLOC_START."""
    return [((a.addr - k.VMALLOC_START) // P, a.size // P, a.flags)
            for a in k.vmlist]


def area_at(k, addr):
    return next((a for a in k.vmlist if a.addr == addr), None)


def pte(k, addr):
    """The pfn the kernel PTE for addr maps, or None."""
    return k.ptes.get(addr >> k.PAGE_SHIFT)


def table_levels(k):
    return Counter(level for level, _ in k.pgtables)


def area_pages(k, area):
    return [array_get(k, area.pages, i) for i in range(area.nr_pages)]


def page_array(k, pages):
    """kmalloc a struct page * array holding pages (as a vmap() caller does)."""
    array = k.kmalloc(len(pages) * k.PTR_SIZE, GFP_KERNEL)
    for i, page in enumerate(pages):
        memory.store(k, array + i * k.PTR_SIZE, k.page_to_word(page))
    return array


def messages(k, kind):
    return [e.message for e in k.events if e.kind == kind]


# --- __get_vm_area_node: first fit, one guard page --------------------------

def test_first_area_starts_at_vmalloc_start(k):
    """
    VMALLOC_START
    |.|.|.|.|
        get_vm_area(PAGE_SIZE, VM_ALLOC)
    Expect the area at VMALLOC_START, its size counting one guard page,
    a kmalloc'ed descriptor, and nothing mapped or allocated from the buddy
    allocator yet:
    |r|g|.|.|
    """
    free = k.nr_free_pages()
    area = k.get_vm_area(P, VM_ALLOC)
    assert area.addr == k.VMALLOC_START
    assert area.size == 2 * P
    assert area.flags == VM_ALLOC
    assert (area.pages, area.nr_pages, area.phys_addr) == (0, 0, 0)
    assert area.desc in k.kmalloc_objs
    assert k.vmlist == [area]
    assert k.ptes == {} and k.pgtables == {}
    assert k.nr_free_pages() == free
    assert k.events == []


def test_size_is_rounded_up_to_whole_pages(k):
    """
    |.|.|.|.|
        get_vm_area(PAGE_SIZE + 1, VM_ALLOC)
    Expect PAGE_ALIGN to make it two pages, plus the guard:
    |r|r|g|.|
    """
    area = k.get_vm_area(P + 1, VM_ALLOC)
    assert area.size == 3 * P


def test_zero_size_reserves_nothing(k):
    """
    |.|.|.|.|
        get_vm_area(0, VM_ALLOC)
    Expect NULL before the descriptor is even allocated (vmalloc.c:228-229).
    """
    assert k.get_vm_area(0, VM_ALLOC) is None
    assert k.vmlist == [] and k.kmalloc_objs == {}
    assert k.events == []


def test_second_area_starts_right_after_first_guard(k):
    """
    |A|g|.|.|.|.|
        vmalloc(2 * PAGE_SIZE)
    Expect B to start at the page after A's guard:
    |A|g|B|B|g|.|
    """
    a = k.vmalloc(P)
    b = k.vmalloc(2 * P)
    assert b == a + 2 * P
    assert layout(k) == [(0, 2, VM_ALLOC), (2, 3, VM_ALLOC)]
    assert pte(k, a + P) is None          # A's guard is not mapped
    assert pte(k, b) is not None


def test_freed_hole_is_reused_first_fit(k):
    """
    |A|g|.|.|C|g|.|.|.|   (B, one page, was vfree'd)
        vmalloc(2 * PAGE_SIZE), then vmalloc(PAGE_SIZE)
    Expect the two-page area not to fit the two-page hole (it needs three
    with its guard) and to go after C; the one-page area then fills the
    hole exactly (size + addr <= tmp->addr, vmalloc.c:251):
    |A|g|E|g|C|g|D|D|g|
    """
    a = k.vmalloc(P)
    b = k.vmalloc(P)
    c = k.vmalloc(P)
    k.vfree(b)
    assert layout(k) == [(0, 2, VM_ALLOC), (4, 2, VM_ALLOC)]
    d = k.vmalloc(2 * P)
    assert d == c + 2 * P
    e = k.vmalloc(P)
    assert e == b
    assert [x.addr for x in k.vmlist] == [a, e, c, d]
    assert k.errors() == []


@pytest.mark.parametrize("size, offset_pages, align", [
    (100, 2, P),                  # fls(100) = 7, raised to PAGE_SHIFT
    (P, 2, 2 * P),                # fls(4096) = 13
    (2 * P, 4, 4 * P),            # fls(8192) = 14
    (3 * P, 4, 4 * P),            # fls(12288) = 14
    (256 * P, 128, 128 * P),      # fls(1 MiB) = 21, capped at IOREMAP_MAX_ORDER 19
])
def test_ioremap_area_is_aligned_to_fls_of_size(k, size, offset_pages, align):
    """
    |A|g|.|.|.|.|.|...
        get_vm_area(size, VM_IOREMAP)
    Expect the start aligned to 1 << fls(size), clamped to
    [PAGE_SHIFT, IOREMAP_MAX_ORDER] (vmalloc.c:216-224); the search skips
    past A's guard and rounds up to that alignment:
    |A|g|.|.|I|I|g|...     (size = 2 pages: 16 KiB alignment)
    """
    k.get_vm_area(P, VM_ALLOC)
    area = k.get_vm_area(size, VM_IOREMAP)
    assert area.addr == k.VMALLOC_START + offset_pages * P
    assert (area.addr - k.VMALLOC_START) % align == 0
    assert area.flags == VM_IOREMAP


def test_vmap_area_is_not_aligned(k):
    """
    |A|g|.|.|.|
        get_vm_area(2 * PAGE_SIZE, VM_MAP)
    Expect no alignment beyond a page: the area starts after A's guard.
    |A|g|M|M|g|
    """
    k.get_vm_area(P, VM_ALLOC)
    area = k.get_vm_area(2 * P, VM_MAP)
    assert area.addr == k.VMALLOC_START + 2 * P


def test_last_area_may_end_exactly_at_vmalloc_end():
    """
    VMALLOC_START           VMALLOC_END (vmalloc_pages=4)
    |.|.|.|.|
        vmalloc(3 * PAGE_SIZE)
    Expect it to fit: addr > end - size is false when the guard page is the
    window's last page (vmalloc.c:259-260).
    |A|A|A|g|
    """
    k = make_kernel(vmalloc_pages=4)
    a = k.vmalloc(3 * P)
    assert a == k.VMALLOC_START
    assert area_at(k, a).addr + area_at(k, a).size == k.VMALLOC_END
    assert k.errors() == [] and messages(k, "info") == []


def test_out_of_vmalloc_space_returns_null_and_frees_descriptor():
    """
    VMALLOC_START   VMALLOC_END (vmalloc_pages=4)
    |A|g|B|g|
        vmalloc(PAGE_SIZE)
    Expect NULL, the rate-limited KERN_WARNING "out of vmalloc space"
    (vmalloc.c:279-280, an info event, not an error), the descriptor
    kfree'd, and no page taken:
    |A|g|B|g|
    """
    k = make_kernel(vmalloc_pages=4)
    a = k.vmalloc(P)
    b = k.vmalloc(P)
    assert b == a + 2 * P
    objs, free = set(k.kmalloc_objs), k.nr_free_pages()
    assert k.vmalloc(P) == 0
    assert messages(k, "info") == [OUT_OF_SPACE]
    assert [e.function for e in k.events] == ["__get_vm_area_node"]
    assert k.errors() == []
    assert set(k.kmalloc_objs) == objs
    assert k.nr_free_pages() == free
    assert layout(k) == [(0, 2, VM_ALLOC), (2, 2, VM_ALLOC)]


def test_area_larger_than_window_is_refused():
    """
    VMALLOC_START   VMALLOC_END (vmalloc_pages=4)
    |.|.|.|.|
        vmalloc(4 * PAGE_SIZE)
    Expect NULL: four pages and a guard need five.
    """
    k = make_kernel(vmalloc_pages=4)
    assert k.vmalloc(4 * P) == 0
    assert messages(k, "info") == [OUT_OF_SPACE]
    assert k.vmlist == [] and k.kmalloc_objs == {}
    assert k.nr_free_pages() == 16


@pytest.mark.parametrize("reserve", ["get_vm_area", "vmalloc"])
def test_reserving_in_interrupt_context_is_bug(k, reserve):
    """
    |.|.|.|    (in a hard interrupt handler: irq_enter())
        get_vm_area(PAGE_SIZE, VM_ALLOC) / vmalloc(PAGE_SIZE)
    Expect BUG_ON(in_interrupt()) at vmalloc.c:215, before the descriptor is
    allocated.
    """
    k.irq_enter()
    with pytest.raises(KernelOops) as oops:
        if reserve == "vmalloc":
            k.vmalloc(P)
        else:
            k.get_vm_area(P, VM_ALLOC)
    assert oops.value.message == "kernel BUG at mm/vmalloc.c:215!"
    assert oops.value.function == "__get_vm_area_node"
    assert k.vmlist == [] and k.kmalloc_objs == {}
    assert k.nr_free_pages() == 16


def test_vmalloc_zero_or_more_than_num_physpages_is_null(k):
    """
    |.|.|.|
        vmalloc(0); vmalloc((num_physpages + 1) * PAGE_SIZE)
    Expect NULL from __vmalloc_node's size check (vmalloc.c:544), before any
    reservation, allocation or message.
    """
    assert k.vmalloc(0) == 0
    assert k.vmalloc((k.nr_pages + 1) * P) == 0
    assert k.vmlist == [] and k.kmalloc_objs == {}
    assert k.events == []


# --- __find_vm_area / remove_vm_area ---------------------------------------

def test_find_vm_area_matches_only_the_start(k):
    """
    |A|A|g|
        __find_vm_area(A), __find_vm_area(A + PAGE_SIZE)
    Expect the area for its start address and NULL for an interior one.
    """
    a = k.vmalloc(2 * P)
    assert k.__find_vm_area(a) is area_at(k, a)
    assert k.__find_vm_area(a + P) is None


def test_remove_vm_area_unlinks_unmaps_and_drops_the_guard(k):
    """
    |A|A|g|
        remove_vm_area(A)
    Expect A unlinked, its PTEs cleared, its size without the guard page
    (vmalloc.c:343), and its pages left allocated (the caller frees them).
    |.|.|.|
    """
    a = k.vmalloc(2 * P)
    pages = area_pages(k, area_at(k, a))
    area = k.remove_vm_area(a)
    assert area.size == 2 * P
    assert k.vmlist == [] and k.ptes == {}
    assert all(k.page_count(p) == 1 for p in pages)
    assert k.remove_vm_area(a) is None


def test_unmap_kernel_range_of_nothing_is_bug(k):
    """
    unmap_kernel_range(VMALLOC_START, 0)
    Expect BUG_ON(addr >= end) at vmalloc.c:78.
    """
    with pytest.raises(KernelOops) as oops:
        k.unmap_kernel_range(k.VMALLOC_START, 0)
    assert oops.value.message == "kernel BUG at mm/vmalloc.c:78!"


# --- map_vm_area: page tables ---------------------------------------------------

@pytest.mark.parametrize("arch, levels", [
    ("x86_64", {"pud": 1, "pmd": 1, "pte": 1}),
    ("i386", {"pte": 1}),
])
def test_first_mapping_allocates_page_tables(arch, levels):
    """
    |.|.|.|    no table under VMALLOC_START's pgd entry yet
        vmalloc(PAGE_SIZE)
    Expect x86_64 (4 levels) to take a pud, a pmd and a pte page, i386
    without PAE (pud and pmd folded into the pgd) only a pte page, each a
    zeroed GFP_KERNEL page that stays allocated:
    |A|g|.|
    """
    k = make_kernel(ARCH=arch)
    a = k.vmalloc(P)
    assert table_levels(k) == levels
    tables = list(k.pgtables.values())
    assert all(k.page_count(t) == 1 for t in tables)
    assert all(k.pagemem.get(t) == {} for t in tables)      # cleared
    assert k.nr_free_pages() == 16 - 1 - len(tables)
    assert pte(k, a) not in tables


def test_second_mapping_reuses_the_tables(ka):
    """
    |A|g|.|.|.|
        vmalloc(2 * PAGE_SIZE)
    Expect B's PTEs to go in the same pte table: no new table page.
    |A|g|B|B|g|
    """
    ka.vmalloc(P)
    tables, free = dict(ka.pgtables), ka.nr_free_pages()
    ka.vmalloc(2 * P)
    assert ka.pgtables == tables
    assert ka.nr_free_pages() == free - 2


def test_vfree_keeps_the_table_pages(ka):
    """
    |A|g|
        vfree(A)
    Expect the PTEs cleared but the table pages kept: 2.6.25 never frees
    kernel page tables.
    |.|.|
    """
    a = ka.vmalloc(P)
    tables = dict(ka.pgtables)
    ka.vfree(a)
    assert ka.ptes == {}
    assert ka.pgtables == tables
    assert all(ka.page_count(t) == 1 for t in tables.values())
    assert ka.nr_free_pages() == 16 - len(tables)


@pytest.mark.parametrize("arch, levels", [
    ("x86_64", {"pud": 1, "pmd": 1, "pte": 2}),
    ("i386", {"pte": 2}),
])
def test_area_across_a_pte_table_boundary_takes_two_pte_tables(arch, levels):
    """
    |r r ... r|g|A|A|A|g|     (r: a reservation of PTE_SPAN - 3 pages)
    |r r ... r g A A | A g    the second pte table starts at PTE_SPAN
        vmalloc(3 * PAGE_SIZE)
    Expect vmap_pmd_range (pgd_addr_end on i386) to split the walk at the
    table boundary and allocate a second pte table for the last page.
    """
    k = make_kernel(ARCH=arch)
    span = PTE_SPAN[arch]
    k.get_vm_area((span - 3) * P, VM_MAP)
    a = k.vmalloc(3 * P)
    assert a == k.VMALLOC_START + (span - 2) * P
    assert table_levels(k) == levels
    assert all(pte(k, a + i * P) is not None for i in range(3))
    assert k.nr_free_pages() == 16 - 3 - sum(levels.values())


def test_map_vm_area_of_a_guard_only_area_is_bug(k):
    """
    |g|     an area of one page: nothing but its guard
        map_vm_area(area, PAGE_KERNEL, &pages)
    Expect BUG_ON(addr >= end) at vmalloc.c:156.
    """
    area = VmStruct(addr=k.VMALLOC_START, size=P, flags=VM_MAP)
    with pytest.raises(KernelOops) as oops:
        k.map_vm_area(area, PAGE_KERNEL, [0])
    assert oops.value.message == "kernel BUG at mm/vmalloc.c:156!"


# --- failures while vmalloc() fills an area ------------------------------------

def test_page_table_failure_on_fresh_kernel_frees_everything(ka):
    """
    |.|.|.|    no tables; the first table allocation fails
        vmalloc(2 * PAGE_SIZE)
    Expect map_vm_area's -ENOMEM to make __vmalloc_area_node vfree the
    area: NULL, both pages, the array and the descriptor freed, no table.
    """
    ka.fail_pt_alloc = 1
    assert ka.vmalloc(2 * P) == 0
    assert ka.fail_pt_alloc == 0
    assert ka.vmlist == [] and ka.ptes == {} and ka.pgtables == {}
    assert ka.kmalloc_objs == {}
    assert ka.nr_free_pages() == 16
    assert ka.errors() == []


def test_pte_table_failure_keeps_the_pud_and_pmd_it_allocated():
    """
    x86_64, no tables: pud and pmd allocate, then the pte table fails
        vmalloc(2 * PAGE_SIZE)
    Expect NULL and everything freed except the pud and pmd pages already
    hooked into init_mm (tables are never freed in 2.6.25).
    """
    k = make_kernel(ARCH="x86_64")
    pmd_alloc_one = k.pmd_alloc_one

    def pmd_then_fail_pte(mm, addr):
        table = pmd_alloc_one(mm, addr)
        k.fail_pt_alloc = 1            # the pte_alloc_one_kernel that follows
        return table

    k.pmd_alloc_one = pmd_then_fail_pte
    assert k.vmalloc(2 * P) == 0
    assert table_levels(k) == {"pud": 1, "pmd": 1}
    assert k.vmlist == [] and k.ptes == {} and k.kmalloc_objs == {}
    assert k.nr_free_pages() == 16 - 2
    assert k.errors() == []


@pytest.mark.parametrize("arch", ARCHES)
def test_page_table_failure_midway_unmaps_what_was_mapped(arch):
    """
    |A|g|r ... r|B|B | B|g|    the second pte table cannot be allocated
        vmalloc(3 * PAGE_SIZE)
    Expect the two PTEs already set in the first table to be cleared by
    vfree's unmap, B's three pages, array and descriptor freed, NULL
    returned, and the tables from A left as they were:
    |A|g|r ... r|.|. | .|.|
    """
    k = make_kernel(ARCH=arch)
    span = PTE_SPAN[arch]
    a = k.vmalloc(P)
    k.get_vm_area((span - 5) * P, VM_MAP)
    tables, objs = dict(k.pgtables), set(k.kmalloc_objs)
    ptes, free = dict(k.ptes), k.nr_free_pages()
    k.fail_pt_alloc = 1
    assert k.vmalloc(3 * P) == 0
    assert k.pgtables == tables
    assert k.ptes == ptes and pte(k, a) is not None
    assert set(k.kmalloc_objs) == objs
    assert k.nr_free_pages() == free
    assert [x.addr for x in k.vmlist] == [a, k.VMALLOC_START + 2 * P]
    assert k.errors() == []


def test_first_page_allocation_failure_frees_array_and_descriptor(k):
    """
    |.|.|.|.|   fail_page_alloc = 1
        vmalloc(3 * PAGE_SIZE)
    Expect the first alloc_page to fail (no message: should_fail_alloc_page
    returns before any warning), nr_pages = 0, and vfree to free the array
    and descriptor; no table is allocated because mapping is never reached.
    """
    k.fail_page_alloc = 1
    assert k.vmalloc(3 * P) == 0
    assert k.vmlist == [] and k.kmalloc_objs == {}
    assert k.pgtables == {} and k.ptes == {}
    assert k.nr_free_pages() == 16
    assert k.events == []


def test_page_allocation_failure_midway_frees_the_pages_taken(k):
    """
    buddy allocator: 3 pages free (13 held by someone else)
        vmalloc(5 * PAGE_SIZE)
    Expect pages 0-2 allocated, page 3 to fail, area->nr_pages = 3
    (vmalloc.c:507) so vfree frees exactly those three, plus array and
    descriptor; NULL returned, only info events ("page allocation failure").
    """
    held = [k.alloc_page(GFP_KERNEL) for _ in range(13)]
    assert None not in held and k.nr_free_pages() == 3
    assert k.vmalloc(5 * P) == 0
    assert k.nr_free_pages() == 3
    assert k.vmlist == [] and k.kmalloc_objs == {} and k.ptes == {}
    assert k.errors() == []
    assert any("page allocation failure. order:0" in m
               for m in messages(k, "info"))


def test_page_array_allocation_failure_removes_the_area(k):
    """
    |.|.|.|   the descriptor kmalloc succeeds, the array kmalloc fails
        vmalloc(2 * PAGE_SIZE)
    Expect remove_vm_area and kfree(area) (vmalloc.c:491-494): NULL,
    nothing reserved, nothing allocated.
    """
    get_vm_area_node = k.get_vm_area_node

    def reserve_then_fail_kmalloc(*args):
        area = get_vm_area_node(*args)
        k.fail_kmalloc = 1               # the page array's kmalloc_node
        return area

    k.get_vm_area_node = reserve_then_fail_kmalloc
    assert k.vmalloc(2 * P) == 0
    assert k.fail_kmalloc == 0
    assert k.vmlist == [] and k.kmalloc_objs == {}
    assert k.nr_free_pages() == 16
    assert k.events == []


def test_descriptor_allocation_failure_is_silent_null(k):
    """
    |.|.|   fail_kmalloc = 1: the vm_struct itself cannot be allocated
        vmalloc(PAGE_SIZE)
    Expect NULL with no message (vmalloc.c:233-234 returns quietly).
    """
    k.fail_kmalloc = 1
    assert k.vmalloc(P) == 0
    assert k.vmlist == [] and k.events == []


# --- the page array: kmalloc or (VM_VPAGES) vmalloc ----------------------------

@pytest.mark.parametrize("nr_pages, vpages", [(512, False), (513, True)])
def test_page_array_above_page_size_is_vmalloced(nr_pages, vpages):
    """
    x86_64, 600 pages of RAM
    |.|.|.|...
        vmalloc(nr_pages * PAGE_SIZE)
    Expect a 512-entry array (exactly PAGE_SIZE) from kmalloc, and a
    513-entry one (4104 bytes) from the recursive __vmalloc_node with
    VM_VPAGES set on the outer area; the inner area is reserved after the
    outer one (vmalloc.c:481-484):
    |V V ... V|g|a|a|g|      (a: the inner area holding V's page array)
    vfree(V) then frees both areas and every page but the tables.
    """
    k = make_kernel(ARCH="x86_64", mem_pages=600)
    v = k.vmalloc(nr_pages * P)
    outer = area_at(k, v)
    assert outer.nr_pages == nr_pages
    assert bool(outer.flags & VM_VPAGES) == vpages
    if vpages:
        inner = area_at(k, outer.pages)
        assert inner.addr == v + (nr_pages + 1) * P
        assert inner.flags == VM_ALLOC and inner.nr_pages == 2
        assert layout(k) == [(0, nr_pages + 1, VM_ALLOC | VM_VPAGES),
                             (nr_pages + 1, 3, VM_ALLOC)]
        assert k.vmallocinfo()[0].endswith(f" pages={nr_pages} vmalloc vpages")
    else:
        assert outer.pages in k.kmalloc_objs
        assert len(k.vmlist) == 1
    pages = area_pages(k, outer)
    assert pages == [pte(k, v + i * P) for i in range(nr_pages)]
    assert len(set(pages)) == nr_pages
    tables = len(k.pgtables)
    k.vfree(v)
    assert k.vmlist == [] and k.ptes == {} and k.kmalloc_objs == {}
    assert k.nr_free_pages() == 600 - tables
    assert k.errors() == []


# --- vmalloc_to_page and access through the mapping -----------------------------

def test_vmalloc_to_page_walks_each_page_and_not_the_guard(ka):
    """
    |A0|A1|A2|g|
        vmalloc_to_page(A + i * PAGE_SIZE + offset)
    Expect pages[i] for each page at any offset in it, and NULL for the
    guard page, whose PTE was never set.
    """
    a = ka.vmalloc(3 * P)
    pages = area_pages(ka, area_at(ka, a))
    for i, page in enumerate(pages):
        assert ka.vmalloc_to_page(a + i * P) == page
        assert ka.vmalloc_to_page(a + i * P + 123) == page
        assert ka.vmalloc_to_pfn(a + i * P) == ka.page_to_pfn(page)
    assert ka.vmalloc_to_page(a + 3 * P) is None
    assert len(set(pages)) == 3 and None not in pages


def test_stores_through_the_mapping_land_in_the_pages(k):
    """
    |A0|A1|g|
        *(A + PAGE_SIZE + 8) = 0x1234; then vfree(A) and load(A)
    Expect the word in pages[1] at offset 8; after vfree the address is
    unmapped and a load oopses.
    """
    a = k.vmalloc(2 * P)
    page1 = area_pages(k, area_at(k, a))[1]
    memory.store(k, a + P + 8, 0x1234)
    assert k.pagemem[page1][8] == 0x1234
    assert memory.load(k, a + P + 8) == 0x1234
    k.vfree(a)
    with pytest.raises(KernelOops):
        memory.load(k, a)


def test_highmem_vmalloc_maps_pages_without_a_kernel_address():
    """
    i386 HIGHMEM, 8 lowmem + 8 highmem pages
        vmalloc(PAGE_SIZE)
    Expect the data page from ZONE_HIGHMEM (GFP_KERNEL | __GFP_HIGHMEM),
    with no page_address() of its own, still reachable through the vmalloc
    address; the pte table (GFP_KERNEL) from lowmem.
    """
    k = make_kernel(ARCH="i386", HIGHMEM=True)
    a = k.vmalloc(P)
    page = k.vmalloc_to_page(a)
    assert k.PageHighMem(page) and page >= k.lowmem_pages
    assert k.page_address(page) is None
    assert all(t < k.lowmem_pages for t in k.pgtables.values())
    memory.store(k, a, 0xabcd)
    assert k.pagemem[page][0] == 0xabcd


# --- vfree / vunmap / __vunmap --------------------------------------------------

def test_vfree_frees_pages_array_and_descriptor(ka):
    """
    |A|A|g|
        vfree(A)
    Expect both pages back in the buddy allocator, the array and the
    descriptor kfree'd, the PTEs (guard's included) cleared, no report.
    |.|.|.|
    """
    a = ka.vmalloc(2 * P)
    tables = len(ka.pgtables)
    ka.vfree(a)
    assert ka.vmlist == [] and ka.ptes == {} and ka.kmalloc_objs == {}
    assert ka.nr_free_pages() == 16 - tables
    assert ka.events == []


def test_vfree_null_does_nothing(k):
    """
    |A|g|
        vfree(NULL)
    Expect nothing at all (vmalloc.c:368-369).
    """
    k.vmalloc(P)
    before = (list(k.vmlist), dict(k.ptes), k.nr_free_pages())
    k.vfree(0)
    assert (list(k.vmlist), dict(k.ptes), k.nr_free_pages()) == before
    assert k.events == []


def test_vfree_of_unaligned_address_warns_and_frees_nothing(k):
    """
    |A|A|g|
        vfree(A + 8)
    Expect "Trying to vfree() bad address" and a WARN (vmalloc.c:371-374);
    A stays reserved and mapped.
    """
    a = k.vmalloc(2 * P)
    free = k.nr_free_pages()
    k.vfree(a + 8)
    assert messages(k, "WARN") == [f"Trying to vfree() bad address ({a + 8:#x})"]
    assert area_at(k, a) is not None and pte(k, a) is not None
    assert k.nr_free_pages() == free


@pytest.mark.parametrize("what", ["never allocated", "interior page",
                                  "double vfree", "kmalloc pointer"])
def test_vfree_of_a_nonexistent_area_warns_and_frees_nothing(k, what):
    """
    |A|A|g|.|.|
        vfree(X), X not the start of a listed area
    Expect "Trying to vfree() nonexistent vm area" and a WARN
    (vmalloc.c:377-382), nothing else freed:
    |A|A|g|.|.|   (or |.|.|.|.|.| after the first vfree of a double one)
    """
    a = k.vmalloc(2 * P)
    addr = {"never allocated": a + 4 * P, "interior page": a + P,
            "double vfree": a,
            "kmalloc pointer": k.kmalloc(64, GFP_KERNEL)}[what]
    if what == "double vfree":
        k.vfree(a)
    state = (layout(k), dict(k.ptes), set(k.kmalloc_objs), k.nr_free_pages())
    k.vfree(addr)
    assert messages(k, "WARN") == [
        f"Trying to vfree() nonexistent vm area ({addr:#x})"]
    assert (layout(k), dict(k.ptes), set(k.kmalloc_objs),
            k.nr_free_pages()) == state


@pytest.mark.parametrize("free", ["vfree", "vunmap"])
def test_vfree_and_vunmap_in_interrupt_context_are_bug(k, free):
    """
    |A|g|    (in a hard interrupt handler)
        vfree(A) / vunmap(A)
    Expect BUG_ON(in_interrupt()) at vmalloc.c:419 / :435; A untouched.
    """
    a = k.vmalloc(P)
    k.irq_enter()
    with pytest.raises(KernelOops) as oops:
        getattr(k, free)(a)
    line = {"vfree": 419, "vunmap": 435}[free]
    assert oops.value.message == f"kernel BUG at mm/vmalloc.c:{line}!"
    assert area_at(k, a) is not None and pte(k, a) is not None


def test_null_page_in_a_vmalloc_array_at_free_is_bug(k):
    """
    |A0|A1|g|   pages[1] overwritten with NULL
        vfree(A)
    Expect pages[0] freed, then BUG_ON(!page) at vmalloc.c:393.
    """
    a = k.vmalloc(2 * P)
    area = area_at(k, a)
    memory.store(k, area.pages + k.PTR_SIZE, 0)
    with pytest.raises(KernelOops) as oops:
        k.vfree(a)
    assert oops.value.message == "kernel BUG at mm/vmalloc.c:393!"


def test_vunmap_of_a_vmalloc_area_leaks_its_pages_silently(k):
    """
    |A|A|g|
        vunmap(A)
    Expect the area unlisted and unmapped and its descriptor freed, but
    deallocate_pages = 0: the pages and the page array stay allocated,
    and nothing is reported (the kernel does not notice).
    |.|.|.|
    """
    a = k.vmalloc(2 * P)
    area = area_at(k, a)
    pages, desc = area_pages(k, area), area.desc
    k.vunmap(a)
    assert k.vmlist == [] and k.ptes == {}
    assert desc not in k.kmalloc_objs
    assert list(k.kmalloc_objs) == [area.pages]
    assert all(k.page_count(p) == 1 for p in pages)
    assert k.events == []


# --- vmap -----------------------------------------------------------------------

def test_vmap_maps_the_callers_pages_in_order(ka):
    """
    |.|.|.|     caller holds pages p0, p1
        vmap([p0, p1], 2, VM_MAP, PAGE_KERNEL)
    Expect p0, p1 mapped in array order, a VM_MAP area that records no page
    array (pages = NULL, nr_pages = 0), and the caller's array untouched:
    |p0|p1|g|
    """
    p0, p1 = ka.alloc_page(GFP_KERNEL), ka.alloc_page(GFP_KERNEL)
    array = page_array(ka, [p0, p1])
    v = ka.vmap(array, 2, VM_MAP, PAGE_KERNEL)
    assert v == ka.VMALLOC_START
    assert [ka.vmalloc_to_page(v), ka.vmalloc_to_page(v + P)] == [p0, p1]
    assert ka.vmalloc_to_page(v + 2 * P) is None
    area = area_at(ka, v)
    assert (area.flags, area.pages, area.nr_pages) == (VM_MAP, 0, 0)
    assert array in ka.kmalloc_objs
    assert ka.events == []


def test_vunmap_leaves_the_callers_pages_allocated(ka):
    """
    |p0|p1|g|
        vunmap(V)
    Expect the mapping and area gone and p0, p1 still allocated (count 1).
    |.|.|.|
    """
    p0, p1 = ka.alloc_page(GFP_KERNEL), ka.alloc_page(GFP_KERNEL)
    v = ka.vmap(page_array(ka, [p0, p1]), 2, VM_MAP, PAGE_KERNEL)
    ka.vunmap(v)
    assert ka.vmlist == [] and ka.ptes == {}
    assert ka.page_count(p0) == 1 and ka.page_count(p1) == 1
    assert ka.events == []


def test_vfree_of_a_vmap_area_frees_no_pages(k):
    """
    |p0|p1|g|
        vfree(V)
    Expect __vunmap(V, 1) to find nr_pages = 0 and pages = NULL: the area
    goes, p0 and p1 stay allocated, kfree(NULL) does nothing, no report.
    |.|.|.|
    """
    p0, p1 = k.alloc_page(GFP_KERNEL), k.alloc_page(GFP_KERNEL)
    array = page_array(k, [p0, p1])
    v = k.vmap(array, 2, VM_MAP, PAGE_KERNEL)
    free = k.nr_free_pages()
    k.vfree(v)
    assert k.vmlist == [] and k.ptes == {}
    assert k.page_count(p0) == 1 and k.page_count(p1) == 1
    assert k.nr_free_pages() == free
    assert list(k.kmalloc_objs) == [array]
    assert k.events == []


def test_vmap_over_a_present_pte_warns_and_overwrites(k):
    """
    |x|.|.|     a stale PTE left at VMALLOC_START (made by hand)
        vmap([p], 1, VM_MAP, PAGE_KERNEL)
    Expect WARN_ON(!pte_none(*pte)) at vmalloc.c:105, then the PTE set to
    p anyway:
    |p|g|.|
    """
    stale, p = k.alloc_page(GFP_KERNEL), k.alloc_page(GFP_KERNEL)
    k.ptes[k.VMALLOC_START >> k.PAGE_SHIFT] = stale
    v = k.vmap(page_array(k, [p]), 1, VM_MAP, PAGE_KERNEL)
    assert v == k.VMALLOC_START
    assert pte(k, v) == p
    warns = [e for e in k.events if e.kind == "WARN"]
    assert [e.function for e in warns] == ["vmap_pte_range"]
    assert "mm/vmalloc.c:105" in warns[0].message


def test_null_entry_in_the_array_fails_the_mapping(k):
    """
    |.|.|.|.|   caller's array: [p0, NULL, p2]
        vmap(array, 3, VM_MAP, PAGE_KERNEL)
    Expect vmap_pte_range to map p0, stop at the NULL entry with -ENOMEM
    (vmalloc.c:106-107) and vmap to vunmap the area: NULL, nothing mapped,
    the caller's pages still allocated.
    """
    p0, p2 = k.alloc_page(GFP_KERNEL), k.alloc_page(GFP_KERNEL)
    array = page_array(k, [p0, None, p2])
    assert k.vmap(array, 3, VM_MAP, PAGE_KERNEL) == 0
    assert k.vmlist == [] and k.ptes == {}
    assert k.page_count(p0) == 1 and k.page_count(p2) == 1
    assert k.errors() == []


def test_map_vm_area_stops_the_cursor_at_the_null_entry(k):
    """
    |r|r|r|g|   a reserved area; array [p0, NULL, p2]
        map_vm_area(area, PAGE_KERNEL, &cursor)
    Expect -ENOMEM with p0 mapped and the cursor advanced past p0 only
    ((*pages)++ comes after set_pte_at), pointing at the NULL slot.
    """
    p0, p2 = k.alloc_page(GFP_KERNEL), k.alloc_page(GFP_KERNEL)
    array = page_array(k, [p0, None, p2])
    area = k.get_vm_area(3 * P, VM_MAP)
    cursor = [array]
    assert k.map_vm_area(area, PAGE_KERNEL, cursor) == -ENOMEM
    assert cursor == [array + k.PTR_SIZE]
    assert pte(k, area.addr) == p0 and pte(k, area.addr + P) is None


def test_vmap_of_more_pages_than_num_physpages_is_null(k):
    """
        vmap(array, num_physpages + 1, VM_MAP, PAGE_KERNEL)
    Expect NULL before any reservation (vmalloc.c:455).
    """
    array = page_array(k, [0])
    assert k.vmap(array, k.nr_pages + 1, VM_MAP, PAGE_KERNEL) == 0
    assert k.vmlist == [] and list(k.kmalloc_objs) == [array]


# --- /proc/vmallocinfo ------------------------------------------------------------

def test_vmallocinfo_lines():
    """
    |A|g|M|M|g|.|I|g|    vmalloc, vmap of 2 pages, 1-page ioremap reservation
        /proc/vmallocinfo (2.6.26 s_show)
    Expect one line per area, address order: start-end, size with the guard
    as %7ld, pages=N when nr_pages, then the flag words. (2.6.26 also prints
    the caller's symbol; the model records none.) After vfree(A) its line
    goes.
    """
    k = make_kernel()
    a = k.vmalloc(P)
    p0, p1 = k.alloc_page(GFP_KERNEL), k.alloc_page(GFP_KERNEL)
    k.vmap(page_array(k, [p0, p1]), 2, VM_MAP, PAGE_KERNEL)
    k.get_vm_area(P, VM_IOREMAP)
    assert k.vmallocinfo() == [
        "0xffffc20000000000-0xffffc20000002000    8192 pages=1 vmalloc",
        "0xffffc20000002000-0xffffc20000005000   12288 vmap",
        "0xffffc20000006000-0xffffc20000008000    8192 ioremap",
    ]
    k.vfree(a)
    assert [line.split()[-1] for line in k.vmallocinfo()] == ["vmap", "ioremap"]


def test_vmallocinfo_lines_on_i386():
    """
    i386, 16 pages: VMALLOC_START = 0xc1000000 (8 MiB past high_memory)
        vmalloc(2 * PAGE_SIZE); /proc/vmallocinfo
    Expect 32-bit addresses: "0xc1000000-0xc1003000   12288 pages=2 vmalloc".
    """
    k = make_kernel(ARCH="i386")
    k.vmalloc(2 * P)
    assert k.vmallocinfo() == ["0xc1000000-0xc1003000   12288 pages=2 vmalloc"]


# --- the cross-CPU TLB flush behind every unmap (issue 11.3) -------------------------
#
# unmap_kernel_range() ends with flush_tlb_kernel_range() (mm/vmalloc.c:87),
# which on x86 is flush_tlb_all() (include/asm-x86/tlbflush.h:152-156), that
# is on_each_cpu(do_flush_tlb_all, ...) (arch/x86/kernel/smp_64.c:282-285,
# smp_32.c:463-466): smp_call_function() first, which WARNs when interrupts
# are off because the IPI can deadlock (smp_64.c:395, smp_32.c:562), then the
# local flush under local_irq_disable()/local_irq_enable() (kernel/softirq.c:
# 654-664), which leaves interrupts on.

SMP_WARN = {"x86_64": "arch/x86/kernel/smp_64.c:395 smp_call_function_mask()",
            "i386": "arch/x86/kernel/smp_32.c:562 native_smp_call_function_mask()"}


def test_vfree_with_interrupts_disabled_warns_in_the_tlb_flush(ka):
    """
    |A|g|.|     A = vmalloc(PAGE_SIZE); then local_irq_disable()
        vfree(A)
    Expect no BUG (not in_interrupt()), the area and its page freed (the
    page tables stay), one WARN from smp_call_function's irqs_disabled()
    check, and interrupts on again afterwards (on_each_cpu's
    local_irq_enable()).
    |.|.|.|
    """
    a = ka.vmalloc(P)
    free = ka.nr_free_pages()
    ka.local_irq_disable()
    ka.vfree(a)
    assert ka.vmlist == [] and ka.ptes == {}
    assert ka.nr_free_pages() == free + 1
    warns = [e for e in ka.events if e.kind == "WARN"]
    assert len(warns) == 1 and SMP_WARN[ka.cfg.ARCH] in warns[0].message
    assert not ka.irqs_disabled()


def test_vunmap_under_a_spinlock_with_interrupts_on_is_silent(k):
    """
    |p|g|.|     V = vmap([p]); then spin_lock() (interrupts stay on)
        vunmap(V)
    Expect the mapping gone, p still the caller's, and no report: vunmap
    neither sleeps nor needs interrupts off, and on_each_cpu runs the IPI
    with interrupts on.
    """
    p = k.alloc_page(GFP_KERNEL)
    v = k.vmap(page_array(k, [p]), 1, VM_MAP, PAGE_KERNEL)
    k.events.clear()
    k.spin_lock()
    k.vunmap(v)
    assert k.vmlist == [] and k.ptes == {} and k.page_count(p) == 1
    assert k.events == []
    assert k.ctx.spin_depth == 1


def test_vfree_in_process_context_does_not_warn(k):
    """
    |A|A|g|     A = vmalloc(2 pages)
        vfree(A)
    Expect the TLB flush to run with interrupts on: no report at all.
    """
    a = k.vmalloc(2 * P)
    k.events.clear()
    k.vfree(a)
    assert k.vmlist == [] and k.events == []
