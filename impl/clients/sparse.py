"""Hot-added section memmaps (mm/sparse.c, v2.6.25).

Only with CONFIG_MEMORY_HOTPLUG and classic SPARSEMEM (no
SPARSEMEM_VMEMMAP): __kmalloc_section_memmap() tries
alloc_pages(GFP_KERNEL|__GFP_NOWARN, get_order(memmap_size)), else
vmalloc(memmap_size), and memsets the memmap to zero in both cases;
__kfree_section_memmap() frees by is_vmalloc_addr().  The memmap of
nr_pages struct pages must start zeroed.
"""
from __future__ import annotations

from ..gfp import GFP_KERNEL, __GFP_NOWARN
from ..symbols import kfunc


def _hotplug_sparse(cfg):
    return cfg.MEMORY_HOTPLUG and not cfg.SPARSEMEM_VMEMMAP


@kfunc("mm/sparse.c (v2.6.25)", when=_hotplug_sparse)
def __kmalloc_section_memmap(k, nr_pages):
    """__kmalloc_section_memmap(): pages, else vmalloc; memset to zero."""
    memmap_size = k.SIZEOF_STRUCT_PAGE * nr_pages
    page = k.alloc_pages(GFP_KERNEL | __GFP_NOWARN, k.get_order(memmap_size))
    ret = k.page_address(page) if page is not None else k.vmalloc(memmap_size)
    if ret:
        k.memset(ret, 0, memmap_size)
    return ret or 0


@kfunc("mm/sparse.c (v2.6.25)", when=_hotplug_sparse)
def __kfree_section_memmap(k, memmap, nr_pages):
    """__kfree_section_memmap(): vfree if vmalloc'ed, else free_pages()."""
    if k.is_vmalloc_addr(memmap):
        k.vfree(memmap)
    else:
        k.free_pages(memmap, k.get_order(k.SIZEOF_STRUCT_PAGE * nr_pages))
