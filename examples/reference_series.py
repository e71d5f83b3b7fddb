"""A series file for `vcpcheck bisect examples/reference_series.py`.

Three patches on top of the reference: a harmless one, one that drops
__GFP_COMP from the physical path (a leak on free), and one on top of it.
Bisect names patch 2.
"""
from vcpcheck.impl.gfp import __GFP_NORETRY, __GFP_NOWARN
from vcpcheck.impl.series import reference

BASE = "reference"
CONFIG = {}


def vcompound_head_page(k, x):
    """Same lookup, written the other way round (harmless)."""
    if not k.is_vmalloc_addr(x):
        page = k.virt_to_page(x)
    else:
        page = k.vmalloc_to_page(x)
    return None if page is None else k.compound_head(page)


def __alloc_vcompound(k, flags, order):
    """Physical path without __GFP_COMP (as V3 posted it)."""
    if order >= k.MAX_ORDER:
        return 0
    if not (k.cfg.VFALLBACK_ALWAYS and k.system_state == "SYSTEM_RUNNING" and order):
        addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN, order)
        if addr or not order:
            return addr
    vm = k.call("____alloc_vcompound", flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


def free_vcompound(k, page):
    """Unchanged behaviour, via the reference's own function."""
    return reference.free_vcompound(k, page)


PATCHES = [
    {"title": "vcompound_head_page: test the linear map first", "replace": [vcompound_head_page]},
    {"title": "__alloc_vcompound: no __GFP_COMP", "replace": [__alloc_vcompound],
     "config": {"VFALLBACK_ALWAYS": False}},
    {"title": "free_vcompound: tidy", "replace": [free_vcompound], "depends": [2]},
]
