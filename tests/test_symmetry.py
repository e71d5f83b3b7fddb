"""Block symmetry over pfns (checks/symmetry.py) and the fingerprints.

The reduction must change nothing but the counts: the same violations
with the same shortest traces, a twin audit that voids it on a target that
treats blocks by their pfn, and fingerprints that are the same in every
process (the Dask shards' sets are merged)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vcpcheck.checks.explore import KernelModel, bfs, run_explore
from vcpcheck.checks.stateful import signature
from vcpcheck.checks.symmetry import BlockSymmetry
from vcpcheck.checks.targets import TARGETS, with_replacements
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl import page_alloc
from vcpcheck.impl.symbols import base_symbols


def _bench_spin():
    """bench/bench_spin.py (BuddyModel: the buddy allocator's callers alone)."""
    import importlib.util
    from pathlib import Path
    if "bench_spin" in sys.modules:
        return sys.modules["bench_spin"]
    path = Path(__file__).resolve().parent.parent / "bench" / "bench_spin.py"
    spec = importlib.util.spec_from_file_location("bench_spin", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_spin"] = mod
    spec.loader.exec_module(mod)
    return mod


def first_cfg(t, **over):
    return next(c for c in t.configs(over or None) if t.try_build(c)[1] is None)


def found(res):
    return {(signature(v.invariant, v.message), len(v.trace)) for v in res.violations}


@pytest.mark.parametrize("name", ["v3", "v5"])
def test_symmetry_keeps_every_violation_and_its_shortest_length(name):
    """Expect depth 2 on the checking bound to find the same signatures at
    the same shortest lengths with and without the reduction, with fewer
    states with it, and the strength to say it was used and audited."""
    t = TARGETS[name]
    cfg = first_cfg(t)
    plain = run_explore(t, cfg, depth=2, symmetry=False)
    sym = run_explore(t, cfg, depth=2)
    assert found(plain) == found(sym) and found(sym)
    assert sym.states < plain.states and sym.transitions == plain.transitions
    assert "block symmetry over 4 interchangeable blocks" in sym.strength
    assert "audited by twin transitions" in sym.strength and sym.twins > 256


def _free_one_page_by_pfn(k, page, zone, order):
    """__free_one_page that will not merge in the second block (a target
    that treats a block by its pfn)."""
    if page >= 4 and order == 0:
        if k.PageCompound(page):
            k.destroy_compound_page(page, order)
        zone.NR_FREE_PAGES += 1
        k.set_page_order(page, 0)
        from vcpcheck.impl.page_alloc import free_list_add
        free_list_add(k, zone, 0, page)
        zone.nr_free[0] += 1
        return
    return getattr(page_alloc, "__free_one_page")(k, page, zone, order)


def test_a_target_that_treats_blocks_by_pfn_voids_the_reduction():
    """Expect the twin audit to catch a __free_one_page that behaves
    differently in one block, the search to run again without the
    reduction, its strength to say why, and the violations to be those of
    the search without it."""
    t = TARGETS["base"]
    cfg = first_cfg(t, mem_pages=8)
    symbols = with_replacements(base_symbols, {"__free_one_page": _free_one_page_by_pfn},
                                "test: merges by pfn")(cfg)
    model = KernelModel(t, cfg, symbols=symbols, symmetry=True)
    from vcpcheck.checks.explore import SymmetryBroken
    with pytest.raises(SymmetryBroken, match="block permutations"):
        bfs(model, 3)


def test_run_explore_says_why_the_reduction_was_not_used(monkeypatch):
    """run_explore: a SymmetryBroken search is made again without the
    reduction, and the verdict says so."""
    t = TARGETS["base"]
    cfg = first_cfg(t, mem_pages=8)
    symbols = with_replacements(base_symbols, {"__free_one_page": _free_one_page_by_pfn},
                                "test: merges by pfn")
    monkeypatch.setattr(t, "symbols", lambda c: symbols(c))
    res = run_explore(t, cfg, depth=3)
    assert "block symmetry not used" in res.strength
    assert res.symmetry.startswith("not used:")
    plain = run_explore(t, cfg, depth=3, symmetry=False)
    assert found(res) == found(plain) and res.states == plain.states


def test_relabel_moves_every_pfn_and_back():
    """A state with a compound page and a free block in the second block:
    relabelling by a permutation and by its inverse gives the snapshot
    back, and the relabelled state has the moved head's tails pointing at
    the moved head."""
    t = TARGETS["base"]
    cfg = first_cfg(t, mem_pages=8)
    model = KernelModel(t, cfg)
    h = model.realise(())
    h.alloc_pages(GFP_KERNEL, 0)
    from vcpcheck.checks.explore import GFP_COMP
    head = h.alloc_pages(GFP_KERNEL | GFP_COMP, 1)
    sym = BlockSymmetry(h.k)
    snap = h.snapshot(trace=False)
    assert sym.pure(snap)
    swap = [1, 0]
    moved, _ = sym.relabel(snap, swap)
    back, _ = sym.relabel(moved, swap)
    assert back == snap
    new_head = (head + 4) % 8
    k = moved.kernel
    assert k.private[new_head + 1] == h.k.page_to_word(new_head)
    assert {a.handle for _i, a in moved.ledger_items} == {
        (a.handle + 4) % 8 for _i, a in snap.ledger_items}


def test_fingerprints_are_the_same_in_every_process():
    """The fingerprints of the states of a small search, computed in two
    processes with different hash seeds, are equal (str hash is salted)."""
    code = ("from vcpcheck.checks.explore import KernelModel, bfs;"
            "from vcpcheck.checks.targets import TARGETS;"
            "t = TARGETS['v3'];"
            "cfg = next(c for c in t.configs() if t.try_build(c)[1] is None);"
            "m = KernelModel(t, cfg, symmetry=True);"
            "fps = [];"
            "bfs(m, 2, visit=lambda tr, h, d: fps.append(m.fingerprint(m.save(h))));"
            "print(sorted(fps))")
    outs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] == outs[1] and len(eval(outs[0])) > 1000


@pytest.mark.parametrize("stale", [False, True])
def test_the_relabelled_key_is_the_key_of_the_relabelled_snapshot(stale):
    """KernelModel.relabelled_key builds the canonical key directly; expect
    it equal to key() of BlockSymmetry.relabel's snapshot, on every state
    of a search at 12 pages (three blocks) where the canonical member is
    another state, and such states to be met."""
    bs = _bench_spin()
    model = bs.BuddyModel(TARGETS["base"], bs.bound_config(12, 3), stale=stale,
                          symmetry=True)
    sym, checked = model.sym, []

    def visit(_trace, h, _depth):
        snap = model.save(h)
        plain, st = (snap, None) if not stale else (snap.snap, snap.stale)
        bmap = sym.block_map(plain, st)
        if bmap is None:
            return
        moved, moved_stale = sym.relabel(plain, bmap, st, real=False)
        whole = moved if not stale else type(snap)(moved, moved_stale)
        assert model.relabelled_key(plain, st, bmap) == model.key(whole)
        checked.append(bmap)
    bfs(model, 5, visit=visit)
    assert len(checked) > 100


def test_each_state_is_checked_as_its_trace_leaves_it_with_the_audit_on():
    """The twin audit moves the working harness to a twin state; expect
    every state the search checks and visits (depth 2, symmetry and its
    audit on) to be the state a replay of its trace on a fresh build
    reaches, so that its violations name its own pfns."""
    t = TARGETS["v3"]
    cfg = first_cfg(t)
    model = KernelModel(t, cfg, symmetry=True)
    wrong, seen = [], []

    def visit(trace, h, _depth):
        seen.append(trace)
        if model.realise(trace).k.snapshot() != h.k.snapshot():
            wrong.append(trace)
    bfs(model, 2, visit=visit)
    assert model.twins > 256 and len(seen) > 1000
    assert wrong == []
