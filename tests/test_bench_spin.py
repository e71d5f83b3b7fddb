"""bench/bench_spin.py: the bounded buddy system on both sides.

The explore side, the Promela generation and the independent enumeration
run without SPIN; the end-to-end comparison with SPIN is skipped where
``spin`` is not installed (it is a benchmark-only dependency).
"""
from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

from vcpcheck.checks.explore import bfs

_PATH = Path(__file__).resolve().parent.parent / "bench" / "bench_spin.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_spin", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_spin"] = mod          # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


bs = _load()

needs_spin = pytest.mark.skipif(
    shutil.which("spin") is None or shutil.which("gcc") is None,
    reason="spin (and gcc) not installed: SPIN is a benchmark-only dependency "
           "(apt-get install spin)")


def _closure(npages, max_order):
    model = bs.ProjectingModel(bs.TARGETS["base"], bs.bound_config(npages, max_order))
    res = bfs(model, bs.CLOSURE)
    return model, res


# --- the independent enumeration -------------------------------------------------------

def test_enumeration_by_hand_two_pages():
    """
    2 pages, MAX_ORDER 2: boot lists one order-1 block.

        s0  free_area[1] = [0]                  held {}
        s1  free_area[0] = [1]                  held {0/0}   alloc(0) from s0 or s4
        s2  (empty)                             held {0/1}   alloc(1) from s0
        s3  (empty)                             held {0/0, 1/0}
        s4  free_area[0] = [0]                  held {1/0}   free 0 from s3

    Expect 5 states, 15 transitions (2 allocations everywhere, failed ones
    loop back, plus one free per held block) and s4 three calls deep.
    """
    a = bs.abstract_states(2, 2, graph=True)
    assert (a.states, a.transitions, a.depth) == (5, 15, 3)
    assert a.keys[0] == (((), (0,)), ())
    assert (((0,), ()), ((1, 0),)) in a.keys
    # two slots, each allocation in the first empty one: the same five
    assert bs.abstract_states(2, 2, sort=False).states == 5


def test_enumeration_counts_at_small_bounds():
    """Expect the counts the bench cross-checks SPIN against (measured:
    SPIN 6.5.2 stores these plus its pre-boot state)."""
    assert (bs.abstract_states(4, 3).states, bs.abstract_states(4, 3).transitions) == (30, 149)
    assert bs.abstract_states(4, 3, sort=False).states == 324
    assert bs.abstract_states(8, 3).states == 1829


def test_call_sequences_counts_the_tree_without_state_matching():
    """bfs(hash_states=False) visits one node per call sequence: expect
    call_sequences() of the abstract graph, depth by depth."""
    a = bs.abstract_states(4, 3, graph=True)
    cfg = bs.bound_config(4, 3)
    for depth in (1, 2, 3):
        res = bfs(bs.BuddyModel(bs.TARGETS["base"], cfg), depth, hash_states=False)
        assert res.states == bs.call_sequences(a, depth)
        assert res.transitions == res.states - 1


# --- the explore side ---------------------------------------------------------------------

@pytest.mark.parametrize("npages, max_order", [(4, 3), (6, 3)])
def test_explore_closes_on_the_enumerated_abstract_states(npages, max_order):
    """Explore the restricted model to closure.  Expect the frontier to
    empty, no violation, and its states' projections to be exactly the
    independently enumerated states."""
    model, res = _closure(npages, max_order)
    a = bs.abstract_states(npages, max_order, graph=True)
    assert res.complete and not res.violations
    assert res.deepest + 1 < bs.CLOSURE
    assert res.deepest >= a.depth
    assert model.projections == set(a.keys)
    # engine states tell dead words apart (stale lru/private): never fewer
    assert res.states >= len(model.projections)


def test_projection_count_is_stable():
    first, _ = _closure(4, 3)
    second, _ = _closure(4, 3)
    assert first.projections == second.projections
    assert len(first.projections) == 30


@pytest.mark.slow
def test_explore_at_the_bench_bound():
    """8 pages, MAX_ORDER 3, as bench_spin runs it: 1829 abstract states."""
    model, res = _closure(8, 3)
    assert res.complete and not res.violations
    assert model.projections == set(bs.abstract_states(8, 3, graph=True).keys)


def test_alphabet_is_alloc_and_free_only():
    model = bs.BuddyModel(bs.TARGETS["base"], bs.bound_config(4, 3))
    h = model.realise(())
    assert {c for c, _a in model.actions(h)} == {"alloc_pages"}
    h.alloc_pages(*model.actions(h)[0][1])
    assert {c for c, _a in model.actions(h)} == {"alloc_pages", "free_pages_struct"}


def test_seeded_defect_is_found_by_explore():
    """
    4 pages, MAX_ORDER 3: boot lists [0..3] at order 2.
    alloc_pages(GFP_KERNEL, 0) takes pfn 0 and lists 2 (order 1) and 1
    (order 0); __free_pages(0, 0) merges 1 and then 2, which keep PG_buddy.
    Expect buddy_flag_matches_order with that 2-call trace.
    """
    cfg = bs.bound_config(4, 3)
    model = bs.BuddyModel(bs.TARGETS["base"], cfg, symbols=bs.defect_symbols(cfg))
    res = bfs(model, 5, stop_after=1)
    names = {inv for inv, _m, _t in res.violations}
    assert "buddy_flag_matches_order" in names
    trace = min((t for _i, _m, t in res.violations), key=len)
    assert [c for c, _a in trace] == ["alloc_pages", "free_pages_struct"]


