"""Pictures of memory: a page map per step and the vmalloc window.

One character per pfn:  . free   H compound head   T tail   a allocated
p pinned   t page table   v vmalloc page   k kmalloc_large   R reserved
? allocated, held by nobody (leak)   ! free but held by someone.
"""
from __future__ import annotations

from vcpcheck.spec.invariants import free_map, is_head, is_tail, ownership

LEGEND = (". free  H head  T tail  a allocated  p pinned  t page table  "
          "v vmalloc  k kmalloc  R reserved  ? leaked  ! free+held")


def _owner_char(who: str) -> str:
    for prefix, ch in (("pin", "p"), ("page table", "t"), ("vm area", "v"),
                       ("kmalloc", "k"), ("page", "a"), ("addr", "a")):
        if who.startswith(prefix):
            return ch
    return "a"


def page_map(k, ledger) -> str:
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
    return "".join(out)


def vmalloc_map(k) -> str:
    """The vm areas: offset from VMALLOC_START in pages, pfns, guard."""
    parts = []
    for a in k.vmlist:
        off = (a.addr - k.VMALLOC_START) >> k.PAGE_SHIFT
        n = (a.size >> k.PAGE_SHIFT) - 1
        pfns = [k.ptes.get((a.addr >> k.PAGE_SHIFT) + i) for i in range(n)]
        shown = " ".join("-" if p is None else str(p) for p in pfns)
        parts.append(f"[+{off}: {shown} |g]")
    return " ".join(parts) if parts else "(empty)"


def picture(k, ledger) -> str:
    return f"{page_map(k, ledger)}  vmalloc {vmalloc_map(k)}"
