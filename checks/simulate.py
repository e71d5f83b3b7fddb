"""``vcpcheck simulate``: run a target's kernel at a real memory size under a
workload, and measure how often the vcompound API falls back to vmalloc.

The series' cover letter says that "in most cases physically contiguous
memory can be used", so the vmalloc fallback is rare.  Reviewers answered
that on 32-bit the vmalloc area is small (128 MB less what is used) and
that fragmentation makes the fallback common.  This module measures it on
the model: 2.6.25's buddy allocator with grouping by mobility and per-cpu
lists (impl/page_alloc.py), at 2^18 to 2^20 pages, driven by the seeded
workloads of checks/workloads_sim.py.

The simulator is the user side of the kernel, as checks/harness.py is for
the checker: it holds what the workload allocated, calls the target's
kernel functions, and plays the parts of the kernel the model leaves out:

* kswapd: every KSWAPD_INTERVAL (64) calls, a zone below its low
  watermark (pages_min * 5/4) has its page cache reclaimed, oldest first,
  up to its high watermark (pages_min * 3/2), as balance_pgdat() aims
  (mm/vmscan.c, v2.6.25).  kswapd runs beside the allocating tasks, not
  after every allocation; in between, requests that find a zone below
  its low watermark go on down the zonelist (get_page_from_freelist), so
  on i386 the page cache spills from HighMem into lowmem, as it does on a
  real machine;
* keventd: every KSWAPD_INTERVAL calls it runs the deferred work (the
  series defers a vcompound free when the caller may not sleep, and
  without PREEMPT preemptible() is 0, so every virtual free is deferred);
* direct reclaim: the kernel's try_to_free_pages() is linked to one that
  reclaims SWAP_CLUSTER_MAX (32) page-cache pages from the zones of the
  zonelist, oldest first, and for orders above PAGE_ALLOC_COSTLY_ORDER
  also the page-cache pages in each one's naturally aligned block of the
  request's order (lumpy reclaim, isolate_lru_pages in mm/vmscan.c#L650,
  2.6.25).  Slab and the users' memory are never reclaimed.

Measures, sampled over simulated time (workload calls):

* fallback rate: of the allocations through the vcompound API of order
  >= 1, the share that got a vmalloc'd object instead of a physically
  contiguous page, per order and per user;
* vmalloc space used (the areas' sizes, guard pages included) and the
  largest free gap of the window [VMALLOC_START, VMALLOC_END), from the
  2.6.25 layout (impl/kconfig.py: i386 high_memory + 8 MiB .. PKMAP_BASE -
  2 pages, 896 MiB of lowmem; x86_64 32 TiB);
* the first failed allocation;
* free blocks per order in /proc/buddyinfo's format (mm/vmstat.c
  frag_show_print: "Node %d, zone %8s " then "%6lu " per order);
* the unusable free space index of each order j, F_u(j) = (F - sum over
  i >= j of 2^i n_i) / F, with F the zone's free pages and n_i its free
  blocks of order i: the share of free memory in blocks too small for an
  order-j request (M. Gorman and A. Whitcroft, "The What, The Why and the
  Where To of Anti-Fragmentation", Ottawa Linux Symposium 2006; later
  unusable_free_index() in mm/vmstat.c, 2.6.35).  1 when nothing is free.
"""
from __future__ import annotations

import json
import os
import random
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field

from vcpcheck.impl.gfp import GFP_HIGHUSER_MOVABLE, gfp_to_str
from vcpcheck.impl.kconfig import Kconfig, PAGE_SIZE, ConfigError
from vcpcheck.impl.kernel import Kernel, KernelOops
from vcpcheck.impl.page_alloc import PAGE_ALLOC_COSTLY_ORDER
from vcpcheck.impl.symbols import KFunc

from .targets import TARGETS
from .workloads_sim import WORKLOADS

SWAP_CLUSTER_MAX = 32                 # include/linux/swap.h
KSWAPD_INTERVAL = 64
I386_LOWMEM_PAGES = (896 << 20) // PAGE_SIZE     # MAXMEM with the 3G/1G split
USERS = ("stack", "e1000", "wait_table", "slub_loc", "highalloc")


class SimulateError(ValueError):
    """Bad input to simulate: one line, exit status 2."""