# --- the Promela side ------------------------------------------------------------------------

@pytest.mark.parametrize("sort", [True, False])
def test_promela_generation_is_plausible(tmp_path, sort):
    path = bs.write_model(tmp_path, 10, 4, sort=sort)
    text = path.read_text()
    assert path.name == f"buddy_10p_o4_{'sorted' if sort else 'unsorted'}.pml"
    assert "#define NPAGES 10" in text and "#define MAX_ORDER 4" in text
    assert ("#define SORTED" in text) == sort
    assert "#define DEFECT_MERGE_KEEPS_BUDDY" not in text
    assert "active proctype kernel()" in text
    body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)     # comments out
    body = re.sub(r"(?m)^#.*$", "", body)                 # and the preprocessor's lines
    assert body.count("{") == body.count("}")
    assert body.count("(") == body.count(")")
    assert len(re.findall(r"\bdo\b", body)) == len(re.findall(r"\bod\b", body))
    assert len(re.findall(r"\bif\b", body)) == len(re.findall(r"\bfi\b", body))
    for name in bs.BUDDY_INVARIANT_NAMES:
        if name != "no_leak":             # checked with every_pfn_accounted_once
            assert re.search(r"assert\(" + name + r" &&", body), name


def test_promela_defect_and_bfs_switches(tmp_path):
    text = bs.write_model(tmp_path, 4, 3, defect=True, bfs_mode=True).read_text()
    assert "#define DEFECT_MERGE_KEEPS_BUDDY" in text and "#define BFS" in text
    assert "#ifndef DEFECT_MERGE_KEEPS_BUDDY\n            rmv_page_order(buddy);" in text


def test_bench_without_spin_says_so_and_exits_2(monkeypatch, capsys):
    monkeypatch.setattr(bs.shutil, "which", lambda name: None)
    assert bs.main([]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spin is not installed" in err[0]


# --- SPIN, end to end -------------------------------------------------------------------------

@needs_spin
def test_spin_counts_the_same_states(tmp_path):
    """4 pages, MAX_ORDER 3, held slots sorted: expect SPIN to store the 30
    enumerated states plus its pre-boot state, with no assertion failing,
    and the same 149 transitions (its count less the boot step and the
    initial state)."""
    a = bs.abstract_states(4, 3)
    s = bs.run_spin(bs.write_model(tmp_path, 4, 3), cc_opt="-O0",
                    pan_args=bs.pan_sizes(a.states))
    assert s.errors == 0, s.output
    assert (s.states, s.steps) == (a.states, a.transitions) == (30, 149)


@needs_spin
def test_spin_finds_the_seeded_defect_in_two_calls(tmp_path):
    s = bs.run_spin(bs.write_model(tmp_path, 4, 3, defect=True, bfs_mode=True),
                    bfs_mode=True, cc_opt="-O0")
    assert s.errors == 1
    assert s.invariant in ("buddy_flag_matches_order", "free_pages_have_clean_flags")
    assert s.trail == ["alloc_pages 0", "__free_pages 0 0"]


@needs_spin
@pytest.mark.slow
def test_spin_unsorted_and_bfs_counts(tmp_path):
    """Without handle symmetry SPIN counts every slot assignment: expect the
    enumeration's 324 at 4 pages; -DBFS gives the sorted count again."""
    u = bs.run_spin(bs.write_model(tmp_path, 4, 3, sort=False), cc_opt="-O0",
                    pan_args=bs.pan_sizes(1000))
    assert (u.errors, u.states) == (0, bs.abstract_states(4, 3, sort=False).states)
    b = bs.run_spin(bs.write_model(tmp_path, 6, 3, bfs_mode=True), bfs_mode=True,
                    cc_opt="-O0")
    assert (b.errors, b.states) == (0, bs.abstract_states(6, 3).states)


# --- block symmetry (checks/symmetry.py) -------------------------------------------------

@pytest.mark.parametrize("npages", [8, 10])
def test_symmetric_explore_counts_the_orbits_of_the_enumeration(npages):
    """With block symmetry, expect explore to count one state per orbit of
    the abstract system under permutations of its whole blocks, and the
    transitions of one member of each, as the brute-force enumeration over
    every permutation counts them (8 pages: 2 blocks, 10 pages: 2 blocks
    and a fixed pair of pages); and the twin audit to have agreed."""
    cfg = bs.bound_config(npages, 3)
    model = bs.BuddyModel(bs.TARGETS["base"], cfg, stale=True, symmetry=True)
    res = bfs(model, bs.CLOSURE)
    orbits, transitions = bs.abstract_orbits(npages, 3)
    assert res.complete and not res.violations
    assert (res.states, res.transitions) == (orbits, transitions)
    assert orbits < bs.abstract_states(npages, 3).states
    assert model.twins > 256


def test_symmetry_finds_the_seeded_defect_with_the_same_shortest_trace():
    """The seeded __free_one_page defect: expect the same invariants and
    the same shortest length with block symmetry as without."""
    cfg = bs.bound_config(8, 3)
    found = []
    for sym in (False, True):
        model = bs.BuddyModel(bs.TARGETS["base"], cfg, symbols=bs.defect_symbols(cfg),
                              symmetry=sym)
        res = bfs(model, 6)
        found.append({(inv, len(t)) for inv, _m, t in res.violations})
    assert found[0] == found[1] and found[0]
