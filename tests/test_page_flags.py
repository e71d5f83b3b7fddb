"""Scenario tests for the page-flag encodings (impl/page_flags.py).

Two encodings are modelled:
  * PAGEFLAGS_EXTENDED=n -- include/linux/page-flags.h at v2.6.25: plain bit
    numbers; a compound head is PG_compound, a tail PG_compound|PG_reclaim.
  * PAGEFLAGS_EXTENDED=y -- include/linux/page-flags.h at v2.6.26 with
    CONFIG_PAGEFLAGS_EXTENDED: enum pageflags with separate PG_head/PG_tail.
Expected values were counted from the kernel headers, not from the model.
"""
from __future__ import annotations

import pytest

from conftest import make_kernel
from vcpcheck.impl.gfp import GFP_KERNEL, __GFP_COMP
from vcpcheck.impl.kernel import KernelOops

CLASSIC = dict(PAGEFLAGS_EXTENDED=False)
EXTENDED = dict(PAGEFLAGS_EXTENDED=True)

# page-flags.h#L70-L91 (v2.6.25): the #define bit numbers.
BITS_2625 = dict(
    PG_locked=0, PG_error=1, PG_referenced=2, PG_uptodate=3, PG_dirty=4,
    PG_lru=5, PG_active=6, PG_slab=7, PG_owner_priv_1=8, PG_arch_1=9,
    PG_reserved=10, PG_private=11, PG_writeback=12, PG_compound=14,
    PG_swapcache=15, PG_mappedtodisk=16, PG_reclaim=17, PG_buddy=19,
    PG_readahead=17, PG_checked=8, PG_pinned=8,
)
# enum pageflags, page-flags.h#L72-L99 (v2.6.26), CONFIG_PAGEFLAGS_EXTENDED=y.
BITS_2626 = dict(
    PG_locked=0, PG_error=1, PG_referenced=2, PG_uptodate=3, PG_dirty=4,
    PG_lru=5, PG_active=6, PG_slab=7, PG_owner_priv_1=8, PG_arch_1=9,
    PG_reserved=10, PG_private=11, PG_writeback=12, PG_head=13, PG_tail=14,
    PG_swapcache=15, PG_mappedtodisk=16, PG_reclaim=17, PG_buddy=18,
    PG_readahead=17, PG_checked=8, PG_pinned=8,
)


# --- bit numbers -------------------------------------------------------------

@pytest.mark.parametrize("options, bits, absent", [
    pytest.param(CLASSIC, BITS_2625, ("PG_head", "PG_tail"), id="2.6.25"),
    pytest.param(EXTENDED, BITS_2626, ("PG_compound", "PG_head_tail_mask"),
                 id="2.6.26-extended"),
])
def test_bit_numbers_follow_the_kernel_headers(options, bits, absent):
    """
    The PG_* numbers of one encoding:

        bit   ... 12        13       14        15 ... 17       18     19
        2.6.25    writeback  -       compound  swapcache reclaim  -     buddy
        2.6.26    writeback  head    tail      swapcache reclaim  buddy  -

    Expect every PG_* of the kernel's header (aliases included) to carry the
    header's number, and the other encoding's compound bits not to exist.
    """
    k = make_kernel(**options)

    for name, bit in bits.items():
        assert getattr(k, name) == bit, name
    for name in absent:
        assert not hasattr(k, name), name


def test_2625_head_tail_mask_is_compound_and_reclaim():
    """
    page-flags.h#L267 (v2.6.25): PG_head_tail_mask = (1 << PG_compound) |
    (1 << PG_reclaim).

        bit 14 compound   bit 17 reclaim   ->   0x24000

    Expect the mask 0x24000.
    """
    k = make_kernel(**CLASSIC)

    assert k.PG_head_tail_mask == 0x24000


# --- PageHead / PageTail / PageCompound truth tables -------------------------

@pytest.mark.parametrize("set_bits, head, tail, compound", [
    ((), False, False, False),
    (("PG_compound",), True, False, True),
    (("PG_reclaim",), False, False, False),
    (("PG_compound", "PG_reclaim"), False, True, True),
])
def test_2625_compound_predicates(set_bits, head, tail, compound):
    """
    2.6.25 encoding (page-flags.h#L255-L285, v2.6.25) on one page, pfn 0:

        flags:  PG_compound?  PG_reclaim?
        PageHead     = compound && !reclaim
        PageTail     = compound &&  reclaim
        PageCompound = compound

    Expect the truth table above; in particular PageHead is false on a tail
    (2.6.25 masks both bits, unlike 2.6.26 without PAGEFLAGS_EXTENDED).
    """
    k = make_kernel(**CLASSIC)
    k.flags[0] = 0
    for name in set_bits:
        k.flags[0] |= 1 << getattr(k, name)

    got = (k.PageHead(0), k.PageTail(0), k.PageCompound(0))
    assert got == (head, tail, compound)


