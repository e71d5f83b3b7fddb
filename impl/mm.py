"""Inline helpers of include/linux/mm.h (v2.6.25): refcounts, compound
pages, page_address and is_vmalloc_addr.

Compound metadata lives where 2.6.25 keeps it: the tail->head link in
``first_page`` (the ``private`` word), the destructor in page[1].lru.next
and the order in page[1].lru.prev (mm.h#L255-L322).
"""
from __future__ import annotations

from .symbols import kfunc

_SRC = "include/linux/mm.h (v2.6.25)"


@kfunc(_SRC)
def page_private(k, page):
    """page_private(): the private word (first_page on a tail)."""
    return k.private[k.deref(page, "page_private")]


@kfunc(_SRC)
def set_page_private(k, page, v):
    """set_page_private(): write the private word."""
    k.private[k.deref(page, "set_page_private")] = v


@kfunc(_SRC)
def compound_head(k, page):
    """compound_head(): PageTail(page) ? page->first_page : page (mm.h#L255)."""
    if k.PageTail(page):
        return k.word_to_page(k.private[page])
    return page


@kfunc(_SRC)
def page_count(k, page):
    """page_count(): the head's _count (mm.h#L262)."""
    head = k.deref(k.compound_head(page), "page_count")
    return k._count[head]


@kfunc(_SRC)
def set_page_count(k, page, v):
    """set_page_count(): atomic_set(&page->_count, v)."""
    k._count[k.deref(page, "set_page_count")] = v


@kfunc(_SRC)
def init_page_count(k, page):
    """init_page_count(): _count = 1."""
    k.set_page_count(page, 1)


@kfunc(_SRC)
def get_page(k, page):
    """get_page(): take a reference on the head; VM_BUG_ON if it is free (#L267)."""
    page = k.deref(k.compound_head(page), "get_page")
    k.VM_BUG_ON(k._count[page] == 0, "get_page", "include/linux/mm.h:270")
    k._count[page] += 1


@kfunc(_SRC)
def put_page_testzero(k, page):
    """put_page_testzero(): drop a reference on *this* page, true at zero (#L218).

    With DEBUG_VM a page whose count is already 0 BUGs; without it the count
    goes negative and nothing is freed.
    """
    k.deref(page, "put_page_testzero")
    k.VM_BUG_ON(k._count[page] == 0, "put_page_testzero",
                "include/linux/mm.h:220")
    k._count[page] -= 1
    return k._count[page] == 0


@kfunc(_SRC)
def get_page_unless_zero(k, page):
    """get_page_unless_zero(): VM_BUG_ON(PageTail); inc unless zero (#L228)."""
    k.VM_BUG_ON(k.PageTail(page), "get_page_unless_zero",
                "include/linux/mm.h:230")
    if k._count[page] == 0:
        return False
    k._count[page] += 1
    return True


# mm.h#L597: the low bit of page->mapping marks an anon_vma pointer.
PAGE_MAPPING_ANON = 1


@kfunc(_SRC)
def PageAnon(k, page):
    """PageAnon(): page->mapping has PAGE_MAPPING_ANON set (#L612)."""
    return bool(k.mapping[k.deref(page, "PageAnon")] & PAGE_MAPPING_ANON)


@kfunc(_SRC)
def page_mapcount(k, page):
    """page_mapcount(): _mapcount + 1 (#L638)."""
    return k._mapcount[k.deref(page, "page_mapcount")] + 1


@kfunc(_SRC)
def reset_page_mapcount(k, page):
    """reset_page_mapcount(): _mapcount = -1 (#L633)."""
    k._mapcount[k.deref(page, "reset_page_mapcount")] = -1


@kfunc(_SRC)
def virt_to_head_page(k, x):
    """virt_to_head_page(): compound_head(virt_to_page(x)) (#L274)."""
    return k.compound_head(k.virt_to_page(x))


@kfunc(_SRC)
def set_compound_page_dtor(k, page, dtor):
    """set_compound_page_dtor(): page[1].lru.next = dtor (#L299)."""
    k.lru_next[k.deref(page + 1, "set_compound_page_dtor")] = k.func_addr(dtor)


@kfunc(_SRC)
def get_compound_page_dtor(k, page):
    """get_compound_page_dtor(): the word in page[1].lru.next (#L305)."""
    return k.lru_next[k.deref(page + 1, "get_compound_page_dtor")]


@kfunc(_SRC)
def compound_order(k, page):
    """compound_order(): 0 unless PageHead, else page[1].lru.prev (#L312)."""
    if not k.PageHead(page):
        return 0
    return k.lru_prev[k.deref(page + 1, "compound_order")]


@kfunc(_SRC)
def set_compound_order(k, page, order):
    """set_compound_order(): page[1].lru.prev = order (#L319)."""
    k.lru_prev[k.deref(page + 1, "set_compound_order")] = order


@kfunc(_SRC)
def lowmem_page_address(k, page):
    """lowmem_page_address(): __va(page_to_pfn(page) << PAGE_SHIFT) (#L558)."""
    return k.__va(k.page_to_pfn(page) << k.PAGE_SHIFT)


@kfunc(_SRC, when=lambda cfg: not cfg.HIGHMEM)
def page_address(k, page):
    """page_address(): lowmem_page_address() without HIGHMEM (#L583)."""
    return k.lowmem_page_address(page)


@kfunc(_SRC, when=lambda cfg: not cfg.HIGHMEM)
def set_page_address(k, page, address):
    """set_page_address(): a no-op without HIGHMEM or WANT_PAGE_VIRTUAL (#L584)."""
    return None


@kfunc(_SRC)
def is_vmalloc_addr(k, x):
    """is_vmalloc_addr(): VMALLOC_START <= x < VMALLOC_END (#L244, CONFIG_MMU)."""
    return k.VMALLOC_START <= x < k.VMALLOC_END


@kfunc(_SRC)
def page_zone(k, page):
    """page_zone(): the zone of a page (from page->flags in the kernel)."""
    return k.zone_of(k.deref(page, "page_zone"))
