"""The smt engine: symbolic runs of the target's own code, z3 verdicts.

Sanity first (the Sym encoding is Python's int arithmetic; the paths cover
the domain exactly; each symbolic run agrees with the concrete model on
every state within one call), then the verdicts: reference is proved,
the posted versions and a must-fail list of broken kernels are refuted
with counterexamples that replay, and "unknown" is never a pass.
"""
from __future__ import annotations

import json
import operator
import re

import pytest
import z3
from hypothesis import given, settings, strategies as st

from vcpcheck.checks import smt, symbolic
from vcpcheck.checks.cli import main
from vcpcheck.checks.explore import KernelModel, bfs
from vcpcheck.checks.harness import Harness
from vcpcheck.checks.symbolic import (Sym, SymbolicError, concretise, explore_paths,
                                      symbol, term)
from vcpcheck.checks.targets import TARGETS, Target, with_replacements
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.kernel import KernelOops
from vcpcheck.impl.symbols import base_symbols

SMALL = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)


def cfg_of(name, **opts):
    t = TARGETS[name]
    return next(c for c in t.configs(opts) if t.try_build(c)[1] is None)


def value_at(e, **values):
    """A term (or int) evaluated with the named 128-bit symbols set."""
    if isinstance(e, int):
        return e
    e = term(e)
    subs = [(z3.BitVec(n, 128), z3.BitVecVal(v, 128)) for n, v in values.items()]
    v = z3.simplify(z3.substitute(e, *subs)).as_long()
    return v - (1 << 128) if v >> 127 else v


# --- the encoding is Python's int arithmetic --------------------------------------------

BINOPS = [operator.add, operator.sub, operator.mul, operator.and_, operator.or_,
          operator.xor, operator.floordiv, operator.mod]
ints = st.integers(-(1 << 70), 1 << 70)


def _in_run(fn, **values):
    """fn() run symbolically with the symbols pinned to ``values``."""
    doms = [z3.BitVec(n, 128) == v for n, v in values.items()]
    paths = explore_paths(fn, doms)
    assert len(paths) == 1
    return value_at(paths[0].result, **values)


def _python(op, a, b):
    """Python's result, or the exception Python raises."""
    try:
        return op(a, b)
    except (ZeroDivisionError, ValueError) as e:
        return e


@settings(max_examples=300, deadline=None)
@given(a=ints, b=ints, op=st.sampled_from(BINOPS), swap=st.booleans(),
       near=st.sampled_from([0, 1 << 125, -(1 << 125)]))
def test_sym_arithmetic_is_python_int_arithmetic(a, b, op, swap, near):
    """Exact where Python's result fits 128 bits and Python does not raise;
    otherwise the path is refused (SymbolicError), never wrapped."""
    a += near                             # also near the edge of the encoding
    x = symbol("x")
    want = _python(op, b, a) if swap else _python(op, a, b)
    f = (lambda: op(b, x)) if swap else (lambda: op(x, b))
    if isinstance(want, Exception) or not -(1 << 127) <= want < (1 << 127):
        with pytest.raises(SymbolicError):
            _in_run(f, x=a)
    else:
        assert _in_run(f, x=a) == want


def test_truth_values_behave_as_python_bools():
    x = symbol("x")
    assert _in_run(lambda: int((x < 3) == 1), x=2) == 1          # True == 1
    assert _in_run(lambda: int((x < 3) == 1), x=5) == 0
    assert _in_run(lambda: ~(x < 3), x=2) == -2                  # ~True == -2
    assert _in_run(lambda: (x < 3) + 4, x=2) == 5
    with pytest.raises(SymbolicError, match="float"):
        _in_run(lambda: x == 2.0, x=2)


def test_code_under_test_cannot_swallow_a_refusal():
    """SymbolicError is a BaseException: ``except Exception`` in the code
    run symbolically does not turn a refused path into an ordinary one."""
    x = symbol("x")

    def sloppy():
        try:
            return (x << 100) >> 100
        except Exception:
            return 0
    with pytest.raises(SymbolicError, match="left shift"):
        explore_paths(sloppy, [x >= 0, x < (1 << 64)])


