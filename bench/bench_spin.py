"""Benchmark: the explore engine against SPIN on the same bounded system.

    python bench/bench_spin.py [--bounds 8:3,8:4,10:3] [--cc-opts -O0,-O2]
                               [--unsorted 8:3] [--nohash-cap N]
                               [--scale 8:3,10:3,12:3,16:3] [--only-scale]

First comes the time-to-verdict table (issue 12, ``bench_scale``): at each
--scale bound, the explore engine's default search (stale words merged,
block symmetry, checks/symmetry.py) run in a fresh process, so that the
interpreter's start and imports are in its cpu seconds, against pan at
each --cc-opts level, with spin -a, gcc and pan timed apart; states,
transitions, microseconds per transition (cpu) and peak memory; and, from
a second, untimed run (``calls_child``), the floor under explore's time:
the interpreter's start with the model's build, plus the seconds spent in
the kernel model's own calls (alloc_pages, __free_pages), which any
engine running this model pays.  Up to 12
pages, explore's counts are cross-checked against a brute-force
enumeration of the orbits (``abstract_orbits``).  16 pages takes minutes
on both sides.  The LocalCluster speed-up on 2 workers is
bench/bench_dist.py's.  Then, for each --bounds bound:

Issue 4 asks for a time to verdict ahead of a C model checker on the same
bounded system.  The system here is the buddy allocator of ``base`` (the
2.6.25 memory manager) at each bound NPAGES:MAX_ORDER.  Two calls drive it:
``alloc_pages(GFP_KERNEL, order)`` for every order below MAX_ORDER
(``__GFP_COMP`` above 0), and ``__free_pages`` of each held allocation
(``BuddyModel``).  It is checked with the invariants that apply to it
(``BUDDY_INVARIANTS``).  bench/spin/buddy.pml is the same system in
Promela; ``write_model`` fixes its bound and mode.

Bench configuration: ``base``'s first buildable configuration (x86_64,
PAGEFLAGS_EXTENDED=y, pages_min 0, and a 64-page vmalloc window that
nothing here uses), with mem_pages and FORCE_MAX_ZONEORDER set to the
bound.  The bounds are 8:3, 8:4 and 10:3 unless --bounds says otherwise.
Each bound gets these rows:

- explore, hash: ``bfs`` from checks/explore.py on ``BuddyModel``, to
  closure (depth 10**6).  The bench checks that the frontier emptied.
  "build" is the model's construction (its symbol table) and "run" is the
  search, boot included.  The interpreter's start and imports are timed
  once, separately.  "states" are the engine's own (its canonical key).
  "abstract" counts the distinct projections (ordered free lists, sorted
  held (pfn, order)), taken in a second, untimed run.
- explore, hash, stale merged: the same search with
  ``KernelModel(stale=True)``, the explore engine's default (run_explore):
  states that differ only in stale struct page words are merged, under the
  audit that keeps the merge exact (checks/explore.py StaleWords).  Its
  states and transitions join the cross-check.
- explore, none: ``bfs(hash_states=False)``.  Without state matching the
  search never closes (alloc/free cycles).  It runs only to the deepest
  depth whose tree of call sequences has at most --nohash-cap nodes.  The
  tree's size at the closure depth is computed exactly from the abstract
  graph, and so is the time it would take at the measured rate.
- spin: ``spin -a``, ``gcc -DSAFETY`` at each --cc-opts level, and
  ``./pan``, each timed.  "sorted" keeps the held slots sorted (handle
  symmetry, like explore's ledger hash).  "unsorted" puts each allocation
  in the first empty slot (no symmetry); it runs only at the --unsorted
  bounds, since it has 5.3 million states at 8:3.  The search is DFS
  unless the mode says BFS (``-DBFS``).  pan's -w (hash table) and -m
  (stack) are sized from the enumerated state count, as a SPIN user would
  size them on a second run.  SPIN stores one more state than the others
  count: the kernel before the boot d_step.  Its transitions also count
  the boot and that initial state.  The printed figures leave these out.

The seconds are wall clock.  The machine is shared, so the "cpu" column
(user + system of this process, or of the spin, gcc and pan children) is
steadier, and states/s is taken over the search's cpu seconds.

Each bound ends with a cross-check.  Three counts of states and
transitions must agree: explore's abstract count, an independent
enumeration (``abstract_states``, written from the kernel's rules and
sharing no code with either model), and SPIN's sorted count.

Last comes the time to the first counterexample of one seeded defect,
applied the same way on both sides.  ``__free_one_page`` merges a buddy
without ``rmv_page_order()`` on it, so the merged buddy keeps PG_buddy
(``free_one_page_keeps_buddy``, and ``DEFECT_MERGE_KEEPS_BUDDY`` in the
Promela model).  explore runs ``bfs(stop_after=1)``.  SPIN runs with
-DBFS, so its trail is also a shortest one.  Both lengths count calls,
leaving out SPIN's boot step.

If spin or gcc is not installed, the bench exits 2 with one line.  SPIN is
a benchmark-only dependency (Debian: apt-get install spin).
"""
from __future__ import annotations