# --- input ----------------------------------------------------------------------------

def parse_memory(text: str) -> int:
    """'1G', '512M', '4096K' or a byte count -> bytes (a whole number of pages)."""
    t = str(text).strip().upper().removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    try:
        if t and t[-1] in mult:
            value = float(t[:-1]) * mult[t[-1]]
        else:
            value = float(t)
    except ValueError:
        raise SimulateError(f"--memory {text!r}: expected a size such as 1G or 512M")
    if value < 16 * PAGE_SIZE:
        raise SimulateError(f"--memory {text!r}: at least 64K (16 pages)")
    return int(value) // PAGE_SIZE * PAGE_SIZE


def target_config(name: str, arch: str, mem_bytes: int):
    """(Kconfig, symbols) of a built-in target for simulate: MAX_ORDER 11,
    per-cpu lists, the fallback not forced, i386 HIGHMEM above 896 MiB."""
    if name not in TARGETS:
        raise SimulateError(f"unknown target {name!r} (see vcpcheck list)")
    if arch not in ("i386", "x86_64"):
        raise SimulateError(f"--arch {arch!r}: expected i386 or x86_64")
    t = TARGETS[name]
    pages = mem_bytes // PAGE_SIZE
    limit = 4 << 30 if arch == "i386" else 64 << 30
    if mem_bytes > limit:
        raise SimulateError(f"--memory: at most {limit >> 30}G on {arch}"
                            + (" (HIGHMEM4G; PAE is not modelled)" if arch == "i386" else ""))
    values = dict(ARCH=arch, mem_pages=pages, FORCE_MAX_ZONEORDER=11,
                  per_cpu_pages=True, DEBUG_VM=False)
    if arch == "i386" and pages > I386_LOWMEM_PAGES:
        values.update(HIGHMEM=True, lowmem_pages=I386_LOWMEM_PAGES)
    for opt in ("VFALLBACK_ALWAYS", "VIRTUALIZE_ALWAYS"):
        if opt in t.options:
            values[opt] = False
    reasons = []
    for ext in (False, True):
        try:
            cfg = Kconfig.make(PAGEFLAGS_EXTENDED=ext, **values)
        except ConfigError as e:
            raise SimulateError(str(e))
        symbols, why = t.try_build(cfg)
        if symbols is not None:
            if not t.has_vcompound(symbols):
                raise SimulateError(f"target {name!r} has no vcompound API to "
                                    f"simulate (a series from its patch 04 on, "
                                    f"or reference)")
            return t, cfg, symbols
        reasons.append(why)
    raise SimulateError(f"target {name!r} does not build for {arch}: {reasons[0]}")


# --- the simulator ---------------------------------------------------------------------

@dataclass
class Obj:
    handle: int          # pfn (page API) or address (vcompound API)
    order: int
    api: str             # "pages" or "vcompound"
    backing: str = ""    # vcompound: "phys" or "vmalloc"


@dataclass
class Result:
    target: str
    arch: str
    mem_pages: int
    lowmem_pages: int
    workload: str
    seed: int
    calls: int
    seconds: float = 0.0
    config: str = ""
    vmalloc_window: int = 0
    # [user][order] -> [physical, vmalloc, failed]
    vcompound: dict = field(default_factory=dict)
    first_failure: dict | None = None
    oops: dict | None = None
    kernel_errors: int = 0
    first_error: str = ""
    reclaimed: int = 0
    buddyinfo: dict = field(default_factory=dict)        # zone -> nr_free per order
    samples: list = field(default_factory=list)
    vmalloc_peak: int = 0
    vmalloc_gap_min: int = 0
    marks: dict = field(default_factory=dict)             # what the workload noted

    # -- summaries ----------------------------------------------------------------
    def totals(self, user=None, order=None):
        """[physical, vmalloc, failed] over order >= 1, optionally one user/order."""
        out = [0, 0, 0]
        for u, by_order in self.vcompound.items():
            if user is not None and u != user:
                continue
            for o, counts in by_order.items():
                if int(o) < 1 or (order is not None and int(o) != order):
                    continue
                out = [a + b for a, b in zip(out, counts)]
        return out

    def fallback_rate(self, user=None, order=None):
        phys, virt, failed = self.totals(user, order)
        n = phys + virt + failed
        return virt / n if n else None

    def orders(self):
        return sorted({int(o) for by in self.vcompound.values() for o in by if int(o) >= 1})

    def final(self):
        return self.samples[-1] if self.samples else {}

    def as_json(self):
        d = dict(vars(self))
        d["fallback_rate"] = self.fallback_rate()
        d["fallback_rate_by_order"] = {o: self.fallback_rate(order=o) for o in self.orders()}
        d["fallback_rate_by_user"] = {u: self.fallback_rate(user=u) for u in self.vcompound
                                      if sum(self.totals(user=u))}
        return d


