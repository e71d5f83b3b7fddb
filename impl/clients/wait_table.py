"""zone_wait_table_init() for a hot-added zone (mm/page_alloc.c, v2.6.25).

After boot (system_state != SYSTEM_BOOTING) the table of wait queues of a
zone whose memory is hot-added is vmalloc'ed; each entry is then
init_waitqueue_head()'ed (a spinlock and an empty list: three words on
x86_64, sizeof(wait_queue_head_t) 24; 12 on i386).  The table is never freed.
"""
from __future__ import annotations

from .. import memory
from ..symbols import kfunc


def wait_queue_head_size(k):
    return 24 if k.BITS == 64 else 12


@kfunc("kernel/wait.c (v2.6.25)")
def init_waitqueue_head(k, q):
    """init_waitqueue_head(): unlocked spinlock, empty task list (three
    stores, in order: lock, task_list.next, task_list.prev)."""
    lst = q + k.PTR_SIZE
    memory.store_words(k, q, (0, lst, lst), "init_waitqueue_head")


@kfunc("mm/page_alloc.c (v2.6.25)")
def zone_wait_table_init(k, entries):
    """zone_wait_table_init() hot-add branch: vmalloc the table, init each entry.

    Returns the table address, or 0 for -ENOMEM.
    """
    alloc_size = entries * wait_queue_head_size(k)
    return init_wait_table(k, k.vmalloc(alloc_size), entries)


def init_wait_table(k, table, entries):
    """The rest of zone_wait_table_init(): init_waitqueue_head() each entry
    of a table just allocated (0: the allocation failed, -ENOMEM)."""
    if not table:
        return 0
    for i in range(entries):
        k.init_waitqueue_head(table + i * wait_queue_head_size(k))
    return table