import argparse
import itertools
import math
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from vcpcheck.checks.explore import GFP_COMP, KernelModel, bfs
from vcpcheck.checks.targets import TARGETS, with_replacements
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.page_alloc import free_list_add, free_list_del, free_list_pages
from vcpcheck.impl.symbols import base_symbols
from vcpcheck.spec import api
from vcpcheck.spec.invariants import MM_INVARIANTS

PML = Path(__file__).resolve().parent / "spin" / "buddy.pml"
DEFAULT_BOUNDS = ((8, 3), (8, 4), (10, 3))
SCALE_BOUNDS = ((8, 3), (10, 3), (12, 3), (16, 3))
CLOSURE = 10 ** 6                    # a depth bound the search never reaches
UNSORTED_SIZE = 20_000_000           # pan's sizes for the unsorted mode

# The invariants of spec/invariants.py that apply to this subset (no vm
# area, PTE or vcompound object is ever made); buddy.pml asserts each.
BUDDY_INVARIANT_NAMES = (
    "free_lists_consistent", "free_blocks_maximally_merged",
    "buddy_flag_matches_order", "every_pfn_accounted_once",
    "compound_head_tail_consistent", "free_pages_have_clean_flags", "no_leak",
    "kernel_reported_no_errors")
BUDDY_INVARIANTS = [i for i in MM_INVARIANTS if i.name in BUDDY_INVARIANT_NAMES]

DEFECT = "__free_one_page merges a buddy without rmv_page_order() on it"


# --- the bounded system on the explore side ----------------------------------------------

def bound_config(npages, max_order, target="base"):
    """The target's first buildable configuration at the bound."""
    t = TARGETS[target]
    return next(c for c in t.configs({"mem_pages": npages,
                                      "FORCE_MAX_ZONEORDER": max_order})
                if t.try_build(c)[1] is None)


class BuddyModel(KernelModel):
    """KernelModel with the alphabet cut to the buddy allocator's callers:
    alloc_pages(GFP_KERNEL, order) for every order below MAX_ORDER,
    __GFP_COMP above 0, and __free_pages of each held allocation."""

    def actions(self, h):
        if h.dead:
            return []
        out = []
        for order in range(self.cfg.FORCE_MAX_ZONEORDER):
            gfp = GFP_KERNEL | (GFP_COMP if order else 0)
            if api.pre_alloc_pages(h.k, gfp, order):
                out.append(("alloc_pages", (gfp, order)))
        out.extend(("free_pages_struct", (a.handle, a.order))
                   for a in sorted(h.ledger) if a.kind == "page")
        return out

    def properties(self, h):
        return h.violations(BUDDY_INVARIANTS)