def test_code_that_branches_differently_when_rerun_is_refused():
    x, runs = symbol("x"), []

    def moody():
        runs.append(1)
        return 0 if (x < 5 if len(runs) == 1 else x < 10) else 1
    with pytest.raises(SymbolicError, match="not deterministic"):
        explore_paths(moody, [x >= 0, x < 20])


@settings(max_examples=100, deadline=None)
@given(a=st.integers(-(1 << 64), 1 << 64), n=st.integers(0, 60))
def test_sym_shifts_and_invert_are_pythons(a, n):
    x = symbol("x")
    assert _in_run(lambda: x >> n, x=a) == a >> n
    assert _in_run(lambda: x << n, x=a) == a << n
    assert _in_run(lambda: 1 << (x & 63), x=n) == 1 << n
    assert _in_run(lambda: ~x, x=a) == ~a
    assert _in_run(lambda: -x, x=a) == -a
    with pytest.raises(SymbolicError, match="negative count"):
        _in_run(lambda: 8 >> (x - 100), x=n)                # Python: ValueError


def test_a_shift_past_the_encoding_is_refused():
    x = symbol("x")
    with pytest.raises(SymbolicError, match="left shift"):
        explore_paths(lambda: x << 100, [x >= 0, x < (1 << 64)])


def test_each_path_starts_from_the_state_reset_puts_back():
    """A path that changes state (here a counter, as a store or a log line
    would) must not change what the next path sees; without reset it does."""
    x, state = symbol("x"), {"n": 0}

    def counts():
        state["n"] += 1
        return (0 if x < 5 else 1), state["n"]

    fresh = explore_paths(counts, [x >= 0, x < 10], reset=lambda: state.update(n=0))
    assert len(fresh) == 2 and [p.result[1] for p in fresh] == [1, 1]
    stale = explore_paths(counts, [x >= 0, x < 10])
    assert sorted(p.result[1] for p in stale) != [1, 1]


def test_paths_cover_the_domain_exactly_once():
    """Every input of the domain follows exactly one path."""
    x = symbol("x")

    def f():
        if x < 10:
            return x * 2
        return [5, 6, 7][x - 10] if x < 13 else None

    domain = [x >= 0, x < 20]
    paths = explore_paths(f, domain)
    assert len(paths) == 5           # x<10, x=10, 11, 12, x>=13
    conds = [z3.And(p.cond) if p.cond else z3.BoolVal(True) for p in paths]
    s = z3.Solver()
    s.add(*[d.b for d in domain], z3.Not(z3.Or(conds)))
    assert s.check() == z3.unsat                       # covered
    for i in range(len(conds)):
        for j in range(i):
            s = z3.Solver()
            s.add(conds[i], conds[j])
            assert s.check() == z3.unsat               # disjoint
    for v in range(20):
        hit = [p for p, c in zip(paths, conds)
               if z3.is_true(z3.simplify(z3.substitute(c, (x.e, z3.BitVecVal(v, 128)))))]
        assert len(hit) == 1
        want = v * 2 if v < 10 else ([5, 6, 7][v - 10] if v < 13 else None)
        got = hit[0].result
        assert (got is None and want is None) or value_at(got, x=v) == want


def test_kernel_oops_ends_a_path_not_the_run():
    cfg = Kconfig.make(**SMALL)
    k = Harness(cfg).k
    pfn = symbol("pfn")
    paths = explore_paths(lambda: k.PageTail(pfn), [pfn >= -2, pfn < 18])
    oopses = [p for p in paths if p.oops is not None]
    assert oopses and all(isinstance(p.oops, KernelOops) for p in oopses)
    assert any(p.result is False for p in paths)


def test_too_many_paths_is_an_error_not_a_result():
    x = symbol("x")
    with pytest.raises(SymbolicError, match="more than 3 paths"):
        explore_paths(lambda: concretise(x.e), [x >= 0, x < 100], max_paths=3)


def test_symbolic_value_outside_a_run_is_an_error():
    with pytest.raises(SymbolicError):
        bool(symbol("x") < 3)


