"""The explore engine: breadth-first, exhaustive to a bound.

Stateright-style split: ``KernelModel`` says what the states and actions
are (init_states, actions, next_state, properties); ``bfs`` explores any
such model and never knows the kernel.  A state is the harness after a
sequence of calls.  The frontier keeps each state as a snapshot (flat
tuples, Harness.snapshot); a successor is computed by restoring its
parent's snapshot and making one call, which gives the same state as
replaying the whole sequence on a fresh build (the model is
deterministic; tests/test_explore_graph.py checks it).  A state is
identified by a canonical hash of the kernel's state and the callers'
ledger.  Reductions, both sound here: allocation handles are
interchangeable (the ledger is hashed without its ids, sorted), and a set
that has no order (PTEs, page tables, kmalloc objects, page contents) is
hashed sorted; free lists keep their order, which decides what is handed
out next.

Verdict strength: "exhaustive to depth D" over the action alphabet
(KernelModel.actions) from the initial states (the booted kernel and, where
the vcompound fallback is not forced, the fragmented one), with distinct
states and transitions counted.  A violation comes back with a shortest
trace: fewest calls, the pins of the fragmented start included.
"""
from __future__ import annotations

import functools
import gc
import hashlib
import operator
import sys
import time
from collections import deque, namedtuple
from dataclasses import dataclass, field

from vcpcheck.impl.clients.thread_info import THREAD_SIZE
from vcpcheck.impl import gfp as _gfp
from vcpcheck.impl.kconfig import PAGE_SIZE
from vcpcheck.impl.memory import contents_key
from vcpcheck.impl.gfp import GFP_ATOMIC, GFP_KERNEL
from vcpcheck.impl.kernel import Context
from vcpcheck.spec import api
from vcpcheck.spec.ledger import KINDS
from vcpcheck.spec.liveness import FIELDS as STALE_FIELDS, stale_words

from .clients import CLIENTS, available
from .harness import Harness, HarnessError, HarnessSnapshot
from .report import format_args, format_ret
from .findings import Violation, signature
from .symmetry import BlockSymmetry


# Class bodies mangle __names, so the model uses these aliases.
GFP_COMP, GFP_ZERO = _gfp.__GFP_COMP, _gfp.__GFP_ZERO

# The debugging options that send every vcompound allocation to the fallback
# (V2 09/18, V3 05/14 and the reference, V5 05/11).
FALLBACK_FORCED = ("VFALLBACK_ALWAYS", "VIRTUALIZE_ALWAYS")

# --- stale words ------------------------------------------------------------------------

class SymmetryBroken(Exception):
    """A twin transition disagreed (KernelModel.check_step): the target
    treats interchangeable blocks differently, so the symmetry reduction
    is void."""


class StaleWordRead(Exception):
    """A target used a struct page word spec/liveness.py calls stale: the
    states merged on that guess may differ, so the search is void."""


class _Watched(list):
    """A struct page field (a list indexed by pfn) that reports a read of
    one of its ``stale`` words before the current call wrote it.  The
    kernel model reads these fields by pfn, word by word; any other read
    (iteration, a slice, ``in``, a comparison...) while the watch is on
    counts as a read of every word."""

    __slots__ = ("stale", "written", "name", "audit")

    def __getitem__(self, i):
        if type(i) is not int:
            self.audit.bulk(self)
        else:
            p = i if i >= 0 else i + len(self)
            if p in self.stale and p not in self.written:
                self.audit.stale_read(self.name, p)
        return list.__getitem__(self, i)

    def __setitem__(self, i, v):
        if type(i) is int:
            self.written.add(i if i >= 0 else i + len(self))
        else:
            self.audit.bulk(self)
        list.__setitem__(self, i, v)

    def __iter__(self):
        if self.audit.on:
            self.audit.bulk(self)
        return list.__iter__(self)


def _reads_every_word(name):
    """_Watched's ``name``: list's, as a read of every word."""
    method = getattr(list, name)

    def whole(self, *args):
        self.audit.bulk(self)
        return method(self, *args)
    whole.__name__ = name
    return whole


for _name in ("__contains__", "__reversed__", "__eq__", "__ne__", "__lt__", "__le__",
              "__gt__", "__ge__", "__add__", "__mul__", "index", "count", "copy"):
    setattr(_Watched, _name, _reads_every_word(_name))


class StaleWords:
    """The explore engine's merge of states that differ only in stale
    struct page words, and the audit that keeps it sound.

    A word is stale in a state if spec/liveness.py says so from the flags
    (stale_words), or if it was stale before the last call and the call
    did not write it: a word the flags put back in use stays stale until
    it is written.  Two states are merged when they agree on every word
    but their stale ones, and have the same stale words.

    The merge is exact if, on every state the search keeps, nothing reads
    a stale word before writing it: neither the call, nor the actions
    offered, nor the invariants.  Then a merged state behaves as its
    representative: every read sees the same values, so the same call
    returns the same and writes the same, and the invariants say the same;
    the flags and the writes are the same, so the stale words after the
    call are too.  The audit watches the three fields on the one working
    harness; the first read of a stale word is kept and raised as
    StaleWordRead at the next save or check.
    """

    def __init__(self):
        self.breach = None
        self.on = True

    def stale_read(self, name, pfn):
        if self.breach is None:
            f = sys._getframe(2).f_code.co_name
            self.breach = f"{f} read {name} of pfn {pfn}, a stale word"

    def bulk(self, lst):
        if self.breach is None and lst.stale:
            self.breach = f"something read {lst.name} of every page at once"

    def watch(self, k, stale):
        """Watch ``k``'s fields against ``stale``, {field: pfns}."""
        for name in STALE_FIELDS:
            lst = getattr(k, name)
            if type(lst) is not _Watched:
                lst = _Watched(lst)
                lst.name = name
                setattr(k, name, lst)
            lst.audit, lst.stale, lst.written = self, stale[name], set()

    def after_call(self, k):
        """The stale words after the call just made, watched from now on."""
        now = stale_words(k)
        for name in STALE_FIELDS:
            lst = getattr(k, name)
            carried = lst.stale - lst.written
            lst.stale = now[name] | carried if carried else now[name]
            lst.written = set()

    def check(self):
        if self.breach is not None:
            raise StaleWordRead(self.breach)