class ProjectingModel(BuddyModel):
    """BuddyModel that also collects ``projection`` of every state found."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.projections = set()

    def properties(self, h):
        self.projections.add(projection(h))
        return super().properties(h)


def projection(h):
    """The abstract state: each free list in list order (head first), and
    the held allocations as a sorted tuple of (pfn, order)."""
    k = h.k
    z = k.zones[0]
    lists = tuple(tuple(free_list_pages(k, z, o)) for o in range(k.MAX_ORDER))
    return lists, tuple(sorted((a.handle, a.order) for a in h.ledger))


def free_one_page_keeps_buddy(k, page, zone, order):
    """The seeded defect: __free_one_page() (mm/page_alloc.c#L421) as in
    impl/page_alloc.py, but the merged buddy keeps PG_buddy and its order
    (no rmv_page_order(buddy))."""
    if k.PageCompound(page):
        k.destroy_compound_page(page, order)
    page_idx = k.page_to_pfn(page) & ((1 << k.MAX_ORDER) - 1)
    zone.NR_FREE_PAGES += 1 << order
    while order < k.MAX_ORDER - 1:
        buddy = k.__page_find_buddy(page, page_idx, order)
        if not k.page_is_buddy(page, buddy, order):
            break
        free_list_del(k, zone, order, buddy)
        zone.nr_free[order] -= 1
        combined_idx = k.__find_combined_index(page_idx, order)
        page = page + (combined_idx - page_idx)
        page_idx = combined_idx
        order += 1
    k.set_page_order(page, order)
    free_list_add(k, zone, order, page)
    zone.nr_free[order] += 1


defect_symbols = with_replacements(base_symbols,
                                   {"__free_one_page": free_one_page_keeps_buddy},
                                   "bench_spin seeded defect")


# --- an independent enumeration of the same system -----------------------------------------

def _boot(npages, max_order):
    lists = [[] for _ in range(max_order)]
    pfn = 0
    while pfn < npages:                # free_all_bootmem: largest aligned blocks
        o = max_order - 1
        while o and (pfn & ((1 << o) - 1) or pfn + (1 << o) > npages):
            o -= 1
        _free(lists, pfn, o, npages)
        pfn += 1 << o
    return lists


def _free(lists, pfn, o, npages):
    while o < len(lists) - 1:          # merge while the buddy is a free head of o
        b = pfn ^ (1 << o)
        if b >= npages or b not in lists[o]:
            break
        lists[o].remove(b)
        pfn &= ~(1 << o)
        o += 1
    lists[o].insert(0, pfn)


def _alloc(lists, o):
    for cur in range(o, len(lists)):   # smallest order that fits, list head
        if lists[cur]:
            page = lists[cur].pop(0)
            while cur > o:             # upper halves back at the heads
                cur -= 1
                lists[cur].insert(0, page + (1 << cur))
            return page
    return None


def _successors(state, npages, max_order, sort):
    fl, held = state
    for o in range(max_order):
        lists = [list(x) for x in fl]
        p = _alloc(lists, o)
        if p is None:
            yield state
        elif sort:
            yield tuple(map(tuple, lists)), tuple(sorted(held + ((p, o),)))
        else:
            i = held.index(None)
            yield tuple(map(tuple, lists)), held[:i] + ((p, o),) + held[i + 1:]
    for i, x in enumerate(held):
        if x is not None:
            lists = [list(y) for y in fl]
            _free(lists, x[0], x[1], npages)
            rest = held[:i] + held[i + 1:] if sort else held[:i] + (None,) + held[i + 1:]
            yield tuple(map(tuple, lists)), rest


@dataclass
class Abstract:
    states: int
    transitions: int
    depth: int                         # the closure depth (longest shortest path)
    graph: list = field(default_factory=list)   # successor indices, if asked
    keys: list = field(default_factory=list)    # the states in BFS order, if asked


def abstract_states(npages, max_order, sort=True, graph=False) -> Abstract:
    """Every state of the bare buddy system at the bound, by BFS.

    Written from the kernel's rules alone (free_all_bootmem's blocks,
    __rmqueue_smallest/expand, __free_one_page's merging, list_add at the
    head): no code shared with the kernel model or buddy.pml.  A state is
    (free lists in order, held (pfn, order)); held sorted with ``sort``,
    else in slots, each allocation in the first empty one.  A failed
    allocation is a transition back to the same state.
    """
    s0 = (tuple(map(tuple, _boot(npages, max_order))),
          () if sort else (None,) * npages)
    index, depth = {s0: 0}, {s0: 0}
    succ, frontier, trans = [], deque([s0]), 0
    while frontier:
        s = frontier.popleft()
        out = []
        for n in _successors(s, npages, max_order, sort):
            trans += 1
            if n not in index:
                index[n] = len(index)
                depth[n] = depth[s] + 1
                frontier.append(n)
            out.append(index[n])
        if graph:
            succ.append(out)
    return Abstract(len(index), trans, max(depth.values()), succ,
                    list(index) if graph else [])


def abstract_orbits(npages, max_order) -> tuple:
    """(orbits, transitions from one member of each) of the bare buddy
    system under permutations of its whole MAX_ORDER-1 blocks: what the
    explore engine with block symmetry counts.  Brute force over every
    permutation of the whole blocks, on abstract_states' graph; no code
    shared with checks/symmetry.py."""
    a = abstract_states(npages, max_order, graph=True)
    size = 1 << (max_order - 1)
    whole = [b for b in range(npages // size)]
    perms = list(itertools.permutations(whole))

    def moved(p, perm):
        b, off = divmod(p, size)
        return perm[b] * size + off if b < len(perm) else p

    def canon(state):
        lists, held = state
        return min((tuple(tuple(moved(p, perm) for p in lst) for lst in lists),
                    tuple(sorted((moved(p, perm), o) for p, o in held)))
                   for perm in perms)

    first = {}
    for i, state in enumerate(a.keys):
        first.setdefault(canon(state), i)
    return len(first), sum(len(a.graph[i]) for i in first.values())


def call_sequences(a: Abstract, depth) -> int:
    """Nodes of explore's tree without state matching, to ``depth`` calls:
    1 + the number of call sequences of 1..depth calls (walks in the
    abstract graph from the booted state, ``a`` built with graph=True)."""
    walks = [0] * a.states
    walks[0], nodes = 1, 1
    for _ in range(depth):
        nxt = [0] * a.states
        for s, w in enumerate(walks):
            if w:
                for t in a.graph[s]:
                    nxt[t] += w
        walks = nxt
        nodes += sum(walks)
    return nodes


# --- the Promela side ----------------------------------------------------------------------

def model_name(npages, max_order, sort=True, defect=False, bfs_mode=False):
    return (f"buddy_{npages}p_o{max_order}_{'sorted' if sort else 'unsorted'}"
            f"{'_bfs' if bfs_mode else ''}{'_defect' if defect else ''}.pml")


def promela_source(npages, max_order, sort=True, defect=False, bfs_mode=False) -> str:
    """bench/spin/buddy.pml with the bound and the mode fixed by #defines."""
    head = [f"/* generated by bench/bench_spin.py: {npages} pages, MAX_ORDER "
            f"{max_order}, held slots {'sorted' if sort else 'unsorted'}"
            f"{', for -DBFS' if bfs_mode else ''}"
            f"{', seeded defect' if defect else ''} */",
            f"#define NPAGES {npages}", f"#define MAX_ORDER {max_order}"]
    if sort:
        head.append("#define SORTED")
    if bfs_mode:
        head.append("#define BFS")
    if defect:
        head.append("#define DEFECT_MERGE_KEEPS_BUDDY")
    return "\n".join(head) + "\n\n" + PML.read_text()