# --- each symbolic run agrees with the concrete model, states within one call ----------

def _path_at(paths, **values):
    subs = [(z3.BitVec(n, 128), z3.BitVecVal(v, 128)) for n, v in values.items()]
    hit = [p for p in paths
           if all(z3.is_true(z3.simplify(z3.substitute(c, *subs))) for c in p.cond)]
    assert len(hit) == 1, (values, len(hit))
    return hit[0]


def _concrete(fn, *args):
    try:
        return fn(*args)
    except KernelOops:
        return "oops"


def _symbolic_result(path, **values):
    if path.oops is not None:
        return "oops"
    r = path.result
    if r is None or isinstance(r, (bool, tuple)):
        return r
    return value_at(r, **values)


@pytest.mark.parametrize("name,opts", [
    ("reference", dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=False)),
    ("v3", dict(ARCH="x86_64", VFALLBACK_ALWAYS=True)),
    ("v2", dict(ARCH="i386", HIGHMEM=True)),
])
def test_symbolic_runs_agree_with_the_concrete_model(name, opts):
    """For every state within one call: lookups at the first, middle and
    last word of each page, page_address of every pfn, and each flag
    predicate on each page give what the concrete call gives."""
    t = TARGETS[name]
    cfg = cfg_of(name, **opts)
    model = KernelModel(t, cfg)
    compared = 0

    def state(trace, h, _calls):
        nonlocal compared
        if h.dead:
            return
        k = h.k
        for ob in smt.resolve_obligations(model, h, []):
            paths = explore_paths(ob.run, ob.domain)
            addr = int(re.search(r"in \S+ (0x[0-9a-f]+)", ob.what).group(1), 16)
            fn = getattr(k, ob.what.split("(")[0])
            size = int(re.search(r"order (\d+)", ob.what).group(1))
            for off in range(0, (1 << size) * k.PAGE_SIZE, 2044):
                got = _symbolic_result(_path_at(paths, off=off), off=off)
                assert got == _concrete(fn, addr + off), (ob.what, off)
                compared += 1
        pa = smt.page_address_obligation(model, h, [])
        paths = explore_paths(pa.run, pa.domain)
        for pfn in range(k.nr_pages):
            got = _symbolic_result(_path_at(paths, pfn=pfn, off=8), pfn=pfn, off=8)
            a = k.page_address(pfn)
            want = ("no address",) if not a else smt._mmu_pfn(k, a + 8)
            assert got == want, pfn
            compared += 1
    assert bfs(model, 1, check=False, visit=state).complete
    assert compared > 100


def test_flag_predicates_agree_with_the_concrete_model():
    t = TARGETS["v3"]
    cfg = cfg_of("v3", ARCH="x86_64", VFALLBACK_ALWAYS=True)
    model = KernelModel(t, cfg)
    words = smt.FlagWords()
    bfs(model, 1, check=False,
        visit=lambda trace, h, _calls: None if h.dead else words.add(h, trace))
    checked = 0
    for ob in smt.flag_obligations(model.symbols, words, model.realise):
        pred = ob.what.split("(")[0]
        role = re.search(r"on every (.+) page", ob.what).group(1)
        paths = explore_paths(ob.run, ob.domain)
        for (f, pv), (trace, p) in words.seen[role].items():
            got = _path_at(paths, flags=f, private=pv).result
            assert got == getattr(model.realise(trace).k, pred)(p)
            checked += 1
    assert checked > 20


# --- verdicts -------------------------------------------------------------------------

@pytest.mark.parametrize("opts", [
    dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=False, VFALLBACK_ALWAYS=True),
    pytest.param(dict(ARCH="i386", HIGHMEM=True, PAGEFLAGS_EXTENDED=True,
                      VFALLBACK_ALWAYS=False), marks=pytest.mark.slow),
])
def test_reference_is_proved(opts):
    r = smt.run_smt(TARGETS["reference"], cfg_of("reference", **opts), depth=1)
    c = r.counts()
    assert r.violations == [] and r.unknown == [] and r.complete
    assert c["refuted"] == 0 and c["unknown"] == 0 and c["proved"] > 50
    assert r.strength.startswith("decided by z3 for all offsets of live objects")
    assert "all flag words of the" in r.strength and "within 1 call " in r.strength


