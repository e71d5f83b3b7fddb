"""page_address()/set_page_address() for HASHED_PAGE_VIRTUAL kernels.

Models mm/highmem.c#L279-L355 at v2.6.25: on i386 with CONFIG_HIGHMEM (and
no WANT_PAGE_VIRTUAL) a highmem page's kernel address lives in a hash of
(page, virtual) pairs; lowmem pages answer with their linear address.
set_page_address() BUG()s unless the page is PageHighMem and takes entries
from a pool of LAST_PKMAP; the model keeps the hash as a dict.
"""
from __future__ import annotations

from .symbols import kfunc

_SRC = "mm/highmem.c (v2.6.25)"


def _hashed(cfg):
    return cfg.HIGHMEM


@kfunc(_SRC, when=_hashed)
def page_address(k, page):
    """page_address(): lowmem -> linear address; highmem -> hash or NULL."""
    if not k.PageHighMem(page):
        return k.lowmem_page_address(page)
    return k.page_address_map.get(page)


@kfunc(_SRC, when=_hashed)
def set_page_address(k, page, virtual):
    """set_page_address(): BUG_ON(!PageHighMem(page)); add or drop the entry."""
    k.BUG_ON(not k.PageHighMem(page), "set_page_address", "mm/highmem.c:325")
    if virtual:
        k.BUG_ON(len(k.page_address_map) >= k.consts["LAST_PKMAP"]
                 and page not in k.page_address_map,
                 "set_page_address", "mm/highmem.c:331")
        k.page_address_map[page] = virtual
    else:
        k.page_address_map.pop(page, None)
