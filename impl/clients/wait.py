"""bit_waitqueue() (kernel/wait.c, v2.6.25): the hashed wait queue of a word.

The queue lives in the zone of the page holding the word:
page_zone(virt_to_page(word))->wait_table[hash(word, bit)].  The model
returns (zone index, hash) -- the identity of the queue.
"""
from __future__ import annotations

from ..symbols import kfunc

WAIT_TABLE_BITS = 8


def _hash(word, bit):
    # hash_long((unsigned long)word << shift | bit, wait_table_bits)
    return (((word << 6) | bit) * 0x9e37fffffffc0001 >> 20) & ((1 << WAIT_TABLE_BITS) - 1)


@kfunc("kernel/wait.c (v2.6.25)")
def bit_waitqueue(k, word, bit):
    """bit_waitqueue(): page_zone(virt_to_page(word)), then the hashed queue."""
    zone = k.page_zone(k.virt_to_page(word))
    return zone.idx, _hash(word, bit)
