"""One booted kernel: memory map, zones, vmalloc state, context and log.

The state is kept in flat arrays indexed by pfn (the fields of struct page,
include/linux/mm_types.h at v2.6.25) and small Python records, so it can be
snapshot, compared and hashed cheaply.  Kernel functions live in the other
modules of this package and are bound onto the instance by name
(symbols.py), the way the linker resolves C symbols.

Reports: BUG()/oops raise KernelOops (the kernel stops); bad_page, WARN and
might_sleep reports are appended to ``k.events`` and execution continues, as
in the kernel.
"""
from __future__ import annotations

import os
from collections import namedtuple
from dataclasses import dataclass, field
from types import MethodType

from .kconfig import Kconfig, arch_constants, PAGE_SHIFT, PAGE_SIZE
from .symbols import KFunc, base_symbols

# include/linux/poison.h: what list_del() leaves in a page's lru words.
LIST_POISON1 = 0x00100100
LIST_POISON2 = 0x00200200
# customised: what a word of memory reads before anything was written to it.
UNINITIALISED = 0x5a5a5a5a5a5a5a5a
# customised: kernel function pointers are addresses in a fake text segment
# (x86_64 kernel text; on i386 an address in the image no model data uses).
FUNC_TEXT_BASE = {64: 0xffffffff80200000, 32: 0xc1000000 - 0x00400000}


class KernelOops(Exception):
    """BUG(), a failed BUG_ON/VM_BUG_ON, or a bad pointer dereference."""

    def __init__(self, message: str, function: str = ""):
        super().__init__(message)
        self.message = message
        self.function = function


@dataclass(frozen=True)
class Event:
    kind: str        # BUG, bad_page, WARN, might_sleep, kmalloc, info
    function: str    # the kernel function that reported it
    message: str     # the kernel's own words where it has them

    def is_error(self) -> bool:
        return self.kind != "info"


@dataclass
class Context:
    """Execution context: what in_interrupt()/in_atomic() look at."""
    hardirq: int = 0          # irq_enter() nesting
    irqs_disabled: bool = False
    spin_depth: int = 0       # spinlocks held (real, whatever PREEMPT says)

    def describe(self) -> str:
        if self.hardirq:
            return "interrupt"
        if self.spin_depth or self.irqs_disabled:
            return "atomic"
        return "process"


# Sentinels of the free lists of migrate types above MIGRATE_UNMOVABLE are
# offset by this much, so MIGRATE_UNMOVABLE's keep the values they had when
# the model had one list per order (Zone.sentinel).
MIGRATETYPE_SENTINEL_STRIDE = 1 << 16


@dataclass
class Zone:
    """struct zone (include/linux/mmzone.h#L199).

    free_area[order].free_list[migratetype] (mmzone.h#L58) is list number
    ``migratetype * max_order + order`` of head_next/head_prev.  With
    grouping by mobility disabled (page_group_by_mobility_disabled, the
    model's checking bound) only MIGRATE_UNMOVABLE's lists exist, since
    every allocation and free uses them (mmzone.h#L50-L53, gfp.h#L112);
    nr_free[order] counts the blocks of every migrate type, as the kernel's
    free_area[order].nr_free does."""
    name: str
    idx: int
    zone_start_pfn: int
    spanned_pages: int
    max_order: int
    pages_min: int = 0
    # free_area[order]: circular list through lru_next/lru_prev with a
    # sentinel; head_next/head_prev are the sentinel's own links.
    head_next: list = field(default_factory=list)
    head_prev: list = field(default_factory=list)
    nr_free: list = field(default_factory=list)
    NR_FREE_PAGES: int = 0

    def sentinel(self, order: int, migratetype: int = 0) -> int:
        # Negative, so it can never be taken for a pfn.
        return -1 - (migratetype * MIGRATETYPE_SENTINEL_STRIDE
                     + self.idx * self.max_order + order)

    def nr_migratetypes(self) -> int:
        """How many migrate types have free lists (1 with grouping off)."""
        return len(self.head_next) // self.max_order

    def end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages


