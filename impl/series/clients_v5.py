"""V5 patches 06-11: the converted users, as posted.

06-10 repeat V3's conversions (sparsemem, bit_waitqueue, crypto, SLUB,
wait table), so the V3 functions are reused; 11 is V3's e1000 patch with
the rx order fixed (get_order(size) instead of size).  V5 exports the API,
so modular users would load.
"""
from __future__ import annotations

from ..clients.e1000 import sizeof_e1000_buffer
from . import Patch
from . import clients_v3 as c3


def e1000_setup_rx_resources(k, ring):
    """e1000_setup_rx_resources() (11/11): get_order(size); memset kept."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    return c3.setup_rx_with_order(k, ring, k.get_order(ring.size))


S = "v5"
CLIENT_PATCHES = [
    Patch(S, 6, "sparsemem: Use virtualizable compound page",
          "20080430044320.303065251@sgi.com", depends=(4,),
          unbuildable=c3._sparse_does_not_compile, clients=("sparse",)),
    Patch(S, 7, "vcompound: bit waitqueue support", "20080430044320.479850443@sgi.com",
          depends=(4,), functions=(c3.bit_waitqueue,)),
    Patch(S, 8, "crypto: Use virtualizable compounds for temporary order 2 allocation",
          "20080430044320.758185153@sgi.com", depends=(4,),
          functions=(c3.calibrate_xor_blocks,), clients=("xor",)),
    Patch(S, 9, "slub: Use virtualizable compound for buffer",
          "20080430044321.016890376@sgi.com", depends=(4,),
          functions=(c3.alloc_loc_track, c3.free_loc_track), clients=("slub_loc",)),
    Patch(S, 10, "vcompound: Fallback for zone wait table",
          "20080430044321.245211049@sgi.com", depends=(4,),
          functions=(c3.zone_wait_table_init,), clients=("wait_table",)),
    Patch(S, 11, "e1000: Avoid vmalloc through virtualizable compound page",
          "20080430044321.451211400@sgi.com", depends=(4,),
          functions=(c3.e1000_setup_tx_resources, c3.e1000_free_tx_resources,
                     e1000_setup_rx_resources, c3.e1000_free_rx_resources,
                     c3.e1000e_setup_tx_resources, c3.e1000e_free_tx_resources),
          clients=("e1000", "e1000e")),
]
