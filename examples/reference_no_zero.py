"""reference, but the fallback forgets __GFP_ZERO on the order-0 pages.

A regression a reviewer should catch: callers such as swap_map and e1000
ask for zeroed memory.  `vcpcheck compare reference examples/reference_no_zero.py`
finds the first call where the two differ.
"""
from vcpcheck.impl.gfp import __GFP_ZERO
from vcpcheck.impl.series import reference

BASE = "reference"


def ____alloc_vcompound(k, gfp_mask, order, caller):
    """The reference fallback with __GFP_ZERO dropped."""
    return reference.____alloc_vcompound(k, gfp_mask & ~__GFP_ZERO, order, caller)


REPLACE = {"____alloc_vcompound": ____alloc_vcompound}