@dataclass
class PerCpuPages:
    """struct per_cpu_pages (include/linux/mmzone.h#L108): count, high,
    batch and the list, front first.

    customised: the list is a Python list of pfns instead of a list_head
    threaded through the pages' lru words; each page's private word holds
    its migrate type, as the kernel's does (page_alloc.c#L849, #L1009)."""
    count: int = 0
    high: int = 0
    batch: int = 1
    list: list = field(default_factory=list)


@dataclass
class VmStruct:
    """struct vm_struct (include/linux/vmalloc.h, v2.6.25/26)."""
    addr: int
    size: int            # includes the guard page
    flags: int
    pages: int = 0       # kernel address of the struct page* array (0=NULL)
    nr_pages: int = 0
    phys_addr: int = 0
    caller: str = ""
    desc: int = 0        # kmalloc address of this descriptor


@dataclass
class KmallocObject:
    """An object handed out by the kmalloc shim (mm/slub.c)."""
    addr: int
    size: int
    gfp: int
    large_page: int | None = None    # pfn when served by kmalloc_large
    words: dict = field(default_factory=dict)


# Kernel.snapshot(): the attributes of Kernel._STATE in that order, each as a
# tuple (dicts as their items in insertion order, records as their fields);
# a leading underscore dropped from the field name.
KernelSnapshot = namedtuple("KernelSnapshot", (
    "flags", "count", "mapcount", "private", "mapping", "lru_next", "lru_prev",
    "pagemem", "zones", "vmlist", "pgtables", "ptes", "page_address_map",
    "kmalloc_objs", "kmalloc_next", "kmalloc_free_slots", "freed_kmalloc", "ctx",
    "events", "workqueue", "system_state", "fail_page_alloc", "fail_pt_alloc",
    "fail_kmalloc", "tainted", "calls", "func_names", "pageblock_flags", "pcp"))
_new_snapshot = tuple.__new__         # (KernelSnapshot, fields): no 29-argument __new__


