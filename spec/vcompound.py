"""The contract of the vcompound API, as a caller may rely on it.

From the series' own description (cover letter, 04/14 and 04/11
changelogs; reference vcompound-series.md §2): __alloc_vcompound(gfp, order)
and alloc_vcompound(gfp, order) give an object of 2^order pages that is
virtually contiguous, physically backed if memory allows and by a vmalloc
mapping otherwise; either way it is a compound page:

  * the head is a head and not a tail, every other page is a tail whose
    first_page is the head, and compound_order(head) is the order;
  * every address in the object resolves to the head through
    vcompound_head_page(), and each page through the lookup appropriate to
    its backing (virt_to_page for the linear map, vmalloc_to_page for the
    vmalloc window); compound_head() of every page is the head;
  * memory is zeroed when __GFP_ZERO was asked for;
  * __free_vcompound/free_vcompound return exactly the pages, page arrays
    and vmalloc space the allocation took (checked by the mm invariants
    every_pfn_accounted_once and no_leak against the ledger, which is the
    abstract allocator: live objects and their pages), leaving the flags
    clean (free_pages_have_clean_flags).

Calls into the target (vcompound_head_page, compound_head, compound_order)
are the API under test; they are made on a snapshot of the event log, and a
BUG they hit is reported as a problem, never raised.
"""
from __future__ import annotations

from vcpcheck.impl.kernel import KernelOops

from .invariants import area_pages, compound_bits, is_head, is_tail

PROBE_OFFSETS = (0, 2048, 4088)        # per page: first, middle, last word


def object_layout(k, a):
    """(address, [pfn of page i], virtual) of a live vcompound allocation;
    pfns are read from the page tables or the linear map, not the target."""
    n = 1 << a.order
    if a.kind == "vcompound":
        addr = a.handle
    else:
        addr = None
        for area in k.vmlist:
            if area.pages and area_pages(k, area)[:1] == [a.handle]:
                addr = area.addr
        if addr is None:
            addr = k.PAGE_OFFSET + (a.handle << k.PAGE_SHIFT)
    if k.VMALLOC_START <= addr < k.VMALLOC_END:
        return addr, [k.ptes.get((addr >> k.PAGE_SHIFT) + i) for i in range(n)], True
    first = (addr - k.PAGE_OFFSET) >> k.PAGE_SHIFT
    return addr, list(range(first, first + n)), False


def _call(k, problems, what, fn, *args):
    """Call target code without letting it change the log or raise.
    ``what``: the call, for the problem if it oopses (a string, or a
    function that makes it: the checks call the target's lookups a few
    times a page on every state, and almost never need it)."""
    mark = len(k.events)
    try:
        return fn(*args)
    except KernelOops as e:
        problems.append(f"{_text(what)} oopses: {e.message}")
        return KernelOops
    except Exception as e:
        # a Python exception in the target's code is an oops (kernel.py)
        oops = k.python_oops(e)
        if oops is None:
            raise
        problems.append(f"{_text(what)} oopses: {oops.message}")
        return KernelOops
    finally:
        del k.events[mark:]


def _text(what) -> str:
    return what() if callable(what) else what


def _objects(ledger):
    return [a for a in ledger if a.kind in ("vcompound", "vcompound_page")]