class StaleSnapshot(namedtuple("StaleSnapshot", ("snap", "stale"))):
    """A harness snapshot and its stale words, {field: pfns} (KernelModel
    with stale=True).  A named tuple: one is made on every transition."""
    __slots__ = ()


@functools.lru_cache(maxsize=1 << 12)
def _live_getter(n, stale):
    """A function that picks a field's words that are not ``stale`` out of
    its tuple of ``n``, as a tuple."""
    live = [p for p in range(n) if p not in stale]
    if len(live) == 1:
        return lambda words: (words[live[0]],)
    return operator.itemgetter(*live) if live else (lambda words: ())


def _blank(words, stale):
    """A field in the key: which words are stale, and the others' values."""
    return stale, _live_getter(len(words), stale)(words)


# --- the model -------------------------------------------------------------------------

class KernelModel:
    """States: harnesses of one build; actions: (call, args) of the harness.

    ``stale=True`` merges states that differ only in stale struct page
    words (StaleWords), and raises StaleWordRead from save() or
    properties() if the target breaks the rules that make it exact."""

    def __init__(self, target, cfg, symbols=None, stale=False, symmetry=False):
        self.target, self.cfg = target, cfg
        self.stale = StaleWords() if stale else None
        self.symbols = symbols if symbols is not None else target.symbols(cfg)
        self.vcompound = target.has_vcompound(self.symbols)
        self.vcompound_page = bool(target.api) or (
            "alloc_vcompound" in self.symbols and "free_vcompound" in self.symbols)
        self.clients = available(self.symbols)
        booted = self.fresh().k                  # one boot for both
        self.ptr_size = booted.PTR_SIZE
        self._parts = _Parts(self.ptr_size)
        sym = BlockSymmetry(booted) if symmetry else None
        self.sym = sym if sym is not None and sym.active else None
        self.twins = 0                   # twin transitions that agreed (check_step)
        self._canonical_fp = {}          # a state's fingerprint -> its canonical one
        self.met = 0                     # states met as they are (fingerprint())
        self._steps = 0
        # The fallback is taken only when memory is fragmented, unless the
        # version's debugging option forces it: start fragmented as well.
        forced = any(getattr(cfg, o) for o in FALLBACK_FORCED if o in target.options)
        self.fragmented = (fragment(self.fresh(), cfg.FORCE_MAX_ZONEORDER - 1)
                           if self.vcompound and not forced else ())

    def fresh(self) -> Harness:
        return Harness(self.cfg, self.symbols, api=self.target.api)

    def init_states(self):
        """The booted kernel; with a vcompound fallback that the configuration
        does not force, the booted kernel fragmented too (``fragment``)."""
        return [(), self.fragmented] if self.fragmented else [()]

    def realise(self, trace) -> Harness:
        """The state after ``trace``, replayed on a fresh build."""
        h = self.fresh()
        for call, args in trace:
            getattr(h, call)(*args)
        return h

    # Snapshots: bfs keeps states as save() and moves between them with load().
    _work = None                                       # the harness load() reuses
    _at = None               # the snapshot _work is exactly in now, or None
    traced = False           # keep each state's trace in its snapshot (tests)

    def save(self, h: Harness, like=None) -> HarnessSnapshot:
        """``h``'s state, without its trace (bfs keeps each state's parent
        and call instead).  ``like``: the parent's snapshot, whose parts the
        call left equal are shared (Harness.snapshot), so that the next
        load() of the parent restores only what the call changed."""
        if self.stale is None:
            snap = h.snapshot(like, trace=self.traced)
        else:
            a = self.stale
            a.check()
            a.on = False
            try:
                snap = h.snapshot(like.snap if like is not None else None,
                                  trace=self.traced)
            finally:
                a.on = True
            self._watched(h)
            snap = StaleSnapshot(snap, {n: getattr(h.k, n).stale for n in STALE_FIELDS})
        if h is self._work:
            self._at = snap
        return snap

    def _watched(self, h):
        """Watch ``h`` if it is not watched yet: an initial state, built by
        realise(), whose stale words are those its flags give."""
        if type(h.k.private) is not _Watched:
            self.stale.watch(h.k, stale_words(h.k))

    def load(self, snap: HarnessSnapshot) -> Harness:
        """A harness in the state of ``snap``: the model's one working
        harness, restored (valid until the next load).  Only what differs
        from the state it is known to be in (the last save() of it) is
        put back."""
        if self._work is None:
            self._work = self.fresh()
            self._at = None
        at = self._at
        if self.stale is None:
            self._work.restore(snap, at)
        else:
            self._work.restore(snap.snap, at.snap if at is not None else None)
            self.stale.watch(self._work.k, snap.stale)
        self._at = snap
        return self._work

    def step(self, h: Harness, action) -> None:
        """Take ``action`` on ``h`` in place (HarnessError if refused)."""
        if h is self._work:
            self._at = None
        call, args = action
        getattr(h, call)(*args)
        if self.stale is not None:
            self.stale.after_call(h.k)

    def key(self, snap: HarnessSnapshot):
        """The canonical key of a state (canonical_snapshot): equal for
        states that behave alike, and made of ints, tuples, frozensets and
        bools only, so that its hash() is the same in every process
        (str and, before Python 3.12, None hash differently per process)."""
        if self.stale is None:
            return canonical_snapshot(snap, self.ptr_size, self._parts)
        key, stale = canonical_snapshot(snap.snap, self.ptr_size, self._parts), snap.stale
        # (canonical_snapshot puts private at 3, lru_next at 5, lru_prev at 6)
        return key[:3] + (_blank(key[3], stale["private"]), key[4],
                          _blank(key[5], stale["lru_next"]),
                          _blank(key[6], stale["lru_prev"])) + key[7:]

    def fingerprint(self, snap: HarnessSnapshot) -> int:
        """A 64-bit fingerprint of key(snap): hash() of a key of ints,
        the same in every process (the Dask shards' sets are merged).
        With ``symmetry``, the key of the canonical member of the state's
        orbit under block permutations (checks/symmetry.py)."""
        fp = hash(self.key(snap))
        if self.sym is None:
            return fp
        # the canonical member's, remembered for the states met as they are
        # (a free that undoes an allocation meets its parent again)
        known = self._canonical_fp.get(fp)
        if known is not None:
            return known
        plain, stale = (snap, None) if self.stale is None else (snap.snap, snap.stale)
        bmap = self.sym.block_map(plain, stale)
        canonical = fp if bmap is None else hash(self.relabelled_key(plain, stale, bmap))
        if len(self._canonical_fp) >= self.CANONICAL_HELD:
            self._canonical_fp.clear()
        self._canonical_fp[fp] = canonical
        self.met += 1
        return canonical

    CANONICAL_HELD = 1 << 21           # fingerprint() remembers at most these

    def relabelled_key(self, snap, stale, bmap):
        """key() of ``snap`` (with its ``stale`` words, if merged) relabelled
        by ``bmap``, built directly: the same tuple as key() of
        BlockSymmetry.relabel's snapshot (tests/test_symmetry.py), which
        only a state BlockSymmetry.pure calls reducible has."""
        sym, k = self.sym, snap.kernel
        _src, pmap, _pm, take = sym._moves(bmap)
        lru_next, lru_prev = sym.links(k, bmap)
        private = sym.pointers(k.private, bmap)
        if stale is not None:
            private = _blank(private, frozenset([pmap[p] for p in stale["private"]]))
            lru_next = _blank(lru_next, frozenset([pmap[p] for p in stale["lru_next"]]))
            lru_prev = _blank(lru_prev, frozenset([pmap[p] for p in stale["lru_prev"]]))
        part = self._parts
        zones = tuple((sym.links_of(head_next, pmap), nr_free, nr_free_pages)
                      for *_static, head_next, _prev, nr_free, nr_free_pages in k.zones)
        mem = (_mem_key(tuple((pmap[p], words) for p, words in k.pagemem), self.ptr_size)
               if k.pagemem else ())
        ledger = tuple(sorted((_KIND[a.kind], sym._move(a, pmap), a.order, a.size, a.gfp,
                               a.refs, a.pages) for _id, a in snap.ledger_items))
        return (take(k.flags), take(k.count), take(k.mapcount), private,
                sym.pointers(k.mapping, bmap), lru_next, lru_prev, zones,
                (), (), (), (), mem, k.ctx, k.workqueue, k.fail_page_alloc,
                k.fail_pt_alloc, k.fail_kmalloc,
                k.events and part(_errors_key, k.events), snap.dead, ledger,
                snap.observations and part(_observations_key, snap.observations), ())

    # the twin transitions: all of the first TWINS_FIRST, then one in TWINS_EVERY
    TWINS_FIRST, TWINS_EVERY = 256, 128

    def check_step(self, parent, action, child) -> None:
        """The symmetry audit (checks/symmetry.py): on a sample of the
        transitions, make ``action`` relabelled from ``parent`` relabelled
        (every interchangeable block moved) and check that its child is
        ``child`` relabelled: the same canonical member.  SymmetryBroken
        if not.  The working harness is left in the twin's child."""
        sym = self.sym
        if sym is None:
            return
        self._steps += 1
        if self.twins >= self.TWINS_FIRST and self._steps % self.TWINS_EVERY:
            return
        plain = parent if self.stale is None else parent.snap
        if not sym.pure(plain):
            return
        bmap = sym.twin_map(self.twins)
        snap, stale = sym.relabel(plain, bmap, None if self.stale is None else parent.stale)
        twin = snap if self.stale is None else StaleSnapshot(snap, stale)
        moved = sym.relabel_action(action, bmap)
        h = self.load(twin)
        try:
            self.step(h, moved)
        except HarnessError as e:
            raise SymmetryBroken(f"{self.label(moved)} was refused on a block-permuted "
                                 f"twin of a state where {self.label(action)} was "
                                 f"made ({e})") from None
        got = self.save(h)
        pure = sym.pure(child if self.stale is None else child.snap)
        if pure != sym.pure(got if self.stale is None else got.snap) or (
                pure and self.fingerprint(child) != self.fingerprint(got)):
            raise SymmetryBroken(
                f"{self.label(action)} and, on a block-permuted twin of its state, "
                f"{self.label(moved)} gave states that are not block permutations of "
                f"each other")
        self.twins += 1

    def label(self, action) -> str:
        """The action as the harness call a trace prints."""
        call, args = action
        if call == "in_context":
            return f"in_context({args[0]!r}, {self.label((args[1], args[2:]))})"
        if call == "client":
            return f"client_{args[0]}({format_args('client', list(args[1:]))})"
        return f"{call}({format_args(_KERNEL_NAMES.get(call, call), list(args))})"

    def actions(self, h: Harness):
        """The calls a caller may make now (spec/api.py), as (method, args).

        The alphabet, each call in every context it is legal in
        (spec/api.py CONTEXTS: process, under a spinlock, with interrupts
        off, in an interrupt handler), a call outside process context as
        ("in_context", (context, method, *args)):

        - alloc_pages with each of api.EXPLORE_PAGE_GFPS at its orders, up
          to MAX_ORDER itself (__GFP_COMP above 0; outside process context
          orders 0 and 1; a __GFP_HIGHMEM mask only with a HighMem zone),
          and GFP_KERNEL order 1 without __GFP_COMP; __get_free_pages
          (GFP_KERNEL, 0);
        - a free of each live allocation by its own call (__free_pages,
          free_pages, vfree, vunmap, kfree, unpin, free_vcompound, a forked
          task's exit), and vfree of each vmap() area;
        - vmap of the pages of each allocation the caller holds (a block
          of any order, a __get_free_pages block, a vmalloc area);
        - vmalloc of 1 and 2 pages; kmalloc(64) with GFP_KERNEL and
          GFP_ATOMIC;
        - the vcompound API with each of api.EXPLORE_VCOMPOUND_GFPS at its
          orders (GFP_KERNEL at every order up to MAX_ORDER itself), and
          keventd;
        - each converted user with each of its argument sets; one injected
          fault of each kind; spin_lock/spin_unlock.
        """
        if h.dead:
            return []
        k = h.k
        out = self._page_actions(k) + self._free_actions(h, k) + self._call_actions(k)
        saved = k.ctx
        try:
            for name, _enter, _leave in api.CONTEXTS[1:]:
                k.ctx = _entered(saved, name)
                out.extend(("in_context", (name, call, *args))
                           for call, args in self._page_actions(k)
                           + self._free_actions(h, k) + self._call_actions(k)
                           if call in _IN_CONTEXT)
        finally:
            k.ctx = saved
        return out

    def _page_actions(self, k):
        out = []
        top = self.cfg.FORCE_MAX_ZONEORDER
        # outside process context, orders 0 and 1 stand for the others
        atomic = not api.may_sleep(k)
        for gfp, which in api.EXPLORE_PAGE_GFPS:
            if not api.distinct_gfp(k, gfp):
                continue
            for order in api.explore_orders("small" if atomic else which, top):
                g = gfp | (GFP_COMP if order else 0)
                if api.pre_alloc_pages(k, g, order):
                    out.append(("alloc_pages", (g, order)))
        if top > 1 and api.pre_alloc_pages(k, GFP_KERNEL, 1):
            out.append(("alloc_pages", (GFP_KERNEL, 1)))
        if api.pre_get_free_pages(k, GFP_KERNEL, 0):
            out.append(("get_free_pages", (GFP_KERNEL, 0)))
        return out

    def _free_actions(self, h, k):
        out = []
        for a in sorted(h.ledger):
            busy = h._busy(a)
            if a.kind == "page" and not busy:
                out.append(("free_pages_struct", (a.handle, a.order)))
            elif a.kind == "addr" and not busy:
                out.append(("free_pages", (a.handle, a.order)))
            elif a.kind == "vmalloc" and not busy and api.pre_vfree(k):
                out.append(("vfree", (a.handle,)))
            elif a.kind == "vmap" and api.pre_vfree(k):
                out.append(("vunmap", (a.handle,)))
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
            # vmap: BUG_ON(in_interrupt()), GFP_KERNEL page tables
            if a.kind in ("page", "addr", "vmalloc") and api.pre_vmap(k):
                pages = h._pages_of(a)
                if pages:
                    out.append(("vmap", (pages,)))
        return out

    def _call_actions(self, k):
        out = []
        if api.pre_vmalloc(k):
            out.append(("vmalloc", (k.PAGE_SIZE,)))
            out.append(("vmalloc", (2 * k.PAGE_SIZE,)))
        for gfp in (GFP_KERNEL, GFP_ATOMIC):
            if api.pre_kmalloc(k, gfp):
                out.append(("kmalloc", (64, gfp)))
        for which in ("fail_page_alloc", "fail_pt_alloc", "fail_kmalloc"):
            if not getattr(k, which):
                out.append((which, (1,)))
        if self.vcompound:
            for gfp, which in api.EXPLORE_VCOMPOUND_GFPS:
                if not api.pre_alloc_vcompound(k, gfp):
                    continue
                for order in api.explore_orders(which, self.cfg.FORCE_MAX_ZONEORDER):
                    out.append(("alloc_vcompound_addr", (gfp, order)))
                    if self.vcompound_page:
                        out.append(("alloc_vcompound", (gfp, order)))
            if k.workqueue and api.pre_run_workqueue(k):
                out.append(("run_workqueue", ()))
        if api.may_sleep(k):
            for name in self.clients:
                if name != "exit":      # every argument set the state machine draws
                    out.extend(("client", (name, *args)) for args in CLIENTS[name][1])
        out.append(("spin_lock", ()) if not k.ctx.spin_depth else ("spin_unlock", ()))
        return out

    def next_state(self, trace, action):
        return trace + (action,)

    def properties(self, h: Harness):
        if self.stale is None:
            return h.violations()
        self._watched(h)
        out = h.violations()
        self.stale.check()
        return out