class Kernel:
    """The kernel state plus its bound symbol table."""

    def __init__(self, cfg: Kconfig | None = None,
                 symbols: dict[str, KFunc] | None = None):
        self.cfg = cfg or Kconfig.make()
        c = arch_constants(self.cfg)
        self.consts = c
        self.PAGE_SHIFT, self.PAGE_SIZE = PAGE_SHIFT, PAGE_SIZE
        self.BITS = c["BITS"]
        self.PTR_SIZE = self.BITS // 8
        self.PAGE_OFFSET = c["PAGE_OFFSET"]
        self.VMALLOC_START, self.VMALLOC_END = c["VMALLOC_START"], c["VMALLOC_END"]
        self.MAX_ORDER = c["MAX_ORDER"]
        self.MEM_MAP_VIRT = c["MEM_MAP_VIRT"]
        self.SIZEOF_STRUCT_PAGE = c["SIZEOF_STRUCT_PAGE"]
        self.nr_pages = n = self.cfg.mem_pages
        self.lowmem_pages = c["lowmem_pages"]
        # the end of the linear map (high_memory): where memory.resolve() stops
        self.LOWMEM_END = self.PAGE_OFFSET + (self.lowmem_pages << PAGE_SHIFT)
        # struct page fields, indexed by pfn (mem_map[] / vmemmap).
        self.flags = [0] * n
        self._count = [0] * n
        self._mapcount = [-1] * n
        self.private = [0] * n      # overlaid by first_page
        self.mapping = [0] * n
        self.lru_next = [0] * n
        self.lru_prev = [0] * n
        # page contents: pfn -> {byte offset: word}; absent pfn = never written
        self.pagemem: dict[int, dict[int, int]] = {}
        # For snapshot(): each page's words as the last snapshot() or restore()
        # left them, as a tuple, and the pages memory.py wrote since.
        self._mem_words: dict[int, tuple] = {}
        self.mem_dirty: set[int] = set()
        self.zones: list[Zone] = []
        self.vmlist: list[VmStruct] = []     # sorted by addr, as the kernel keeps it
        self.pgtables: dict = {}             # (level, index) -> table pfn
        self.ptes: dict[int, int] = {}       # vaddr page -> pfn (present PTEs)
        self.page_address_map: dict[int, int] = {}   # HASHED_PAGE_VIRTUAL
        self.kmalloc_objs: dict[int, KmallocObject] = {}
        self.kmalloc_next = 0
        self.kmalloc_free_slots: list[int] = []
        self.freed_kmalloc: set[int] = set()
        self.ctx = Context()
        self.workqueue: list[int] = []      # keventd: addresses of work_structs
        self.system_state = "SYSTEM_RUNNING"
        self.events: list[Event] = []
        # fault injection budgets (fail_page_alloc, page tables, failslab)
        self.fail_page_alloc = 0
        self.fail_pt_alloc = 0
        self.fail_kmalloc = 0
        self.tainted = False
        self.calls = 0
        # include/linux/pageblock-flags.h#L55 (!CONFIG_HUGETLB_PAGE):
        # pageblock_order is MAX_ORDER-1; the migrate type of each pageblock
        # (zone->pageblock_flags, PB_migrate), indexed by pfn >> pageblock_order.
        from .page_alloc import MIGRATE_TYPES, MIGRATE_UNMOVABLE
        self.MIGRATE_TYPES = MIGRATE_TYPES
        self.pageblock_order = self.MAX_ORDER - 1
        self.pageblock_nr_pages = 1 << self.pageblock_order
        self.pageblock_flags = [MIGRATE_UNMOVABLE] * (
            (n + self.pageblock_nr_pages - 1) >> self.pageblock_order)
        self.page_group_by_mobility_disabled = True
        # struct per_cpu_pages of each zone for the one CPU, when the model
        # parameter per_cpu_pages is on (else empty: frees go straight to
        # the buddy lists).
        self.pcp: list = []
        self._func_names: list[str] = []
        self._func_addr: dict[str, int] = {}
        self.symbols: dict[str, KFunc] = {}
        from .page_flags import page_flag_bits
        self.__dict__.update(page_flag_bits(self.cfg))
        from .slub import kmalloc_arena
        self.KMALLOC_ARENA = kmalloc_arena(self)
        self.link(symbols if symbols is not None else base_symbols(self.cfg))
        # An oops while booting (BUG() or a Python exception in kernel code,
        # see python_oops) is in the log and the kernel is down: the checks
        # report it on the initial state, with an empty trace.
        self.booted = False
        try:
            self.boot()
            self.booted = True
        except KernelOops:
            pass
        except Exception as e:
            if self.python_oops(e) is None:
                raise

    # -- linking ----------------------------------------------------------
    def link(self, symbols: dict[str, KFunc]) -> None:
        """Bind every symbol onto the instance: k.<C name>(args)."""
        for name in list(self.symbols):
            self.__dict__.pop(name, None)
        self.symbols = dict(symbols)
        for name, kf in self.symbols.items():
            self.__dict__[name] = MethodType(kf.fn, self)

    def call(self, name: str, *args):
        """Call a kernel function by C name (for Python class bodies, where
        a ``__name`` attribute would be mangled)."""
        return getattr(self, name)(*args)

    def func_addr(self, name: str) -> int:
        """The address of a kernel function, for storing in a word."""
        if name not in self._func_addr:
            self._func_addr[name] = (FUNC_TEXT_BASE[self.BITS]
                                     + 16 * len(self._func_names))
            self._func_names.append(name)
        return self._func_addr[name]

    def call_function_pointer(self, word: int, *args):
        """Call through a function pointer read from memory."""
        idx, rem = divmod(word - FUNC_TEXT_BASE[self.BITS], 16)
        if rem or not 0 <= idx < len(self._func_names):
            self.oops(f"BUG: unable to handle kernel paging request at "
                      f"{word & ((1 << self.BITS) - 1):#x} (call through a "
                      f"garbage function pointer)", "call")
        return getattr(self, self._func_names[idx])(*args)

    # -- boot ---------------------------------------------------------------
    def boot(self) -> None:
        """mem_init(): put every page on the free lists, zone by zone."""
        n, low = self.nr_pages, self.lowmem_pages
        spans = [("Normal", 0, low)]
        if self.cfg.ARCH == "i386" and self.cfg.HIGHMEM and low < n:
            spans.append(("HighMem", low, n - low))
        for idx, (name, start, size) in enumerate(spans):
            z = Zone(name, idx, start, size, self.MAX_ORDER,
                     pages_min=self.cfg.watermark_pages)
            z.nr_free = [0] * self.MAX_ORDER
            self.zones.append(z)
        # free_area_init_core(): memmap_init_zone() marks the pageblocks;
        # build_all_zonelists() decides whether grouping by mobility is on,
        # which decides how many free lists zone_init_free_lists() needs.
        for z in self.zones:
            self.memmap_init_zone(z.spanned_pages, 0, z, z.zone_start_pfn)
        self.build_all_zonelists()
        types = 1 if self.page_group_by_mobility_disabled else self.MIGRATE_TYPES
        for z in self.zones:
            z.head_next = [z.sentinel(o, t) for t in range(types)
                           for o in range(self.MAX_ORDER)]
            z.head_prev = list(z.head_next)
            self.zone_pcp_init(z)
        free_bootmem = getattr(self, "__free_pages_bootmem")
        for z in self.zones:
            pfn, end = z.zone_start_pfn, z.end_pfn()
            while pfn < end:
                # free_all_bootmem_core(): hand naturally aligned blocks,
                # as large as fit, to the buddy allocator.
                order = self.MAX_ORDER - 1
                while order and (pfn & ((1 << order) - 1)
                                 or pfn + (1 << order) > end):
                    order -= 1
                free_bootmem(pfn, order)
                pfn += 1 << order
        # setup_zone_migrate_reserve(), run by init_per_zone_pages_min()
        # after the frees (page_alloc.c#L4164): a no-op with grouping off.
        for z in self.zones:
            self.setup_zone_migrate_reserve(z)
        self.events.clear()

    # -- reports ------------------------------------------------------------
    def oops(self, message: str, function: str = "") -> None:
        self.events.append(Event("BUG", function, message))
        raise KernelOops(message, function)

    def python_oops(self, exc: BaseException) -> KernelOops | None:
        """A Python exception raised in kernel code, as the oops it would
        be in C (an IndexError past a page array, None dereferenced, a
        division by zero): logged as a BUG event of the kernel function the
        innermost kernel frame belongs to, and returned as KernelOops.

        Kernel code is a function of the symbol table (base, series or a
        user's variant) or any code of this package.  None when no frame of
        the traceback is kernel code: the exception is the caller's (the
        checker's) own bug, not an oops.
        """
        codes = self._kernel_codes()
        frames, tb = [], exc.__traceback__
        while tb is not None:
            frames.append(tb.tb_frame.f_code)
            tb = tb.tb_next
        kernel = [c for c in frames if c in codes or _in_package(c.co_filename)]
        if not kernel:
            return None
        named = [c for c in frames if c in codes]
        name = codes[named[-1]] if named else kernel[-1].co_name
        source = self.symbols[name].source if name in self.symbols else "vcpcheck.impl"
        raised, line = frames[-1], _line_of(exc)
        message = (f"BUG: Python {type(exc).__name__}: {exc} at "
                   f"{_short(raised.co_filename)}:{line} in {raised.co_name}() "
                   f"(oops in kernel function {name}, {source})")
        self.events.append(Event("BUG", name, message))
        return KernelOops(message, name)

    def _kernel_codes(self) -> dict:
        """{code object: C name} of every function of the symbol table
        (a wrapped variant function by the code it wraps)."""
        key = id(self.symbols)
        cached = self.__dict__.get("_codes")
        if cached is None or cached[0] != key:
            codes = {}
            for name, kf in self.symbols.items():
                fn = kf.fn
                while hasattr(fn, "__wrapped__"):
                    fn = fn.__wrapped__
                code = getattr(fn, "__code__", None)
                if code is not None:
                    codes[code] = name
            cached = (key, codes)
            self.__dict__["_codes"] = cached
        return cached[1]

    def BUG_ON(self, cond, function: str, line: str = "") -> None:
        if cond:
            self.oops(f"kernel BUG at {line or function}!", function)

    def VM_BUG_ON(self, cond, function: str, line: str = "") -> None:
        if cond and self.cfg.DEBUG_VM:
            self.oops(f"kernel BUG at {line or function}! (VM_BUG_ON)", function)

    def WARN_ON(self, cond, function: str, message: str = "") -> bool:
        if cond:
            self.events.append(Event("WARN", function,
                                     message or f"WARNING: at {function}()"))
        return bool(cond)

    def report(self, kind: str, function: str, message: str) -> None:
        self.events.append(Event(kind, function, message))

    def errors(self) -> list[Event]:
        return [e for e in self.events if e.is_error()]

    # -- struct page pointers -------------------------------------------------
    def deref(self, page, function: str = "") -> int:
        """Check a struct page pointer before reading its fields."""
        if page is None:
            self.oops("BUG: unable to handle kernel NULL pointer dereference"
                      " (struct page)", function)
        if not 0 <= page < self.nr_pages:
            self.oops(f"BUG: unable to handle kernel paging request at "
                      f"{self.page_to_word(page) & ((1 << self.BITS) - 1):#x}"
                      f" (struct page of pfn {page} is outside mem_map)",
                      function)
        return page

    def page_to_word(self, page) -> int:
        """A struct page pointer as the value stored in a kernel word."""
        if page is None:
            return 0
        return self.MEM_MAP_VIRT + page * self.SIZEOF_STRUCT_PAGE

    def word_to_page(self, word: int):
        """The struct page pointer a word holds (None for NULL)."""
        if word == 0:
            return None
        off = word - self.MEM_MAP_VIRT
        if off % self.SIZEOF_STRUCT_PAGE:
            # Not a struct page boundary: a garbage pointer.  Keep it
            # distinguishable and out of range so deref() reports it.
            return self.nr_pages + (1 << 40) + (off & 0xffffffff)
        return off // self.SIZEOF_STRUCT_PAGE

    # -- snapshots ------------------------------------------------------------
    # Every attribute a kernel call may change; the rest of __dict__ is fixed
    # at boot (config, constants, the bound symbol table).
    _STATE = ("flags", "_count", "_mapcount", "private", "mapping", "lru_next",
              "lru_prev", "pagemem", "zones", "vmlist", "pgtables", "ptes",
              "page_address_map", "kmalloc_objs", "kmalloc_next", "kmalloc_free_slots",
              "freed_kmalloc", "ctx", "events", "workqueue", "system_state",
              "fail_page_alloc", "fail_pt_alloc", "fail_kmalloc", "tainted", "calls",
              "_func_names", "pageblock_flags", "pcp")

    def snapshot(self, like: KernelSnapshot | None = None) -> KernelSnapshot:
        """The mutable state as nested tuples of ints, strings and frozen
        records: immutable, so one snapshot may be restored any number of
        times and its parts shared (the explore engine hashes them).  Dicts
        keep their insertion order, so a restored kernel iterates exactly
        as the one the snapshot was taken from (the one set, of freed
        kmalloc addresses, is only ever tested, and is kept sorted, so equal
        states have equal snapshots); records are flattened by
        field (Zone, VmStruct, KmallocObject), which fails loudly on
        restore if anything added an attribute to one.

        ``like``: a snapshot of an earlier state (the explore engine's
        parent); each field equal to its field is that very object, so
        the fields a call did not change are shared, and restore() with
        ``current`` can tell them apart by identity."""
        c = self.ctx
        # (an empty container is (), without a generator for it; the fields
        # in KernelSnapshot's order, made into one without its __new__)
        fields = (
            tuple(self.flags), tuple(self._count), tuple(self._mapcount),
            tuple(self.private), tuple(self.mapping), tuple(self.lru_next),
            tuple(self.lru_prev),
            self._mem_snapshot() if self.pagemem else (),
            tuple((z.name, z.idx, z.zone_start_pfn, z.spanned_pages, z.max_order,
                   z.pages_min, tuple(z.head_next), tuple(z.head_prev),
                   tuple(z.nr_free), z.NR_FREE_PAGES) for z in self.zones),
            tuple(tuple(vars(a).values()) for a in self.vmlist) if self.vmlist else (),
            tuple(self.pgtables.items()), tuple(self.ptes.items()),
            tuple(self.page_address_map.items()),
            tuple((key, o.addr, o.size, o.gfp, o.large_page, tuple(o.words.items()))
                  for key, o in self.kmalloc_objs.items()) if self.kmalloc_objs else (),
            self.kmalloc_next, tuple(self.kmalloc_free_slots),
            tuple(sorted(self.freed_kmalloc)) if self.freed_kmalloc else (),
            (c.hardirq, c.irqs_disabled, c.spin_depth),
            tuple(self.events), tuple(self.workqueue), self.system_state,
            self.fail_page_alloc, self.fail_pt_alloc, self.fail_kmalloc,
            self.tainted, self.calls, tuple(self._func_names),
            tuple(self.pageblock_flags),
            tuple((p.count, p.high, p.batch, tuple(p.list)) for p in self.pcp)
            if self.pcp else ())
        if like is not None:
            mem = fields[7]
            fields = [old if old is new or old == new else new
                      for old, new in zip(like, fields)]
            if fields[7] is not mem:
                # like's equal pages are the tuples this snapshot holds:
                # known from now on (a restore of it rebuilds none)
                self._mem_words = dict(fields[7])
        return _new_snapshot(KernelSnapshot, fields)

    def _mem_snapshot(self) -> tuple:
        """pagemem as ((pfn, its words as a tuple of items), ...), in
        pagemem's order.  A page memory.py has not written since the last
        snapshot() or restore() is the very tuple that one had: most pages
        outlive many calls, and a large one (a vmalloc'ed table) is not
        copied again, and compares equal to its old self at once."""
        known, dirty, mem = self._mem_words, self.mem_dirty, self.pagemem
        if len(known) == len(mem):          # no new page: known is in mem's order
            for p in dirty:
                known[p] = tuple(mem[p].items())
        else:
            known = self._mem_words = {
                p: tuple(w.items()) if p in dirty or p not in known else known[p]
                for p, w in mem.items()}
        dirty.clear()
        return tuple(known.items())

    def restore(self, snap: KernelSnapshot, current: KernelSnapshot | None = None) -> None:
        """Put the kernel back in the state ``snapshot()`` returned (of a
        kernel of the same build); ``snap`` itself is not changed.

        ``current``: a snapshot the kernel is in now, exactly (the explore
        engine's child, just taken with ``like`` the parent): only the
        fields that are not the same object in both are restored."""
        if current is None:
            for put, value in zip(_RESTORE, snap):
                put(self, value)
            return
        for put, value, now in zip(_RESTORE, snap, current):
            if value is not now:
                put(self, value)

    # -- small conveniences used by every module ------------------------------
    def current_comm(self) -> str:
        """current->comm: the model runs one task."""
        return "vcpcheck"

    def check_order(self, order, function: str) -> None:
        """Guard an order read from memory before looping 2^order times.

        An order beyond MAX_ORDER makes the kernel walk far outside the block
        (for garbage, outside mem_map); the model reports the oops it would
        end in instead of looping for ever.
        """
        if not isinstance(order, int) or not 0 <= order < max(self.MAX_ORDER, 20):
            self.oops(f"BUG: unable to handle kernel paging request ({function}"
                      f" with order {order!r} walks outside mem_map)", function)

    def zone_of(self, page) -> Zone:
        """page_zone(): the zone whose span holds the page."""
        for z in self.zones:
            if z.zone_start_pfn <= page < z.end_pfn():
                return z
        self.oops(f"page_zone: pfn {page} in no zone", "page_zone")


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _in_package(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE + os.sep)