@pytest.mark.parametrize("set_bits, head, tail, compound", [
    ((), False, False, False),
    (("PG_head",), True, False, True),
    (("PG_tail",), False, True, True),
    (("PG_head", "PG_tail"), True, True, True),
    (("PG_reclaim",), False, False, False),
])
def test_2626_compound_predicates(set_bits, head, tail, compound):
    """
    2.6.26 PAGEFLAGS_EXTENDED (page-flags.h#L263-L270) on one page, pfn 0:

        PageHead     = PG_head
        PageTail     = PG_tail
        PageCompound = PG_head || PG_tail      (PG_reclaim plays no part)

    Expect each bit to be tested on its own.
    """
    k = make_kernel(**EXTENDED)
    k.flags[0] = 0
    for name in set_bits:
        k.flags[0] |= 1 << getattr(k, name)

    got = (k.PageHead(0), k.PageTail(0), k.PageCompound(0))
    assert got == (head, tail, compound)


# --- setters -----------------------------------------------------------------

def test_2625_set_page_tail_sets_compound_and_reclaim():
    """
    A clean page, pfn 3:

        flags 0x0
        __SetPageTail(3)

    Expect flags == PG_compound|PG_reclaim == 0x24000 (page-flags.h#L274),
    so the page also reads PageReclaim; __ClearPageTail clears both bits.
    """
    k = make_kernel(**CLASSIC)
    k.flags[3] = 0

    k.__SetPageTail(3)

    assert k.flags[3] == 0x24000
    assert k.PageTail(3) and k.PageReclaim(3) and not k.PageHead(3)
    k.__ClearPageTail(3)
    assert k.flags[3] == 0


def test_2625_set_and_clear_page_head_touch_only_compound():
    """
    pfn 3 carries PG_reclaim for its own reasons (a page under writeback
    reclaim):

        flags 0x20000 (reclaim)
        __SetPageHead(3)   then   __ClearPageHead(3)

    Expect __SetPageHead to add only PG_compound -- which turns the page
    into a *tail* (compound|reclaim) -- and __ClearPageHead to leave
    PG_reclaim behind (page-flags.h#L284-L285).
    """
    k = make_kernel(**CLASSIC)
    k.flags[3] = 1 << k.PG_reclaim

    k.__SetPageHead(3)
    assert k.flags[3] == 0x24000
    assert k.PageTail(3) and not k.PageHead(3)

    k.__ClearPageHead(3)
    assert k.flags[3] == 1 << k.PG_reclaim


def test_2626_set_page_tail_sets_only_pg_tail():
    """
    A clean page, pfn 3, 2.6.26 encoding:

        flags 0x0
        __SetPageTail(3)

    Expect flags == 1 << PG_tail == 0x4000 and PageReclaim false.
    """
    k = make_kernel(**EXTENDED)
    k.flags[3] = 0

    k.__SetPageTail(3)

    assert k.flags[3] == 0x4000
    assert not k.PageReclaim(3)
    k.__ClearPageTail(3)
    assert k.flags[3] == 0


@pytest.mark.parametrize("options", [CLASSIC, EXTENDED], ids=["2.6.25", "2.6.26"])
def test_readahead_is_an_alias_of_reclaim(options):
    """
    PG_readahead is PG_reclaim in both headers:

        SetPageReadahead(5)

    Expect PageReclaim(5) true; ClearPageReclaim(5) makes PageReadahead false.
    """
    k = make_kernel(**options)

    k.SetPageReadahead(5)
    assert k.PageReclaim(5)
    k.ClearPageReclaim(5)
    assert not k.PageReadahead(5)


@pytest.mark.parametrize("options, oopses", [
    pytest.param(CLASSIC, True, id="2.6.25"),
    pytest.param(EXTENDED, False, id="2.6.26"),
])
def test_reclaim_on_a_compound_head(options, oopses):
    """
    An order-2 compound page; someone sets PG_reclaim on its head:

        pfn   12   13   14   15
              H    T    T    T
        SetPageReclaim(12); page_count(12)

    Expect, under 2.6.25, the head to turn into a "tail" whose first_page
    (its private word, 0 on a head) is NULL, so page_count() dereferences
    NULL and oopses; under 2.6.26 PG_reclaim is independent and the count
    reads 1.
    """
    k = make_kernel(**options)
    head = k.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    assert head == 12

    k.SetPageReclaim(head)

    assert k.PageTail(head) is oopses
    if oopses:
        with pytest.raises(KernelOops, match="NULL pointer"):
            k.page_count(head)
    else:
        assert k.page_count(head) == 1