def fragment(h: Harness, order) -> tuple:
    """The pins that fragment a booted kernel (the second initial state).

    One page pinned at the start of each free block of ``order``
    (MAX_ORDER-1), so that no block of that order is left and a request of
    that order is met by the vcompound fallback or not at all, as on a
    system that has run for a while.  Four calls at the checking bound, and
    the search starts after them: a fallback defect that the state machine
    reaches only after fragmenting memory is one action away.  ``h``, a
    fresh harness, is used up.
    """
    k, out = h.k, []
    for pfn in range(0, k.nr_pages, 1 << order):
        if k.flags[pfn] >> k.PG_buddy & 1 and k.private[pfn] == order:
            h.pin(pfn)
            out.append(("pin", (pfn,)))
    return tuple(out)


# The calls tried in every context (KernelModel.actions): the API calls,
# not the model's own operations (faults, locks, keventd, the users).
_IN_CONTEXT = frozenset(("alloc_pages", "get_free_pages", "free_pages_struct",
                         "free_pages", "vfree", "vunmap", "vmap", "vmalloc", "kmalloc",
                         "kfree", "unpin", "free_vcompound_addr", "free_vcompound",
                         "alloc_vcompound_addr", "alloc_vcompound"))


def _entered(ctx, name) -> Context:
    """The execution context after entering ``name`` (spec/api.py
    CONTEXTS) from ``ctx``, to ask spec/api.py what is legal there."""
    c = Context(ctx.hardirq, ctx.irqs_disabled, ctx.spin_depth)
    if name == "spinlock":
        c.spin_depth += 1
    elif name == "irqs-off":
        c.irqs_disabled = True
    elif name == "interrupt":
        c.hardirq += 1
    return c


