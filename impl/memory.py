"""The contents of memory: loads, stores, clear_highpage(), memset().

customised shim: the kernel's memory is bytes; the model keeps words
(unsigned long) per page, sparsely.  A page never written reads as
UNINITIALISED garbage, so "was it zeroed?" is observable; clear_highpage()
(include/linux/highmem.h, v2.6.25) makes it read 0.  Addresses resolve the
way the MMU would: the linear map by arithmetic, the vmalloc window through
the kernel page tables, slab objects through the kmalloc shim.  A load or
store anywhere else is the oops the kernel would take.
"""
from __future__ import annotations

from collections import Counter

from .kconfig import PAGE_SHIFT, PAGE_SIZE
from .kernel import UNINITIALISED
from .slub import kmalloc_lookup
from .symbols import kfunc


def resolve(k, addr):
    """(pfn, offset, None) or (None, offset, object) behind a kernel
    virtual address, or None where nothing is mapped."""
    if k.PAGE_OFFSET <= addr < k.LOWMEM_END:
        off = addr - k.PAGE_OFFSET
        return off >> PAGE_SHIFT, off & (PAGE_SIZE - 1), None
    if k.VMALLOC_START <= addr < k.VMALLOC_END:
        pfn = k.ptes.get(addr >> PAGE_SHIFT)
        if pfn is not None:
            return pfn, addr & (PAGE_SIZE - 1), None
        return None
    obj = kmalloc_lookup(k, addr)
    if obj is not None:
        return None, addr - obj.addr, obj
    return None


def _resolve_or_oops(k, addr, function):
    where = resolve(k, addr)
    if where is None:
        k.oops(f"BUG: unable to handle kernel paging request at {addr:#x}",
               function)
    return where


def peek(k, addr):
    """The word at addr, or None if nothing is mapped there (no oops;
    for checks and pictures)."""
    where = resolve(k, addr & ~(k.PTR_SIZE - 1))
    if where is None:
        return None
    return _read(k, *where)


def _read(k, pfn, off, obj):
    if obj is not None:
        return obj.words.get(off, obj.words.get(-1, UNINITIALISED))
    words = k.pagemem.get(pfn)
    if words is None:
        return UNINITIALISED
    return words.get(off, words.get(-1, 0))


def load(k, addr, function="load"):
    """*(unsigned long *)addr."""
    addr &= ~(k.PTR_SIZE - 1)
    return _read(k, *_resolve_or_oops(k, addr, function))


def store(k, addr, value, function="store"):
    """*(unsigned long *)addr = value."""
    addr &= ~(k.PTR_SIZE - 1)
    value &= (1 << k.BITS) - 1
    where = resolve(k, addr)
    if where is None:
        _resolve_or_oops(k, addr, function)               # the oops
    pfn, off, obj = where
    if obj is not None:
        obj.words[off] = value
        return
    _written(k, pfn)[off] = value


def _written(k, pfn):
    """The words of page ``pfn``, about to be stored to: marked written for
    Kernel.snapshot (k.mem_dirty).  A never-written page starts as garbage
    (key -1 holds the value of every word not stored to)."""
    k.mem_dirty.add(pfn)
    words = k.pagemem.get(pfn)
    if words is None:
        words = k.pagemem[pfn] = {-1: UNINITIALISED}
    return words


def _replaced(k, pfn, words):
    """Page ``pfn``'s words replaced by ``words`` as a whole (a page filled,
    copied or cleared), marked written."""
    k.mem_dirty.add(pfn)
    k.pagemem[pfn] = words