PROBE = re.compile(r"^(\w+)\((0x[0-9a-f]+)\) is pfn (\d+), .* is pfn (\d+)")


def _replays(v, target):
    """Re-run a refutation on the real model: the trace, then the probe."""
    h = Harness(v.config, target.symbols(v.config), api=target.api).replay(v.trace)
    m = PROBE.match(v.message)
    name, x, got, want = m.group(1), int(m.group(2), 16), int(m.group(3)), int(m.group(4))
    assert getattr(h.k, name)(x) == got != want
    return True


def test_v3_physical_path_is_refuted_with_a_replayed_counterexample():
    """V3 04/14 asks the buddy allocator without __GFP_COMP: page 1's
    addresses resolve to page 1, not the head."""
    t = TARGETS["v3"]
    r = smt.run_smt(t, cfg_of("v3", ARCH="x86_64", VFALLBACK_ALWAYS=False), depth=1,
                    flag_depth=1)
    res = [v for v in r.violations if v.invariant == "addresses_resolve_to_head"]
    assert res and all(_replays(v, t) for v in res)
    # the least counterexample: the first byte of page 1
    assert all("(z3: off=0x1000;" in v.message for v in res)
    assert min(len(v.trace) for v in res) == 1


def test_v3_fallback_pages_test_as_head_and_tail_and_swap_cache():
    t = TARGETS["v3"]
    r = smt.run_smt(t, cfg_of("v3", ARCH="x86_64", VFALLBACK_ALWAYS=True), depth=1,
                    queries=("page_flags_match_roles",))
    msgs = [v.message for v in r.violations]
    assert any(m.startswith("PageTail(") and "True on a virtual compound head" in m
               for m in msgs)
    assert any(m.startswith("PageSwapCache(") for m in msgs)
    for v in r.violations:                      # each replays on the real model
        pred, pfn = re.match(r"(\w+)\(pfn (\d+)\) is (\w+)", v.message).group(1, 2), None
        name, p = pred
        h = Harness(v.config, t.symbols(v.config)).replay(v.trace)
        said = re.match(r"\w+\(pfn \d+\) is (\w+)", v.message).group(1)
        assert str(getattr(h.k, name)(int(p))) == said


def test_v5_physical_path_is_refuted_and_extended_flags_are_proved():
    t = TARGETS["v5"]
    r = smt.run_smt(t, cfg_of("v5", ARCH="x86_64", VIRTUALIZE_ALWAYS=False), depth=1,
                    flag_depth=1)
    assert any(v.invariant == "addresses_resolve_to_head" for v in r.violations)
    assert all(_replays(v, t) for v in r.violations
               if v.invariant == "addresses_resolve_to_head")
    r2 = smt.run_smt(t, cfg_of("v5", ARCH="x86_64", VIRTUALIZE_ALWAYS=True), depth=1,
                     queries=("page_flags_match_roles", "addresses_resolve_to_head"))
    assert r2.violations == [] and r2.counts()["proved"] > 0


def _broken(name, fn):
    return Target(f"broken-{name}", "test", with_replacements(base_symbols, {name: fn}),
                  [SMALL])


def _find_buddy_off_by_order(k, page, page_idx, order):
    return page + (1 << order)                 # forgets the buddy below


def _virt_to_page_off_by_one(k, kaddr):
    return k.pfn_to_page((k.__pa(kaddr) >> k.PAGE_SHIFT) + (kaddr & 0x800 != 0))


def _lowmem_page_address_next_page(k, page):
    return k.__va((k.page_to_pfn(page) + (page == 5)) << k.PAGE_SHIFT)


def _lowmem_page_address_null(k, page):
    return 0 if page == 5 else k.__va(k.page_to_pfn(page) << k.PAGE_SHIFT)


def _page_tail_any_compound(k, page):
    return k.PageCompound(page)                # heads test as tails too