def _short(filename: str) -> str:
    """impl/<file> for the model's own files, the path as given otherwise."""
    if _in_package(filename):
        return "impl/" + os.path.relpath(os.path.abspath(filename), _PACKAGE)
    return filename


def _line_of(exc: BaseException) -> int:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_lineno if tb is not None else 0


# Kernel.restore(): how each KernelSnapshot field is put back, in field order.
def _set_list(attr):
    def put(k, value):
        setattr(k, attr, list(value))
    return put


def _set_value(attr):
    def put(k, value):
        setattr(k, attr, value)
    return put


def _put_pagemem(k, value):
    """Only the pages whose words are not the tuple the live page is known
    to hold (Kernel._mem_snapshot) are rebuilt."""
    known, dirty, live = k._mem_words, k.mem_dirty, k.pagemem
    if list(live) == [p for p, _w in value]:          # the same pages, in order
        for p, w in value:
            if p in dirty or known.get(p) is not w:
                live[p] = dict(w)
    else:
        k.pagemem = {p: dict(w) for p, w in value}
    k._mem_words = dict(value)
    dirty.clear()


def _put_zones(k, value):
    k.zones = [Zone(*z[:6], list(z[6]), list(z[7]), list(z[8]), z[9]) for z in value]


def _put_vmlist(k, value):
    k.vmlist = [VmStruct(*a) for a in value]


