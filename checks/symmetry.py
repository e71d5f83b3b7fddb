"""Block symmetry over pfns: the explore engine's second state reduction.

The buddy allocator treats every whole MAX_ORDER-aligned block of a zone
alike: a request takes the first block of a free list whatever its pfn,
__free_one_page merges with the buddy at pfn ^ (1 << order), which never
leaves a block of order MAX_ORDER-1, and pageblock_order is MAX_ORDER-1,
so each block has its own pageblock.  Two states that differ only by a
permutation of such blocks (every pfn, and every value that names a pfn,
relabelled) behave alike: the same calls, with their pfn arguments
relabelled, give relabelled results, and the invariants say the same.
The explore engine keys a state by a canonical member of its orbit under
these permutations (``BlockSymmetry.canonical``), so it expands one state
per orbit: up to k! fewer for k interchangeable blocks (2 at 10 pages,
MAX_ORDER 3; 6 at 12; 24 at 16).

What is relabelled, by where a pfn is held in the kernel model:

- the struct page arrays, page by page;
- a struct page pointer (mem_map + pfn * sizeof(struct page)) or a linear
  address (PAGE_OFFSET + pfn << PAGE_SHIFT) in private or mapping (a
  tail's first_page, say), recognised by its range;
- the lru links of the pages on a free list or a per-cpu list (pfns in
  the model), found by walking the lists from the zones' heads; every
  other lru word keeps its value (LIST_POISON, a compound page's
  destructor and order);
- the free-list heads, the per-cpu lists, the pageblock migrate types,
  the pfns of written pages, the stale-word sets (checks/explore.py
  StaleWords), and the caller's handles (a pfn, or a linear address).

A state is reduced only if nothing else in it names a pfn: no vm area,
PTE, page table, kmalloc object, kmap, queued work, an allocation of
another kind than a page block, an address or a pin, or a written page
word that lies in a pointer range.  Other states are keyed as they are
(their orbits are singletons as far as the engine knows), which is sound:
a state's purity is the same over its orbit.

The canonical member: the blocks of each group are ordered by the first
time a walk of the free lists (zone by zone, list by list, head to tail)
and the per-cpu lists meets them, then, for the blocks no list reaches,
by their contents made block-relative; each group's blocks are then given
the group's pfns in that order.  The walk and the contents do not depend
on the labels, so every member of an orbit gets the same canonical
member, and two blocks that tie hold the same relative contents and no
list reaches them, so either order gives the same state.

The reduction is a hypothesis about the target, as the stale-word merge
is: a target may treat a pfn by its value (a defect, or a rule the
kernel does not have).  The engine audits it with twin transitions
(checks/explore.py KernelModel.check_step): on a sample of transitions it
makes the same call, relabelled, on a relabelled parent and checks that
the child is the relabelled child.  A mismatch voids the reduction and the
search is made again without it; the verdict says how many twins agreed.
"""
from __future__ import annotations

import operator
from collections import namedtuple
from dataclasses import replace

# An allocation relabelled for a key only (BlockSymmetry.relabel real=False).
_Held = namedtuple("_Held", "kind handle order size gfp refs pages")

# allocation kinds whose handle is a pfn, and those whose handle is a
# linear address; any other kind makes a state irreducible
PFN_KINDS = frozenset(("page", "pin"))
ADDR_KINDS = frozenset(("addr",))

# calls whose arguments name a pfn / a linear address (relabel_action)
_PFN_ARGS = {"free_pages_struct": (0,), "pin": (0,), "unpin": (0,), "get_page": (0,),
             "put_page": (0,)}
_ADDR_ARGS = {"free_pages": (0,)}
_PFN_LIST_ARGS = {"vmap": (0,)}