def store_words(k, addr, values, function="store"):
    """store() of each of ``values`` at addr, addr + PTR_SIZE, ... in
    order, as the stores would (each word-aligned, truncated to the word
    size, the oops at the first unmapped word with the words before it
    stored), resolving once for the words that fall in one page or one
    slab object: a structure initialised field by field
    (init_waitqueue_head) costs one lookup."""
    step, mask = k.PTR_SIZE, (1 << k.BITS) - 1
    a, i, total = addr & ~(step - 1), 0, len(values)
    while i < total:
        where = resolve(k, a)
        if where is None:
            _resolve_or_oops(k, a, function)
        pfn, off, obj = where
        if obj is not None:                   # the words left in the object
            n = min(total - i, -(-(obj.size - off) // step))
            words = obj.words
        else:                                 # the words left in the page
            n = min(total - i, (PAGE_SIZE - off) // step)
            words = _written(k, pfn)
        for o in range(off, off + n * step, step):
            words[o] = values[i] & mask
            i += 1
        a += n * step


def _runs(k, a, end):
    """Walk the word-aligned [a, end) as the MMU maps it: (address, where,
    words) for each run of words that resolve() puts in one page, to the
    end of the page's part of the range; a slab object's words and the
    unmapped ones come one at a time (where is resolve()'s answer)."""
    step = k.PTR_SIZE
    while a < end:
        where = resolve(k, a)
        if where is None or where[2] is not None:
            n = 1
        else:
            n = -(-(min(end, a - where[1] + k.PAGE_SIZE) - a) // step)
        yield a, where, n
        a += n * step


def fill(k, start, count, value, function):
    """Store ``value`` in every word of [start, start+count), as one
    store() per word would, a page at a time: a store covering a whole page
    replaces its words, so filling a page costs one dict, not 512 stores.
    Oopses at the first word that is not mapped, the words before it
    filled, as the stores would."""
    value &= (1 << k.BITS) - 1
    step = k.PTR_SIZE
    # An unaligned start: the stores fall on the aligned word below each
    # start + i * step, as many as those that start before the end.
    first = start & ~(step - 1)
    end = first + -(-count // step) * step if count > 0 else first
    for a, where, n in _runs(k, first, end):
        if where is None:
            _resolve_or_oops(k, a, function)
        pfn, off, obj = where
        if obj is not None:
            obj.words[off] = value
            continue
        if off == 0 and n * step >= k.PAGE_SIZE:
            _replaced(k, pfn, {-1: value} if value else {})
        else:
            words = _written(k, pfn)
            for o in range(off, off + n * step, step):
                words[o] = value


def copy(k, dst, src, count, function):
    """Copy the words of [src, src+count) to dst, as a load() then a store()
    per word would (memcpy, word-granular), a run within one page of each
    side at a time.  Oopses where the first of those loads or stores would,
    the words before it copied."""
    step, off, mask = k.PTR_SIZE, 0, (1 << k.BITS) - 1
    while off < count:
        s, d = src + off, dst + off
        if (s | d) & (step - 1):
            store(k, d, load(k, s, function), function)      # unaligned
            off += step
            continue
        sp, so, sobj = _resolve_or_oops(k, s, function)
        dp, do, dobj = _resolve_or_oops(k, d, function)
        if sobj is not None or dobj is not None:
            store(k, d, _read(k, sp, so, sobj), function)     # slab objects
            off += step
            continue
        run = min(count - off, k.PAGE_SIZE - so, k.PAGE_SIZE - do)
        swords = k.pagemem.get(sp, {-1: UNINITIALISED})
        if so == do == 0 and run == k.PAGE_SIZE and sp != dp:
            # (store() truncates to the word size: so does the copy)
            _replaced(k, dp, {o: w & mask for o, w in swords.items()})
        else:
            dwords = _written(k, dp)
            for n in range(0, run, step):       # in order: the runs may overlap
                dwords[do + n] = _read(k, sp, so + n, None) & mask
        off += -(-run // step) * step


def read_words(k, start, n):
    """The n words from start (word-aligned), as peek() of each would read
    them (None where nothing is mapped), a page at a time."""
    out = []
    for _a, where, run in _runs(k, start, start + n * k.PTR_SIZE):
        if where is None or where[2] is not None:
            out.append(None if where is None else _read(k, *where))
            continue
        pfn, off, _obj = where
        words = k.pagemem.get(pfn)
        if words is None:
            out.extend([UNINITIALISED] * run)
        else:
            default = words.get(-1, 0)
            out.extend([words.get(o, default)
                        for o in range(off, off + run * k.PTR_SIZE, k.PTR_SIZE)])
    return out


def first_word_not(k, start, size, value):
    """The first word of [start, start+size) that does not read ``value``,
    as (address, word), the word None where nothing is mapped; None if every
    word reads ``value``.  The same answer as peek() of each word in turn,
    a page at a time."""
    for a, where, run in _runs(k, start & ~(k.PTR_SIZE - 1), start + size):
        if where is None:
            return a, None
        pfn, off, obj = where
        if obj is not None:
            w = _read(k, pfn, off, obj)
            if w != value:
                return a, w
            continue
        words = k.pagemem.get(pfn)
        if words is None:
            if UNINITIALISED != value:
                return a, UNINITIALISED
            continue
        offsets = range(off, off + run * k.PTR_SIZE, k.PTR_SIZE)
        # The first offset that reads another word: one stored with another
        # word, or (if the rest read another) one never stored to.
        bad = [o for o, w in words.items() if o in offsets and w != value]
        if words.get(-1, 0) != value:
            bad.extend(next(([o] for o in offsets if o not in words), []))
        if bad:
            o = min(bad)
            return a - off + o, _read(k, pfn, o, None)
    return None


def contents_key(words, page_size, ptr_size):
    """A page's words (``k.pagemem[pfn]``: the word at each offset stored
    to, and at key -1 the word of every other offset, 0 if absent) in one
    form for one content: the most common word (the smallest of equals)
    and the offsets that hold another word, sorted.  Pages that read the
    same at every offset get the same key, whatever stores left them so."""
    default = words.get(-1, 0)
    stored = {o: w for o, w in words.items() if o >= 0}
    counts = Counter(stored.values())
    counts[default] += page_size // ptr_size - len(stored)
    common = min((w for w in counts if counts[w]), key=lambda w: (-counts[w], w))
    other = [(o, w) for o, w in stored.items() if w != common]
    if default != common:
        other += [(o, default) for o in range(0, page_size, ptr_size) if o not in stored]
    return common, tuple(sorted(other))


@kfunc("include/linux/highmem.h (v2.6.25)")
def clear_highpage(k, page):
    """clear_highpage(): zero one page (via kmap_atomic for highmem)."""
    k.deref(page, "clear_highpage")
    _replaced(k, page, {})


@kfunc("lib/string.c (v2.6.25)")
def memset(k, s, c, count):
    """memset(): fill count bytes with c (word-granular in the model)."""
    byte = c & 0xff
    fill(k, s, count, int.from_bytes(bytes([byte]) * k.PTR_SIZE, "little"), "memset")
    return s
