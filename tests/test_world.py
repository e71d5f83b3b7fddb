"""Issue 11: the world the checker looks at -- the bound matrix, the full
legal alphabet of spec/api.py and the contexts every call is tried in.

Scenario tests (ASCII picture, the call, "Expect ...") for what the
harness now lets a caller do, written from the v2.6.25 source; then that
the engines reach it, with variants that each break one thing a 2.6.25
caller may rely on (nothing here knows a defect of a posted version).
"""
from __future__ import annotations

import json

import pytest

from vcpcheck.checks.cli import bound_list, build_parser, main
from vcpcheck.checks.explore import KernelModel, run_explore
from vcpcheck.checks.harness import Harness, HarnessError
from vcpcheck.checks.targets import BOUNDS, TARGETS, Target, with_replacements
from vcpcheck.impl.gfp import GFP_ATOMIC, GFP_KERNEL, __GFP_COMP
from vcpcheck.impl.kconfig import Kconfig, PAGE_SIZE
from vcpcheck.impl.symbols import base_symbols
from vcpcheck.spec import api

P = PAGE_SIZE
MAIN = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)


def harness(**opts):
    return Harness(Kconfig.make(**dict(MAIN, **opts)))


# --- the alphabet: what a 2.6.25 caller may do ---------------------------------------

def test_alloc_pages_at_and_above_max_order_is_null_without_a_report():
    """
    |................|   16 pages free, MAX_ORDER 3
        alloc_pages(GFP_KERNEL|__GFP_COMP, 3); alloc_pages(GFP_ATOMIC, 4)
    Expect NULL both times (gfp.h:180), memory untouched, no report.
    """
    h = harness()
    free = h.k.nr_free_pages()
    assert h.alloc_pages(GFP_KERNEL | __GFP_COMP, 3) is None
    assert h.alloc_pages(GFP_ATOMIC, 4) is None
    assert h.k.nr_free_pages() == free and h.k.events == []
    assert h.violations() == []


def test_vfree_of_a_vmap_area_leaves_the_pages_with_the_caller():
    """
    |p|   p = alloc_pages(GFP_KERNEL, 0); V = vmap([p])   |p|g|
        vfree(V)
    Expect the area gone and p still the caller's (nr_pages is 0 for a
    vmap area, vmalloc.c:386-397): the caller frees p itself, cleanly.
    """
    h = harness()
    p = h.alloc_pages(GFP_KERNEL, 0)
    v = h.vmap([p])
    h.vfree(v)
    assert h.k.vmlist == [] and h.k.page_count(p) == 1
    assert h.violations() == []
    h.free_pages_struct(p, 0)
    assert h.violations() == []


