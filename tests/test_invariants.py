"""Each invariant holds on legal states and fires on a deliberately broken one.

The broken states are made by hand (as a bug would leave them), then the
named invariant must report a problem and the others need not.
"""
from __future__ import annotations

import pytest

from vcpcheck.checks.harness import Harness
from vcpcheck.checks.targets import BASE_MATRIX, CHECK_BOUND
from vcpcheck.impl import memory
from vcpcheck.impl.gfp import GFP_KERNEL, __GFP_COMP
from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.page_alloc import free_list_add, free_list_del
from vcpcheck.spec.invariants import INVARIANTS, check_all, free_map
from vcpcheck.spec.ledger import Allocation

CONFIGS = [Kconfig.make(**dict(CHECK_BOUND, **c)) for c in BASE_MATRIX]


def names(h):
    return {name for name, _ in h.violations()}


def busy_harness(cfg=None):
    """A legal state with a bit of everything: compound and plain pages,
    a vmalloc area, a vmap area, kmalloc objects, a pinned page."""
    h = Harness((cfg or CONFIGS[0]).replace(mem_pages=32))
    h.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    p = h.alloc_pages(GFP_KERNEL, 0)
    h.get_free_pages(GFP_KERNEL, 1)
    h.vmalloc(2 * 4096)
    h.vmap([p])
    h.kmalloc(64, GFP_KERNEL)
    h.kmalloc(5000, GFP_KERNEL)
    free = sorted(free_map(h.k))
    assert free, "the busy state must leave a page to pin"
    assert h.pin(free[-1]) == free[-1]
    return h


def test_checking_a_state_leaves_no_garbage_cycles():
    """The invariants run on every state a search finds: what they build
    must be freed by reference counting, not left for the garbage
    collector (ownership()'s walk once was a closure that called itself)."""
    import gc
    h = busy_harness()
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            assert h.violations() == []
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.short())
def test_invariants_hold_after_boot(cfg):
    """Expect a freshly booted kernel with an empty ledger to satisfy all."""
    assert Harness(cfg).violations() == []


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c.short())
def test_invariants_hold_on_a_busy_legal_state(cfg):
    """Expect every allocation kind, held properly, to satisfy all."""
    h = busy_harness(cfg)
    assert not h.dead
    assert len(h.ledger) == 8
    assert h.violations() == []


def test_every_invariant_has_a_docstring_citing_the_kernel():
    for inv in INVARIANTS:
        assert "Rule" in inv.doc, inv.name
        assert any(s in inv.doc for s in (".c", ".h", "§")), inv.name


def test_free_lists_consistent_fires_on_a_miscounted_list():
    h = Harness(CONFIGS[0])
    h.k.zones[0].nr_free[2] += 1
    assert "free_lists_consistent" in names(h)


def test_free_lists_consistent_fires_on_a_listed_page_without_pg_buddy():
    h = Harness(CONFIGS[0])
    h.k.flags[4] &= ~(1 << h.k.PG_buddy)           # block pfn 4 order 2
    assert "free_lists_consistent" in names(h)


def test_free_blocks_maximally_merged_fires_on_unmerged_buddies():
    """pfn 0..3 free as one order-2 block; relist it as two order-1 buddies."""
    h = Harness(CONFIGS[0])
    k, z = h.k, h.k.zones[0]
    free_list_del(k, z, 2, 0)
    z.nr_free[2] -= 1
    for p in (0, 2):
        free_list_add(k, z, 1, p)
        z.nr_free[1] += 1
        k.private[p] = 1
        k.flags[p] |= 1 << k.PG_buddy
    found = names(h)
    assert "free_blocks_maximally_merged" in found
    assert "free_lists_consistent" not in found


def test_buddy_flag_matches_order_fires_on_a_stray_pg_buddy():
    h = Harness(CONFIGS[0])
    p = h.alloc_pages(GFP_KERNEL, 0)
    h.k.flags[p] |= 1 << h.k.PG_buddy
    assert "buddy_flag_matches_order" in names(h)


def test_every_pfn_accounted_once_fires_on_a_page_held_twice():
    h = Harness(CONFIGS[0])
    p = h.alloc_pages(GFP_KERNEL, 0)
    h.ledger.add(Allocation("page", p, 0))
    assert "every_pfn_accounted_once" in names(h)


def test_every_pfn_accounted_once_fires_on_a_free_page_someone_holds():
    h = Harness(CONFIGS[0])
    h.ledger.add(Allocation("pin", 7))
    assert "every_pfn_accounted_once" in names(h)