# The kernel's spelling of the harness methods (for printing a call).
_KERNEL_NAMES = {"free_pages_struct": "__free_pages", "get_free_pages": "__get_free_pages",
                 "alloc_vcompound_addr": "__alloc_vcompound",
                 "free_vcompound_addr": "__free_vcompound"}


def canonical(h: Harness):
    """A hashable summary of the state; equal for states that behave alike."""
    return canonical_snapshot(h.snapshot(), h.k.PTR_SIZE)


def _contents(items, ptr_size):
    """contents_key of a snapshot's page, kept by the identity of its words
    (_Parts: Kernel.snapshot gives a page memory.py did not write the same
    tuple again, so most pages, and a large table on every call, are met as
    the very object, and its words are not hashed)."""
    parts = _PAGES.get(ptr_size)
    if parts is None:
        parts = _PAGES[ptr_size] = _Parts(ptr_size, size=1 << 14)
    return parts(_contents_of, items)


@functools.lru_cache(maxsize=1 << 14)
def _contents_of(items, ptr_size):
    """contents_key of equal words met as another tuple (a relabelled state)."""
    return contents_key(dict(items), PAGE_SIZE, ptr_size)


def canonical_snapshot(snap: HarnessSnapshot, ptr_size, cache=None):
    """canonical() of the harness ``snap`` was taken from.

    The struct page arrays are the snapshot's own tuples (shared, not
    copied).  Left out, as canonical() always did: the trace, ledger ids,
    the free-list heads' prev links (the pages' lru links are in), the vm
    areas' phys_addr/caller/descriptor, the kmalloc shim's free-slot stack
    and high-water mark (which address the next object gets, out of an
    arena no bound here fills) and freed set (which of two kfree reports a
    bad free gets), the function-address table, and the events but for
    the kinds of error.  Sorted, since their order means nothing: PTEs,
    page tables, kmalloc objects, the ledger, observations.  A page's
    contents are keyed by what it reads (memory.contents_key, words of
    ``ptr_size`` bytes), not by the stores that left them.  ``cache``: a
    _Parts that keeps the parts of fields met before.
    """
    k = snap.kernel
    part = _Parts(ptr_size) if cache is None else cache
    # an empty field's part is () whatever the field (no call for it)
    return (k.flags, k.count, k.mapcount, k.private, k.mapping, k.lru_next,   # KernelModel.key
            k.lru_prev, part(_zones_key, k.zones), k.vmlist and part(_vm_key, k.vmlist),
            k.ptes and part(sorted_key, k.ptes),
            k.pgtables and part(_pgtables_key, k.pgtables),
            k.kmalloc_objs and part(_objs_key, k.kmalloc_objs),
            k.pagemem and part(_mem_key, k.pagemem), k.ctx,
            k.workqueue, k.fail_page_alloc, k.fail_pt_alloc, k.fail_kmalloc,
            k.events and part(_errors_key, k.events), snap.dead,
            snap.ledger_items and part(_ledger_key, snap.ledger_items),
            snap.observations and part(_observations_key, snap.observations),
            k.page_address_map and part(sorted_key, k.page_address_map))


