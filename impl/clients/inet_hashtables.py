"""inet_ehash_locks_alloc()/free() (include/net/inet_hashtables.h, v2.6.25).

Under CONFIG_NUMA, a lock array larger than a page is vmalloc'ed (to spread
it over the nodes), otherwise kmalloc'ed; each lock is rwlock_init()'ed;
the free side vfree()s or kfree()s by the same size test.  The model takes
the NUMA branch (sizeof(rwlock_t) 4).
"""
from __future__ import annotations

from .. import memory
from ..gfp import GFP_KERNEL
from ..symbols import kfunc

RWLOCK_UNLOCKED = 0x01000000
SIZEOF_RWLOCK = 4


def _rwlock_init_all(k, locks, nr):
    # rwlock_init() on each lock; word-granular in the model.
    memory.fill(k, locks, nr * SIZEOF_RWLOCK, RWLOCK_UNLOCKED, "rwlock_init")


@kfunc("include/net/inet_hashtables.h (v2.6.25)")
def inet_ehash_locks_alloc(k, nr):
    """inet_ehash_locks_alloc(): vmalloc above a page (NUMA), else kmalloc."""
    size = nr * SIZEOF_RWLOCK
    locks = k.vmalloc(size) if size > k.PAGE_SIZE else k.kmalloc(size, GFP_KERNEL)
    if not locks:
        return 0
    _rwlock_init_all(k, locks, nr)
    return locks


@kfunc("include/net/inet_hashtables.h (v2.6.25)")
def inet_ehash_locks_free(k, locks, nr):
    """inet_ehash_locks_free(): vfree or kfree by the same size test."""
    if nr * SIZEOF_RWLOCK > k.PAGE_SIZE:
        k.vfree(locks)
    else:
        k.kfree(locks)
