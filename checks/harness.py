"""The caller's side: drive a kernel, keep the ledger, record the trace.

Every engine drives a target through a Harness.  Each operation is named
after the kernel call it makes, takes literal arguments (pfns, addresses,
gfp masks), updates the callers' ledger, and appends a trace entry
``{"call", "args", "ret"}``; because the model is deterministic, replaying
the entries on a fresh Harness of the same build reproduces the run.
A BUG()/oops ends the run: the entry's ret is "oops" and the harness is
dead (further calls are refused).
"""
from __future__ import annotations

import traceback
from collections import namedtuple
from dataclasses import replace

from vcpcheck.impl import memory
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.kernel import Kernel, KernelOops
from vcpcheck.impl.page_alloc import pin_free_page
from vcpcheck.impl.vmalloc import PAGE_KERNEL, VM_MAP
from vcpcheck.spec.api import CONTEXTS
from vcpcheck.spec.invariants import all_invariants, check_all

# The invariant that reports the kernel's own BUG/oops, WARN and bad_page.
OOPS_INVARIANT = "kernel_reported_no_errors"
from vcpcheck.spec.ledger import Allocation, Ledger
from vcpcheck.spec.vcompound import post_alloc

from .clients import WORKLOADS as CLIENT_WORKLOADS
from .timeouts import time_limit


DEFAULT_API = {
    "__alloc_vcompound": lambda k, gfp, order: k.call("__alloc_vcompound", gfp, order),
    "__free_vcompound": lambda k, addr, order: k.call("__free_vcompound", addr),
    "alloc_vcompound": lambda k, gfp, order: k.call("alloc_vcompound", gfp, order),
    "free_vcompound": lambda k, page, order: k.call("free_vcompound", page),
    "head_page": "vcompound_head_page",
}


# Harness.snapshot(): the kernel's snapshot and the callers' side.
HarnessSnapshot = namedtuple("HarnessSnapshot", (
    "kernel", "ledger_items", "ledger_next_id", "observations", "trace", "dead"))


class HarnessError(Exception):
    """A call the caller may not make (unknown handle, dead kernel)."""


class HandleMap:
    """Handles one build returned, mapped to what another returned for the
    same call (pfns of a block map page by page), to drive both with one
    sequence of calls."""

    def __init__(self):
        self.map: dict = {}

    def translate(self, x):
        if isinstance(x, list):
            return [self.translate(v) for v in x]
        if isinstance(x, int) and not isinstance(x, bool):
            return self.map.get(x, x)
        return x

    def learn(self, mine, theirs, ledger):
        if (isinstance(mine, int) and isinstance(theirs, int) and not isinstance(mine, bool)
                and not isinstance(theirs, bool) and mine > 0 and theirs > 0
                and mine != theirs):
            self.map[mine] = theirs
            alloc = next((a for a in ledger if a.handle == theirs), None)
            if alloc is not None and alloc.kind in ("page", "vcompound_page", "pin"):
                for i in range(1, 1 << alloc.order):
                    self.map[mine + i] = theirs + i


class ModelCrash(BaseException):
    """Python code of the model or a variant raised (not a kernel BUG).

    A BaseException, so the engines stop at once instead of shrinking it;
    the CLI reports it in one line as an error, never as a verdict.
    """

    def __init__(self, call, where, detail):
        super().__init__(f"{where}: {detail} (during {call})")
        self.call, self.where, self.detail = call, where, detail

    def __reduce__(self):                 # crosses the --jobs process pool
        return ModelCrash, (self.call, self.where, self.detail)

    @classmethod
    def from_exception(cls, call, exc):
        frames = traceback.extract_tb(exc.__traceback__)
        last = frames[-1] if frames else None
        where = f"{last.filename}:{last.lineno} in {last.name}" if last else "?"
        return cls(call, where, f"{type(exc).__name__}: {exc}")


