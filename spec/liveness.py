"""Which struct page words hold nothing that matters in a page's state.

struct page overlays several uses on a few words (include/linux/mm_types.h,
v2.6.25), and the page's flags say which use is current:

- ``private`` (mm_types.h#L49, in a union with ``first_page``, #L68) is
  page_private() (mm.h#L187), a tail's ``first_page`` (prep_compound_page,
  page_alloc.c#L275), or a free block's order (set_page_order,
  page_alloc.c#L325);
- ``lru`` (mm_types.h#L74) links a free block's first page into
  free_area[order] (__free_one_page, page_alloc.c#L454) or a page into
  an LRU or slab list; in a compound page's second page it holds the
  destructor and the order (set_compound_page_dtor and
  set_compound_order, mm.h#L301 and #L319), and the series keeps a
  vcompound's order in the lru of its area's pages[1].

A page with no flag at all is in none of those uses (a page inside a free
block but not its first, or a plain allocated page), except that the
lru of a vm area's pages[1] is the series' whenever it writes it, whatever
the page's flags (V5 leaves a vcompound's tails without a flag).  Its private and lru
are whatever its last use left there (LIST_POISON after list_del, a former
tail's first_page), and the kernel's rules write them before they read
them again (prep_new_page sets private to 0, page_alloc.c#L638; list_add
and set_page_order write them when the page goes back on a free list).  The same holds for
the lru of a compound tail other than the second page.

``stale_words`` names those words.  It is a hypothesis about a target, not
a fact: a target may read a word its flags say is stale (a defect, or a
use the flags do not show).  The explore engine merges states that differ
only in these words, and it checks, on every call it makes, that the
target never reads one before writing it and never starts using one
without writing it; when it does, the engine gives the merge up and
searches again without it (checks/explore.py, StaleWords).

It reads only the flags, the vm areas and their page arrays: words the
merge never drops, so two states that it merges have the same stale words.
"""
from __future__ import annotations

import functools

from .invariants import area_pages

# The struct page fields the merge may drop, by the kernel model's names.
FIELDS = ("private", "lru_next", "lru_prev")


def stale_words(k) -> dict[str, frozenset]:
    """{field: the pfns whose ``field`` holds nothing in their current use}."""
    second = frozenset(area_pages(k, area)[1] for area in k.vmlist if area.nr_pages > 1)
    if k.cfg.PAGEFLAGS_EXTENDED:
        tail, head = 1 << k.PG_tail, 1 << k.PG_head
        tail_is, head_is = tail, head
    else:              # 2.6.25: PG_compound is the head, PG_compound|PG_reclaim a tail
        tail = head = k.PG_head_tail_mask
        tail_is, head_is = tail, 1 << k.PG_compound
    return _from_flags(tuple(k.flags), second, tail, tail_is, head, head_is)


@functools.lru_cache(maxsize=1 << 14)
def _from_flags(flags, second, tail, tail_is, head, head_is):
    """stale_words of a flags array and the vm areas' second pages, with
    invariants.is_tail and is_head spelled as masks (``f & tail ==
    tail_is``, ``f & head == head_is``) so that a flags array seen before
    costs one lookup (tests/test_stale_words.py checks it against them)."""
    unused, lru = [], []
    for p, f in enumerate(flags):
        if not f:
            unused.append(p)
        if p in second:
            continue
        if not f or (f & tail == tail_is and not (p and flags[p - 1] & head == head_is)):
            lru.append(p)
    links = frozenset(lru)
    return {"private": frozenset(unused), "lru_next": links, "lru_prev": links}