def _set_dict(attr):
    def put(k, value):
        setattr(k, attr, dict(value))
    return put


def _put_kmalloc_objs(k, value):
    k.kmalloc_objs = {key: KmallocObject(addr, size, gfp, large, dict(words))
                      for key, addr, size, gfp, large, words in value}


def _put_freed(k, value):
    k.freed_kmalloc = set(value)


def _put_ctx(k, value):
    k.ctx = Context(*value)


def _put_func_names(k, value):
    k._func_names = list(value)
    base = FUNC_TEXT_BASE[k.BITS]
    k._func_addr = {name: base + 16 * i for i, name in enumerate(value)}


def _put_pcp(k, value):
    k.pcp = [PerCpuPages(c, h, b, list(lst)) for c, h, b, lst in value]


_RESTORE = (
    _set_list("flags"), _set_list("_count"), _set_list("_mapcount"),
    _set_list("private"), _set_list("mapping"), _set_list("lru_next"),
    _set_list("lru_prev"), _put_pagemem, _put_zones, _put_vmlist,
    _set_dict("pgtables"), _set_dict("ptes"), _set_dict("page_address_map"),
    _put_kmalloc_objs, _set_value("kmalloc_next"), _set_list("kmalloc_free_slots"),
    _put_freed, _put_ctx, _set_list("events"), _set_list("workqueue"),
    _set_value("system_state"), _set_value("fail_page_alloc"),
    _set_value("fail_pt_alloc"), _set_value("fail_kmalloc"), _set_value("tainted"),
    _set_value("calls"), _put_func_names, _set_list("pageblock_flags"), _put_pcp)
assert len(_RESTORE) == len(KernelSnapshot._fields)
