"""The explore engine: exhaustive to a bound, shortest traces, sound reductions."""
from __future__ import annotations

import json

import pytest

from vcpcheck.checks.cli import main
from vcpcheck.checks.explore import KernelModel, bfs, canonical, run_explore
from vcpcheck.checks.harness import Harness
from vcpcheck.checks.targets import TARGETS, Target, with_replacements
from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.symbols import base_symbols

from test_stateful import MUST_FAIL

SMALL = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)


def first_cfg(target):
    return next(c for c in target.configs() if target.try_build(c)[1] is None)


@pytest.mark.parametrize("name", ["base", "reference"])
def test_no_violation_exhaustive_to_depth_2(name):
    t = TARGETS[name]
    r = run_explore(t, first_cfg(t), depth=2)
    assert r.violations == [] and r.complete
    assert r.strength.startswith("exhaustive to depth 2, 16 pages")
    assert r.states > 100 and r.transitions >= r.states - 1


@pytest.mark.parametrize("name,fn,expected", MUST_FAIL, ids=[m[0] for m in MUST_FAIL])
def test_explore_finds_each_broken_kernel_with_a_shortest_trace(name, fn, expected):
    target = Target(f"broken-{name}", "test",
                    with_replacements(base_symbols, {name: fn}), [SMALL])
    cfg = target.configs()[0]
    r = run_explore(target, cfg, depth=2)
    found = {v.invariant for v in r.violations}
    assert found & expected, found
    shortest = min(len(v.trace) for v in r.violations if v.invariant in expected)
    assert shortest <= 2
    v = next(v for v in r.violations if v.invariant in expected)
    replay = Harness(cfg, target.symbols(cfg)).replay(v.trace)
    assert {n for n, _ in replay.violations()} & expected


def test_v3_first_violation_is_found_at_depth_1():
    t = TARGETS["v3"]
    r = run_explore(t, first_cfg(t), depth=1)
    assert r.violations and min(len(v.trace) for v in r.violations) == 1


def test_state_hashing_is_a_sound_reduction():
    """Same violations with and without merging equal states; fewer states."""
    t = TARGETS["v5"]
    model = KernelModel(t, first_cfg(t))
    with_hash = bfs(model, 2)
    without = bfs(model, 2, hash_states=False)
    sig = lambda res: {(inv, msg) for inv, msg, _ in res.violations}  # noqa: E731
    assert sig(with_hash) == sig(without)
    assert with_hash.states < without.states


def test_bfs_raises_the_young_gc_threshold_only_while_it_searches():
    """bfs() runs with gc's youngest generation at YOUNG_GC and puts the
    caller's thresholds back, also when the search raises."""
    import gc
    from vcpcheck.checks import explore
    t = TARGETS["base"]
    model = KernelModel(t, first_cfg(t))
    before = gc.get_threshold()
    seen = []
    bfs(model, 1, visit=lambda trace, h, depth: seen.append(gc.get_threshold()))
    assert seen and all(s == (explore.YOUNG_GC,) + before[1:] for s in seen)
    assert gc.get_threshold() == before

    def boom(trace, h, depth):
        raise RuntimeError("visit failed")
    with pytest.raises(RuntimeError):
        bfs(model, 1, visit=boom)
    assert gc.get_threshold() == before


def test_canonical_state_ignores_handle_ids():
    """Two orders of the same two allocations reach one state."""
    cfg = Kconfig.make(**SMALL)
    a, b = Harness(cfg), Harness(cfg)
    a.kmalloc(64, 0xd0)
    a.vmalloc(4096)
    b.kmalloc(64, 0xd0)
    b.vmalloc(4096)
    b.ledger.items = dict(reversed(list(b.ledger.items.items())))
    assert canonical(a) == canonical(b)


def test_cli_explore_verdict_says_exhaustive(capsys):
    code = main(["check", "reference", "--engine", "explore", "--json", "--bound", "main",
                 "--config", "ARCH=x86_64", "--config", "PREEMPT=n", "--jobs", "1"])
    out = json.loads(capsys.readouterr().out)["targets"][0]
    assert code == 0 and out["verdict"] == "pass"
    assert out["stats"]["strength"].startswith("exhaustive to depth 2 at bound main:")
