"""What the converted users rely on (reference vcompound-series.md §3).

Each expectation is a pure check a client's workload applies to what the
kernel gave it; a broken one becomes an observation in the ledger, which
the invariant callers_observe_the_contract reports.  Calls into the target
go through the guarded _call of spec/vcompound.py.
"""
from __future__ import annotations

from vcpcheck.impl import memory
from vcpcheck.impl.kernel import KernelOops

from .vcompound import _call


def sample_addresses(k, addr, size):
    """First, middle and last word of every page of [addr, addr+size)."""
    out = []
    for page in range(addr, addr + size, k.PAGE_SIZE):
        end = min(page + k.PAGE_SIZE, addr + size)
        out.extend({page, page + (end - page) // 2 & ~7, end - k.PTR_SIZE})
    return sorted(set(out))


def stack_finds_thread_info(k, ti, thread_size) -> list[str]:
    """Every stack address masks down to the thread_info (x86 entry code,
    current_thread_info() on i386, stack_thread_info() on x86_64)."""
    problems = []
    for a in sample_addresses(k, ti, thread_size):
        got = _call(k, problems, f"stack_thread_info({a:#x})", k.stack_thread_info, a)
        if got is not KernelOops and got != ti:
            problems.append(f"stack address {a:#x} masks to {got:#x}, not to its "
                            f"thread_info {ti:#x} (THREAD_SIZE alignment)")
            break
    return problems


def memory_zeroed(k, addr, size, what) -> list[str]:
    """[addr, addr+size) reads as zero (the caller relies on zeroed memory)."""
    first = memory.first_word_not(k, addr, size, 0)
    if first is None:
        return []
    a, w = first
    if w is None:
        return [f"{what}: {a:#x} is not mapped"]
    return [f"{what}: word at {a:#x} is {w:#x}, not zero"]


def wait_queue_consistent(k, word) -> list[str]:
    """bit_waitqueue(word) works for any word and waiter and waker agree."""
    problems = []
    a = _call(k, problems, f"bit_waitqueue({word:#x})", k.bit_waitqueue, word, 0)
    b = _call(k, problems, f"bit_waitqueue({word:#x})", k.bit_waitqueue, word, 0)
    if not problems and a != b:
        problems.append(f"bit_waitqueue({word:#x}) gives {a} then {b}")
    return problems


def wait_table_initialised(k, table, entries, entry_size) -> list[str]:
    """Each wait_queue_head_t is an unlocked lock and an empty list."""
    w = k.PTR_SIZE
    assert entry_size % w == 0 and entry_size >= 3 * w, entry_size
    table_words = memory.read_words(k, table, entries * entry_size // w)
    for i in range(entries):
        q = table + i * entry_size
        lst = q + w
        first = i * entry_size // w
        if tuple(table_words[first:first + 3]) != (0, lst, lst):
            return [f"wait table entry {i} at {q:#x} is not initialised"]
    return []