class _Parts:
    """canonical_snapshot's parts, each computed from one snapshot field
    and kept while that field (the very object: a state shares the fields
    its parent's call did not change, Harness.snapshot ``like``) is met
    again.  Holding the field keeps its id from being reused; at most
    ``size`` are held."""

    def __init__(self, ptr_size, size=512):
        self.ptr_size, self.size, self.held = ptr_size, size, {}

    def __call__(self, fn, field):
        got = self.held.get(id(field))
        if got is not None and got[0] is field:
            return got[1]
        if len(self.held) >= self.size:
            self.held.clear()
        value = fn(field, self.ptr_size)
        self.held[id(field)] = (field, value)
        return value


# _contents' pages, by word size: {ptr_size: _Parts}
_PAGES = {}


def sorted_key(items, _ptr_size):
    return tuple(sorted(items))


def _pgtables_key(items, _ptr_size):
    """The page tables: ((level name, index), pfn), the name as _sid."""
    return tuple(sorted(((_sid(level), index), pfn) for (level, index), pfn in items))


def _zones_key(zones, _ptr_size):
    return tuple((head_next, nr_free, nr_free_pages)          # not head_prev
                 for *_static, head_next, _prev, nr_free, nr_free_pages in zones)


def _vm_key(vmlist, _ptr_size):
    return tuple(a[:5] for a in vmlist)             # addr, size, flags, pages, nr_pages