def vcompound_addresses_resolve_to_head(k, ledger) -> list[str]:
    """Every address of a live object resolves to its head and its page.

    Rule (mm/vmalloc.c after 04/14 and 04/11): vcompound_head_page(x) is
    the head for every x in the object; vmalloc_to_page (virtual) or
    virt_to_page (physical) of addr + i*PAGE_SIZE is page i;
    compound_head(page i) is the head.
    """
    out = []
    for a in _objects(ledger):
        addr, pfns, virtual = object_layout(k, a)
        what = f"{a.kind} {addr:#x} order {a.order}"
        if any(p is None for p in pfns):
            out.append(f"{what}: page {pfns.index(None)} is not mapped")
            continue
        if len(set(pfns)) != len(pfns):
            out.append(f"{what}: two pages of the object are the same pfn")
            continue
        head = pfns[0]
        # The API's address-to-head lookup: vcompound_head_page() (V3, V5),
        # virt_to_head_page() made vmalloc-aware (V2).
        name = getattr(k, "api_head_page", "vcompound_head_page")
        lookup = getattr(k, name, None)
        if lookup is not None:
            for i in range(len(pfns)):
                for off in PROBE_OFFSETS:
                    x = addr + i * k.PAGE_SIZE + off
                    got = _call(k, out, lambda: f"{what}: {name}({x:#x})", lookup, x)
                    if got is not KernelOops and got != head:
                        out.append(f"{what}: {name}({x:#x}) is "
                                   f"pfn {got}, the head is pfn {head}")
                        break
        look = k.vmalloc_to_page if virtual else k.virt_to_page
        for i, p in enumerate(pfns):
            got = _call(k, out, lambda: f"{what}: lookup of page {i}", look,
                        addr + i * k.PAGE_SIZE)
            if got is not KernelOops and got != p:
                out.append(f"{what}: page {i} resolves to pfn {got}, not {p}")
            ch = _call(k, out, lambda: f"{what}: compound_head(pfn {p})",
                       k.compound_head, p)
            if ch is not KernelOops and ch != head:
                out.append(f"{what}: compound_head(pfn {p}) is {ch}, the head "
                           f"is pfn {head}")
    return out


def vcompound_head_tail_consistent(k, ledger) -> list[str]:
    """A live object is a compound page, whatever backs it.

    Rule (04/14 and 04/11 changelogs, mm/page_alloc.c prep_compound_page):
    the head is a head and not a tail, each other page is a tail with
    first_page = head, tails keep _count 0, and compound_order(head) gives
    the order the caller asked for.
    """
    out = []
    for a in _objects(ledger):
        addr, pfns, _virtual = object_layout(k, a)
        if any(p is None for p in pfns):
            continue                       # reported by the resolve invariant
        what = f"{a.kind} {addr:#x} order {a.order}"
        head = pfns[0]
        if a.order == 0:
            if is_tail(k, head):
                out.append(f"{what}: the order-0 page is marked as a tail")
            continue
        if not k.flags[head] & compound_bits(k):
            out.append(f"{what}: head pfn {head} is not a compound page "
                       f"(no head or tail flag)")
        elif not is_head(k, head) or is_tail(k, head):
            out.append(f"{what}: head pfn {head} is not marked head-only "
                       f"(flags {k.flags[head]:#x})")
        for i, t in enumerate(pfns[1:], 1):
            if not is_tail(k, t) or is_head(k, t):
                out.append(f"{what}: page {i} (pfn {t}) is not marked tail-only "
                           f"(flags {k.flags[t]:#x})")
                break
            if k.word_to_page(k.private[t]) != head:
                out.append(f"{what}: tail pfn {t} does not point to the head")
                break
            if k._count[t] != 0:
                out.append(f"{what}: tail pfn {t} has _count {k._count[t]}")
                break
        order = _call(k, out, f"{what}: compound_order(head)", k.compound_order, head)
        if order is not KernelOops and order != a.order:
            out.append(f"{what}: compound_order(head) is {order!r}, not {a.order}")
    return out


def callers_observe_the_contract(k, ledger) -> list[str]:
    """What callers (and the converted clients) saw was what they were promised.

    Rule: each caller's expectation as its code relies on it -- memory zeroed
    when __GFP_ZERO was passed, a usable address, the context it runs in
    (reference vcompound-series.md §3, the example users).
    """
    return list(ledger.observations)


def post_alloc(k, a) -> list[str]:
    """Checks right after an allocation returns: __GFP_ZERO means zeroed."""
    from vcpcheck.impl.gfp import __GFP_ZERO
    if not a.gfp & __GFP_ZERO:
        return []
    addr, pfns, _v = object_layout(k, a)
    for i, p in enumerate(pfns):
        if p is None:
            continue
        words = k.pagemem.get(p)
        if words is None or words.get(-1, 0) != 0 or any(words.values()):
            return [f"{a.kind} {addr:#x} order {a.order} asked for __GFP_ZERO "
                    f"but page {i} (pfn {p}) is not zeroed"]
    return []


VCOMPOUND_INVARIANT_FUNCTIONS = (vcompound_addresses_resolve_to_head,
                                 vcompound_head_tail_consistent,
                                 callers_observe_the_contract)
