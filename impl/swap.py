"""put_page() and the compound put (mm/swap.c#L60-L78, v2.6.25).

The model has no LRU or page cache, so __page_cache_release() only
frees the page (PG_lru is never set by the model).
"""
from __future__ import annotations

from .symbols import kfunc

_SRC = "mm/swap.c (v2.6.25)"


@kfunc(_SRC)
def __page_cache_release(k, page):
    """__page_cache_release(): (off the LRU, never set here) then free_hot_page()."""
    k.free_hot_page(page)


@kfunc(_SRC)
def put_compound_page(k, page):
    """put_compound_page(): drop a reference on the head; at zero call its dtor."""
    page = k.compound_head(page)
    if k.put_page_testzero(page):
        dtor = k.get_compound_page_dtor(page)
        k.call_function_pointer(dtor, page)


@kfunc(_SRC)
def put_page(k, page):
    """put_page(): compound pages go to put_compound_page(); else free at zero."""
    if k.PageCompound(page):
        k.put_compound_page(page)
        return
    if k.put_page_testzero(page):
        k.__page_cache_release(page)