MUST_FAIL = [
    ("__page_find_buddy", _find_buddy_off_by_order, "buddy_arithmetic"),
    ("virt_to_page", _virt_to_page_off_by_one, "addresses_resolve_to_page"),
    ("lowmem_page_address", _lowmem_page_address_next_page, "page_address_resolves_back"),
    ("page_address", _lowmem_page_address_null, "page_address_resolves_back"),
    ("PageTail", _page_tail_any_compound, "page_flags_match_roles"),
]


@pytest.mark.parametrize("name,fn,query", MUST_FAIL, ids=[m[0] for m in MUST_FAIL])
def test_smt_refutes_each_broken_kernel(name, fn, query):
    target = _broken(name, fn)
    cfg = target.configs()[0]
    r = smt.run_smt(target, cfg, depth=1, flag_depth=1)
    hits = [v for v in r.violations if v.invariant == query]
    assert hits, [v.message for v in r.violations]


def test_buddy_query_agrees_with_the_concrete_model():
    """The buddy obligation's symbolic paths give, at every aligned pfn and
    order, what the concrete functions give; the spec side agrees with a
    brute-force search for the other half of the aligned block."""
    t = TARGETS["base"]
    model = KernelModel(t, t.configs()[0])
    h = model.realise(())
    k = h.k
    ob = smt.buddy_obligation(model, h, [])
    paths = explore_paths(ob.run, ob.domain)
    mask = (1 << k.MAX_ORDER) - 1
    for order in range(k.MAX_ORDER - 1):
        for pfn in range(0, k.nr_pages, 1 << order):
            r = _path_at(paths, pfn=pfn, order=order).result
            got = tuple(value_at(x, pfn=pfn, order=order) for x in r)
            idx = pfn & mask
            assert got == (k.call("__page_find_buddy", pfn, idx, order),
                           k.call("__find_combined_index", idx, order))
            block = [q for q in range(0, 64, 1 << (order + 1)) if q <= pfn < q + (2 << order)]
            other = [b for b in (block[0], block[0] + (1 << order)) if b != pfn]
            assert got[0] == other[0] and got[1] == (block[0] & mask)


def test_a_refutation_that_does_not_replay_is_unknown():
    t = TARGETS["base"]
    model = KernelModel(t, t.configs()[0])
    h = model.realise(())
    ob = smt.buddy_obligation(model, h, [])
    ob.expect = lambda r: False                # a spec that disagrees with the model...
    o = smt.decide(ob)                         # ...but the concrete replay finds no problem
    assert o.status == "unknown" and "does not replay" in o.message


def test_base_is_proved():
    t = TARGETS["base"]
    r = smt.run_smt(t, t.configs()[0], depth=1, flag_depth=1)
    assert r.violations == [] and r.complete and r.counts()["proved"] > 20


def test_same_seed_same_verdict_and_messages():
    t = TARGETS["v3"]
    cfg = cfg_of("v3", ARCH="x86_64", VFALLBACK_ALWAYS=False)
    q = ("addresses_resolve_to_head", "page_flags_match_roles")
    a = smt.run_smt(t, cfg, depth=1, seed=3, queries=q)
    b = smt.run_smt(t, cfg, depth=1, seed=3, queries=q)
    assert [(v.invariant, v.message, v.trace) for v in a.violations] == \
        [(v.invariant, v.message, v.trace) for v in b.violations]
    assert a.counts() == b.counts()


# --- unknown is never a pass -------------------------------------------------------------

def test_an_undecided_obligation_is_unknown():
    t = TARGETS["reference"]
    model = KernelModel(t, cfg_of("reference", ARCH="i386", HIGHMEM=True))
    h = model.realise(())
    ob = smt.page_address_obligation(model, h, [])     # forks on PageHighMem
    o = smt.decide(ob, max_paths=2)
    assert o.status == "unknown" and "more than 2 paths" in o.message