def test_vmap_of_any_page_the_caller_holds():
    """
    |HTTT|aa|vv|   an order-2 compound block, a __get_free_pages(order 1)
                   block and a 2-page vmalloc area
        vmap([tail 2 of the block, page 1 of the pair, page 0 of the area])
    Expect one 3-page mapping of exactly those pages, nothing reported;
    freeing any of the three while mapped is refused (a use after free).
    """
    h = harness()
    block = h.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    addr = h.get_free_pages(GFP_KERNEL, 1)
    area = h.vmalloc(2 * P)
    pair = (addr - h.k.PAGE_OFFSET) // P
    first = h.k.ptes[area // P]
    v = h.vmap([block + 2, pair + 1, first])
    assert [h.k.ptes[v // P + i] for i in range(3)] == [block + 2, pair + 1, first]
    assert h.violations() == []
    for free, arg in ((h.free_pages_struct, (block, 2)), (h.free_pages, (addr, 1)),
                      (h.vfree, (area,))):
        with pytest.raises(HarnessError):
            free(*arg)
    h.vunmap(v)
    h.free_pages_struct(block, 2)
    h.free_pages(addr, 1)
    h.vfree(area)
    assert h.violations() == []


def test_vmap_of_a_page_the_caller_does_not_hold_is_refused():
    h = harness()
    with pytest.raises(HarnessError):
        h.vmap([5])


@pytest.mark.parametrize("context,enter,leave", [
    ("spinlock", "spin_lock", "spin_unlock"),
    ("irqs-off", "local_irq_disable", "local_irq_enable"),
    ("interrupt", "irq_enter", "irq_exit")])
def test_in_context_traces_the_entry_the_call_and_the_exit(context, enter, leave):
    """
    |a|   a = alloc_pages(GFP_ATOMIC, 0)
        in_context(CONTEXT, "free_pages_struct", a, 0)
    Expect __free_pages to run in CONTEXT (any context may free pages),
    traced as the entry, the call and the exit, and the harness back in
    process context; the trace replays.
    """
    h = harness()
    a = h.alloc_pages(GFP_ATOMIC, 0)
    h.in_context(context, "free_pages_struct", a, 0)
    assert [e["call"] for e in h.trace[1:]] == [enter, "__free_pages", leave]
    assert h.k.ctx.describe() == "process" and h.violations() == []
    again = Harness(h.k.cfg).replay(h.trace)
    assert again.violations() == [] and again.k.nr_free_pages() == h.k.nr_free_pages()


def test_the_domain_rules_out_only_what_the_kernel_calls_a_bug():
    """spec/api.py: vfree is legal under a spinlock, not with interrupts
    off (smp_call_function WARN) or in an interrupt (BUG_ON); GFP_ATOMIC is
    legal everywhere, GFP_KERNEL only where it may sleep; both migrate
    bits together never (gfp.h:110)."""
    k = harness().k
    legal = {}
    from vcpcheck.checks.explore import _entered
    for name, _e, _l in api.CONTEXTS:
        k.ctx = _entered(harness().k.ctx, name)
        legal[name] = (api.pre_vfree(k), api.pre_alloc_pages(k, GFP_ATOMIC, 0),
                       api.pre_alloc_pages(k, GFP_KERNEL, 0))
    assert legal == {"process": (True, True, True), "spinlock": (True, True, False),
                     "irqs-off": (False, True, False),
                     "interrupt": (False, True, False)}
    assert not api.gfp_legal(GFP_KERNEL | api.GFP_MOVABLE_MASK)


def test_explore_tries_every_free_in_every_context_it_is_legal_in():
    t = TARGETS["reference"]
    cfg = t.configs()[0]
    model = KernelModel(t, cfg)
    h = model.fresh()
    page = h.alloc_pages(GFP_ATOMIC, 0)
    addr = h.alloc_vcompound_addr(GFP_KERNEL, 1)
    area = h.vmalloc(P)
    acts = set(model.actions(h))
    for ctx in ("spinlock", "irqs-off", "interrupt"):
        assert ("in_context", (ctx, "free_pages_struct", page, 0)) in acts
        assert ("in_context", (ctx, "free_vcompound_addr", addr)) in acts
        assert ("in_context", (ctx, "alloc_pages", GFP_ATOMIC | __GFP_COMP, 1)) in acts
    assert ("in_context", ("spinlock", "vfree", area)) in acts
    assert not {("in_context", (c, "vfree", area)) for c in ("irqs-off", "interrupt")} & acts
    assert ("alloc_vcompound_addr", (GFP_KERNEL, 3)) in acts          # = MAX_ORDER


# --- the engines reach it: variants that break one thing ---------------------------------

def _variant(name, fn, base="reference"):
    t = TARGETS[base]
    return Target(f"{base}-{name}", "test", with_replacements(t.symbols, {name: fn}),
                  t.config_matrix, t.options, t.api)


def _no_defer_with_irqs_off(k, addr, page):
    """reference's vcompound_free, deferring only in interrupt context."""
    if not k.put_page_testzero(page):
        return
    if k.in_interrupt():
        k.INIT_WORK(addr, "vcompound_free_work")
        k.schedule_work(addr)
    else:
        k.call("__vcompound_free", addr)


def test_explore_finds_a_free_that_unmaps_with_interrupts_off():
    """A free path that forgets irqs_disabled(): unmapping there WARNs in
    the TLB flush.  Found in two calls: allocate, free with irqs off."""
    t = _variant("vcompound_free", _no_defer_with_irqs_off)
    cfg = Kconfig.make(**dict(MAIN, PREEMPT=True, PAGEFLAGS_EXTENDED=False))
    r = run_explore(t, cfg, depth=2)
    warns = [v for v in r.violations if "smp_call_function" in v.message]
    assert warns and len(warns[0].trace) <= 4
    assert any(e["call"] == "local_irq_disable" for e in warns[0].trace)


def _alloc_pages_bug_above_max_order(k, gfp_mask, order):
    """alloc_pages() that BUGs on a large order instead of failing."""
    k.BUG_ON(order >= k.MAX_ORDER, "alloc_pages", "variant")
    return k.__alloc_pages(gfp_mask, order, k.node_zonelist(gfp_mask))


def test_explore_calls_alloc_pages_at_max_order():
    t = Target("base-bug", "test", with_replacements(
        base_symbols, {"alloc_pages": _alloc_pages_bug_above_max_order}), [{}])
    r = run_explore(t, t.configs()[0], depth=1)
    assert {v.invariant for v in r.violations} == {"kernel_reported_no_errors"}




# --- the bound matrix ------------------------------------------------------------------

def test_every_bound_builds_and_boots_a_kernel():
    for b in BOUNDS.values():
        for name in ("base", "reference"):
            for cfg in TARGETS[name].configs(bound=b.name):
                h = Harness(cfg)
                assert h.violations() == [], (b.name, cfg.short())


def test_lowmem_small_applies_to_highmem_only():
    cfgs = TARGETS["base"].configs(bound="lowmem-small")
    assert cfgs and all(c.HIGHMEM and c.lowmem_pages == 4 for c in cfgs)


def test_vmalloc_full_bound_has_no_room_for_an_area():
    cfg = TARGETS["base"].configs(bound="vmalloc-full")[0]
    h = Harness(cfg)
    assert h.vmalloc(P) == 0
    assert h.violations() == []


def test_bound_option_picks_and_rejects(capsys):
    assert bound_list("main,max-order-2") == ("main", "max-order-2")
    assert bound_list("all") == tuple(BOUNDS)
    assert main(["check", "base", "--bound", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vcpcheck: error: ")
    assert "unknown bound 'nosuch'" in err
    text = build_parser()._subparsers._group_actions[0].choices["check"].format_help()
    for name in BOUNDS:
        assert name in text


def test_check_reports_each_engine_at_its_bounds(capsys):
    code = main(["check", "base", "--engine", "explore", "--depth", "1", "--json",
                 "--config", "ARCH=x86_64", "--config", "PAGEFLAGS_EXTENDED=y",
                 "--jobs", "1"])
    r = json.loads(capsys.readouterr().out)["targets"][0]
    assert code == 0 and r["verdict"] == "pass"
    # lowmem-small applies to HIGHMEM only: 7 bounds here, one
    # configuration at each (zone-unaligned's representative would be i386
    # HIGHMEM; the override leaves x86_64)
    assert r["stats"]["strength"].startswith(
        "exhaustive to depth 1 over 7 bounds (main 1 configuration, vmalloc-tight 1 "
        "configuration, vmalloc-full 1 configuration, zone-unaligned 1 configuration, "
        "max-order-2 1 configuration, max-order-4 1 configuration, pages-32 1 "
        "configuration): ")
    assert set(r["stats"]["bounds"]) == set(BOUNDS) - {"lowmem-small"}
    assert len(r["stats"]["runs"]) == 7
    code = main(["check", "base", "--engine", "explore,stateful", "--depth", "1",
                 "--json", "--bound", "max-order-2", "--examples", "5", "--rounds", "1",
                 "--config", "ARCH=x86_64", "--config", "PAGEFLAGS_EXTENDED=y",
                 "--jobs", "1"])
    r = json.loads(capsys.readouterr().out)["targets"][0]
    assert code == 0
    assert "sampled: " in r["stats"]["strength"]
    assert " at bound max-order-2" in r["stats"]["strength"]
    assert "exhaustive to depth 1 at bound max-order-2" in r["stats"]["strength"]


def test_the_default_plan_runs_every_engine_at_main_and_explore_elsewhere():
    from vcpcheck.checks.cli import bound_plan
    args = build_parser().parse_args(["check", "reference"])
    plan = bound_plan(TARGETS["reference"], args, {})
    main_rows = [p for p in plan if p[1] == "main"]
    assert len(main_rows) == 14 and all(p[2] == ("explore", "smt", "stateful")
                                        for p in main_rows)
    other = [p for p in plan if p[1] != "main"]
    assert {p[2] for p in other} == {("explore",)}
    for name in BOUNDS:
        if name == "main":
            continue
        # one configuration, the fallback not forced, PREEMPT n: i386
        # HIGHMEM where the bound moves the lowmem boundary, else x86_64
        (cfg,) = [p[0] for p in other if p[1] == name]
        zones = name in ("zone-unaligned", "lowmem-small")
        assert (cfg.ARCH, cfg.HIGHMEM) == (("i386", True) if zones else ("x86_64", False))
        assert not cfg.VFALLBACK_ALWAYS and not cfg.PREEMPT
    args = build_parser().parse_args(["check", "reference", "--bound", "max-order-2"])
    plan = bound_plan(TARGETS["reference"], args, {})
    assert len(plan) == 14 and {p[1] for p in plan} == {"max-order-2"}
