"""What callers hold: the abstract side of the kernel state.

The kernel does not record who owns an allocated page; a caller does.  The
ledger is the callers' half of the state -- each live allocation with what
it was asked for -- and together with the kernel's own roots (vmlist, the
kernel page tables, kmalloc'ed descriptors) it says which page belongs to
whom.  Invariants take the ledger as an argument; nothing here mutates a
kernel.  Kinds:

  page     a struct page * (pfn) of 2^order pages from alloc_pages()
  addr     a linear address of 2^order pages from __get_free_pages()
  vmalloc  an address returned by vmalloc()/__vmalloc()
  vmap     an address returned by vmap() (the area owns no pages)
  kmalloc  an address returned by kmalloc()/kzalloc()/kcalloc()
  pin      a page taken out of the free lists to fragment memory
  vcompound       an address from __alloc_vcompound() of 2^order pages
  vcompound_page  a head page from alloc_vcompound() of 2^order pages
  client   memory a converted user keeps (a stack, a wait table): an
           address of 2^order pages, physically or virtually backed

``observations`` are the problems callers saw with what they were given
(memory not zeroed, a client's expectation broken).
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("page", "addr", "vmalloc", "vmap", "kmalloc", "pin", "vcompound",
         "vcompound_page", "client")


@dataclass(frozen=True, order=True)
class Allocation:
    kind: str
    handle: int          # pfn for page/pin, kernel address otherwise
    order: int = 0
    size: int = 0
    gfp: int = 0
    refs: int = 1          # references the caller holds (get_page/put_page)
    pages: tuple = ()      # vmap: the caller's pages the area maps

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown allocation kind {self.kind!r}")

    def describe(self) -> str:
        if self.kind in ("page", "pin", "vcompound_page"):
            return f"{self.kind} pfn {self.handle} order {self.order}"
        return f"{self.kind} {self.handle:#x}" + (
            f" order {self.order}" if self.kind in ("addr", "vcompound", "client")
            else "")


class Ledger:
    """The live allocations, keyed by a caller-chosen id."""

    def __init__(self, items=None):
        self.items: dict[int, Allocation] = dict(items or {})
        self.next_id = max(self.items, default=-1) + 1
        self.observations: list[str] = []

    def add(self, alloc: Allocation) -> int:
        i = self.next_id
        self.items[i] = alloc
        self.next_id += 1
        return i

    def remove(self, i: int) -> Allocation:
        return self.items.pop(i)

    def find(self, kind: str, handle: int):
        """The id of the live allocation of ``kind`` at ``handle``, or None."""
        for i, a in self.items.items():
            if a.kind == kind and a.handle == handle:
                return i
        return None

    def of_kind(self, *kinds) -> list[tuple[int, Allocation]]:
        return sorted((i, a) for i, a in self.items.items() if a.kind in kinds)

    def __iter__(self):
        return iter(sorted(self.items.values()))

    def __len__(self):
        return len(self.items)

    def copy(self) -> "Ledger":
        led = Ledger(self.items)
        led.next_id = self.next_id
        led.observations = list(self.observations)
        return led

    def canonical(self) -> tuple:
        """The ledger without its ids: equal for interchangeable handles."""
        return tuple(sorted(self.items.values()))