@pytest.mark.parametrize("extended", [True, False])
def test_compound_head_tail_consistent_fires_on_a_lost_tail(extended):
    h = Harness(Kconfig.make(**dict(CHECK_BOUND, PAGEFLAGS_EXTENDED=extended)))
    head = h.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    h.k.call("__ClearPageTail", head + 2)
    assert "compound_head_tail_consistent" in names(h)


def test_compound_head_tail_consistent_fires_on_a_tail_pointing_elsewhere():
    h = Harness(CONFIGS[0])
    head = h.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    h.k.private[head + 3] = h.k.page_to_word(head + 1)
    assert "compound_head_tail_consistent" in names(h)


def test_compound_head_tail_consistent_fires_on_an_orphan_tail():
    h = Harness(CONFIGS[0])
    p = h.alloc_pages(GFP_KERNEL, 0)
    h.k.call("__SetPageTail", p)
    assert "compound_head_tail_consistent" in names(h)


def test_free_pages_have_clean_flags_fires_on_a_stale_swapcache_bit():
    h = Harness(CONFIGS[0])
    h.k.flags[9] |= 1 << h.k.PG_swapcache           # inside free block 8..11
    assert "free_pages_have_clean_flags" in names(h)


def test_free_pages_have_clean_flags_fires_on_a_stale_tail_bit():
    h = Harness(Kconfig.make(**dict(CHECK_BOUND, PAGEFLAGS_EXTENDED=False)))
    h.k.call("__SetPageTail", 13)
    assert "free_pages_have_clean_flags" in names(h)


def test_vm_areas_disjoint_with_guard_fires_on_overlap():
    h = Harness(CONFIGS[0])
    h.vmalloc(4096)
    h.vmalloc(4096)
    h.k.vmlist[1].addr -= 4096                       # onto the first's guard
    assert "vm_areas_disjoint_with_guard" in names(h)


def test_vm_areas_disjoint_with_guard_fires_on_a_mapped_guard_page():
    h = Harness(CONFIGS[0])
    a = h.vmalloc(4096)
    h.k.ptes[(a >> 12) + 1] = h.alloc_pages(GFP_KERNEL, 0)
    assert "vm_areas_disjoint_with_guard" in names(h)


def test_ptes_map_allocated_pages_fires_on_a_pte_to_a_free_page():
    h = Harness(CONFIGS[0])
    a = h.vmalloc(4096)
    page = h.k.vmalloc_to_page(a)
    h.k.call("__free_page", page)                    # behind the area's back
    assert "ptes_map_allocated_pages" in names(h)


def test_ptes_map_allocated_pages_fires_on_a_stale_pte_after_remove():
    h = Harness(CONFIGS[0])
    a = h.vmalloc(4096)
    page = h.k.vmalloc_to_page(a)
    h.vfree(a)
    h.k.ptes[a >> 12] = page
    assert "ptes_map_allocated_pages" in names(h)


def test_no_leak_fires_on_an_unrecorded_page():
    h = Harness(CONFIGS[0])
    h.k.alloc_pages(GFP_KERNEL, 1)                   # nobody remembers it
    assert "no_leak" in names(h)


def test_no_leak_fires_on_a_forgotten_vm_area():
    h = Harness(CONFIGS[0])
    a = h.vmalloc(4096)
    h.ledger.remove(h.ledger.find("vmalloc", a))
    assert "no_leak" in names(h)


def test_no_leak_fires_on_a_forgotten_kmalloc_object():
    h = Harness(CONFIGS[0])
    h.k.kmalloc(32, GFP_KERNEL)
    assert "no_leak" in names(h)


def test_kernel_reported_no_errors_fires_on_a_warning():
    h = Harness(CONFIGS[0])
    h.k.vfree(h.k.VMALLOC_START)                     # nonexistent vm area
    assert "kernel_reported_no_errors" in names(h)


def test_kernel_reported_no_errors_ignores_allocation_failure_messages():
    """16 pages are four order-2 blocks; a fifth order-2 request fails and
    the kernel prints "page allocation failure", which is not a bug."""
    h = Harness(CONFIGS[0])
    for _ in range(4):
        assert h.alloc_pages(GFP_KERNEL, 2) is not None
    assert h.alloc_pages(GFP_KERNEL, 2) is None
    assert any("page allocation failure" in e.message for e in h.k.events)
    assert all(e.kind == "info" for e in h.k.events)
    assert h.violations() == []


def test_check_all_reports_each_problem_with_its_invariant():
    h = busy_harness()
    h.k.zones[0].NR_FREE_PAGES += 3
    memory.store(h.k, h.k.PAGE_OFFSET, 1)            # harmless: data only
    out = check_all(h.k, h.ledger)
    assert out and all(name == "free_lists_consistent" for name, _ in out)
    assert "NR_FREE_PAGES" in out[0][1]