def test_cli_unknown_is_not_a_pass(monkeypatch, capsys):
    def undecided(ob, **kw):
        return smt.Outcome("unknown", ob, 0, 0.0, "z3: timeout")
    monkeypatch.setattr(smt, "decide", undecided)
    code = main(["check", "reference", "--engine", "smt", "--jobs", "1",
                 "--config", "ARCH=x86_64", "--config", "PREEMPT=n",
                 "--config", "PAGEFLAGS_EXTENDED=n", "--config", "VFALLBACK_ALWAYS=y"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("reference: UNKNOWN")
    assert "unknown (smt, not a pass)" in out and "z3: timeout" in out


def test_cli_smt_json_reports_strength(capsys):
    code = main(["check", "reference", "--engine", "smt", "--json", "--jobs", "1",
                 "--config", "ARCH=x86_64", "--config", "PREEMPT=n",
                 "--config", "PAGEFLAGS_EXTENDED=y"])
    out = json.loads(capsys.readouterr().out)["targets"][0]
    assert code == 0 and out["verdict"] == "pass"
    assert "decided by z3 on" in out["stats"]["strength"]
    assert out["stats"]["smt"]["unknown"] == 0 and out["stats"]["smt"]["proved"] > 0


def test_smt_trace_files_replay(tmp_path, capsys):
    """--out writes an smt refutation as a trace file; `vcpcheck replay`
    reproduces it on V3 (the queries are decided again on the trace's last
    state) and not on reference."""
    code = main(["check", "v3", "--engine", "smt", "--jobs", "1", "--out", str(tmp_path),
                 "--config", "ARCH=x86_64", "--config", "PREEMPT=n",
                 "--config", "VFALLBACK_ALWAYS=n"])
    assert code == 1
    capsys.readouterr()
    files = sorted(f for f in tmp_path.glob("*.json") if not f.name.endswith(".itf.json"))
    assert files
    records = [json.loads(f.read_text()) for f in files]
    assert {r["invariant"] for r in records} <= set(smt.QUERIES)
    for f in files:
        assert main(["replay", str(f)]) == 1
        assert "reproduces on v3" in capsys.readouterr().out
        assert main(["replay", str(f), "--target", "reference"]) == 0
        assert "does not reproduce" in capsys.readouterr().out
    from vcpcheck.checks.traces import replay_record
    for r in records:                 # what the generated pytest files assert
        assert replay_record(r)[0] is True
        assert replay_record(r, target="reference") == (False, [])


@pytest.mark.slow
@pytest.mark.parametrize("depth,flag_depth", [(1, 1), (1, 2), (2, 2)])
def test_reference_is_proved_in_every_configuration(depth, flag_depth):
    t = TARGETS["reference"]
    for cfg in t.configs():
        r = smt.run_smt(t, cfg, depth=depth, flag_depth=flag_depth)
        assert r.violations == [] and r.complete, cfg.short()


# --- z3 is bounded by its resource count, not the clock -----------------------------------

def _factoring(x, y):
    """A branch on a 64-bit factoring problem: hard for z3 (bit-blasted
    multiplication), so a small rlimit cannot decide it."""
    return 1 if x * y == 0xFFFFFFFB * 0xFFFFFFBF else 0


def test_a_tiny_rlimit_leaves_a_hard_branch_unknown_naming_the_resource_limit():
    x, y = symbol("x"), symbol("y")
    dom = [x > 1, y > 1, x < (1 << 32), y < (1 << 32)]
    with pytest.raises(SymbolicError, match=r"resource limit \(rlimit 20000; "
                                            r"deterministic\)"):
        explore_paths(lambda: _factoring(x, y), dom, limits=symbolic.Limits(rlimit=20000))


def test_decide_is_a_function_of_the_rlimit():
    """The same obligation gets the same outcome run after run; below the
    rlimit its checks need it is unknown, with z3's reason and the
    resource limit named (deterministic, not a load-dependent timeout)."""
    t = TARGETS["v3"]
    h = KernelModel(t, cfg_of("v3", ARCH="x86_64", VFALLBACK_ALWAYS=False)).realise(())
    h.alloc_vcompound(GFP_KERNEL, 1)    # order 1: V3's physical path, no __GFP_COMP

    def ob():
        obs = smt.resolve_obligations(None, h, [])
        o = next(o for o in obs if o.query == "addresses_resolve_to_head")
        o.reset = smt._resetter(h)
        return o
    a, b = smt.decide(ob()), smt.decide(ob())
    assert a.status == b.status == "refuted"
    assert (a.message, a.values) == (b.message, b.values) and a.rlimit_used > 0
    tiny = smt.decide(ob(), rlimit=500)         # its branches need more than that
    assert tiny.status == "unknown" and smt.decide(ob(), rlimit=500).message == tiny.message
    assert re.search(r"z3 ran out of its resource limit \(rlimit 500; deterministic\): "
                     r"\S", tiny.message), tiny.message
    assert "wall-clock" not in tiny.message


def test_the_default_limits_are_a_resource_count_with_a_far_larger_clock():
    """What decides an unknown is symbolic.RLIMIT; the wall-clock net is
    far above the time a check of RLIMIT takes (a hard branch at a 1/100
    of RLIMIT stops on the rlimit, well inside the net)."""
    lim = symbolic.Limits(rlimit=symbolic.RLIMIT // 100)
    s = lim.solver()
    x, y = z3.BitVecs("x y", 128)
    s.add(x * y == (1 << 61) - 1, x > 1, y > 1, x < (1 << 64), y < (1 << 64))
    r, why = lim.check(s)
    assert r == z3.unknown and why.startswith("z3 ran out of its resource limit"), why
    assert symbolic.WALL_CLOCK_NET_MS >= 60_000


def test_an_unknown_from_the_wall_clock_net_says_it_depends_on_the_load():
    lim = symbolic.Limits(rlimit=0, wall_clock_ms=200)         # no rlimit: the clock
    s = lim.solver()
    x, y = z3.BitVecs("x y", 128)
    s.add(x * y == (1 << 61) - 1, x > 1, y > 1, x < (1 << 64), y < (1 << 64))
    r, why = lim.check(s)
    assert r == z3.unknown
    assert why.startswith("z3 hit the wall-clock safety net (0.2s") and "load" in why, why


def test_an_unknown_reaches_the_report_with_the_resource_limit(monkeypatch, capsys):
    monkeypatch.setattr(symbolic, "RLIMIT", 200)
    code = main(["check", "reference", "--engine", "smt", "--jobs", "1",
                 "--config", "ARCH=x86_64", "--config", "PREEMPT=n",
                 "--config", "PAGEFLAGS_EXTENDED=n", "--config", "VFALLBACK_ALWAYS=y"])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("reference: UNKNOWN")
    assert re.search(r"unknown \(smt, not a pass\): .*z3 ran out of its resource limit "
                     r"\(rlimit 200; deterministic\)", out), out


# --- cut by the budget and left unknown by z3 are two facts -------------------------------

def test_a_budget_cut_is_cut_not_unknown():
    t = TARGETS["reference"]
    r = smt.run_smt(t, cfg_of("reference", ARCH="x86_64"), depth=1, budget=0.0)
    assert r.cut and r.unknown == [] and r.counts()["unknown"] == 0
    assert not r.complete and "the budget ran out" in r.strength


def test_an_undecided_query_is_unknown_not_cut():
    t = TARGETS["base"]
    r = smt.run_smt(t, t.configs()[0], depth=0, flag_depth=0,
                    queries=("buddy_arithmetic",), rlimit=100)
    assert not r.cut and not r.complete and r.counts()["unknown"] == 1
    assert len(r.unknown) == 1 and "resource limit (rlimit 100" in r.unknown[0]
    ok = smt.run_smt(t, t.configs()[0], depth=0, flag_depth=0,
                     queries=("buddy_arithmetic",))
    assert ok.complete and not ok.cut and ok.unknown == [] and ok.counts()["proved"] == 1


def test_stopping_after_a_refutation_is_neither_cut_nor_unknown():
    t = TARGETS["v3"]
    r = smt.run_smt(t, cfg_of("v3", ARCH="x86_64", VFALLBACK_ALWAYS=False), depth=1,
                    stop_after=1)
    assert r.stopped and not r.cut and r.unknown == [] and not r.complete
    assert len(r.violations) == 1