def _objs_key(objs, _ptr_size):
    return tuple(sorted((addr, size, -1 if large is None else large, tuple(sorted(words)))
                        for _key, addr, size, _gfp, large, words in objs))


def _mem_key(pagemem, ptr_size):
    return tuple(sorted((p, _contents(words, ptr_size)) for p, words in pagemem))


def _errors_key(events, _ptr_size):
    return tuple(sorted({(_sid(e.kind), _sid(e.function)) for e in events
                         if e.is_error()}))


def _ledger_key(items, _ptr_size):
    return tuple(sorted((_KIND[a.kind], a.handle, a.order, a.size, a.gfp, a.refs, a.pages)
                        for _id, a in items))


def _observations_key(observations, _ptr_size):
    return tuple(sorted(map(_sid, observations)))


_KIND = {kind: i for i, kind in enumerate(KINDS)}


@functools.lru_cache(maxsize=None)
def _sid(text: str) -> int:
    """A string as a 64-bit int that is the same in every process (the
    key's hash must be: hash() of a str is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little",
                          signed=True)


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
    # run_explore(reach=): the length of the longest counterexample another
    # engine found that the (raised) bound still leaves beyond, else 0.
    beyond: int = 0
    # run_explore: whether stale struct page words were merged (StaleWords),
    # or why not; whether block symmetry was used (checks/symmetry.py).
    stale: str = ""
    symmetry: str = ""
    twins: int = 0            # run_explore: the symmetry audit's twins that agreed
    # bfs: the chance that two distinct states shared a fingerprint (at most
    # n(n-1)/2**65 for n states), and each state's (parent, action) (trace_of).
    collision: float = 0.0
    # With bfs(fingerprint=...): {fingerprint: transitions made from that
    # state} for every state found (0 for one not expanded), for checks/dist.py.
    fingerprints: dict = None
    deepest: int = 0          # bfs: the depth of the deepest new state found
    tree: list = field(default_factory=list)
    # With bfs(graph=True): the state graph, a networkx MultiDiGraph.  Nodes
    # are the states numbered in BFS order (the initial states first), with
    # their depth, whether they violate an invariant (and which), and
    # whether the kernel oopsed; edges are the transitions, with the call
    # (``label``, and ``action`` as the model's tuple), what it returned,
    # and ``tree``: True on the one edge each state was first reached by.
    graph: object = None


# bfs() lets the garbage collector's youngest generation grow to this many
# container objects (Python's default is 700).  A transition makes dozens
# (snapshot tuples, restored lists, the ledger) and nearly all die within
# it, so a young collection mostly scans survivors it cannot free: at 12
# pages (bench/bench_spin.py) the default cost 4% of the search.  Costs at
# most a few MB; the older generations keep their defaults.
YOUNG_GC = 100_000


def _young_gc(search):
    """Run ``search`` with gc's youngest threshold at YOUNG_GC (never lower
    than it is), restored after.  The threshold is the process's: the
    engines run one search per process (--jobs and Dask workers are
    processes of one thread)."""
    @functools.wraps(search)
    def wrapped(*args, **kw):
        threshold = gc.get_threshold()
        gc.set_threshold(max(threshold[0], YOUNG_GC), *threshold[1:])
        try:
            return search(*args, **kw)
        finally:
            gc.set_threshold(*threshold)
    return wrapped


@_young_gc
def bfs(model, depth, budget=None, hash_states=True, stop_after=None, graph=False,
        check=True, visit=None, roots=None, offset=0, fingerprint=None):
    """Explore every state reachable in ``depth`` actions.

    The model gives states and actions (init_states, actions, properties,
    next_state on traces) and snapshots (realise a trace, save, load,
    step, fingerprint); a state waits in the frontier as its snapshot, and
    each successor is its parent's snapshot loaded plus one step.  A state
    is kept as its parent's number and the action from it (its trace is
    rebuilt from these when needed) and is known by its fingerprint, a
    64-bit hash of its canonical key (TLC's fingerprint set): the chance
    that two distinct states met share one, which would leave the second
    unexplored, is at most n(n-1)/2**65 for n states if the hash is
    uniform (collision_bound), and the strength states it
    (ExploreResult.collision).

    Returns the first violation of each signature, each with a shortest
    trace (empty for the initial state, which is checked too);
    ``hash_states=False`` turns the state reduction off (for the
    benchmark).  ``complete`` is False if the budget ran out.  With
    ``graph``, the state graph is recorded in the result and each trace is
    read back from it (networkx.shortest_path over the BFS tree).
    ``visit(trace, h, depth)`` is called on each new state, before any
    other state is loaded (``h`` is valid only until then); ``check=False``
    leaves the properties unchecked (the smt engine's walk over the states).

    For checks/dist.py's shards: ``roots`` are traces to start from instead
    of model.init_states() (realised by model.realise), ``offset`` their
    depth (the search still ends at ``depth`` from boot), and with
    ``fingerprint`` true ``res.fingerprints`` maps each state's fingerprint
    (model.fingerprint: the same in every process) to the transitions made
    from it (0 for a state not expanded).
    """
    start = time.monotonic()
    res = ExploreResult(depth=depth)
    fps = res.fingerprints = {} if fingerprint else None
    fp_of = {}                            # with fingerprint: state number -> it
    seen, found = {}, {}                  # fingerprint -> state number; signature -> first
    # state number -> (parent number, action), or (None, trace) for an initial state
    tree = res.tree = []
    if graph:
        import networkx as nx          # only for the graph (its import is slow)
    g = res.graph = nx.MultiDiGraph() if graph else None
    frontier = deque()
    unique = iter(range(-1, -(1 << 62), -1))           # keys when hash_states is off
    audit = getattr(model, "check_step", None)         # the model's audit of a step
    for trace in model.init_states() if roots is None else roots:
        h = model.realise(trace)
        snap = model.save(h)
        key = model.fingerprint(snap) if hash_states else next(unique)
        if key in seen:
            continue
        node = seen[key] = res.states
        tree.append((None, trace))
        res.states += 1
        if fps is not None:
            fp_of[node] = key
            fps[key] = 0
        _discovered(model, h, node, offset, len(trace), tree, found, g, check, visit)
        if not h.dead and depth > offset:
            frontier.append((node, offset, snap, len(trace)))
    while frontier:
        if budget is not None and time.monotonic() - start > budget:
            res.complete = False
            break
        node, d, snap, length = frontier.popleft()
        h = model.load(snap)
        fresh = True                      # h is still the parent, untouched
        made = res.transitions
        for action in model.actions(h):
            if not fresh:
                h = model.load(snap)
            fresh = False
            try:
                model.step(h, action)
            except HarnessError:
                continue
            res.transitions += 1
            expand = not h.dead and d + 1 < depth
            child = model.save(h, snap) if hash_states or expand else None
            key = model.fingerprint(child) if hash_states else next(unique)
            num = seen.setdefault(key, res.states)      # one hash of the key
            new = num == res.states
            if g is not None:
                g.add_edge(node, num, action=action, label=model.label(action),
                           ret=format_ret(h.trace[-1]["ret"]), tree=new)
            if new:
                res.states += 1
                res.deepest = d + 1
                tree.append((node, action))
                if fps is not None:
                    fp_of[num] = key
                    fps.setdefault(key, 0)
                _discovered(model, h, num, d + 1, length + 1, tree, found, g, check, visit)
                if expand:
                    frontier.append((num, d + 1, child, length + 1))
            if audit is not None and child is not None:
                # last: the audit moves the working harness to a twin state
                audit(snap, action, child)
        if fps is not None:
            fps[fp_of[node]] = res.transitions - made
        if stop_after and len(found) >= stop_after:
            res.complete = False
            break
    res.seconds = time.monotonic() - start
    res.collision = (collision_bound(res.states, res.transitions,
                                     getattr(model, "sym", None) is not None)
                     if hash_states else 0.0)
    for inv, msg, node, _n in found.values():
        if g is not None:
            from .graphs import path_to
            path = path_to(g, node)
            root = path[0][0] if path else node
            t = tree[root][1] + tuple(a for _u, _v, a in path)
        else:
            t = trace_of(tree, node)
        res.violations.append((inv, msg, t))
    return res


def collision_bound(states, transitions, symmetric) -> float:
    """The chance, if the 64-bit hash is uniform, that two of the states a
    search met shared a fingerprint: at most n(n-1)/2**65 for its n
    states, and with symmetry also m(m-1)/2**65 for the m <= n +
    transitions states it met as they are (KernelModel.fingerprint keeps
    their canonical fingerprints).  Counted from the totals, so a sharded
    search (checks/dist.py) states the same bound as one search."""
    m = states + transitions if symmetric else 0
    return (states * (states - 1) + m * (m - 1)) / 2 ** 65


def trace_of(tree, node) -> tuple:
    """The calls to state ``node`` of a bfs result's ``tree``: its initial
    state's trace, then each action from parent to child."""
    actions = []
    while tree[node][0] is not None:
        node, action = tree[node]
        actions.append(action)
    return tree[node][1] + tuple(reversed(actions))


def _discovered(model, h, node, depth, length, tree, found, g, check=True, visit=None):
    """Check a new state's properties; note its node in the graph; visit it.
    ``length``: the calls to it (its trace's length)."""
    problems = model.properties(h) if check else []
    for inv, msg in problems:
        sig = signature(inv, msg)
        # BFS order gives the fewest actions; with initial states of several
        # calls (KernelModel.fragmented), keep the fewest calls in all.
        if sig not in found or length < found[sig][3]:
            found[sig] = (inv, msg, node, length)
    if g is not None:
        g.add_node(node, depth=depth, violates=bool(problems),
                   invariants=",".join(sorted({inv for inv, _m in problems})),
                   dead=bool(h.dead))
    if visit is not None:
        visit(trace_of(tree, node), h, depth)


def trace_entries(model, trace):
    """The harness trace ({call, args, ret}) of an action sequence."""
    return [dict(e) for e in model.realise(trace).trace]


# run_explore merges stale words (StaleWords) by default from this depth on.
# Measured (python bench/bench_explore.py --depth 3, and 4): to depth 3 on
# the first configuration of base, v2 and reference the merge saves 0.3-1%
# of the states and costs 11-16% more time (the watch on every struct page
# word); to depth 4 on base it saves 1.5% and costs 7%.  Searched to
# closure (bench/bench_spin.py's buddy system, 10 pages) it saves 3.7x the
# states and 2.6x the time.
STALE_MERGE_DEPTH = 5
# ExploreResult.stale of a search left unmerged for that reason
STALE_SHALLOW = (f"not merged (below depth {STALE_MERGE_DEPTH} it costs more time than "
                 f"it saves)")


def run_explore(target, cfg, depth=3, budget=None, graph=False, reach=None,
                deepen=1, stale=None, symmetry=True, search=None) -> ExploreResult:
    """Explore one build; violations come back as Violation records.  With
    ``graph``, ``res.graph`` is the state graph (see ExploreResult).

    ``reach``: {signature: trace length} of what another engine found on
    this build.  If a signature the search to ``depth`` did not find has a
    longer trace, the search is made again to that length, at most
    ``deepen`` calls deeper, so that the exhaustive verdict covers it (and
    gives the shortest trace); the strength says so.  The deeper search is
    the same breadth-first search from scratch, with what is left of the
    budget.

    ``stale``: merge states that differ only in stale struct page words
    (StaleWords).  If the target reads one, the search is made again from
    scratch without the merge, and the strength says why.  None (the
    default): merge when ``depth`` is STALE_MERGE_DEPTH or more, where it
    pays for its watch.

    ``symmetry``: key states by their orbit under permutations of
    interchangeable MAX_ORDER blocks (checks/symmetry.py), audited by twin
    transitions (KernelModel.check_step); if a twin disagrees, the search
    is made again without it, and the strength says why.

    ``search``: the breadth-first search to use, called as bfs is
    (``search(model, depth, budget, graph=graph)``); checks/dist.py passes
    its sharded one.
    """
    start = time.monotonic()

    def left():
        return None if budget is None else max(0.0, budget - (time.monotonic() - start))

    gave_up, broken, symbols = None, None, None
    shallow = stale is None and depth < STALE_MERGE_DEPTH
    if stale is None:
        stale = not shallow
    while True:
        model = KernelModel(target, cfg, symbols=symbols, stale=stale and not gave_up,
                            symmetry=symmetry and not broken)
        symbols = model.symbols
        try:
            res, asked, beyond, depth = _search(model, depth, left, graph, reach, deepen,
                                                search or bfs)
            break
        except StaleWordRead as e:
            gave_up = str(e)
        except SymmetryBroken as e:
            broken = str(e)
    starts = "the booted kernel" + (" and the fragmented one" if model.fragmented else "")
    bound = (f"depth {depth}, {cfg.mem_pages} pages, MAX_ORDER "
             f"{cfg.FORCE_MAX_ZONEORDER}, vmalloc window {cfg.vmalloc_pages} pages, "
             f"from {starts}")
    if depth != asked:
        bound += (f" (raised from {asked} to reach the length of another engine's "
                  f"counterexample{'s' if len(beyond) > 1 else ''} it had not found"
                  + (f"; one of {max(beyond)} calls is beyond it" if max(beyond) > depth
                     else "") + ")")
    res.stale = ("merged" if model.stale is not None else
                 f"not merged: {gave_up}" if gave_up else
                 STALE_SHALLOW if shallow else "not merged")
    res.beyond = max(beyond) if beyond and max(beyond) > depth else 0
    res.strength = (f"exhaustive to {bound}: {res.states} states, "
                    f"{res.transitions} transitions" if res.complete else
                    f"partial (budget ran out) to {bound}: {res.states} states, "
                    f"{res.transitions} transitions")
    if gave_up:
        res.strength += f" (stale struct page words not merged: {gave_up})"
    if model.sym is not None:
        # (how many twins ran depends on how a sharded search was split:
        # res.twins, not the strength)
        res.twins = model.twins
        res.symmetry = f"{model.sym.describe()}, audited by twin transitions"
        res.strength += f" ({res.symmetry})"
    elif broken:
        res.symmetry = f"not used: {broken}"
        res.strength += f" (block symmetry not used: {broken})"
    else:
        res.symmetry = "not used: no two interchangeable blocks" if symmetry else "off"
    if res.collision:
        res.strength += (f"; fingerprints of 64 bits: a collision, which would leave a "
                         f"state unexplored, has probability at most {res.collision:.1g}")
    res.violations = [Violation(inv, msg, trace_entries(model, t), cfg, engine="explore",
                                strength=res.strength)
                      for inv, msg, t in res.violations]
    return res


def _search(model, depth, left, graph, reach, deepen, search=bfs):
    """run_explore's search: (result, depth asked, lengths beyond it, depth
    searched)."""
    res = search(model, depth, left(), graph=graph)
    asked, beyond = depth, []
    if reach and res.complete:
        found = {signature(inv, msg) for inv, msg, _t in res.violations}
        beyond = [n for sig, n in reach.items() if sig not in found and n > depth]
        if beyond:
            depth = min(max(beyond), asked + deepen)
            res = search(model, depth, left(), graph=graph)
    return res, asked, beyond, depth