def test_flag_test_outside_mem_map_oopses():
    """
    mem_map holds pfns 0..15:

        PageBuddy(16)

    Expect the read of a struct page past mem_map to oops.
    """
    k = make_kernel()

    with pytest.raises(KernelOops, match="outside mem_map"):
        k.PageBuddy(16)


# --- named masks -------------------------------------------------------------

@pytest.mark.parametrize("options, page_flags, clear_when_bad, at_free, at_prep", [
    # bits lru 5, private 11, locked 0, buddy 19|18, writeback 12, slab 7,
    # swapcache 15, active 6; reclaim 17, dirty 4, reserved 10.
    pytest.param(CLASSIC, 0x898e1, 0xa98f1, 0x89ce1, 0x89cf1, id="2.6.25"),
    pytest.param(EXTENDED, 0x498e1, 0x698f1, 0x49ce1, 0x49cf1, id="2.6.26"),
])
def test_check_masks(options, page_flags, clear_when_bad, at_free, at_prep):
    """
    page-flags.h#L310-L331 (v2.6.26), the lists 2.6.25 spells inline in
    bad_page, free_pages_check and prep_new_page:

        PAGE_FLAGS                 lru|private|locked|buddy|writeback|slab|
                                   swapcache|active
        PAGE_FLAGS_CLEAR_WHEN_BAD  PAGE_FLAGS|reclaim|dirty
        PAGE_FLAGS_CHECK_AT_FREE   PAGE_FLAGS|reserved
        PAGE_FLAGS_CHECK_AT_PREP   PAGE_FLAGS|reserved|dirty

    Expect the values computed from each encoding's bit numbers.
    """
    k = make_kernel(**options)

    assert k.PAGE_FLAGS == page_flags
    assert k.PAGE_FLAGS_CLEAR_WHEN_BAD == clear_when_bad
    assert k.PAGE_FLAGS_CHECK_AT_FREE == at_free
    assert k.PAGE_FLAGS_CHECK_AT_PREP == at_prep


@pytest.mark.parametrize("options", [CLASSIC, EXTENDED], ids=["2.6.25", "2.6.26"])
def test_check_masks_never_test_compound_marks(options):
    """
    Compound state is checked only by destroy_compound_page:

        head mark  = PG_compound (2.6.25) or PG_head (2.6.26)
        tail marks = PG_compound|PG_reclaim or PG_tail

    Expect neither the free nor the prep mask to contain a head or tail bit;
    the bad_page clear mask contains PG_reclaim, which under 2.6.25 is half
    of the tail mark.
    """
    k = make_kernel(**options)
    k.flags[0] = 0
    k.__SetPageHead(0)
    head_mark = k.flags[0]
    k.flags[0] = 0
    k.__SetPageTail(0)
    tail_mark = k.flags[0]

    for mask in (k.PAGE_FLAGS_CHECK_AT_FREE, k.PAGE_FLAGS_CHECK_AT_PREP):
        assert mask & (head_mark | tail_mark) == 0
    expected = (1 << k.PG_reclaim) if not options["PAGEFLAGS_EXTENDED"] else 0
    assert k.PAGE_FLAGS_CLEAR_WHEN_BAD & (head_mark | tail_mark) == expected


# --- PageHighMem -------------------------------------------------------------

@pytest.mark.parametrize("options, highmem_pfns", [
    pytest.param(dict(ARCH="x86_64"), [], id="x86_64"),
    pytest.param(dict(ARCH="i386"), [], id="i386"),
    pytest.param(dict(ARCH="i386", HIGHMEM=True), list(range(8, 16)),
                 id="i386-HIGHMEM"),
])
def test_page_highmem(options, highmem_pfns):
    """
    16 pages; with i386 HIGHMEM the model puts the boundary at half:

        pfn   0 ........ 7 | 8 ........ 15
              ZONE_NORMAL  | ZONE_HIGHMEM

    Expect PageHighMem exactly for pfns 8..15 with HIGHMEM, never otherwise
    (PAGEFLAG_FALSE(HighMem) / is_highmem(page_zone(page))).
    """
    k = make_kernel(**options)

    assert [p for p in range(16) if k.PageHighMem(p)] == highmem_pfns