class Harness:
    OPS = ("alloc_pages", "__get_free_pages", "__free_pages", "free_pages",
           "get_page", "put_page", "vmalloc", "vfree", "vmap", "vunmap",
           "kmalloc", "kzalloc", "kfree", "pin", "unpin", "fail_page_alloc",
           "fail_pt_alloc", "fail_kmalloc", "spin_lock", "spin_unlock",
           "local_irq_disable", "local_irq_enable", "irq_enter", "irq_exit",
           "__alloc_vcompound", "__free_vcompound", "alloc_vcompound",
           "free_vcompound", "run_workqueue") + tuple(
               f"client_{n}" for n in CLIENT_WORKLOADS)

    def __init__(self, cfg, symbols=None, kernel_factory=Kernel, api=None):
        self.k = kernel_factory(cfg, symbols)
        # How callers spell the vcompound API on this target (V3 names by
        # default; V2 users call the page allocator with __GFP_VFALLBACK).
        self.api = dict(DEFAULT_API, **(api or {}))
        self.k.api_head_page = self.api["head_page"]
        self.ledger = Ledger()
        self.trace: list[dict] = []
        self.dead = not self.k.booted          # an oops while booting
        self.call_timeout = None       # seconds per call (variants), or None

    # -- recording --------------------------------------------------------------
    def _run(self, call, args, fn):
        if self.dead:
            raise HarnessError(f"{call}: the kernel has oopsed")
        entry = {"call": call, "args": list(args), "ret": None}
        self.trace.append(entry)
        try:
            if self.call_timeout:
                with time_limit(self.call_timeout, f"{call}{tuple(args)}"):
                    ret = fn()
            else:
                ret = fn()
        except KernelOops:
            entry["ret"] = "oops"
            self.dead = True
            return None
        except (HarnessError, AssertionError):
            raise
        except Exception as e:
            # An exception in kernel code is an oops, as it would be in C;
            # one in no kernel frame is the checker's own bug (exit 2).
            if self.k.python_oops(e) is None:
                raise ModelCrash.from_exception(f"{call}{tuple(args)}", e) from e
            entry["ret"] = "oops"
            self.dead = True
            return None
        entry["ret"] = ret
        return ret

    def replay(self, trace, translate=False):
        """Re-execute trace entries (as recorded) on this harness.

        With ``translate``, a handle this build returns differently from the
        recorded one (another pfn or address on another target) is mapped in
        the later calls' arguments, so one trace drives different builds.
        """
        handles = HandleMap()
        for e in trace:
            if e["call"] not in self.OPS:
                raise HarnessError(f"unknown call {e['call']!r} in trace")
            args = handles.translate(e["args"]) if translate else e["args"]
            got = getattr(self, _py(e["call"]))(*args)
            if translate:
                handles.learn(e.get("ret"), got, self.ledger)
            if self.dead:
                break
        return self

    def violations(self, invariants=None):
        """(invariant, problem) of this state.  After an oops the oops is
        the finding: what the other invariants see in the state the oops
        left half-built are its consequences (see consequences()), not
        findings, so they neither hide nor stand in for a defect found
        where the kernel is up."""
        if self.dead:
            invariants = [i for i in (invariants or all_invariants())
                          if i.name == OOPS_INVARIANT]
        return check_all(self.k, self.ledger, invariants)

    def consequences(self):
        """What the other invariants find after the oops (reported under
        it), or [] while the kernel is up."""
        if not self.dead:
            return []
        return [p for p in check_all(self.k, self.ledger) if p[0] != OOPS_INVARIANT]

    # -- snapshots (the explore engine restores instead of replaying) -----------
    def snapshot(self, like: HarnessSnapshot | None = None,
                 trace: bool = True) -> HarnessSnapshot:
        """The kernel's snapshot plus the callers' side: the ledger (ids and
        their order included), its observations, the trace and the dead
        flag.  Immutable as Kernel.snapshot is, except that an argument or
        return value of a trace entry (a list, for vmap) is shared: an entry
        is never changed after its call returned.

        ``like``: an earlier snapshot whose equal parts are shared
        (Kernel.snapshot); ``trace=False`` leaves the trace out (the
        explore engine keeps each state's call and parent instead)."""
        led = self.ledger
        items, obs = tuple(led.items.items()), tuple(led.observations)
        if like is not None:
            if items == like.ledger_items:
                items = like.ledger_items
            if obs == like.observations:
                obs = like.observations
        return HarnessSnapshot(
            self.k.snapshot(like.kernel if like is not None else None), items,
            led.next_id, obs,
            tuple((e["call"], tuple(e["args"]), e["ret"]) for e in self.trace)
            if trace else (), self.dead)

    def restore(self, snap: HarnessSnapshot, current: HarnessSnapshot | None = None) -> None:
        """Put this harness (of the same build) in the state of ``snap``.
        ``current``: a snapshot this harness is in now, exactly; only what
        differs from it is restored (Kernel.restore).  A snapshot taken
        with ``trace=False`` leaves an empty trace."""
        ksnap, items, next_id, observations, trace, self.dead = snap
        self.k.restore(ksnap, current.kernel if current is not None else None)
        if (current is None or items is not current.ledger_items
                or next_id != current.ledger_next_id):
            self.ledger = Ledger(dict(items))
            self.ledger.next_id = next_id
            self.ledger.observations = list(observations)
        elif observations is not current.observations:
            self.ledger.observations = list(observations)
        self.trace = ([{"call": c, "args": list(a), "ret": r} for c, a, r in trace]
                      if trace else [])

    def _take(self, kind, handle):
        i = self.ledger.find(kind, handle)
        if i is None:
            raise HarnessError(f"no live {kind} allocation at {handle!r}")
        return i

    def _mapped_by_vmap(self, page):
        return any(page in a.pages for a in self.ledger if a.kind == "vmap")

    def _pages_of(self, a) -> tuple:
        """The pfns the caller holds through allocation ``a``, in order:
        every page of an alloc_pages() or __get_free_pages() block, and the
        pages a vmalloc() area maps (read from the kernel's PTEs, as
        vmalloc_to_page() would give them)."""
        k = self.k
        if a.kind == "page":
            return tuple(range(a.handle, a.handle + (1 << a.order)))
        if a.kind == "addr":
            first = (a.handle - k.PAGE_OFFSET) >> k.PAGE_SHIFT
            return tuple(range(first, first + (1 << a.order)))
        if a.kind == "vmalloc":
            n = -(-a.size // k.PAGE_SIZE)
            got = [k.ptes.get((a.handle >> k.PAGE_SHIFT) + i) for i in range(n)]
            return tuple(p for p in got if p is not None)
        return ()

    def _busy(self, a) -> bool:
        """Some page of ``a`` is mapped by a live vmap() of the caller's:
        freeing ``a`` now would leave that mapping over freed memory."""
        mapped = {p for v in self.ledger.items.values() if v.kind == "vmap"
                  for p in v.pages}
        return bool(mapped) and not mapped.isdisjoint(self._pages_of(a))

    def held_pages(self) -> dict:
        """{pfn: allocation} of every page the caller holds that it may
        vmap() (spec/api.py: in any form)."""
        out = {}
        for a in self.ledger:
            for p in self._pages_of(a):
                out.setdefault(p, a)
        return out

    # -- page allocator -----------------------------------------------------------
    def alloc_pages(self, gfp, order):
        page = self._run("alloc_pages", (gfp, order),
                         lambda: self.k.alloc_pages(gfp, order))
        if page is not None:
            self.ledger.add(Allocation("page", page, order, gfp=gfp))
        return page

    def get_free_pages(self, gfp, order):
        addr = self._run("__get_free_pages", (gfp, order),
                         lambda: self.k.call("__get_free_pages", gfp, order))
        if addr:
            self.ledger.add(Allocation("addr", addr, order, gfp=gfp))
        return addr

    def _not_busy(self, i, call):
        if self._busy(self.ledger.items[i]):
            raise HarnessError(f"{call}: a page of it is still vmapped")

    def free_pages_struct(self, page, order):
        i = self._take("page", page)
        self._not_busy(i, "__free_pages")
        self._run("__free_pages", (page, order),
                  lambda: self.k.call("__free_pages", page, order))
        self.ledger.remove(i)

    def free_pages(self, addr, order):
        i = self._take("addr", addr)
        self._not_busy(i, "free_pages")
        self._run("free_pages", (addr, order),
                  lambda: self.k.free_pages(addr, order))
        self.ledger.remove(i)

    def _owner_of_subpage(self, page):
        for i, a in self.ledger.items.items():
            if a.kind == "page" and a.handle <= page < a.handle + (1 << a.order):
                return i, a
        raise HarnessError(f"pfn {page} is in no live page allocation")

    def get_page(self, page):
        i, a = self._owner_of_subpage(page)
        self._run("get_page", (page,), lambda: self.k.get_page(page))
        self.ledger.items[i] = replace(a, refs=a.refs + 1)

    def put_page(self, page):
        i, a = self._owner_of_subpage(page)
        self._run("put_page", (page,), lambda: self.k.put_page(page))
        if a.refs == 1:
            self.ledger.remove(i)
        else:
            self.ledger.items[i] = replace(a, refs=a.refs - 1)

    # -- vmalloc ---------------------------------------------------------------------
    def vmalloc(self, size):
        addr = self._run("vmalloc", (size,), lambda: self.k.vmalloc(size))
        if addr:
            self.ledger.add(Allocation("vmalloc", addr, size=size))
        return addr

    def vfree(self, addr):
        """vfree() of a vmalloc() area, or of a vmap() area, which 2.6.25
        only unmaps (spec/api.py): the pages stay the caller's."""
        i = self.ledger.find("vmalloc", addr)
        if i is None:
            i = self._take("vmap", addr)
        self._not_busy(i, "vfree")
        self._run("vfree", (addr,), lambda: self.k.vfree(addr))
        self.ledger.remove(i)

    def vmap(self, pages):
        """kmalloc an array of the pages, vmap() it, kfree the array.

        The caller maps only pages it holds, in any form (held_pages:
        any page of its alloc_pages() or __get_free_pages() blocks or of
        its vmalloc() areas; HarnessError otherwise), as a driver vmaps
        pages it allocated: mapping a page that is free, or someone
        else's, is a caller bug, not the kernel's.
        """
        pages = list(pages)
        held = self.held_pages()
        for p in pages:
            if p not in held:
                raise HarnessError(f"vmap: pfn {p} is not a page the caller holds")
        k = self.k

        def call():
            array = k.kmalloc(len(pages) * k.PTR_SIZE, GFP_KERNEL)
            if not array:
                return 0
            for n, p in enumerate(pages):
                memory.store(k, array + n * k.PTR_SIZE, k.page_to_word(p))
            addr = k.vmap(array, len(pages), VM_MAP, PAGE_KERNEL)
            k.kfree(array)
            return addr
        addr = self._run("vmap", (pages,), call)
        if addr:
            self.ledger.add(Allocation("vmap", addr, size=len(pages),
                                       pages=tuple(pages)))
        return addr

    def vunmap(self, addr):
        i = self._take("vmap", addr)
        self._run("vunmap", (addr,), lambda: self.k.vunmap(addr))
        self.ledger.remove(i)

    # -- kmalloc -----------------------------------------------------------------------
    def kmalloc(self, size, gfp):
        addr = self._run("kmalloc", (size, gfp), lambda: self.k.kmalloc(size, gfp))
        if addr and addr > 16:
            self.ledger.add(Allocation("kmalloc", addr, size=size, gfp=gfp))
        return addr

    def kzalloc(self, size, gfp):
        addr = self._run("kzalloc", (size, gfp), lambda: self.k.kzalloc(size, gfp))
        if addr and addr > 16:
            self.ledger.add(Allocation("kmalloc", addr, size=size, gfp=gfp))
        return addr

    def kfree(self, addr):
        i = self._take("kmalloc", addr)
        self._run("kfree", (addr,), lambda: self.k.kfree(addr))
        self.ledger.remove(i)

    # -- the vcompound API (present when the target's build has it) ----------------------
    def _alloc_object(self, kind, call, gfp, order):
        fn = self.api[call]
        handle = self._run(call, (gfp, order), lambda: fn(self.k, gfp, order))
        # A page is a pfn (0 is a page); an address of 0 is NULL.
        if handle is not None if kind == "vcompound_page" else handle:
            a = Allocation(kind, handle, order, gfp=gfp)
            self.ledger.add(a)
            self.ledger.observations.extend(post_alloc(self.k, a))
        return handle

    def alloc_vcompound_addr(self, gfp, order):
        return self._alloc_object("vcompound", "__alloc_vcompound", gfp, order)

    def free_vcompound_addr(self, addr):
        i = self._take("vcompound", addr)
        order = self.ledger.items[i].order
        fn = self.api["__free_vcompound"]
        self._run("__free_vcompound", (addr,), lambda: fn(self.k, addr, order))
        self.ledger.remove(i)

    def alloc_vcompound(self, gfp, order):
        return self._alloc_object("vcompound_page", "alloc_vcompound", gfp, order)

    def free_vcompound(self, page):
        i = self._take("vcompound_page", page)
        order = self.ledger.items[i].order
        fn = self.api["free_vcompound"]
        self._run("free_vcompound", (page,), lambda: fn(self.k, page, order))
        self.ledger.remove(i)

    def run_workqueue(self):
        self._run("run_workqueue", (), self.k.run_workqueue)

    # -- the converted users (impl/clients, checks/clients.py) ----------------------------
    def client(self, name, *args):
        """Run one user's workload (fork, exit, e1000, swap, ...)."""
        if name not in CLIENT_WORKLOADS:
            raise HarnessError(f"unknown client {name!r}")
        fn = CLIENT_WORKLOADS[name]
        return self._run(f"client_{name}", args, lambda: fn(self, *args))

    def __getattr__(self, attr):
        # h.client_e1000(256) == h.client("e1000", 256), for replayed traces.
        if attr.startswith("client_") and attr[7:] in CLIENT_WORKLOADS:
            return lambda *args: self.client(attr[7:], *args)
        raise AttributeError(attr)

    # -- model operations: fragmentation, faults, context -------------------------------
    def pin(self, pfn):
        page = self._run("pin", (pfn,), lambda: pin_free_page(self.k, pfn))
        if page is not None:
            self.ledger.add(Allocation("pin", page))
        return page

    def unpin(self, page):
        i = self._take("pin", page)
        self._run("unpin", (page,), lambda: self.k.call("__free_page", page))
        self.ledger.remove(i)

    def fail_page_alloc(self, n):
        self._run("fail_page_alloc", (n,), lambda: setattr(self.k, "fail_page_alloc", n))

    def fail_pt_alloc(self, n):
        self._run("fail_pt_alloc", (n,), lambda: setattr(self.k, "fail_pt_alloc", n))

    def fail_kmalloc(self, n):
        self._run("fail_kmalloc", (n,), lambda: setattr(self.k, "fail_kmalloc", n))

    def _ctx(self, name):
        return self._run(name, (), lambda: getattr(self.k, name)())

    def in_context(self, context, method, *args):
        """Make the call ``method(*args)`` in ``context`` (spec/api.py
        CONTEXTS): the calls that enter it, the call, the calls that leave
        it (unless the kernel oopsed), each traced as itself."""
        enter, leave = next((e, lv) for name, e, lv in CONTEXTS if name == context)
        for op in enter:
            self._ctx(op)
        if self.dead:
            return None
        try:
            return getattr(self, method)(*args)
        finally:
            if not self.dead:
                for op in leave:
                    # on_each_cpu() may have turned interrupts on already
                    # (impl/smp.py); local_irq_enable() is harmless then.
                    self._ctx(op)

    def spin_lock(self):
        self._ctx("spin_lock")

    def spin_unlock(self):
        self._ctx("spin_unlock")

    def local_irq_disable(self):
        self._ctx("local_irq_disable")

    def local_irq_enable(self):
        self._ctx("local_irq_enable")

    def irq_enter(self):
        self._ctx("irq_enter")

    def irq_exit(self):
        self._ctx("irq_exit")


_PY_NAMES = {"__get_free_pages": "get_free_pages",
             "__free_pages": "free_pages_struct",
             "__alloc_vcompound": "alloc_vcompound_addr",
             "__free_vcompound": "free_vcompound_addr"}


def _py(call: str) -> str:
    """The Harness method for a trace call name (kernel spelling)."""
    return _PY_NAMES.get(call, call)


def harness_method(call: str) -> str:
    return _py(call)