class Simulator:
    """One target's kernel under one workload."""

    def __init__(self, target: str, arch: str, mem_bytes: int, workload: str,
                 seed: int = 0, calls: int = 100_000, samples: int = 100):
        if workload not in WORKLOADS:
            raise SimulateError(f"unknown workload {workload!r} (one of "
                                f"{', '.join(WORKLOADS)})")
        if calls < 1:
            raise SimulateError(f"--calls {calls}: at least 1")
        t, cfg, symbols = target_config(target, arch, mem_bytes)
        symbols = dict(symbols)
        symbols["try_to_free_pages"] = KFunc(
            "try_to_free_pages", self._try_to_free_pages,
            "checks/simulate.py: reclaims the workload's page cache")
        self.api = t.api
        self.total_calls = calls
        self.rng = random.Random(seed)
        self.calls = 0
        self.booted = False
        self.live = defaultdict(list)
        self.held_pages = defaultdict(int)        # user -> pages of its live objects
        self.slab_pages = 0
        self.lru: list[OrderedDict] = []          # per zone: page-cache pfns, oldest first
        self.pc_pages: list[int] = []             # every page-cache pfn, for random drops
        self.pc_index: dict[int, int] = {}
        self.k = Kernel(cfg, symbols)
        self.lru = [OrderedDict() for _ in self.k.zones]
        self.k.init_per_zone_pages_min()
        self.k.events.clear()
        self.lowmem_end = self.k.lowmem_pages
        self.workload = WORKLOADS[workload]()
        self.sample_every = max(1, calls // samples)
        self.result = Result(target, arch, self.k.nr_pages, self.k.lowmem_pages,
                             workload, seed, calls, config=cfg.short(),
                             vmalloc_window=self.k.VMALLOC_END - self.k.VMALLOC_START)
        self.result.vmalloc_gap_min = self.result.vmalloc_window
        self._stats = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
        self._errors_seen = 0

    # -- kernel calls the workloads make (each is one call) ----------------------------
    def alloc_pages(self, user, gfp, order):
        page = self.k.alloc_pages(gfp, order)
        self._count_call()
        if page is None:
            self._failed(user, order, "alloc_pages", gfp)
            return None
        self.live[user].append(Obj(page, order, "pages"))
        self.held_pages[user] += 1 << order
        if user.startswith("slab"):
            self.slab_pages += 1 << order
        return page

    def alloc_vcompound(self, user, gfp, order, transient=False):
        k = self.k
        if self.api:
            addr = self.api["__alloc_vcompound"](k, gfp, order)
        else:
            addr = k.call("__alloc_vcompound", gfp, order)
        self._count_call()
        counts = self._stats[user][order]
        if not addr:
            counts[2] += 1
            self._failed(user, order, "__alloc_vcompound", gfp)
            return 0
        backing = "vmalloc" if k.is_vmalloc_addr(addr) else "phys"
        counts[0 if backing == "phys" else 1] += 1
        obj = Obj(addr, order, "vcompound", backing)
        if transient:
            self._free(obj)
        else:
            self.live[user].append(obj)
            self.held_pages[user] += 1 << order
        return addr

    def free_random(self, user, rng):
        objs = self.live[user]
        i = rng.randrange(len(objs))
        objs[i], objs[-1] = objs[-1], objs[i]
        self._release(user, objs.pop())

    def free_oldest(self, user):
        self._release(user, self.live[user].pop(0))

    def _release(self, user, obj):
        self.held_pages[user] -= 1 << obj.order
        if user.startswith("slab"):
            self.slab_pages -= 1 << obj.order
        self._free(obj)

    def _free(self, obj):
        k = self.k
        if obj.api == "pages":
            k.call("__free_pages", obj.handle, obj.order)
        elif self.api:
            self.api["__free_vcompound"](k, obj.handle, obj.order)
        else:
            k.call("__free_vcompound", obj.handle)
        self._count_call()

    # -- the page cache -------------------------------------------------------------------
    def pagecache_size(self):
        return len(self.pc_pages)

    def pagecache_add(self):
        page = self.k.alloc_pages(GFP_HIGHUSER_MOVABLE, 0)
        self._count_call()
        if page is None:
            self._failed("pagecache", 0, "alloc_pages", GFP_HIGHUSER_MOVABLE)
            return
        self.lru[self._zone_idx(page)][page] = None
        self.pc_index[page] = len(self.pc_pages)
        self.pc_pages.append(page)

    def pagecache_drop_random(self, rng):
        page = self.pc_pages[rng.randrange(len(self.pc_pages))]
        self._pagecache_free(page)
        self._count_call()

    def _pagecache_free(self, page):
        del self.lru[self._zone_idx(page)][page]
        i = self.pc_index.pop(page)
        last = self.pc_pages.pop()
        if last != page:
            self.pc_pages[i] = last
            self.pc_index[last] = i
        self.k.call("__free_pages", page, 0)

    def _zone_idx(self, page):
        return 0 if page < self.lowmem_end else 1

    # -- reclaim --------------------------------------------------------------------------
    def _try_to_free_pages(self, k, zonelist, order, gfp_mask):
        """Direct reclaim: SWAP_CLUSTER_MAX oldest page-cache pages of the
        zonelist's zones, with lumpy reclaim above PAGE_ALLOC_COSTLY_ORDER."""
        freed = 0
        for zone in zonelist:
            lru = self.lru[zone.idx]
            while lru and freed < SWAP_CLUSTER_MAX:
                page = next(iter(lru))
                self._pagecache_free(page)
                freed += 1
                if order > PAGE_ALLOC_COSTLY_ORDER:
                    freed += self._lumpy(page, order)
        self.result.reclaimed += freed
        return freed

    def _lumpy(self, page, order):
        start = page & ~((1 << order) - 1)
        freed = 0
        for pfn in range(start, start + (1 << order)):
            if pfn in self.pc_index:
                self._pagecache_free(pfn)
                freed += 1
        return freed

    def _kswapd(self):
        for zone, lru in zip(self.k.zones, self.lru):
            low = zone.pages_min + zone.pages_min // 4
            if zone.NR_FREE_PAGES >= low or not lru:
                continue
            high = zone.pages_min + zone.pages_min // 2
            while zone.NR_FREE_PAGES < high and lru:
                self._pagecache_free(next(iter(lru)))
                self.result.reclaimed += 1

    # -- bookkeeping -------------------------------------------------------------------------
    def _count_call(self):
        self.calls += 1

    def _failed(self, user, order, function, gfp):
        if self.result.first_failure is None:
            self.result.first_failure = dict(
                call=self.calls, user=user, order=order, function=function,
                gfp=gfp_to_str(gfp), free_pages=self.k.nr_free_pages())

    def _watch_events(self):
        ev = self.k.events
        if not ev:
            return
        for e in ev:
            if e.is_error():
                self.result.kernel_errors += 1
                if not self.result.first_error:
                    self.result.first_error = (f"call {self.calls}: {e.kind} in "
                                               f"{e.function}: {e.message}")
        ev.clear()

    def sample(self):
        k, r = self.k, self.result
        used, gap = vmalloc_use(k)
        r.vmalloc_peak = max(r.vmalloc_peak, used)
        r.vmalloc_gap_min = min(r.vmalloc_gap_min, gap)
        normal = k.zones[0]
        phys, virt, failed = self._totals()
        r.samples.append(dict(
            call=self.calls, free_pages=k.nr_free_pages(),
            unaccounted=self.unaccounted_pages(),
            pcp_pages=sum(p.count for p in k.pcp),
            pagecache=len(self.pc_pages), slab=self.slab_pages,
            vmalloc_used=used, vmalloc_gap=gap,
            vcompound=[phys, virt, failed],
            unusable=[round(unusable_free_index(normal, j), 4)
                      for j in range(k.MAX_ORDER)]))

    def unaccounted_pages(self) -> int:
        """Pages that are neither free (buddy or per-cpu lists) nor held:
        by the page cache, slab, a live object of a user, a kernel page
        table, a kmalloc_large object, or a virtual object whose deferred
        free keventd has not run yet.  A correct design keeps this at
        0; a leaking one (V3 frees a physical object by compound_order() of
        a page it never made compound, so 2^order - 1 pages stay
        allocated) does not."""
        k = self.k
        held = len(self.pc_pages) + len(k.pgtables) + sum(self.held_pages.values())
        for o in k.kmalloc_objs.values():
            if o.large_page is not None:
                held += 1 << k.get_order(o.size)
        if k.workqueue:                 # virtual frees keventd has not run yet
            areas = {a.addr: a.nr_pages for a in k.vmlist}
            held += sum(areas.get(w, 0) for w in k.workqueue)
        free = k.nr_free_pages() + sum(p.count for p in k.pcp)
        return k.nr_pages - free - held

    def _totals(self):
        out = [0, 0, 0]
        for by_order in self._stats.values():
            for o, c in by_order.items():
                if o >= 1:
                    out = [a + b for a, b in zip(out, c)]
        return out

    # -- the run ---------------------------------------------------------------------------------
    def run(self) -> Result:
        t0 = time.process_time()
        r, rng, wl = self.result, self.rng, self.workload
        try:
            wl.boot(self)
            self.booted = True
            self._watch_events()
            self.sample()
            while self.calls < self.total_calls:
                wl.step(self, rng)
                if self.calls % KSWAPD_INTERVAL == 0:
                    self._kswapd()
                    if self.k.workqueue:
                        self.k.run_workqueue()      # keventd: deferred frees
                if self.k.events:
                    self._watch_events()
                if self.calls // self.sample_every != (self.calls - 1) // self.sample_every:
                    self.sample()
        except KernelOops as e:
            self._watch_events()
            r.oops = dict(call=self.calls, function=e.function, message=e.message)
        if not r.samples or r.samples[-1]["call"] != self.calls:
            self.sample()
        r.calls = self.calls
        r.vcompound = {u: {o: list(c) for o, c in sorted(by.items())}
                       for u, by in self._stats.items()}
        r.buddyinfo = {z.name: list(z.nr_free) for z in self.k.zones}
        r.seconds = round(time.process_time() - t0, 2)
        return r


# --- measures ------------------------------------------------------------------------------------

def vmalloc_use(k) -> tuple[int, int]:
    """(bytes used by vm areas, guard pages included; the largest free gap
    of [VMALLOC_START, VMALLOC_END) in bytes)."""
    used, gap, addr = 0, 0, k.VMALLOC_START
    for a in k.vmlist:                       # sorted by address
        used += a.size
        gap = max(gap, a.addr - addr)
        addr = max(addr, a.addr + a.size)
    gap = max(gap, k.VMALLOC_END - addr)
    return used, gap


def unusable_free_index(zone, order: int) -> float:
    """Gorman's unusable free space index of ``zone`` for ``order``."""
    free = zone.NR_FREE_PAGES
    if free == 0:
        return 1.0
    usable = sum(n << i for i, n in enumerate(zone.nr_free) if i >= order)
    return (free - usable) / free


def buddyinfo_lines(result: Result) -> list[str]:
    """/proc/buddyinfo: "Node 0, zone %8s " and "%6lu " per order."""
    return [f"Node 0, zone {name:>8s} " + "".join(f"{n:6d} " for n in nr_free)
            for name, nr_free in result.buddyinfo.items()]


# --- reports --------------------------------------------------------------------------------------

def _pct(x):
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _mb(n):
    return f"{n / (1 << 20):.1f} MB"


def _size(pages):
    b = pages * PAGE_SIZE
    return f"{b >> 30}G" if b % (1 << 30) == 0 else f"{b >> 20}M"


def report_lines(r: Result) -> list[str]:
    """The text report of one run."""
    phys, virt, failed = r.totals()
    n = phys + virt + failed
    out = [f"{r.target}: {r.workload} on {r.arch} {_size(r.mem_pages)} "
           f"({r.mem_pages} pages, lowmem {r.lowmem_pages}; MAX_ORDER 11; seed "
           f"{r.seed}; {r.calls} calls; {r.seconds}s)",
           f"  vcompound allocations of order >= 1: {n}: {phys} physical, {virt} "
           f"vmalloc'd, {failed} failed; fallback rate {_pct(r.fallback_rate())}"]
    out.append("  fallback by order: " + "  ".join(
        f"{o}: {_pct(r.fallback_rate(order=o))} ({r.totals(order=o)[1]}/"
        f"{sum(r.totals(order=o))})" for o in r.orders()))
    out.append("  fallback by user:  " + "  ".join(
        f"{u}: {_pct(r.fallback_rate(user=u))} ({r.totals(user=u)[1]}/"
        f"{sum(r.totals(user=u))})" for u in r.vcompound if sum(r.totals(user=u))))
    f = r.final()
    out.append(f"  vmalloc: {_mb(f.get('vmalloc_used', 0))} used at the end, peak "
               f"{_mb(r.vmalloc_peak)}, of a {_mb(r.vmalloc_window)} window; largest "
               f"free gap {_mb(f.get('vmalloc_gap', 0))} at the end, smallest "
               f"{_mb(r.vmalloc_gap_min)}")
    if r.marks:
        out.append("  workload: " + ", ".join(f"{k} {v}" for k, v in r.marks.items()))
    ff = r.first_failure
    out.append("  first failed allocation: " + (
        "none" if ff is None else
        f"call {ff['call']}: {ff['user']} order {ff['order']} ({ff['function']} "
        f"{ff['gfp']}), {ff['free_pages']} pages free"))
    if r.oops:
        out.append(f"  kernel oops at call {r.oops['call']} in {r.oops['function']}: "
                   f"{r.oops['message']} (the run stopped there)")
    out.append(f"  kernel reports: {r.kernel_errors} errors"
               + (f"; first: {r.first_error}" if r.first_error else ""))
    out.append(f"  free pages at the end: {f.get('free_pages', 0)} (+{f.get('pcp_pages', 0)}"
               f" on per-cpu lists); page cache {f.get('pagecache', 0)}, slab "
               f"{f.get('slab', 0)}; reclaimed {r.reclaimed}; held by no one "
               f"(leaked) {f.get('unaccounted', 0)}")
    un = f.get("unusable", [])
    out.append("  unusable free space index (Normal), order: " + " ".join(
        f"{j}:{u:.2f}" for j, u in enumerate(un)))
    out.append("  /proc/buddyinfo:")
    out += ["    " + line for line in buddyinfo_lines(r)]
    return out


def compare_lines(results: list[Result]) -> list[str]:
    """Several targets side by side, one row per measure."""
    rows = [("fallback rate", [_pct(r.fallback_rate()) for r in results])]
    orders = sorted({o for r in results for o in r.orders()})
    for o in orders:
        rows.append((f"  order {o}", [_pct(r.fallback_rate(order=o)) for r in results]))
    users = sorted({u for r in results for u in r.vcompound})
    for u in users:
        rows.append((f"  {u}", [_pct(r.fallback_rate(user=u)) for r in results]))
    rows += [
        ("failed vcompound", [str(r.totals()[2]) for r in results]),
        ("vmalloc used (end)", [_mb(r.final().get("vmalloc_used", 0)) for r in results]),
        ("vmalloc peak", [_mb(r.vmalloc_peak) for r in results]),
        ("largest vmalloc gap (min)", [_mb(r.vmalloc_gap_min) for r in results]),
        ("first failure (call)", [str(r.first_failure["call"]) if r.first_failure
                                  else "none" for r in results]),
        ("kernel errors", [str(r.kernel_errors) for r in results]),
        ("oops", ["at call %d" % r.oops["call"] if r.oops else "none" for r in results]),
        ("free pages (end)", [str(r.final().get("free_pages", 0)) for r in results]),
        ("leaked pages (end)", [str(r.final().get("unaccounted", 0)) for r in results]),
        ("unusable index order 3", [f"{r.final().get('unusable', [0] * 4)[3]:.2f}"
                                    for r in results]),
    ]
    w0 = max(len(name) for name, _ in rows)
    ws = [max(len(r.target), *(len(v[i]) for _, v in rows)) for i, r in enumerate(results)]
    out = ["  ".join([" " * w0] + [r.target.rjust(w) for r, w in zip(results, ws)])]
    for name, vals in rows:
        out.append("  ".join([name.ljust(w0)] + [v.rjust(w) for v, w in zip(vals, ws)]))
    return out


# --- plots -------------------------------------------------------------------------------------------

def check_plots_dir(path: str) -> None:
    """Make ``path`` if needed and check it is a writable directory."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise SimulateError(f"--plots {path}: {e.strerror}")
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        raise SimulateError(f"--plots {path}: not a writable directory")


def write_plots(results: list[Result], path: str) -> list[str]:
    """PNG and SVG of each figure into ``path``; returns the files written."""
    try:
        import matplotlib
    except ImportError:
        raise SimulateError("--plots needs matplotlib: pip install 'vcpcheck[sim]'")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    check_plots_dir(path)
    written = []

    def save(fig, name):
        for ext in ("png", "svg"):
            f = os.path.join(path, f"{name}.{ext}")
            fig.savefig(f)
            written.append(f)
        plt.close(fig)

    title = f"{results[0].workload}, {results[0].arch} {_size(results[0].mem_pages)}"
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        xs = [s["call"] for s in r.samples]
        ys = [100 * s["vcompound"][1] / max(1, sum(s["vcompound"])) for s in r.samples]
        ax.plot(xs, ys, label=r.target)
    ax.set(xlabel="workload calls", ylabel="cumulative fallback rate (%)",
           title=f"vcompound fallback to vmalloc: {title}")
    ax.legend()
    save(fig, "fallback_rate")

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        xs = [s["call"] for s in r.samples]
        ax.plot(xs, [s["vmalloc_used"] / (1 << 20) for s in r.samples],
                label=f"{r.target} used")
        ax.plot(xs, [s["vmalloc_gap"] / (1 << 20) for s in r.samples], "--",
                label=f"{r.target} largest free gap")
    ax.set(xlabel="workload calls", ylabel="MB",
           title=f"vmalloc window ({_mb(results[0].vmalloc_window)}): {title}")
    ax.legend()
    save(fig, "vmalloc")

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(results)
    for i, r in enumerate(results):
        nr_free = [0] * 11
        for counts in r.buddyinfo.values():
            nr_free = [a + b for a, b in zip(nr_free, counts)]
        ax.bar([o + i * width for o in range(len(nr_free))], nr_free, width,
               label=r.target)
    ax.set_yscale("symlog")
    ax.set(xlabel="order", ylabel="free blocks (all zones)",
           title=f"buddyinfo at the end: {title}")
    ax.legend()
    save(fig, "buddyinfo")

    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        xs = [s["call"] for s in r.samples]
        for j in (1, 3, 6):
            ax.plot(xs, [s["unusable"][j] for s in r.samples], label=f"{r.target} order {j}")
    ax.set(xlabel="workload calls", ylabel="unusable free space index (Normal)",
           ylim=(0, 1.05), title=f"fragmentation: {title}")
    ax.legend()
    save(fig, "fragmentation")
    return written


# --- the command ------------------------------------------------------------------------------------

def simulate(targets, memory="1G", arch="i386", workload="stress-highalloc",
             seed=0, calls=100_000, samples=100) -> list[Result]:
    """Run each target under the same workload and seed."""
    mem = parse_memory(memory)
    sims = [Simulator(t, arch, mem, workload, seed, calls, samples) for t in targets]
    return [s.run() for s in sims]


def main(args) -> int:
    """vcpcheck simulate: returns the exit status (0)."""
    if args.plots:
        check_plots_dir(args.plots)
    results = simulate(args.targets, args.memory, args.arch, args.workload,
                       args.seed, args.calls)
    files = write_plots(results, args.plots) if args.plots else []
    if args.json:
        print(json.dumps(dict(results=[r.as_json() for r in results], plots=files),
                         indent=1, default=str))
        return 0
    for r in results:
        print("\n".join(report_lines(r)))
    if len(results) > 1:
        print()
        print("\n".join(compare_lines(results)))
    if files:
        print(f"plots: {', '.join(files)}")
    return 0
