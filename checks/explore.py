"""The explore engine: breadth-first, exhaustive to a bound.

Stateright-style split: ``KernelModel`` says what the states and actions
are (init_states, actions, next_state, properties); ``bfs`` explores any
such model and never knows the kernel.  A state is the harness after a
sequence of calls; it is reached by replaying those calls on a fresh build
(the model is deterministic), and identified by a canonical hash of the
kernel's state and the callers' ledger.  Reductions, both sound here:
allocation handles are interchangeable (the ledger is hashed without its
ids, sorted), and a set that has no order (PTEs, page tables, kmalloc
objects, page contents) is hashed sorted; free lists keep their order,
which decides what is handed out next.

Verdict strength: "exhaustive to depth D" over the action alphabet below,
with distinct states and transitions counted.  A violation found at depth
d comes back with a shortest trace (BFS order).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from vcpcheck.impl.clients.thread_info import THREAD_SIZE
from vcpcheck.impl import gfp as _gfp
from vcpcheck.impl.gfp import GFP_ATOMIC, GFP_KERNEL
from vcpcheck.spec import api

from .clients import CLIENTS, available
from .harness import Harness, HarnessError
from .stateful import Violation, signature


# Class bodies mangle __names, so the model uses these aliases.
GFP_COMP, GFP_ZERO = _gfp.__GFP_COMP, _gfp.__GFP_ZERO

# --- the model -------------------------------------------------------------------------

class KernelModel:
    """States: harnesses of one build; actions: (call, args) of the harness."""

    def __init__(self, target, cfg, symbols=None):
        self.target, self.cfg = target, cfg
        self.symbols = symbols if symbols is not None else target.symbols(cfg)
        self.vcompound = target.has_vcompound(self.symbols)
        self.vcompound_page = bool(target.api) or (
            "alloc_vcompound" in self.symbols and "free_vcompound" in self.symbols)
        self.clients = available(self.symbols)

    def fresh(self) -> Harness:
        return Harness(self.cfg, self.symbols, api=self.target.api)

    def init_states(self):
        return [()]                                    # the empty call sequence

    def realise(self, trace) -> Harness:
        h = self.fresh()
        for call, args in trace:
            getattr(h, call)(*args)
        return h

    def actions(self, h: Harness):
        """The calls a caller may make now (spec/api.py), as (method, args)."""
        if h.dead:
            return []
        k, out = h.k, []
        orders = range(self.cfg.FORCE_MAX_ZONEORDER)
        for gfp in (GFP_KERNEL, GFP_ATOMIC):
            for order in orders:
                g = gfp | (GFP_COMP if order else 0)
                if api.pre_alloc_pages(k, g, order):
                    out.append(("alloc_pages", (g, order)))
        for a in sorted(h.ledger):
            if a.kind == "page" and not h._mapped_by_vmap(a.handle):
                out.append(("free_pages_struct", (a.handle, a.order)))
            elif a.kind == "vmalloc" and api.pre_vfree(k):
                out.append(("vfree", (a.handle,)))
            elif a.kind == "kmalloc":
                out.append(("kfree", (a.handle,)))
            elif a.kind == "pin":
                out.append(("unpin", (a.handle,)))
            elif a.kind == "vcompound" and api.pre_free_vcompound(k):
                out.append(("free_vcompound_addr", (a.handle,)))
            elif a.kind == "vcompound_page" and api.pre_free_vcompound(k):
                out.append(("free_vcompound", (a.handle,)))
            elif a.kind == "client" and a.size == THREAD_SIZE and api.may_sleep(k):
                out.append(("client", ("exit", a.handle, False)))
        if api.pre_vmalloc(k):
            out.append(("vmalloc", (k.PAGE_SIZE,)))
            out.append(("vmalloc", (2 * k.PAGE_SIZE,)))
        if api.pre_kmalloc(k, GFP_KERNEL):
            out.append(("kmalloc", (64, GFP_KERNEL)))
        for which in ("fail_page_alloc", "fail_pt_alloc", "fail_kmalloc"):
            if not getattr(k, which):
                out.append((which, (1,)))
        if self.vcompound and api.pre_alloc_vcompound(k):
            for order in orders:
                for gfp in (GFP_KERNEL, GFP_KERNEL | GFP_ZERO):
                    out.append(("alloc_vcompound_addr", (gfp, order)))
                    if self.vcompound_page:
                        out.append(("alloc_vcompound", (gfp, order)))
            if k.workqueue:
                out.append(("run_workqueue", ()))
        if api.may_sleep(k):
            for name in self.clients:
                if name != "exit":
                    out.extend(("client", (name, *args)) for args in CLIENTS[name][1][:1])
        out.append(("spin_lock", ()) if not k.ctx.spin_depth else ("spin_unlock", ()))
        return out

    def next_state(self, trace, action):
        return trace + (action,)

    def properties(self, h: Harness):
        return h.violations()


def canonical(h: Harness):
    """A hashable summary of the state; equal for states that behave alike."""
    k = h.k
    zones = tuple((tuple(z.head_next), tuple(z.nr_free), z.NR_FREE_PAGES) for z in k.zones)
    vm = tuple((a.addr, a.size, a.flags, a.pages, a.nr_pages) for a in k.vmlist)
    objs = tuple(sorted((o.addr, o.size, o.large_page, tuple(sorted(o.words.items())))
                        for o in k.kmalloc_objs.values()))
    mem = tuple(sorted((p, tuple(sorted(w.items()))) for p, w in k.pagemem.items()))
    ctx = (k.ctx.hardirq, k.ctx.irqs_disabled, k.ctx.spin_depth)
    errors = tuple(sorted({(e.kind, e.function) for e in k.events if e.is_error()}))
    return (tuple(k.flags), tuple(k._count), tuple(k._mapcount), tuple(k.private),
            tuple(k.mapping), tuple(k.lru_next), tuple(k.lru_prev), zones, vm,
            tuple(sorted(k.ptes.items())), tuple(sorted(k.pgtables.items())), objs, mem,
            ctx, tuple(k.workqueue), k.fail_page_alloc, k.fail_pt_alloc, k.fail_kmalloc,
            errors, h.dead, h.ledger.canonical(), tuple(sorted(h.ledger.observations)),
            tuple(sorted(k.page_address_map.items())))


# --- the checker (knows nothing of the kernel) ----------------------------------------------

@dataclass
class ExploreResult:
    violations: list = field(default_factory=list)
    states: int = 0
    transitions: int = 0
    depth: int = 0
    complete: bool = True
    seconds: float = 0.0
    strength: str = ""


def bfs(model, depth, budget=None, hash_states=True, stop_after=None):
    """Explore every state reachable in ``depth`` actions.

    Returns the first violation of each signature, each with a shortest
    trace; ``hash_states=False`` turns the state reduction off (for the
    benchmark).  ``complete`` is False if the budget ran out.
    """
    start = time.monotonic()
    res = ExploreResult(depth=depth)
    seen, found = set(), {}
    frontier = deque((t, 0) for t in model.init_states())
    for t in model.init_states():
        h = model.realise(t)
        seen.add(canonical(h))
        res.states += 1
    while frontier:
        if budget is not None and time.monotonic() - start > budget:
            res.complete = False
            break
        trace, d = frontier.popleft()
        if d >= depth:
            continue
        parent = model.realise(trace)
        for action in model.actions(parent):
            nxt = model.next_state(trace, action)
            try:
                h = model.realise(nxt)
            except HarnessError:
                continue
            res.transitions += 1
            key = canonical(h) if hash_states else (nxt,)
            if key in seen:
                continue
            seen.add(key)
            res.states += 1
            for inv, msg in model.properties(h):
                sig = signature(inv, msg)
                if sig not in found:
                    found[sig] = (inv, msg, nxt)
            if not h.dead:
                frontier.append((nxt, d + 1))
        if stop_after and len(found) >= stop_after:
            res.complete = False
            break
    res.seconds = time.monotonic() - start
    for inv, msg, t in found.values():
        res.violations.append((inv, msg, t))
    return res


def trace_entries(model, trace):
    """The harness trace ({call, args, ret}) of an action sequence."""
    return [dict(e) for e in model.realise(trace).trace]


def run_explore(target, cfg, depth=3, budget=None) -> ExploreResult:
    """Explore one build; violations come back as Violation records."""
    model = KernelModel(target, cfg)
    res = bfs(model, depth, budget)
    bound = (f"depth {depth}, {cfg.mem_pages} pages, MAX_ORDER "
             f"{cfg.FORCE_MAX_ZONEORDER}, vmalloc window {cfg.vmalloc_pages} pages")
    res.strength = (f"exhaustive to {bound}: {res.states} states, "
                    f"{res.transitions} transitions" if res.complete else
                    f"partial (budget ran out) to {bound}: {res.states} states, "
                    f"{res.transitions} transitions")
    res.violations = [Violation(inv, msg, trace_entries(model, t), cfg, engine="explore",
                                strength=res.strength)
                      for inv, msg, t in res.violations]
    return res
