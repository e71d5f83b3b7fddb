"""The smt engine: bounded z3 queries over the target's own code.

Each query asks a "for all" question of the target's functions, run on z3
bit-vectors by checks/symbolic.py (never a hand-written copy of them):

  addresses_resolve_to_head   for every live compound object of every state
      reachable in <= depth calls, and every byte offset inside it, the
      API's head lookup (vcompound_head_page, or V2's virt_to_head_page;
      virt_to_head_page for compound pages from alloc_pages) gives the head;
  addresses_resolve_to_page   ... and the page lookup of the backing
      (virt_to_page, vmalloc_to_page) gives the page the MMU maps there;
  page_address_resolves_back  for every pfn and offset, page_address(page)
      + offset is an address of that page (the MMU's translation, from the
      model's linear map and page tables);
  page_flags_match_roles      every page-flag predicate (PageHead,
      PageTail, PageCompound, PageSwapCache, PageVcompound) answers as the
      page's role says, for every (flags, private) word pair the target
      left on a page of that role in the reachable states: a tail never
      tests as a head, nothing tests as swap cache;
  buddy_arithmetic            for every pfn and every order below
      MAX_ORDER - 1 at which the pfn is aligned, __page_find_buddy and
      __find_combined_index give the textbook buddy and merged block.

A query instance is an ``Obligation``.  Its result is ``proved`` (no path
of the target's code violates it for any input of the domain), ``refuted``
(z3's model, replayed as a concrete call on the real model, which must
reproduce the problem), or ``unknown`` (z3's reason, too many paths, or a
refutation that did not replay): never a pass.  Solver seeds are fixed,
and every z3 check is bounded by z3's resource count (symbolic.RLIMIT),
not by the clock, so the verdict does not depend on the machine's load.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import z3

from vcpcheck.impl import memory
from vcpcheck.impl.gfp import __GFP_COMP as GFP_COMP
from vcpcheck.impl.kernel import KernelOops
from vcpcheck.spec.invariants import area_pages, free_map
from vcpcheck.spec.vcompound import object_layout

from .explore import KernelModel, bfs
from .stateful import Violation, signature
from .symbolic import (Limits, Sym, SymbolicError, constraints, explore_paths, symbol,
                       term, value_in)

QUERIES = ("addresses_resolve_to_head", "addresses_resolve_to_page",
           "page_address_resolves_back", "page_flags_match_roles",
           "buddy_arithmetic")


@dataclass
class Obligation:
    query: str
    what: str                        # the instance, in words
    inputs: dict                     # name -> Sym
    domain: list                     # z3 Bool terms on the inputs
    run: Callable                    # () -> result of the target's code (symbolic)
    expect: Callable                 # (result) -> z3 Bool or bool: what the spec wants
    replay: Callable                 # ({name: int}) -> problem message or None
    trace: list = field(default_factory=list)    # harness calls to the state
    # () -> None: puts the state back before each path and the replay (a path
    # may store or log; the next must not see it).  None: nothing to put back.
    reset: Callable = None


@dataclass
class Outcome:
    status: str                      # proved | refuted | unknown
    obligation: Obligation
    paths: int = 0
    seconds: float = 0.0
    message: str = ""                # refuted: the replayed problem; unknown: why
    values: dict = field(default_factory=dict)
    rlimit_used: int = 0             # the most z3 rlimit one decided check used


# --- deciding an obligation -------------------------------------------------------------

def decide(ob: Obligation, seed=0, rlimit=None, max_paths=512) -> Outcome:
    """Prove, refute (with a replayed counterexample) or give up on ``ob``.

    Every z3 check is bounded by ``rlimit`` (z3's deterministic resource
    count; default symbolic.RLIMIT), never by the machine's speed or load.
    """
    t0 = time.monotonic()
    limits = Limits(rlimit, seed)

    def outcome(status, paths, message="", values=None):
        return Outcome(status, ob, paths, time.monotonic() - t0, message, values or {},
                       limits.most_used)
    try:
        paths = explore_paths(ob.run, ob.domain, max_paths, limits, ob.reset)
    except SymbolicError as e:
        return outcome("unknown", 0, str(e))
    found = []                         # the least counterexample of each violating path
    for p in paths:
        try:
            ok = False if p.oops is not None else ob.expect(p.result)
        except SymbolicError:          # a result the spec cannot compare: not equal
            ok = False
        if ok is True or (not isinstance(ok, bool) and z3.is_true(z3.simplify(ok))):
            continue
        s = limits.solver()
        s.add(*constraints(ob.domain), *p.cond)
        if ok is not False:
            s.add(z3.Not(ok))
        r, why = limits.check(s)
        if r == z3.unsat:
            continue
        if r == z3.unknown:
            return outcome("unknown", len(paths), why)
        found.append(_smallest(ob, p, ok, limits) or {
            n: value_in(s.model(), v) for n, v in ob.inputs.items()})
    if not found:
        return outcome("proved", len(paths))
    # The least over all violating paths (inputs compared in order, as
    # unsigned words): the same whatever order z3 let the paths come in.
    mask = (1 << 128) - 1
    values = min(found, key=lambda v: tuple(x & mask for x in v.values()))
    if ob.reset is not None:
        ob.reset()
    problem = ob.replay(values)
    shown = ", ".join(f"{n}={v:#x}" for n, v in values.items())
    if problem is None:
        return outcome("unknown", len(paths),
                       f"z3's counterexample ({shown}) does not replay on the "
                       f"concrete model (an encoding disagreement)", values)
    return outcome("refuted", len(paths),
                   f"{problem} (z3: {shown}; replayed on the model)", values)


def _smallest(ob, path, ok, limits):
    """The least counterexample on this path, inputs minimised in order:
    the same whatever model z3 happened to find first (determinism), and
    the easiest to read (the first offset that fails).  None if z3 cannot
    minimise within the limits (the caller keeps the solver's model, which
    is as deterministic under an rlimit, only not the least)."""
    opt = limits.optimize()
    opt.set("priority", "lex")
    opt.add(*constraints(ob.domain), *path.cond)
    if ok is not False:
        opt.add(z3.Not(ok))
    for v in ob.inputs.values():
        opt.minimize(v.e)
    if limits.check(opt)[0] != z3.sat:
        return None
    return {n: value_in(opt.model(), v) for n, v in ob.inputs.items()}


def _concrete(fn, *args):
    """Call target code concretely: its result, or the KernelOops it raised."""
    try:
        return fn(*args)
    except KernelOops as e:
        return e


def _show(r) -> str:
    if isinstance(r, KernelOops):
        return f"oopses ({r.message})"
    if r is None:
        return "NULL"
    return f"pfn {r}" if isinstance(r, int) else repr(r)


def _eq(result, want):
    """result == want as a term (want: an int, a Sym or a z3 term); a
    result that is not a number (NULL, a tuple) is never equal."""
    if isinstance(result, (int, Sym)) and not isinstance(result, bool):
        return term(result) == (want if isinstance(want, z3.ExprRef) else term(want))
    return False


def _select(index: Sym, values: list, default: int = -1):
    """values[index] as a term (the spec's side: a concrete table)."""
    e = z3.BitVecVal(default, index.e.size())
    for i in reversed(range(len(values))):
        v = default if values[i] is None else values[i]
        e = z3.If(index.e == i, z3.BitVecVal(v, index.e.size()), e)
    return e


# --- the live objects of a state (the spec's side) ---------------------------------------

def compound_objects(h):
    """(allocation, address, [pfn of page i], virtual, head lookup name) of
    every live compound object the callers hold."""
    k, out = h.k, []
    for a in h.ledger:
        if a.order == 0:
            continue
        if a.kind in ("vcompound", "vcompound_page"):
            addr, pfns, virtual = object_layout(k, a)
            out.append((a, addr, pfns, virtual, k.api_head_page))
        elif a.kind in ("page", "addr") and a.gfp & GFP_COMP:
            pfn = a.handle if a.kind == "page" else (a.handle - k.PAGE_OFFSET) >> k.PAGE_SHIFT
            if pfn + (1 << a.order) <= k.lowmem_pages:
                pfns = list(range(pfn, pfn + (1 << a.order)))
                out.append((a, k.PAGE_OFFSET + (pfn << k.PAGE_SHIFT), pfns, False,
                            "virt_to_head_page"))
    return out


def _mmu_pfn(k, x):
    where = memory.resolve(k, x)
    return None if where is None or where[0] is None else where[0]


# --- the queries ------------------------------------------------------------------------

def resolve_obligations(model, h, trace, objects=None):
    """addresses_resolve_to_head and addresses_resolve_to_page, per object
    (``objects``: compound_objects(h), if the caller has it)."""
    k, out = h.k, []
    objects = compound_objects(h) if objects is None else objects
    for a, addr, pfns, virtual, head_name in objects:
        if any(p is None for p in pfns) or head_name not in k.symbols:
            continue
        size = len(pfns) << k.PAGE_SHIFT
        what = f"{a.kind} {addr:#x} order {a.order}"
        head = pfns[0]
        off = symbol("off")
        lookup = getattr(k, head_name)
        out.append(Obligation(
            "addresses_resolve_to_head", f"{head_name}(x) for every x in {what}",
            {"off": off}, [z3.ULT(off.e, size)],
            lambda lookup=lookup, addr=addr, off=off: lookup(addr + off),
            lambda r, head=head: _eq(r, head),
            lambda v, lookup=lookup, addr=addr, head=head, name=head_name, what=what:
                _replay_lookup(lookup, name, addr + v["off"], head, f"the head of {what}"),
            trace))
        page_name = "vmalloc_to_page" if virtual else "virt_to_page"
        plookup = getattr(k, page_name)
        off2 = symbol("off")
        out.append(Obligation(
            "addresses_resolve_to_page", f"{page_name}(x) for every x in {what}",
            {"off": off2}, [z3.ULT(off2.e, size)],
            lambda plookup=plookup, addr=addr, off=off2: plookup(addr + off),
            lambda r, off=off2, pfns=pfns, k=k: _eq(
                r, _select(off >> k.PAGE_SHIFT, pfns)),
            lambda v, plookup=plookup, addr=addr, pfns=pfns, name=page_name, k=k, what=what:
                _replay_lookup(plookup, name, addr + v["off"],
                               pfns[v["off"] >> k.PAGE_SHIFT],
                               f"the page mapped there in {what}"),
            trace))
    return out


def _replay_lookup(fn, name, x, want, role):
    got = _concrete(fn, x)
    if got == want and not isinstance(got, KernelOops):
        return None
    return f"{name}({x:#x}) {_show(got) if isinstance(got, KernelOops) else 'is ' + _show(got)}, {role} is pfn {want}"


def page_address_obligation(model, h, trace):
    """page_address_resolves_back: page_address(pfn) + off maps to pfn."""
    k = h.k
    pfn, off = symbol("pfn"), symbol("off")

    def run():
        a = k.page_address(pfn)
        if not a:
            return ("no address",)
        return _mmu_pfn(k, a + off)

    def expect(r):
        if isinstance(r, tuple):       # NULL: only a highmem page not kmapped
            return pfn.e >= k.lowmem_pages
        return _eq(r, pfn)

    def replay(v):
        a = _concrete(k.page_address, v["pfn"])
        if isinstance(a, KernelOops):
            return f"page_address(pfn {v['pfn']}) {_show(a)}"
        if not a:
            if v["pfn"] >= k.lowmem_pages:
                return None
            return f"page_address(pfn {v['pfn']}) is NULL for a lowmem page"
        got = _mmu_pfn(k, a + v["off"])
        if got == v["pfn"]:
            return None
        return (f"page_address(pfn {v['pfn']}) is {a:#x}, and {a + v['off']:#x} "
                f"maps {'nothing' if got is None else f'pfn {got}'}")

    return Obligation("page_address_resolves_back",
                      "page_address(page) + off for every pfn and offset",
                      {"pfn": pfn, "off": off},
                      [pfn >= 0, pfn < k.nr_pages, off >= 0, off < k.PAGE_SIZE],
                      run, expect, replay, trace)


def buddy_obligation(model, h, trace):
    """buddy_arithmetic: the buddy and merged index of every aligned block."""
    k = h.k
    pfn, order = symbol("pfn"), symbol("order")
    mask = (1 << k.MAX_ORDER) - 1

    def run():
        idx = k.page_to_pfn(pfn) & mask
        return (k.call("__page_find_buddy", pfn, idx, order),
                k.call("__find_combined_index", idx, order))

    def spec(p, o):
        # The buddy of an aligned 2^o block is the other half of the aligned
        # 2^(o+1) block holding it; the merged block starts at that block.
        idx = p & mask
        return p ^ (1 << o), (idx >> (o + 1)) << (o + 1)

    def expect(r):
        buddy, combined = spec(pfn.e, order.e)        # the spec's side: plain z3 terms
        if not isinstance(r, tuple) or len(r) != 2:
            return False
        return z3.And(term(r[0]) == buddy, term(r[1]) == combined)

    def replay(v):
        p, o = v["pfn"], v["order"]
        got = (_concrete(k.call, "__page_find_buddy", p, p & mask, o),
               _concrete(k.call, "__find_combined_index", p & mask, o))
        want = spec(p, o)
        if got == want:
            return None
        return (f"__page_find_buddy/__find_combined_index at pfn {p} order {o} give "
                f"{got}, the buddy and merged index are {want}")

    return Obligation("buddy_arithmetic",
                      f"every pfn < {k.nr_pages}, order < {k.MAX_ORDER - 1}, aligned",
                      {"pfn": pfn, "order": order},
                      [pfn >= 0, pfn < k.nr_pages, order >= 0, order < k.MAX_ORDER - 1,
                       (pfn.e & ((1 << order.e) - 1)) == 0],
                      run, expect, replay, trace)


# --- page-flag roles --------------------------------------------------------------------

# What each predicate must answer for a page of a role (None: the spec
# does not say).  No page of the model is in the swap cache.
ROLE_EXPECT = {
    "compound head": dict(PageHead=True, PageTail=False, PageCompound=True,
                          PageSwapCache=False, PageVcompound=False),
    "compound tail": dict(PageHead=False, PageTail=True, PageCompound=True,
                          PageSwapCache=False, PageVcompound=False),
    "virtual compound head": dict(PageHead=True, PageTail=False, PageCompound=True,
                                  PageSwapCache=False, PageVcompound=True),
    "virtual compound tail": dict(PageHead=False, PageTail=True, PageCompound=True,
                                  PageSwapCache=False, PageVcompound=None),
    "allocated, not compound": dict(PageHead=False, PageTail=False, PageCompound=False,
                                    PageSwapCache=False, PageVcompound=False),
    "free": dict(PageHead=False, PageTail=False, PageCompound=False,
                 PageSwapCache=False, PageVcompound=False),
}


def page_roles(h) -> dict[int, str]:
    """pfn -> role, for the pages whose role the callers' ledger decides."""
    k, roles = h.k, {}
    for p in free_map(k):
        roles[p] = "free"
    for a in h.ledger:
        plain = []
        if a.kind in ("page", "pin") and not (a.order and a.gfp & GFP_COMP):
            plain = list(range(a.handle, a.handle + (1 << a.order)))
        elif a.kind == "addr" and not (a.order and a.gfp & GFP_COMP):
            first = (a.handle - k.PAGE_OFFSET) >> k.PAGE_SHIFT
            plain = list(range(first, first + (1 << a.order)))
        elif a.kind == "vmalloc":
            area = next((x for x in k.vmlist if x.addr == a.handle), None)
            plain = [p for p in (area_pages(k, area) if area else []) if p is not None]
        elif a.kind in ("vcompound", "vcompound_page") and a.order == 0:
            _addr, plain, _v = object_layout(k, a)
        for p in plain:
            if p is not None and 0 <= p < k.nr_pages:
                roles[p] = "allocated, not compound"
    for _a, _addr, pfns, virtual, _name in compound_objects(h):
        if any(p is None for p in pfns) or len(set(pfns)) != len(pfns):
            continue
        kind = "virtual compound" if virtual else "compound"
        roles[pfns[0]] = f"{kind} head"
        for p in pfns[1:]:
            roles[p] = f"{kind} tail"
    return roles


class FlagWords:
    """The (flags, private) pairs the target left on pages of each role, and
    where each was first seen (the trace to the state, the pfn)."""

    def __init__(self):
        self.seen: dict[str, dict[tuple, tuple]] = {}

    def add(self, h, trace):
        k = h.k
        for p, role in page_roles(h).items():
            self.seen.setdefault(role, {}).setdefault(
                (k.flags[p], k.private[p]), (trace, p))


def flag_obligations(symbols, words: FlagWords, realise):
    """page_flags_match_roles: one obligation per role and predicate
    (``symbols``: the build's symbol table, for which predicates it has)."""
    out = []
    for role in sorted(words.seen):
        pairs = words.seen[role]
        trace0, p0 = next(iter(pairs.values()))
        h0 = None                      # the first state of the role, built once
        for pred, want in ROLE_EXPECT[role].items():
            if want is None or pred not in symbols:
                continue
            if h0 is None:
                h0 = realise(trace0)
                reset = _resetter(h0)
            k = h0.k
            w, pv = symbol("flags"), symbol("private")
            domain = [z3.Or([z3.And(w.e == f, pv.e == v) for f, v in pairs])]

            def run(k=k, p0=p0, pred=pred, w=w, pv=pv):
                saved = k.flags[p0], k.private[p0]
                k.flags[p0], k.private[p0] = w, pv
                try:
                    return bool(getattr(k, pred)(p0))
                finally:
                    k.flags[p0], k.private[p0] = saved

            ob = Obligation(
                "page_flags_match_roles",
                f"{pred}() is {want} on every {role} page ({len(pairs)} flag words)",
                {"flags": w, "private": pv}, domain, run,
                lambda r, want=want: r is want, None, [], reset)

            def replay(v, pairs=pairs, pred=pred, want=want, role=role, ob=ob):
                where = pairs.get((v["flags"], v["private"]))
                if where is None:
                    return None
                trace, p = where
                hh = realise(trace)
                got = _concrete(getattr(hh.k, pred), p)
                if got == want:
                    return None
                ob.trace = [dict(e) for e in hh.trace]
                src = hh.k.symbols[pred].source
                shown = _show(got) if isinstance(got, KernelOops) else got
                return (f"{pred}(pfn {p}) is {shown} on a {role} page (flags "
                        f"{v['flags']:#x}); {pred} is from {src}")

            ob.replay = replay
            out.append(ob)
    return out


# --- the engine ------------------------------------------------------------------------

@dataclass
class SmtResult:
    violations: list = field(default_factory=list)
    tally: dict = field(default_factory=lambda: {"proved": 0, "refuted": 0, "unknown": 0})
    paths: int = 0
    states: int = 0
    depth: int = 1
    flag_states: int = 0
    flag_depth: int = 2
    skipped: int = 0               # objects with an unmapped page: left to the invariants
    # The budget ran out: the walk of the states or the queries were cut
    # short (not z3's doing; what z3 left undecided is ``unknown``).
    cut: bool = False
    stopped: bool = False          # stop_after refutations were in (the benchmark's stop)
    seconds: float = 0.0
    strength: str = ""
    unknown: list = field(default_factory=list)   # "query: instance: why", z3's reason in it
    rlimit_used: int = 0           # the most z3 rlimit one decided check used

    @property
    def complete(self) -> bool:
        """Every query decided on every state: nothing cut, nothing stopped
        early, nothing left unknown."""
        return not (self.cut or self.stopped or self.unknown)

    def counts(self) -> dict:
        """Obligations proved, refuted and left unknown (plain ints: the
        result crosses the --jobs process pool, z3 objects cannot)."""
        return dict(self.tally)


def _calls(n):
    return f"{n} call{'s' if n != 1 else ''}"


def state_problems(h, queries=QUERIES, seed=0) -> list[tuple[str, str]]:
    """(query, problem) refuted on this one state, with the flag words of
    this state only: how a trace file of an smt violation is replayed.
    An obligation z3 leaves undecided is reported as a problem too."""
    obs = [buddy_obligation(None, h, []), page_address_obligation(None, h, [])]
    obs += resolve_obligations(None, h, [])
    words = FlagWords()
    words.add(h, ())
    obs += flag_obligations(h.k.symbols, words, lambda _trace: h)
    out, reset = [], _resetter(h)
    for ob in obs:
        if ob.query not in queries:
            continue
        ob.reset = reset
        o = decide(ob, seed=seed)
        if o.status != "proved":
            out.append((ob.query, o.message if o.status == "refuted"
                        else f"unknown: {ob.what}: {o.message}"))
    return out


def _resetter(h):
    """A reset for obligations on ``h``: back to its state now."""
    snap = h.snapshot()
    return lambda: h.restore(snap)


def _trace_entries(h):
    return [dict(e) for e in h.trace]


class _Stop(Exception):
    """The first refutation is in (``stop_after``): the benchmark's clock."""


def run_smt(target, cfg, depth=1, budget=None, seed=0, queries=QUERIES,
            stop_after=None, timings=None, flag_depth=None, rlimit=None) -> SmtResult:
    """Decide every query instance on the states within ``depth`` calls;
    the flag words are gathered from the states within ``flag_depth``
    calls (default: ``depth``; one query per role and predicate decides
    them all, so a deeper gathering costs only the states' enumeration).

    ``stop_after``: stop after that many refutations (the verdict is then
    partial).  ``timings``: a dict that collects, per query, the seconds
    each obligation took (for bench/).  ``rlimit``: z3's resource limit per
    check (default symbolic.RLIMIT).

    ``res.cut``: the budget ran out; ``res.unknown``: what z3 (or the
    symbolic run) left undecided, with the reason; ``res.complete``: neither,
    and not stopped early.
    """
    flag_depth = depth if flag_depth is None else max(flag_depth, depth)
    start = time.monotonic()
    model = KernelModel(target, cfg)
    res = SmtResult(depth=depth)
    words = FlagWords()
    flag_states = 0
    found: dict = {}

    def settle(ob):
        left = None if budget is None else budget - (time.monotonic() - start)
        if left is not None and left <= 0:
            raise TimeoutError
        o = decide(ob, seed=seed, rlimit=rlimit)
        res.tally[o.status] += 1
        res.paths += o.paths
        res.rlimit_used = max(res.rlimit_used, o.rlimit_used)
        if timings is not None:
            timings.setdefault(ob.query, []).append(o.seconds)
        if o.status == "refuted":
            sig = signature(ob.query, o.message)
            if sig not in found:
                found[sig] = o
            if stop_after and len(found) >= stop_after:
                raise _Stop
        elif o.status == "unknown":
            res.unknown.append(f"{ob.query}: {ob.what}: {o.message}")

    booted_dead: list = []

    def state(trace, h, calls):
        nonlocal flag_states
        if not trace and h.dead:
            # the kernel oopsed while booting: there is nothing to ask z3
            # about, and the oops is the answer (never a pass)
            booted_dead.extend(h.violations())
        if "page_flags_match_roles" in queries and not h.dead:
            words.add(h, trace)
            flag_states += 1
        if calls > depth:
            return
        res.states += 1
        entries = _trace_entries(h)
        obs = []
        if not trace and "buddy_arithmetic" in queries:
            obs.append(buddy_obligation(model, h, entries))
        if not h.dead:
            if "page_address_resolves_back" in queries:
                obs.append(page_address_obligation(model, h, entries))
            objects = compound_objects(h)
            res.skipped += sum(1 for _a, _x, pfns, _v, name in objects
                               if any(p is None for p in pfns) or name not in h.k.symbols)
            if {"addresses_resolve_to_head", "addresses_resolve_to_page"} & set(queries):
                obs.extend(o for o in resolve_obligations(model, h, entries, objects)
                           if o.query in queries)
        reset = _resetter(h)
        for ob in obs:
            ob.reset = reset
            settle(ob)

    try:
        # Every distinct state within flag_depth calls, breadth first (the
        # explore engine's walk, its invariants left to it).
        walk = bfs(model, flag_depth, None if budget is None else
                   max(0.0, budget - (time.monotonic() - start)), check=False, visit=state)
        if not walk.complete:
            raise TimeoutError
        if "page_flags_match_roles" in queries:
            for ob in flag_obligations(model.symbols, words, model.realise):
                settle(ob)
    except TimeoutError:
        res.cut = True
    except _Stop:
        res.stopped = True
    res.seconds = time.monotonic() - start
    c = res.counts()
    res.flag_states = flag_states
    res.flag_depth = flag_depth
    how = ("decided" if res.complete else
           "partly decided (the budget ran out)" if res.cut else "partly decided")
    res.strength = (f"{how} by z3 for all "
                    f"offsets of live objects, pfns and orders of the {res.states} states "
                    f"within {_calls(depth)} and all flag words of the {flag_states} "
                    f"live states within {_calls(flag_depth)} ({cfg.mem_pages} pages, "
                    f"MAX_ORDER {cfg.FORCE_MAX_ZONEORDER}): {c['proved']} proved, "
                    f"{c['refuted']} refuted, {c['unknown']} unknown"
                    + (f"; {res.skipped} objects with an unmapped page not queried "
                       f"(the invariants report them)" if res.skipped else ""))
    for o in found.values():
        entries = o.obligation.trace
        res.violations.append(Violation(o.obligation.query, o.message, entries, cfg,
                                        engine="smt", strength=res.strength))
    for inv, msg in booted_dead:
        res.violations.append(Violation(inv, msg, [], cfg, engine="smt",
                                        strength="the kernel oopsed while booting"))
    return res

