"""e1000/e1000e descriptor bookkeeping rings (2.6.25 drivers).

Models drivers/net/e1000/e1000_main.c (e1000_setup_tx_resources,
e1000_setup_rx_resources, e1000_free_tx_resources, e1000_free_rx_resources)
and drivers/net/e1000e/netdev.c (e1000e_setup_tx_resources,
e1000e_free_tx_resources) as far as the series touches them: the
buffer_info array of one struct e1000_buffer per descriptor is vmalloc'ed
and memset to zero, freed with vfree; e1000's rx ring also kcalloc's the
ps_page array, freed with kfree.  The DMA descriptor rings
(pci_alloc_consistent) are not modelled.  A ring is the driver's struct:
a small Python record here.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..gfp import GFP_KERNEL
from ..symbols import kfunc

ENOMEM = 12
PS_PAGE_BUFFERS = 4


def sizeof_e1000_buffer(k):
    return 32 if k.BITS == 64 else 16


@dataclass
class Ring:
    count: int
    buffer_info: int = 0
    ps_page: int = 0
    size: int = 0


@kfunc("drivers/net/e1000/e1000_main.c (v2.6.25)")
def e1000_setup_tx_resources(k, ring):
    """e1000_setup_tx_resources(): vmalloc + memset the buffer_info array."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    ring.buffer_info = k.vmalloc(ring.size)
    if not ring.buffer_info:
        return -ENOMEM
    k.memset(ring.buffer_info, 0, ring.size)
    return 0


@kfunc("drivers/net/e1000/e1000_main.c (v2.6.25)")
def e1000_free_tx_resources(k, ring):
    """e1000_free_tx_resources(): vfree the buffer_info array."""
    k.vfree(ring.buffer_info)
    ring.buffer_info = 0


@kfunc("drivers/net/e1000/e1000_main.c (v2.6.25)")
def e1000_setup_rx_resources(k, ring):
    """e1000_setup_rx_resources(): vmalloc + memset buffer_info, kcalloc ps_page."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    ring.buffer_info = k.vmalloc(ring.size)
    if not ring.buffer_info:
        return -ENOMEM
    k.memset(ring.buffer_info, 0, ring.size)
    ring.ps_page = k.kcalloc(ring.count, PS_PAGE_BUFFERS * k.PTR_SIZE, GFP_KERNEL)
    if not ring.ps_page:
        k.vfree(ring.buffer_info)
        return -ENOMEM
    return 0


@kfunc("drivers/net/e1000/e1000_main.c (v2.6.25)")
def e1000_free_rx_resources(k, ring):
    """e1000_free_rx_resources(): vfree buffer_info, kfree ps_page."""
    k.vfree(ring.buffer_info)
    ring.buffer_info = 0
    k.kfree(ring.ps_page)
    ring.ps_page = 0


@kfunc("drivers/net/e1000e/netdev.c (v2.6.25)")
def e1000e_setup_tx_resources(k, ring):
    """e1000e_setup_tx_resources(): vmalloc + memset; on error vfree (NULL ok)."""
    ring.size = sizeof_e1000_buffer(k) * ring.count
    ring.buffer_info = k.vmalloc(ring.size)
    if not ring.buffer_info:
        k.vfree(ring.buffer_info)                 # the err: label
        return -ENOMEM
    k.memset(ring.buffer_info, 0, ring.size)
    return 0


@kfunc("drivers/net/e1000e/netdev.c (v2.6.25)")
def e1000e_free_tx_resources(k, ring):
    """e1000e_free_tx_resources(): vfree buffer_info."""
    k.vfree(ring.buffer_info)
    ring.buffer_info = 0
