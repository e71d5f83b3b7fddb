"""Workloads of the converted users: each drives the target's version of a
caller (alloc, use, free) and checks what the caller relies on.

A workload is one harness operation ("client_<name>"); broken expectations
become ledger observations.  Memory a workload keeps past its operation (a
forked task's stack, a zone's wait table) is a ledger entry of kind
"client".  The functions called are the target's: the base kernel's
vmalloc-based callers, or a series' converted ones.
"""
from __future__ import annotations

from vcpcheck.impl import memory
from vcpcheck.impl.clients.e1000 import Ring
from vcpcheck.impl.clients.swapfile import SwapInfo
from vcpcheck.impl.clients.thread_info import THREAD_ORDER, THREAD_SIZE
from vcpcheck.impl.clients.wait_table import wait_queue_head_size
from vcpcheck.spec import clients as expect
from vcpcheck.spec.ledger import Allocation

# name -> (kernel functions it needs, argument choices for the state machine)
CLIENTS = {
    "fork": (("alloc_thread_info",), [()]),
    "exit": (("free_thread_info",), None),               # needs a stack
    "wait_table": (("zone_wait_table_init",), [(64,), (256,)]),
    "xor": (("calibrate_xor_blocks",), [()]),
    "slub_loc": (("list_locations",), [(10,), (100,)]),
    "e1000": (("e1000_setup_tx_resources", "e1000_setup_rx_resources"),
              [(128,), (256,)]),
    "e1000e": (("e1000e_setup_tx_resources",), [(128,), (256,)]),
    "swap": (("sys_swapon",), [(1024, True), (4096, True), (1024, False)]),
    "ehash": (("inet_ehash_locks_alloc",), [(512,), (2048,)]),
    "sparse": (("__kmalloc_section_memmap",), [(64,), (128,)]),
}


def available(symbols) -> list[str]:
    return [n for n, (need, _a) in CLIENTS.items() if all(f in symbols for f in need)]


def _observe(h, name, problems):
    h.ledger.observations.extend(f"client {name}: {p}" for p in problems)


def fork(h):
    """dup_task_struct(): a stack for a new task; the task uses it."""
    k = h.k
    ti = k.alloc_thread_info(None)
    if not ti:
        return 0
    h.ledger.add(Allocation("client", ti, THREAD_ORDER, size=THREAD_SIZE))
    problems = expect.stack_finds_thread_info(k, ti, THREAD_SIZE)
    for a in expect.sample_addresses(k, ti, THREAD_SIZE):
        memory.store(k, a, a, "stack")           # the task runs on its stack
    problems += expect.wait_queue_consistent(k, ti + THREAD_SIZE // 2)
    _observe(h, "fork", problems)
    return ti


def exit_(h, ti, in_interrupt):
    """free_task(): free the stack, from process context or from the RCU
    callback (softirq: in_interrupt())."""
    k = h.k
    i = h._take("client", ti)
    if in_interrupt:
        k.irq_enter()
    k.free_thread_info(ti)
    if in_interrupt:
        k.irq_exit()
    h.ledger.remove(i)


def wait_table(h, entries):
    """A hot-added zone's wait table: allocated, initialised, kept for ever."""
    k = h.k
    table = k.zone_wait_table_init(entries)
    if table:
        size = entries * wait_queue_head_size(k)
        h.ledger.add(Allocation("client", table, k.get_order(size), size=size))
        _observe(h, "wait_table", expect.wait_table_initialised(
            k, table, entries, wait_queue_head_size(k)))
    return table


def xor(h):
    return h.k.calibrate_xor_blocks()


def slub_loc(h, entries):
    return h.k.list_locations(entries)


def e1000(h, count):
    """ifup then ifdown: set up tx and rx rings, check they are zeroed, free."""
    k = h.k
    tx, rx = Ring(count), Ring(count)
    if k.e1000_setup_tx_resources(tx):
        return -12
    problems = expect.memory_zeroed(k, tx.buffer_info, tx.size, "tx buffer_info")
    if k.e1000_setup_rx_resources(rx):
        k.e1000_free_tx_resources(tx)
        _observe(h, "e1000", problems)
        return -12
    problems += expect.memory_zeroed(k, rx.buffer_info, rx.size, "rx buffer_info")
    _observe(h, "e1000", problems)
    k.e1000_free_tx_resources(tx)
    k.e1000_free_rx_resources(rx)
    return 0


def e1000e(h, count):
    k = h.k
    tx = Ring(count)
    if k.e1000e_setup_tx_resources(tx):
        return -12
    _observe(h, "e1000e", expect.memory_zeroed(k, tx.buffer_info, tx.size,
                                               "tx buffer_info"))
    k.e1000e_free_tx_resources(tx)
    return 0


def swap(h, maxpages, header_ok):
    """swapon (a good or a bad header), check the map is all free, swapoff."""
    k = h.k
    p = SwapInfo(maxpages)
    rc = k.sys_swapon(p, header_ok)
    if rc == 0:
        _observe(h, "swap", expect.memory_zeroed(k, p.swap_map, maxpages * 2,
                                                 "swap_map"))
        k.sys_swapoff(p)
    return rc


def ehash(h, nr):
    k = h.k
    locks = k.inet_ehash_locks_alloc(nr)
    if locks:
        k.inet_ehash_locks_free(locks, nr)
    return locks


def sparse(h, nr_pages):
    """Hot-add a section: its memmap must start zeroed; then remove it."""
    k = h.k
    memmap = k.call("__kmalloc_section_memmap", nr_pages)
    if memmap:
        _observe(h, "sparse", expect.memory_zeroed(
            k, memmap, nr_pages * k.SIZEOF_STRUCT_PAGE, "section memmap"))
        k.call("__kfree_section_memmap", memmap, nr_pages)
    return memmap


WORKLOADS = {"fork": fork, "exit": exit_, "wait_table": wait_table, "xor": xor,
             "slub_loc": slub_loc, "e1000": e1000, "e1000e": e1000e, "swap": swap,
             "ehash": ehash, "sparse": sparse}
