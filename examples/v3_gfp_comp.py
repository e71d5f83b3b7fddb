"""V3 with __GFP_COMP on the physical path of __alloc_vcompound.

V3's __alloc_vcompound() asks __get_free_pages() for a plain order-N block
and __free_vcompound() frees it by compound_order(), which is 0 for a plain
block: every physical free leaks 2^order - 1 pages.  This variant repairs
that one problem; `vcpcheck check examples/v3_gfp_comp.py` shows what is
left (the fallback's head/tail marking, the clients).
"""
from vcpcheck.impl.gfp import __GFP_COMP, __GFP_NORETRY, __GFP_NOWARN

BASE = "v3"
CONFIG = {"VFALLBACK_ALWAYS": False}     # exercise the physical path


def __alloc_vcompound(k, flags, order):
    """__alloc_vcompound() as in 05/14, plus __GFP_COMP for order > 0."""
    always = k.cfg.VFALLBACK_ALWAYS and k.system_state == "SYSTEM_RUNNING" and order
    addr = 0
    if not always:
        comp = __GFP_COMP if order else 0
        addr = k.call("__get_free_pages", flags | __GFP_NORETRY | __GFP_NOWARN | comp,
                      order)
    if addr or not order:
        return addr
    vm = k.call("____alloc_vcompound", flags, order, "__alloc_vcompound")
    return vm.addr if vm is not None else 0


REPLACE = [__alloc_vcompound]
