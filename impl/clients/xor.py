"""calibrate_xor_blocks() (crypto/xor.c, v2.6.25): an order-2 scratch buffer.

b1 = __get_free_pages(GFP_KERNEL, 2) (NULL: "Yikes! Cannot allocate", -ENOMEM);
b2 = b1 + 2*PAGE_SIZE + BENCH_SIZE; the CPU xors between them; then
free_pages(b1, 2).  The model writes and reads back a word in each page of
both halves, as do_xor_speed() touches them.
"""
from __future__ import annotations

from .. import memory
from ..gfp import GFP_KERNEL
from ..symbols import kfunc

BENCH_SIZE = 4096
ENOMEM = 12


def xor_touch(k, b1):
    """Write then read a word in every half page of both buffers."""
    b2 = b1 + 2 * k.PAGE_SIZE + BENCH_SIZE
    for base, n in ((b1, 2 * k.PAGE_SIZE), (b2, BENCH_SIZE)):
        for a in range(base, base + n, k.PAGE_SIZE // 2):
            memory.store(k, a, a ^ 0x5a5a, "xor_blocks")
            memory.load(k, a, "xor_blocks")


@kfunc("crypto/xor.c (v2.6.25)")
def calibrate_xor_blocks(k):
    """calibrate_xor_blocks(): order-2 buffer, benchmark, free_pages(b1, 2)."""
    b1 = k.call("__get_free_pages", GFP_KERNEL, 2)
    if not b1:
        return -ENOMEM
    xor_touch(k, b1)
    k.free_pages(b1, 2)
    return 0
