"""reference, but __free_vcompound() frees a physical object as order 0.

A slip in the free path: for an address in the linear map the free gives
back the head page alone (order 0) instead of compound_order(page), so the
tails of a physically contiguous compound page are never freed.
"""
BASE = "reference"


def __free_vcompound(k, addr):
    """__free_vcompound() with the order of a physical object dropped."""
    if not addr:
        return
    if k.is_vmalloc_addr(addr):
        k.vcompound_free(addr, k.vmalloc_to_page(addr))
    else:
        k.call("__free_pages", k.virt_to_page(addr), 0)


REPLACE = [__free_vcompound]
