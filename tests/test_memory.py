"""Scenario tests for the memory contents (impl/memory.py).

memset() (lib/string.c, v2.6.25) fills bytes; the model stores words.
``fill`` does whole pages at a time, so each test compares it with the
word-by-word stores it stands for: the same words read back (peek) and
the same oops at the same first unmapped address.  ``first_word_not``
must name the same word as a scan with peek().
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ARCHES, make_kernel
from vcpcheck.impl import memory
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.kernel import UNINITIALISED, KernelOops

P = 4096


def by_words(k, start, count, value):
    """What fill() stands for: one store per word."""
    for a in range(start, start + count, k.PTR_SIZE):
        memory.store(k, a, value, "memset")


def words(k, start, n):
    return [memory.peek(k, start + i * k.PTR_SIZE) for i in range(n)]


def scan(k, start, size, value):
    for a in range(start, start + size, k.PTR_SIZE):
        w = memory.peek(k, a)
        if w != value:
            return a, w
    return None


def outcome(fn, *args):
    """None, or the oops ``fn`` ended in (past the area: its guard page)."""
    try:
        fn(*args)
    except KernelOops as e:
        return str(e)
    return None


def area(k, pages):
    """A vmalloc area of ``pages`` pages, its words written at two places."""
    addr = k.vmalloc(pages * P)
    memory.store(k, addr + 8, 0x1234)
    memory.store(k, addr + (pages - 1) * P + 16, 0x5678)
    return addr


@pytest.mark.parametrize("arch", ARCHES)
@settings(max_examples=40, deadline=None)
@given(first=st.integers(0, 3 * P // 8 - 1), words_=st.integers(0, 2 * P // 8 + 8),
       value=st.sampled_from([0, 0x01000000, 0x0101010101010101]),
       skew=st.sampled_from([0, 0, 1, 3]), extra=st.sampled_from([0, 0, 1, 5]))
def test_fill_stores_what_word_stores_store(arch, first, words_, value, skew, extra):
    """Unaligned starts (``skew``) and counts (``extra``) included: each
    store falls on the word below its address, as store() does."""
    a, b = make_kernel(ARCH=arch), make_kernel(ARCH=arch)
    start_a, start_b = area(a, 3), area(b, 3)
    assert start_a == start_b
    start = start_a + first * a.PTR_SIZE + skew
    count = words_ * a.PTR_SIZE + extra
    value &= (1 << a.BITS) - 1
    assert outcome(memory.fill, a, start, count, value, "memset") == \
        outcome(by_words, b, start, count, value)
    assert words(a, start_a, 3 * P // a.PTR_SIZE) == words(b, start_b, 3 * P // b.PTR_SIZE)
    for size in (0, 8, P, 3 * P):
        for v in (0, value, UNINITIALISED):
            assert memory.first_word_not(a, start_a, size, v) == scan(b, start_b, size, v)


def test_a_whole_page_of_zeroes_reads_zero_and_garbage_stays_garbage():
    k = make_kernel()
    addr = area(k, 2)
    memory.fill(k, addr, P, 0, "memset")
    assert memory.first_word_not(k, addr, P, 0) is None
    assert memory.peek(k, addr + P + 8) == UNINITIALISED     # second page untouched
    assert memory.first_word_not(k, addr, 2 * P, 0) == (addr + P, UNINITIALISED)


def test_fill_oopses_at_the_first_unmapped_word_having_filled_before_it():
    a, b = make_kernel(), make_kernel()
    start = area(a, 1)
    area(b, 1)
    # vmalloc's guard page follows the area: unmapped.
    with pytest.raises(KernelOops) as ea:
        memory.fill(a, start + P - 16, 32, 7, "memset")
    with pytest.raises(KernelOops) as eb:
        by_words(b, start + P - 16, 32, 7)
    assert str(ea.value) == str(eb.value) and f"{start + P:#x}" in str(ea.value)
    assert words(a, start, P // 8) == words(b, start, P // 8)
    assert memory.first_word_not(a, start + P - 8, 16, 7) == (start + P, None)


def test_memset_fills_bytes_as_words():
    k = make_kernel()
    addr = area(k, 1)
    assert k.memset(addr, 0xab, 24) == addr
    assert words(k, addr, 4) == [0xabababababababab] * 3 + [UNINITIALISED]


@pytest.mark.parametrize("arch", ARCHES)
@settings(max_examples=30, deadline=None)
@given(size=st.integers(1, 100), first=st.integers(0, 12), count=st.integers(0, 120))
def test_fill_into_a_kmalloc_object(arch, size, first, count):
    """Up to the object's last word, and past it the same oops."""
    a, b = make_kernel(ARCH=arch), make_kernel(ARCH=arch)
    obj = a.kmalloc(size, GFP_KERNEL)
    assert b.kmalloc(size, GFP_KERNEL) == obj
    start = obj + first * a.PTR_SIZE
    assert outcome(memory.fill, a, start, count, 0, "memset") == \
        outcome(by_words, b, start, count, 0)
    n = -(-size // a.PTR_SIZE)
    assert words(a, obj, n) == words(b, obj, n)
    assert memory.first_word_not(a, obj, size, 0) == scan(b, obj, size, 0)


def by_stores(k, start, values):
    """What store_words() stands for: one store per word, in order."""
    for i, v in enumerate(values):
        memory.store(k, start + i * k.PTR_SIZE, v, "init")


@pytest.mark.parametrize("arch", ARCHES)
@settings(max_examples=40, deadline=None)
@given(first=st.integers(0, 3 * P // 8 + 4), skew=st.sampled_from([0, 0, 3]),
       values=st.lists(st.integers(0, 2 ** 64 + 5), max_size=700), obj=st.booleans())
def test_store_words_stores_what_one_store_a_word_stores(arch, first, skew, values, obj):
    """Across pages, into the guard page after a vmalloc area (the same
    oops, the words before it stored), and into a slab object and past it;
    unaligned starts fall on the word below, as store() does."""
    a, b = make_kernel(ARCH=arch), make_kernel(ARCH=arch)
    if obj:
        base = a.kmalloc(100, GFP_KERNEL)
        assert b.kmalloc(100, GFP_KERNEL) == base
        first %= 16
    else:
        base = area(a, 3)
        assert area(b, 3) == base
    start = base + first * a.PTR_SIZE + skew
    assert outcome(memory.store_words, a, start, values, "init") == \
        outcome(by_stores, b, start, values)
    n = 16 if obj else 3 * P // a.PTR_SIZE
    assert words(a, base, n) == words(b, base, n)
    assert a.snapshot().pagemem == b.snapshot().pagemem


# --- one key per content (the explore engine hashes pages by it) ----------------------

WORDS = st.dictionaries(st.sampled_from([-1, 0, 8, 16, 24]), st.sampled_from([0, 1, 2]),
                        max_size=5)


def content(words, page_size=32, ptr=8):
    return [words.get(o, words.get(-1, 0)) for o in range(0, page_size, ptr)]


@given(a=WORDS, b=WORDS)
def test_contents_key_is_equal_exactly_for_equal_contents(a, b):
    same = content(a) == content(b)
    assert (memory.contents_key(a, 32, 8) == memory.contents_key(b, 32, 8)) == same


def test_memset_page_and_cleared_page_have_one_key():
    k = make_kernel()
    addr = area(k, 1)
    pfn = k.ptes[addr >> k.PAGE_SHIFT]
    by_words(k, addr, P, 0)
    assert k.pagemem[pfn] != {}
    assert memory.contents_key(k.pagemem[pfn], P, 8) == memory.contents_key({}, P, 8)


def copy_by_words(k, dst, src, count):
    for off in range(0, count, k.PTR_SIZE):
        memory.store(k, dst + off, memory.load(k, src + off, "memcpy"), "memcpy")


@pytest.mark.parametrize("arch", ARCHES)
@settings(max_examples=40, deadline=None)
@given(s_first=st.integers(0, 2 * P // 8), d_first=st.integers(0, 2 * P // 8),
       n=st.integers(0, 2 * P // 8 + 8), gap=st.booleans())
def test_copy_copies_what_word_copies_copy(arch, s_first, d_first, n, gap):
    """memcpy between two vmalloc areas (or within one), page runs or not."""
    a, b = make_kernel(ARCH=arch), make_kernel(ARCH=arch)
    for k in (a, b):
        src = area(k, 3)
        k.memset(src + P, 0x11, 100)
        dst = area(k, 3) if gap else src
    step = a.PTR_SIZE
    s, d = src + s_first * step, dst + d_first * step
    assert outcome(memory.copy, a, d, s, n * step, "memcpy") == \
        outcome(copy_by_words, b, d, s, n * step)
    size = (dst - src) // step + 3 * P // step
    assert words(a, src, size) == words(b, src, size)


@pytest.mark.parametrize("arch", ARCHES)
@settings(max_examples=30, deadline=None)
@given(first=st.integers(0, 3 * P // 8), n=st.integers(0, 2 * P // 8), obj=st.booleans())
def test_read_words_reads_what_peek_reads(arch, first, n, obj):
    """Across pages, into the guard page, and in a slab object."""
    k = make_kernel(ARCH=arch)
    start = area(k, 3)
    k.memset(start + P - 64, 0x22, 128)
    if obj:
        start = k.kmalloc(100, GFP_KERNEL)
        memory.store(k, start + 8, 5)
    a = start + first * k.PTR_SIZE
    assert memory.read_words(k, a, n) == words(k, a, n)


def naive_pagemem(k):
    """The snapshot's pagemem field as taken from scratch."""
    return tuple((p, tuple(w.items())) for p, w in k.pagemem.items())


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["store", "fill", "copy", "clear",
                                               "snapshot", "restore"]),
                              st.integers(0, 3 * P // 8 - 1), st.integers(1, 600)),
                    max_size=30))
def test_a_snapshot_shares_the_pages_not_written_and_restores_exactly(ops):
    """Kernel.snapshot keeps each page memory.py did not write since the
    last snapshot or restore as the tuple it had (no copy); whatever the
    order of stores, fills, copies, cleared pages, snapshots and restores,
    each snapshot's pagemem is the one taken from scratch, and a restore
    reads back exactly the words of its snapshot."""
    k = make_kernel()
    base = area(k, 3)
    snaps = [k.snapshot()]
    at_snap = snaps[0]             # the snapshot the kernel is exactly in, or None
    for op, word, n in ops:
        at = base + word * 8
        if op not in ("snapshot", "restore"):
            at_snap = None
        if op == "store":
            memory.store(k, at, n)
        elif op == "fill":
            memory.fill(k, at, min(n * 8, 3 * P - word * 8), n & 0xff, "memset")
        elif op == "copy":
            memory.copy(k, base, at, min(n * 8, 3 * P - word * 8), "memcpy")
        elif op == "clear":
            k.clear_highpage(memory.resolve(k, at)[0])
        elif op == "snapshot":
            before = {p: w for p, w in k._mem_words.items() if p not in k.mem_dirty}
            snap = k.snapshot(like=snaps[-1])
            assert snap.pagemem == naive_pagemem(k)
            kept = dict(snap.pagemem)
            assert all(kept[p] is w for p, w in before.items())     # not copied
            snaps.append(snap)
            at_snap = snap
        else:
            # (with ``current``, only what differs from it is put back)
            snap = snaps[n % len(snaps)]
            k.restore(snap, current=at_snap)
            assert naive_pagemem(k) == snap.pagemem
            at_snap = snap
    assert k.snapshot().pagemem == naive_pagemem(k)
