"""The swap map of sys_swapon()/sys_swapoff() (mm/swapfile.c, v2.6.25).

sys_swapon() reads the swap header; many failures before the map exists
jump to bad_swap_2, which vfree()s p->swap_map (NULL then, a no-op).  With
a good header, swap_map = vmalloc(maxpages * sizeof(short)) and is memset
to zero: every slot must start as "free" (0).  sys_swapoff() vfree()s it.
The header parsing is reduced to a flag; the map is the caller's record.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..symbols import kfunc

EINVAL, ENOMEM = 22, 12


@dataclass
class SwapInfo:
    maxpages: int
    swap_map: int = 0


@kfunc("mm/swapfile.c (v2.6.25)")
def sys_swapon(k, p, header_ok):
    """sys_swapon(): bad header -> bad_swap_2; else vmalloc + memset the map."""
    if not header_ok:
        k.vfree(p.swap_map)                        # bad_swap_2:
        return -EINVAL
    size = p.maxpages * 2
    p.swap_map = k.vmalloc(size)
    if not p.swap_map:
        return -ENOMEM
    k.memset(p.swap_map, 0, size)
    return 0


@kfunc("mm/swapfile.c (v2.6.25)")
def sys_swapoff(k, p):
    """sys_swapoff(): vfree the swap map."""
    k.vfree(p.swap_map)
    p.swap_map = 0