def write_model(directory, npages, max_order, sort=True, defect=False,
                bfs_mode=False) -> Path:
    path = Path(directory) / model_name(npages, max_order, sort, defect, bfs_mode)
    path.write_text(promela_source(npages, max_order, sort, defect, bfs_mode))
    return path


def spin_missing() -> str | None:
    """Why SPIN cannot run here, or None."""
    for tool in ("spin", "gcc"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


@dataclass
class SpinRun:
    gen: float = 0.0                   # spin -a, wall seconds
    cc: float = 0.0                    # gcc
    run: float = 0.0                   # ./pan
    gen_cpu: float = 0.0               # user + system seconds of each
    cc_cpu: float = 0.0
    run_cpu: float = 0.0
    stored: int = 0
    matched: int = 0
    transitions: int = 0
    errors: int = 0
    depth: int = 0
    assertion: str = ""
    trail: list = field(default_factory=list)     # the calls of the trail
    output: str = ""

    @property
    def total(self):
        return self.gen + self.cc + self.run

    @property
    def cpu(self):
        return self.gen_cpu + self.cc_cpu + self.run_cpu

    @property
    def states(self):                  # without the state before the boot d_step
        return self.stored - 1

    @property
    def steps(self):                   # executed actions, the boot left out
        return self.transitions - 2

    @property
    def invariant(self):
        m = re.search(r"\b(" + "|".join(BUDDY_INVARIANT_NAMES) + r")\b", self.assertion)
        return m.group(1) if m else self.assertion


def pan_sizes(states, bfs_mode=False) -> list[str]:
    """pan's -w (hash table slots, 2^w) and, for DFS, -m (stack depth: at
    most one entry per state) for a search of about ``states`` states."""
    out = [f"-w{max(16, math.ceil(math.log2(states + 1)) + 1)}"]
    return out if bfs_mode else out + [f"-m{states + 1000}"]


def _timed(cmd, cwd):
    """Run ``cmd``; (wall seconds, cpu seconds of the child, stdout+stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = p.stdout + p.stderr
    if p.returncode and cmd[0] != "./pan":
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {out[-2000:]}")
    return wall, cpu, out


def _num(pattern, text):
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


def run_spin(pml: Path, bfs_mode=False, cc_opt="-O2", pan_args=()) -> SpinRun:
    """spin -a, gcc, ./pan on ``pml`` in a scratch directory; the trail's
    calls replayed with spin -t if pan found an error (not timed)."""
    r = SpinRun()
    with tempfile.TemporaryDirectory(prefix="bench_spin_") as d:
        shutil.copy(pml, d)
        r.gen, r.gen_cpu, _ = _timed(["spin", "-a", pml.name], d)
        cc = ["gcc", cc_opt, "-DSAFETY", "-DMEMLIM=16000"] + (["-DBFS"] if bfs_mode else [])
        r.cc, r.cc_cpu, _ = _timed(cc + ["-o", "pan", "pan.c"], d)
        pan = ["./pan", "-n", *pan_args]
        r.run, r.run_cpu, out = _timed(pan, d)
        r.output = out
        r.stored = _num(r"(\d+) states, stored", out)
        r.matched = _num(r"(\d+) states, matched", out)
        r.transitions = _num(r"(\d+) transitions \(= stored\+matched\)", out)
        r.errors = _num(r"errors: (\d+)", out)
        r.depth = _num(r"depth reached (\d+)", out)
        if "max search depth too small" in out:
            raise RuntimeError(f"pan: max search depth too small ({pan})")
        m = re.search(r"assertion violated (.*)", out)
        r.assertion = m.group(1) if m else ""
        if r.errors and Path(d, pml.name + ".trail").exists():
            _w, _c, replay = _timed(["spin", "-t", pml.name], d)
            r.trail = [line.strip()[len("call "):] for line in replay.splitlines()
                       if line.strip().startswith("call ")]
    return r


# --- the explore side, timed --------------------------------------------------------------

@dataclass
class ExploreRun:
    build: float                       # wall seconds: the model's construction
    run: float                         # bfs
    build_cpu: float
    run_cpu: float
    res: object
    model: object

    @property
    def total(self):
        return self.build + self.run

    @property
    def cpu(self):
        return self.build_cpu + self.run_cpu


def timed_explore(cfg, model_cls=BuddyModel, symbols=None, depth=CLOSURE, stale=False,
                  **kw) -> ExploreRun:
    c0, t0 = time.process_time(), time.perf_counter()
    sym = symbols(cfg) if symbols else None
    model = model_cls(TARGETS["base"], cfg, symbols=sym, stale=stale)
    c1, t1 = time.process_time(), time.perf_counter()
    res = bfs(model, depth, **kw)
    c2, t2 = time.process_time(), time.perf_counter()
    return ExploreRun(t1 - t0, t2 - t1, c1 - c0, c2 - c1, res, model)


# --- the report ----------------------------------------------------------------------------

HEADER = (f"{'tool':8} {'mode':22} {'states':>9} {'abstract':>8} {'trans':>9} "
          f"{'states/s':>9} {'build/gen':>9} {'cc':>6} {'run':>8} {'total s':>8} "
          f"{'cpu s':>7}")


def row(tool, mode, states, abstract, trans, rate, gen, cc, run, total, cpu):
    def f(x, w, p=2):
        return f"{'-':>{w}}" if x is None else (f"{x:>{w}.{p}f}" if isinstance(x, float)
                                                else f"{x:>{w}}")
    return (f"{tool:8} {mode:22} {f(states, 9)} {f(abstract, 8)} {f(trans, 9)} "
            f"{f(rate, 9, 0)} {f(gen, 9)} {f(cc, 6)} {f(run, 8)} {f(total, 8)} "
            f"{f(cpu, 7)}")


def bench_bound(npages, max_order, cc_opts, unsorted, nohash_cap):
    cfg = bound_config(npages, max_order)
    print(f"== {npages} pages, MAX_ORDER {max_order} ({cfg.short()}, base)")
    enum = abstract_states(npages, max_order, graph=True)
    print(HEADER)
    e = timed_explore(cfg)
    r, m = e.res, e.model
    closed = r.complete and r.deepest + 1 < CLOSURE and not r.violations
    proj = timed_explore(cfg, ProjectingModel).model.projections
    print(row("explore", "hash", r.states, len(proj), r.transitions,
              r.states / e.run_cpu, e.build, None, e.run, e.total, e.cpu))
    s = timed_explore(cfg, stale=True)
    merged = s.res
    closed = closed and merged.complete and not merged.violations
    print(row("explore", "hash, stale merged", merged.states, merged.states,
              merged.transitions, merged.states / s.run_cpu, s.build, None, s.run,
              s.total, s.cpu))
    # without state matching: to the deepest depth within the cap
    d = 0
    while d < enum.depth and call_sequences(enum, d + 1) <= nohash_cap:
        d += 1
    n = timed_explore(cfg, depth=d, hash_states=False)
    rate = n.res.states / n.run_cpu
    print(row("explore", f"none, depth {d} of {enum.depth}", n.res.states, None,
              n.res.transitions, rate, n.build, None, n.run, n.total, n.cpu))
    full = call_sequences(enum, enum.depth)
    print(f"{'':8} none to depth {enum.depth}: {full:.3g} nodes, about "
          f"{_duration(full / rate)} of cpu at that rate (not run)")
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench_spin_models_") as d:
        modes = [(f"sorted, DFS {o}", True, False, o) for o in cc_opts]
        modes.append((f"sorted, BFS {cc_opts[-1]}", True, True, cc_opts[-1]))
        if (npages, max_order) in unsorted:
            modes.append((f"unsorted, DFS {cc_opts[-1]}", False, False, cc_opts[-1]))
        for mode, sort, bfs_mode, opt in modes:
            pml = write_model(d, npages, max_order, sort, bfs_mode=bfs_mode)
            s = run_spin(pml, bfs_mode, opt,
                         pan_sizes(enum.states if sort else UNSORTED_SIZE, bfs_mode))
            runs[mode] = s
            if s.errors:
                print(f"spin     {mode}: {s.errors} error(s): {s.assertion}")
            print(row("spin", mode, s.states, s.states if sort else None, s.steps,
                      s.stored / max(s.run_cpu, 1e-3), s.gen, s.cc, s.run, s.total, s.cpu))
    if (npages, max_order) not in unsorted:
        print(f"{'':8} unsorted: not run at this bound (--unsorted; 8 pages, "
              f"MAX_ORDER 3 has 5.3 million states)")
    print(f"closure: {'frontier emptied' if closed else 'NOT CLOSED'}; explore's deepest "
          f"state is {r.deepest} calls from boot, the abstract system's {enum.depth} "
          f"(explore's unmerged states also differ in stale words, which take longer "
          f"histories)")
    sorted_runs = [s for mode, s in runs.items() if mode.startswith("sorted")]
    counts = {"explore": (len(proj), None),
              "explore merged": (merged.states, merged.transitions),
              "enumeration": (enum.states, enum.transitions)}
    counts.update({f"spin {mode}": (s.states, s.steps) for mode, s in runs.items()
                   if mode.startswith("sorted")})
    agree = (len({c for c, _t in counts.values()}) == 1
             and len({t for _c, t in counts.values() if t is not None}) == 1
             and all(not s.errors for s in sorted_runs))
    print("cross-check: abstract states " + ", ".join(
        f"{k} {c}" + (f" ({t} transitions)" if t is not None else "")
        for k, (c, t) in counts.items()) + (": agree" if agree else ": DISAGREE"))
    unsorted = [s for mode, s in runs.items() if mode.startswith("unsorted")]
    if unsorted:
        print(f"             unsorted (no handle symmetry): {unsorted[0].states} states, "
              f"{unsorted[0].states / enum.states:.0f}x the sorted count")
    print()
    return agree and closed


# --- time to verdict at scale (issue 12) ----------------------------------------------------

def explore_child(npages, max_order, stale=True, symmetry=True):
    """The explore engine's search at the bound, as a fresh process runs it
    (bench_scale times this whole process: interpreter start and imports
    included).  Prints one JSON line."""
    import json
    cfg = bound_config(npages, max_order)
    model = BuddyModel(TARGETS["base"], cfg, stale=stale, symmetry=symmetry)
    res = bfs(model, CLOSURE)
    print(json.dumps({"states": res.states, "transitions": res.transitions,
                      "complete": res.complete, "violations": len(res.violations),
                      "twins": model.twins, "deepest": res.deepest,
                      "collision": res.collision,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def calls_child(npages, max_order):
    """The floor under explore's time to verdict at the bound: the same
    search as explore_child, with the kernel model's own calls timed
    (the function each harness call runs, checks/harness.py Harness._run:
    alloc_pages and __free_pages as the model executes them, nothing of
    the engine's).  Prints one JSON line: the process's cpu seconds up to
    the search (interpreter start, imports, the model's build and boot),
    the number of calls and the seconds inside them (perf_counter, less
    the timing's own measured cost).  bench_scale runs it untimed, in a
    second process: no engine, however fast, can reach a verdict in less
    than start + calls."""
    import json
    from vcpcheck.checks.harness import Harness
    cfg = bound_config(npages, max_order)
    model = BuddyModel(TARGETS["base"], cfg, stale=True, symmetry=True)
    start = time.process_time()
    clock, inside, run = time.perf_counter, [0.0, 0], Harness._run

    def timed_run(self, call, args, fn):
        def timed():
            t = clock()
            try:
                return fn()
            finally:
                inside[0] += clock() - t
                inside[1] += 1
        return run(self, call, args, timed)

    def empty():
        t = clock()
        try:
            return None
        finally:
            inside[0] += clock() - t

    for _ in range(10 ** 5):                 # the timing's own cost, per call
        empty()
    cost, inside[0] = inside[0] / 10 ** 5, 0.0
    Harness._run = timed_run
    try:
        res = bfs(model, CLOSURE)
    finally:
        Harness._run = run
    print(json.dumps({"start_cpu": start, "calls": inside[1],
                      "call_s": max(inside[0] - cost * inside[1], 0.0),
                      "transitions": res.transitions}))


def _pan_memory(out):
    m = re.search(r"([\d.]+)\s+total actual memory usage", out)
    return float(m.group(1)) if m else None


SCALE_HEADER = (f"{'tool':8} {'mode':24} {'states':>9} {'trans':>10} {'us/trans':>8} "
                f"{'gen/start':>9} {'cc cpu':>7} {'run cpu':>8} {'cpu s':>8} {'wall s':>8} "
                f"{'MB':>7}")


def bench_scale(bounds, cc_opts):
    """One table: time to verdict of explore (the engine's default search:
    stale words merged, block symmetry; a fresh process, Python's start
    included) against pan at each -O level (spin -a, gcc and pan timed
    apart), with states, transitions, microseconds per transition (cpu)
    and peak memory (explore's maxrss; pan's own figure)."""
    import json
    print("== time to verdict (cpu s, interpreter start and gcc included)")
    print(SCALE_HEADER)
    ok = True
    for npages, max_order in bounds:
        wall, cpu, out = _timed([sys.executable, "-c",
                                 "import sys; sys.path.insert(0, 'bench'); "
                                 "from bench_spin import explore_child; "
                                 f"explore_child({npages}, {max_order})"],
                                str(Path(__file__).resolve().parent.parent))
        try:
            e = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"explore at {npages}:{max_order} failed: {out[-500:]}")
            return False
        ok = ok and e["complete"] and not e["violations"]
        print(f"{'explore':8} {f'{npages}:{max_order} stale+symmetry':24} {e['states']:>9} "
              f"{e['transitions']:>10} {1e6 * cpu / e['transitions']:>8.1f} {'-':>9} "
              f"{'-':>7} {'-':>8} {cpu:>8.2f} {wall:>8.2f} {e['maxrss_mb']:>7.0f}")
        print(f"{'':8} {'':24} twins {e['twins']}, deepest {e['deepest']} calls, "
              f"fingerprint collision <= {e['collision']:.1g}")
        _wall, _cpu, out = _timed([sys.executable, "-c",
                                   "import sys; sys.path.insert(0, 'bench'); "
                                   "from bench_spin import calls_child; "
                                   f"calls_child({npages}, {max_order})"],
                                  str(Path(__file__).resolve().parent.parent))
        try:
            f = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            print(f"the floor at {npages}:{max_order} failed: {out[-500:]}")
            return False
        print(f"{'':8} {'':24} floor {f['start_cpu'] + f['call_s']:.2f} s: start "
              f"{f['start_cpu']:.2f} s + the model's own {f['calls']} kernel calls "
              f"{f['call_s']:.2f} s ({1e6 * f['call_s'] / max(f['calls'], 1):.1f} us each; "
              f"untimed run)")
        if npages <= 12:
            orbits, trans = abstract_orbits(npages, max_order)
            agree = (orbits, trans) == (e["states"], e["transitions"])
            ok = ok and agree
            print(f"{'':8} {'':24} abstract orbits {orbits} ({trans} transitions): "
                  f"{'agree' if agree else 'DISAGREE'}")
        states = e["states"] * (24 if npages >= 16 else 6)     # pan's table size, at most
        with tempfile.TemporaryDirectory(prefix="bench_spin_scale_") as d:
            pml = write_model(d, npages, max_order, True)
            for opt in cc_opts:
                r = run_spin(pml, False, opt, pan_sizes(states, False))
                mem = _pan_memory(r.output)
                print(f"{'spin':8} {f'{npages}:{max_order} sorted, DFS {opt}':24} "
                      f"{r.states:>9} {r.steps:>10} "
                      f"{1e6 * r.run_cpu / max(r.steps, 1):>8.2f} {r.gen_cpu:>9.2f} "
                      f"{r.cc_cpu:>7.2f} {r.run_cpu:>8.2f} {r.cpu:>8.2f} {r.total:>8.2f} "
                      f"{mem if mem is not None else '-':>7}")
                ok = ok and not r.errors
        print()
    return ok


def bench_defect(npages, max_order, cc_opts):
    cfg = bound_config(npages, max_order)
    print(f"== seeded defect, {npages} pages, MAX_ORDER {max_order}: {DEFECT}")
    print(f"{'tool':8} {'mode':22} {'first counterexample s':>22} {'cpu s':>7} "
          f"{'calls':>5}  invariants")
    e = timed_explore(cfg, symbols=defect_symbols, stop_after=1)
    viol = e.res.violations
    trace = min((t for _i, _m, t in viol), key=len, default=None)
    names = ", ".join(sorted({i for i, _m, _t in viol})) or "none found"
    print(f"{'explore':8} {'hash, bfs':22} {e.total:>22.3f} {e.cpu:>7.3f} "
          f"{len(trace) if viol else '-':>5}  {names}")
    if viol:
        print(f"{'':8} trace: " + "; ".join(e.model.label(a) for a in trace))
    found = bool(viol)
    with tempfile.TemporaryDirectory(prefix="bench_spin_defect_") as d:
        pml = write_model(d, npages, max_order, True, defect=True, bfs_mode=True)
        for opt in cc_opts:
            s = run_spin(pml, True, opt)
            print(f"{'spin':8} {'sorted, BFS ' + opt:22} {s.total:>22.3f} {s.cpu:>7.3f} "
                  f"{len(s.trail) if s.errors else '-':>5}  "
                  f"{s.invariant if s.errors else 'none found'}")
            print(f"{'':8} spin -a {s.gen:.2f} s, gcc {s.cc:.2f} s, pan {s.run:.2f} s; "
                  f"trail: " + ("; ".join(s.trail) if s.errors else "-"))
            found = found and bool(s.errors)
    print()
    return found


def _duration(seconds):
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("hours", 3600),
                       ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _bounds(text):
    if not text:
        return []
    try:
        return [tuple(int(x) for x in b.split(":")) for b in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bounds are NPAGES:MAX_ORDER,...: {text!r}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bounds", type=_bounds, default=list(DEFAULT_BOUNDS),
                    help="NPAGES:MAX_ORDER,... (NPAGES <= 16, MAX_ORDER <= 5)")
    ap.add_argument("--cc-opts", default="-O0,-O2",
                    help="gcc optimisation levels for pan, comma-separated; "
                         "the last one is used for BFS, unsorted and the defect")
    ap.add_argument("--unsorted", type=_bounds, default=[(8, 3)],
                    help="the bounds to run SPIN's unsorted mode at (NPAGES:MAX_ORDER,...)")
    ap.add_argument("--nohash-cap", type=int, default=20000,
                    help="most tree nodes for the run without state matching")
    ap.add_argument("--scale", type=_bounds, default=list(SCALE_BOUNDS),
                    help="the bounds of the time-to-verdict table (NPAGES:MAX_ORDER,...; "
                         "16:3 takes minutes); an empty string skips it")
    ap.add_argument("--only-scale", action="store_true",
                    help="print only the time-to-verdict table")
    args = ap.parse_args(argv)
    why = spin_missing()
    if why:
        print(f"bench_spin: {why} (SPIN 6.5: apt-get install spin); nothing measured",
              file=sys.stderr)
        return 2
    for n, mo in args.bounds:
        if not (1 <= n <= 16 and 1 <= mo <= 5):
            ap.error(f"bound {n}:{mo} outside buddy.pml's limits")
    opts = args.cc_opts.split(",")
    version = subprocess.run(["spin", "-V"], capture_output=True, text=True).stdout.strip()
    print(f"{version}; {subprocess.run(['gcc', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    wall, cpu, _ = _timed([sys.executable, "-c", "import vcpcheck.checks.explore, "
                           "vcpcheck.checks.targets"], ".")
    print(f"explore's interpreter start and imports, in no row below: {wall:.2f} s wall, "
          f"{cpu:.2f} s cpu")
    print("states, trans: SPIN's without its pre-boot state and boot step; "
          "states/s: states over the search's cpu seconds (bfs, pan); "
          "build/gen, cc, run, total: wall seconds; cpu s: user + system\n")
    ok = bench_scale(args.scale, opts) if args.scale else True
    if args.only_scale:
        return 0 if ok else 1
    ok = all([bench_bound(n, mo, opts, args.unsorted, args.nohash_cap)
              for n, mo in args.bounds]) and ok
    n, mo = args.bounds[0]
    ok = bench_defect(n, mo, opts) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