class BlockSymmetry:
    """The interchangeable blocks of one build (a booted kernel ``k``)."""

    def __init__(self, k):
        self.B = B = 1 << (k.MAX_ORDER - 1)
        self.n = n = k.nr_pages
        groups = {}
        for z in k.zones:
            for base in range(z.zone_start_pfn, z.end_pfn(), B):
                if base % B == 0 and base + B <= min(z.end_pfn(), n):
                    groups.setdefault(z.idx, []).append(base // B)
        self.groups = [tuple(g) for g in groups.values() if len(g) > 1]
        self.group_of = {b: gi for gi, g in enumerate(self.groups) for b in g}
        self.nblocks = -(-n // B)
        self.active = bool(self.groups) and k.pageblock_nr_pages == B
        self.mem_map, self.sizeof = k.MEM_MAP_VIRT, k.SIZEOF_STRUCT_PAGE
        self.page_offset, self.page_shift = k.PAGE_OFFSET, k.PAGE_SHIFT
        self.lowmem = k.lowmem_pages
        self._low = min(self.mem_map, self.page_offset)    # no pointer below it
        self._members = self._members_of = None            # block_map's last walk
        self._moves_of = {}                                 # _moves, by relabelling

    def describe(self) -> str:
        sizes = ", ".join(str(len(g)) for g in self.groups)
        return (f"block symmetry over {sizes} interchangeable blocks of {self.B} pages")

    # -- which states ------------------------------------------------------------
    def pure(self, snap) -> bool:
        """Whether nothing in harness snapshot ``snap`` names a pfn outside
        the places relabel() knows."""
        k = snap.kernel
        if (k.vmlist or k.ptes or k.pgtables or k.kmalloc_objs or k.page_address_map
                or k.workqueue):
            return False
        for _id, a in snap.ledger_items:
            if a.kind not in PFN_KINDS and a.kind not in ADDR_KINDS:
                return False
        for _p, words in k.pagemem:
            for _off, w in words:
                if self._pointer(w) is not None:
                    return False
        return True

    def _pointer(self, w):
        """(kind, pfn, offset) of a struct page pointer or linear address
        ``w``, or None."""
        if type(w) is not int:
            return None
        off = w - self.mem_map
        if 0 <= off < self.n * self.sizeof:
            pfn, rem = divmod(off, self.sizeof)
            return ("page", pfn, rem)
        off = w - self.page_offset
        if 0 <= off < self.lowmem << self.page_shift:
            return ("linear", off >> self.page_shift, off & ((1 << self.page_shift) - 1))
        return None

    # -- the canonical member ------------------------------------------------------
    def _on_lists(self, k):
        """(pfns whose lru words are list links, blocks in order of first
        meeting) from a walk of the free lists and the per-cpu lists."""
        members, order, met = set(), [], set()
        n = self.n
        for z in k.zones:
            head_next = z[6]
            for first in head_next:
                p, steps = first, 0
                while 0 <= p < n and steps <= n and p not in members:
                    members.add(p)
                    b = p // self.B
                    if b not in met:
                        met.add(b)
                        order.append(b)
                    p = k.lru_next[p]
                    steps += 1
        for _c, _h, _b, lst in k.pcp:
            for p in lst:
                if 0 <= p < n:
                    members.add(p)
                    b = p // self.B
                    if b not in met:
                        met.add(b)
                        order.append(b)
        return members, order

    def _local(self, snap, b, members, stale):
        """Block ``b``'s contents, block-relative (for the blocks no list
        reaches: none of their pages is a list member)."""
        k = snap.kernel
        base = b * self.B
        rel = self._rel
        pages = []
        for p in range(base, base + self.B):
            pages.append((k.flags[p], k.count[p], k.mapcount[p],
                          None if p in stale["private"] else rel(k.private[p], base),
                          rel(k.mapping[p], base),
                          None if p in stale["lru_next"] else k.lru_next[p],
                          None if p in stale["lru_prev"] else k.lru_prev[p]))
        held = sorted((a.kind, at, a.order, a.size, a.gfp, a.refs)
                      for a, (block, at) in ((a, self._handle_block(a))
                                             for _i, a in snap.ledger_items)
                      if block == b)
        mem = sorted((p - base, words) for p, words in k.pagemem if p // self.B == b)
        return (tuple(pages), tuple(held), tuple(mem), k.pageblock_flags[b]
                if b < len(k.pageblock_flags) else None)

    def _rel(self, w, base):
        ptr = self._pointer(w)
        if ptr is None:
            return w
        kind, pfn, rem = ptr
        return (kind, pfn - base, rem) if base <= pfn < base + self.B else (kind, pfn, rem)

    def _handle_block(self, a):
        """(block, offset in it) of an allocation's handle."""
        if a.kind in PFN_KINDS:
            return divmod(a.handle, self.B)
        pfn = (a.handle - self.page_offset) >> self.page_shift
        return pfn // self.B, (pfn % self.B, (a.handle - self.page_offset)
                               & ((1 << self.page_shift) - 1))

    def block_map(self, snap, stale=None) -> list | None:
        """The canonical relabelling of ``snap`` as a list: block -> block,
        or None if it is the identity or the state is not reducible."""
        if not self.active or not self.pure(snap):
            return None
        k = snap.kernel
        members, order = self._on_lists(k)
        self._members, self._members_of = members, k       # for relabel()
        stale = stale or {"private": (), "lru_next": (), "lru_prev": ()}
        bmap = list(range(self.nblocks))
        identity = True
        for g in self.groups:
            inset = set(g)
            reached = [b for b in order if b in inset]
            rest = [b for b in g if b not in set(reached)]
            if len(rest) > 1:
                rest.sort(key=lambda b: repr(self._local(snap, b, members, stale)))
            for dst, src in zip(g, reached + rest):
                bmap[src] = dst
                identity = identity and src == dst
        return None if identity else bmap

    # -- relabelling -------------------------------------------------------------------
    def relabel(self, snap, bmap, stale=None, real=True):
        """(harness snapshot, stale sets) with every pfn ``p`` moved to
        block ``bmap[p // B]`` (see the module's docstring).  With
        ``real=False`` the ledger's allocations are light records with the
        same fields (enough for a key, not to restore)."""
        k = snap.kernel
        src, pmap, _pm, take = self._moves(bmap)
        lru_next, lru_prev = self.links(k, bmap)
        zones = tuple(z[:6] + (self.links_of(z[6], pmap), self.links_of(z[7], pmap))
                      + z[8:] for z in k.zones)
        pbf = k.pageblock_flags
        if len(pbf) == self.nblocks:
            pbf = tuple(pbf[b] for b in src)
        kernel = k._replace(
            flags=take(k.flags), count=take(k.count),
            mapcount=take(k.mapcount), private=self.pointers(k.private, bmap),
            mapping=self.pointers(k.mapping, bmap), lru_next=lru_next,
            lru_prev=lru_prev, zones=zones,
            pagemem=tuple(sorted((pmap[p], words) for p, words in k.pagemem))
            if k.pagemem else k.pagemem,
            pageblock_flags=pbf,
            pcp=tuple((c, h, b, self.links_of(lst, pmap))
                      for c, h, b, lst in k.pcp) if k.pcp else k.pcp)
        if real:
            items = tuple((i, replace(a, handle=self._move(a, pmap)))
                          for i, a in snap.ledger_items)
        else:
            items = tuple((i, _Held(a.kind, self._move(a, pmap), a.order, a.size, a.gfp,
                                    a.refs, a.pages)) for i, a in snap.ledger_items)
        out = snap._replace(kernel=kernel, ledger_items=items)
        if stale is None:
            return out, None
        return out, {name: frozenset([pmap[p] for p in pfns]) for name, pfns in stale.items()}


    def pointers(self, arr, bmap):
        """A field's words permuted by ``bmap``, each struct page pointer
        and linear address in them relabelled."""
        _src, pmap, pm, take = self._moves(bmap)
        lo, out = self._low, take(arr)
        try:
            plain = max(arr) < lo                          # no pointer in it
        except TypeError:                                  # a word that is no int
            plain = False
        if plain:
            return out
        out = list(out)
        for i, v in enumerate(out):
            w = pm.get(v)
            if w is None:
                w = (self._moved_pointer(v, pmap) if type(v) is int and v >= lo
                     and self._pointer(v) is not None else v)
            out[i] = w
        return tuple(out)

    def links(self, k, bmap):
        """(lru_next, lru_prev) permuted by ``bmap``, the links of the pages
        on a list relabelled."""
        _src, pmap, _pm, take = self._moves(bmap)
        n = self.n
        members = self._members if self._members_of is k else self._on_lists(k)[0]
        lru_next, lru_prev = list(take(k.lru_next)), list(take(k.lru_prev))
        for p in members:
            q = pmap[p]
            v = k.lru_next[p]
            if 0 <= v < n:
                lru_next[q] = pmap[v]
            v = k.lru_prev[p]
            if 0 <= v < n:
                lru_prev[q] = pmap[v]
        return tuple(lru_next), tuple(lru_prev)

    def _moves(self, bmap):
        """(new block -> old block, old pfn -> new pfn, {old pointer: new},
        a function that permutes a field's tuple) of relabelling ``bmap``,
        kept for each of the few relabellings there are."""
        key = tuple(bmap)
        got = self._moves_of.get(key)
        if got is None:
            B, n = self.B, self.n
            src = [0] * self.nblocks
            for b, m in enumerate(bmap):
                src[m] = b
            pmap = [bmap[p // B] * B + p % B for p in range(n)]
            inv = [0] * n                                   # new pfn -> old pfn
            for p, q in enumerate(pmap):
                inv[q] = p
            getter = operator.itemgetter(*inv)
            take = (lambda arr: (getter(arr),)) if n == 1 else getter
            got = self._moves_of[key] = (src, pmap, self._pointer_map(pmap), take)
        return got

    def _pointer_map(self, pmap):
        """{old pointer: new} for the page-aligned struct page pointers and
        linear addresses of every pfn that moves."""
        pm = {}
        for p, q in enumerate(pmap):
            if p != q:
                pm[self.mem_map + p * self.sizeof] = self.mem_map + q * self.sizeof
                if p < self.lowmem:
                    pm[self.page_offset + (p << self.page_shift)] = \
                        self.page_offset + (q << self.page_shift)
        return pm

    def _moved_pointer(self, w, pmap):
        kind, pfn, rem = self._pointer(w)
        if kind == "page":
            return self.mem_map + pmap[pfn] * self.sizeof + rem
        return self._moved_address(w, pmap)

    def _move(self, a, pmap):
        return pmap[a.handle] if a.kind in PFN_KINDS else self._moved_address(a.handle,
                                                                                pmap)

    def _moved_address(self, addr, pmap):
        """Linear address ``addr`` with its pfn moved by ``pmap``."""
        off = addr - self.page_offset
        return self.page_offset + (pmap[off >> self.page_shift] << self.page_shift) + (
            off & ((1 << self.page_shift) - 1))

    def links_of(self, seq, pmap) -> tuple:
        """A sequence of pfns and list heads (negative) with the pfns moved."""
        n = self.n
        return tuple([pmap[p] if 0 <= p < n else p for p in seq])

    def twin_map(self, i=0) -> list:
        """The ``i``-th twin transition's relabelling: each group rotated
        by 1 + i mod (its size - 1), so every block moves and the twins
        try every rotation in turn."""
        bmap = list(range(self.nblocks))
        for g in self.groups:
            r = 1 + i % (len(g) - 1)
            for j, b in enumerate(g):
                bmap[b] = g[(j + r) % len(g)]
        return bmap

    def relabel_action(self, action, bmap):
        """``action`` with its pfn and address arguments relabelled."""
        call, args = action
        if call == "in_context":
            inner = self.relabel_action((args[1], args[2:]), bmap)
            return call, (args[0], inner[0], *inner[1])
        pmap = self._moves(bmap)[1]
        args = list(args)
        for i in _PFN_ARGS.get(call, ()):
            args[i] = pmap[args[i]]
        for i in _PFN_LIST_ARGS.get(call, ()):
            args[i] = type(args[i])(pmap[p] for p in args[i])
        for i in _ADDR_ARGS.get(call, ()):
            args[i] = self._moved_address(args[i], pmap)
        return call, tuple(args)
