"""Pictures of memory: a page map per step and the vmalloc window.

One character per pfn:  . free   H compound head   T tail   a allocated
p pinned   t page table   v vmalloc page   k kmalloc_large   R reserved
? allocated, held by nobody (leak)   ! free but held by someone.

page_states() is the one classification; the text map (page_map) and the
SVG pictures (checks/svg.py) both draw from it, and vm_areas() is the one
reading of the vmalloc window for both.
"""
from __future__ import annotations

from dataclasses import dataclass

from vcpcheck.spec.invariants import free_map, is_head, is_tail, ownership

LEGEND = (". free  H head  T tail  a allocated  p pinned  t page table  "
          "v vmalloc  k kmalloc  R reserved  ? leaked  ! free+held")

# character -> name, in legend order.
STATES = {".": "free", "H": "head", "T": "tail", "a": "allocated",
          "p": "pinned", "t": "page table", "v": "vmalloc", "k": "kmalloc",
          "R": "reserved", "?": "leaked", "!": "free+held"}


def _owner_char(who: str) -> str:
    for prefix, ch in (("pin", "p"), ("page table", "t"), ("vm area", "v"),
                       ("kmalloc", "k"), ("page", "a"), ("addr", "a")):
        if who.startswith(prefix):
            return ch
    return "a"


def page_states(k, ledger) -> list[str]:
    """The state character (a key of STATES) of every pfn, in pfn order."""
    fm = free_map(k)
    owners = ownership(k, ledger).owners
    out = []
    for q in range(k.nr_pages):
        if q in fm:
            out.append("!" if q in owners else ".")
        elif k.flags[q] >> k.PG_reserved & 1:
            out.append("R")
        elif is_head(k, q):
            out.append("H")
        elif is_tail(k, q):
            out.append("T")
        elif q in owners:
            out.append(_owner_char(owners[q][0]))
        else:
            out.append("?")
    return out


def page_map(k, ledger) -> str:
    return "".join(page_states(k, ledger))


@dataclass(frozen=True)
class AreaView:
    """One vm area as pictured: its mapped slots, then one guard page."""
    addr: int
    offset: int            # pages from VMALLOC_START
    pfns: tuple            # the pfn each non-guard page maps (None: no PTE)
    flags: int
    size: int


def vm_areas(k) -> list[AreaView]:
    """The vm areas in vmlist order, read from the kernel page tables."""
    out = []
    for a in k.vmlist:
        off = (a.addr - k.VMALLOC_START) >> k.PAGE_SHIFT
        n = (a.size >> k.PAGE_SHIFT) - 1
        pfns = tuple(k.ptes.get((a.addr >> k.PAGE_SHIFT) + i) for i in range(n))
        out.append(AreaView(a.addr, off, pfns, a.flags, a.size))
    return out


def vmalloc_map(k) -> str:
    """The vm areas: offset from VMALLOC_START in pages, pfns, guard."""
    parts = []
    for a in vm_areas(k):
        shown = " ".join("-" if p is None else str(p) for p in a.pfns)
        parts.append(f"[+{a.offset}: {shown} |g]")
    return " ".join(parts) if parts else "(empty)"


def picture(k, ledger) -> str:
    return f"{page_map(k, ledger)}  vmalloc {vmalloc_map(k)}"
