"""vmalloc: the vm_struct list, mapping, vmap/vunmap, vmalloc/vfree.

Models mm/vmalloc.c at v2.6.25 (with 2.6.26's ``caller`` field and the
/proc/vmallocinfo format of s_show for pictures): the address-sorted
``vmlist`` searched first-fit with one guard page per area,
map_vm_area() walking pgd/pud/pmd/pte and allocating tables that can fail,
__vunmap() freeing exactly the pages recorded in the area, and the kernel's
own BUGs and warnings (vfree in interrupt context, nonexistent area, bad
address, NULL page in the array, mapping over a present PTE).

customised: vmlist is a Python list kept sorted by addr (the kernel's
singly linked list in the same order); a ``struct page ***`` cursor is a
one-element list holding the address of the current array slot; page
arrays live in kernel memory (kmalloc objects or vmalloc'ed pages) and are
read and written through memory.py.
"""
from __future__ import annotations

from . import memory
from .gfp import GFP_KERNEL, GFP_RECLAIM_MASK, __GFP_HIGHMEM, __GFP_ZERO
from .kernel import VmStruct
from .pgtable import pt_level_end
from .symbols import kfunc

_SRC = "mm/vmalloc.c (v2.6.25)"

# include/linux/vmalloc.h#L10-L15
VM_IOREMAP = 0x00000001
VM_ALLOC = 0x00000002
VM_MAP = 0x00000004
VM_USERMAP = 0x00000008
VM_VPAGES = 0x00000010
VM_FLAG_NAMES = [(VM_IOREMAP, "ioremap"), (VM_ALLOC, "vmalloc"),
                 (VM_MAP, "vmap"), (VM_USERMAP, "user"), (VM_VPAGES, "vpages")]
IOREMAP_MAX_ORDER = 7 + 12
PAGE_KERNEL = "PAGE_KERNEL"
ENOMEM = 12


def PAGE_ALIGN(k, size):
    return (size + k.PAGE_SIZE - 1) & ~(k.PAGE_SIZE - 1)


def _align(x, a):
    return (x + a - 1) & ~(a - 1)


def array_get(k, array, i):
    """pages[i] of a struct page * array at kernel address ``array``."""
    return k.word_to_page(memory.load(k, array + i * k.PTR_SIZE, "pages[i]"))


def array_set(k, array, i, page):
    """pages[i] = page."""
    memory.store(k, array + i * k.PTR_SIZE, k.page_to_word(page), "pages[i]")


@kfunc(_SRC)
def __get_vm_area_node(k, size, flags, start, end, node, gfp_mask, caller=""):
    """__get_vm_area_node(): reserve [addr, addr+size+guard) first-fit (#L207)."""
    k.BUG_ON(k.in_interrupt(), "__get_vm_area_node", "mm/vmalloc.c:215")
    return reserve_vm_area(k, size, flags, start, end, node, gfp_mask, caller)


def reserve_vm_area(k, size, flags, start, end, node, gfp_mask, caller=""):
    """The body of __get_vm_area_node() after its BUG_ON: alignment, the
    kmalloc'ed descriptor, the guard page and the first-fit walk of vmlist."""
    align = 1
    if flags & VM_IOREMAP:
        bit = max(k.PAGE_SHIFT, min(IOREMAP_MAX_ORDER, size.bit_length()))
        align = 1 << bit
    addr = _align(start, align)
    size = PAGE_ALIGN(k, size)
    if not size:
        return None
    desc = k.kmalloc_node(64, gfp_mask & GFP_RECLAIM_MASK, node)
    if not desc:
        return None
    size += k.PAGE_SIZE                       # the guard page
    pos = None
    for i, tmp in enumerate(k.vmlist):
        if tmp.addr < addr:
            if tmp.addr + tmp.size >= addr:
                addr = _align(tmp.size + tmp.addr, align)
            continue
        if size + addr >= 1 << k.BITS:        # (size + addr) < addr
            break
        if size + addr <= tmp.addr:
            pos = i
            break
        addr = _align(tmp.size + tmp.addr, align)
        if addr > end - size:
            break
    else:
        if size + addr < 1 << k.BITS and addr <= end - size:
            pos = len(k.vmlist)
    if pos is None:
        k.kfree(desc)
        k.report("info", "__get_vm_area_node",
                 "allocation failed: out of vmalloc space - use vmalloc=<size>"
                 " to increase size.")
        return None
    area = VmStruct(addr=addr, size=size, flags=flags, caller=caller, desc=desc)
    k.vmlist.insert(pos, area)
    return area


@kfunc(_SRC)
def __get_vm_area(k, size, flags, start, end):
    """__get_vm_area(): __get_vm_area_node(..., -1, GFP_KERNEL) (#L284)."""
    return k.__get_vm_area_node(size, flags, start, end, -1, GFP_KERNEL)


@kfunc(_SRC)
def get_vm_area(k, size, flags):
    """get_vm_area(): anywhere in [VMALLOC_START, VMALLOC_END) (#L300)."""
    return k.__get_vm_area(size, flags, k.VMALLOC_START, k.VMALLOC_END)


@kfunc(_SRC)
def get_vm_area_node(k, size, flags, node, gfp_mask):
    """get_vm_area_node(): get_vm_area() with a node and gfp mask (#L305)."""
    return k.__get_vm_area_node(size, flags, k.VMALLOC_START, k.VMALLOC_END,
                                node, gfp_mask)


@kfunc(_SRC)
def __find_vm_area(k, addr):
    """__find_vm_area(): the area starting exactly at addr (#L313)."""
    for tmp in k.vmlist:
        if tmp.addr == addr:
            return tmp
    return None


@kfunc(_SRC)
def unmap_kernel_range(k, addr, size):
    """unmap_kernel_range(): clear the PTEs of [addr, addr+size) (#L78).

    The vunmap_p*_range walkers are folded in: absent tables are skipped,
    table pages stay allocated.  It ends with flush_tlb_kernel_range()
    (#L87), the cross-CPU flush with its interrupts check (impl/smp.py).
    """
    end = addr + size
    # The BUG_ON sits at mm/vmalloc.c:78 in v2.6.25.
    k.BUG_ON(addr >= end, "unmap_kernel_range", "mm/vmalloc.c:78")
    for a in range(addr, end, k.PAGE_SIZE):
        k.ptes.pop(a >> k.PAGE_SHIFT, None)
    k.flush_tlb_kernel_range(addr, end)


@kfunc(_SRC)
def unmap_vm_area(k, area):
    """unmap_vm_area(): unmap_kernel_range(area->addr, area->size) (#L91)."""
    k.unmap_kernel_range(area.addr, area.size)


@kfunc(_SRC)
def vmap_pte_range(k, pmd, addr, end, prot, pages):
    """vmap_pte_range(): one PTE per page from the cursor (#L95)."""
    if not k.pte_alloc_kernel(pmd, addr):
        return -ENOMEM
    while True:
        page = array_get(k, pages[0], 0)
        k.WARN_ON(addr >> k.PAGE_SHIFT in k.ptes, "vmap_pte_range",
                  f"WARNING: at mm/vmalloc.c:105 vmap_pte_range() "
                  f"(PTE for {addr:#x} already present)")
        if page is None:
            return -ENOMEM
        k.ptes[addr >> k.PAGE_SHIFT] = page
        pages[0] += k.PTR_SIZE
        addr += k.PAGE_SIZE
        if addr == end:
            return 0


@kfunc(_SRC)
def vmap_pmd_range(k, pud, addr, end, prot, pages):
    """vmap_pmd_range(): pmd_alloc, then each pmd entry's PTEs (#L114)."""
    if not k.pmd_alloc("init_mm", pud, addr):
        return -ENOMEM
    while True:
        nxt = pt_level_end(k, "pmd", addr, end)
        if k.vmap_pte_range(addr, addr, nxt, prot, pages):
            return -ENOMEM
        addr = nxt
        if addr == end:
            return 0


@kfunc(_SRC)
def vmap_pud_range(k, pgd, addr, end, prot, pages):
    """vmap_pud_range(): pud_alloc, then each pud entry's pmds (#L131)."""
    if not k.pud_alloc("init_mm", pgd, addr):
        return -ENOMEM
    while True:
        nxt = pt_level_end(k, "pud", addr, end)
        if k.vmap_pmd_range(addr, addr, nxt, prot, pages):
            return -ENOMEM
        addr = nxt
        if addr == end:
            return 0


@kfunc(_SRC)
def map_vm_area(k, area, prot, pages):
    """map_vm_area(): map all but the guard page from the cursor (#L148).

    ``pages`` is the caller's cursor (struct page ***), advanced per PTE.
    """
    addr = area.addr
    end = addr + area.size - k.PAGE_SIZE
    k.BUG_ON(addr >= end, "map_vm_area", "mm/vmalloc.c:156")
    err = 0
    while True:
        nxt = pt_level_end(k, "pgd", addr, end)
        err = k.vmap_pud_range(addr, addr, nxt, prot, pages)
        if err:
            break
        addr = nxt
        if addr == end:
            break
    return err


@kfunc(_SRC)
def vmalloc_to_page(k, vmalloc_addr):
    """vmalloc_to_page(): walk init_mm's tables; NULL if not present (#L172)."""
    return k.ptes.get(vmalloc_addr >> k.PAGE_SHIFT)


@kfunc(_SRC)
def vmalloc_to_pfn(k, vmalloc_addr):
    """vmalloc_to_pfn(): page_to_pfn(vmalloc_to_page()), no NULL check (#L201)."""
    page = k.vmalloc_to_page(vmalloc_addr)
    if page is None:
        k.oops("BUG: unable to handle kernel NULL pointer dereference "
               "(page_to_pfn(NULL))", "vmalloc_to_pfn")
    return k.page_to_pfn(page)


@kfunc(_SRC)
def __remove_vm_area(k, addr):
    """__remove_vm_area(): unmap (guard included), unlink, size -= PAGE_SIZE (#L326)."""
    for i, tmp in enumerate(k.vmlist):
        if tmp.addr == addr:
            k.unmap_vm_area(tmp)
            del k.vmlist[i]
            tmp.size -= k.PAGE_SIZE
            return tmp
    return None


@kfunc(_SRC)
def remove_vm_area(k, addr):
    """remove_vm_area(): __remove_vm_area() under vmlist_lock (#L353)."""
    return k.__remove_vm_area(addr)


@kfunc(_SRC)
def __vunmap(k, addr, deallocate_pages):
    """__vunmap(): remove the area; free its pages and array if asked (#L364)."""
    if not addr:
        return
    if addr & (k.PAGE_SIZE - 1):
        k.WARN_ON(True, "__vunmap",
                  f"Trying to vfree() bad address ({addr:#x})")
        return
    area = k.remove_vm_area(addr)
    if area is None:
        k.WARN_ON(True, "__vunmap",
                  f"Trying to vfree() nonexistent vm area ({addr:#x})")
        return
    if deallocate_pages:
        for i in range(area.nr_pages):
            page = array_get(k, area.pages, i)
            k.BUG_ON(page is None, "__vunmap", "mm/vmalloc.c:393")
            k.__free_page(page)
        if area.flags & VM_VPAGES:
            k.vfree(area.pages)
        else:
            k.kfree(area.pages)
    k.kfree(area.desc)


@kfunc(_SRC)
def vfree(k, addr):
    """vfree(): BUG_ON(in_interrupt()); __vunmap(addr, 1) (#L417)."""
    k.BUG_ON(k.in_interrupt(), "vfree", "mm/vmalloc.c:419")
    k.__vunmap(addr, 1)


@kfunc(_SRC)
def vunmap(k, addr):
    """vunmap(): BUG_ON(in_interrupt()); __vunmap(addr, 0) (#L433)."""
    k.BUG_ON(k.in_interrupt(), "vunmap", "mm/vmalloc.c:435")
    k.__vunmap(addr, 0)


@kfunc(_SRC)
def vmap(k, pages, count, flags, prot):
    """vmap(): map count pages from the array at ``pages`` (#L450)."""
    if count > k.nr_pages:
        return 0
    area = k.get_vm_area(count << k.PAGE_SHIFT, flags)
    if area is None:
        return 0
    if k.map_vm_area(area, prot, [pages]):
        k.vunmap(area.addr)
        return 0
    return area.addr


@kfunc(_SRC)
def __vmalloc_area_node(k, area, gfp_mask, prot, node):
    """__vmalloc_area_node(): page array, order-0 pages, map (#L470)."""
    nr_pages = (area.size - k.PAGE_SIZE) >> k.PAGE_SHIFT
    array_size = nr_pages * k.PTR_SIZE
    area.nr_pages = nr_pages
    if array_size > k.PAGE_SIZE:
        pages = k.__vmalloc_node(array_size, gfp_mask | __GFP_ZERO, prot, node)
        area.flags |= VM_VPAGES
    else:
        pages = k.kmalloc_node(array_size,
                               (gfp_mask & GFP_RECLAIM_MASK) | __GFP_ZERO, node)
    area.pages = pages or 0
    if not area.pages:
        k.remove_vm_area(area.addr)
        k.kfree(area.desc)
        return 0
    for i in range(area.nr_pages):
        if node < 0:
            page = k.alloc_page(gfp_mask)
        else:
            page = k.alloc_pages_node(node, gfp_mask, 0)
        if page is None:
            area.nr_pages = i
            k.vfree(area.addr)
            return 0
        array_set(k, area.pages, i, page)
    if k.map_vm_area(area, prot, [area.pages]):
        k.vfree(area.addr)
        return 0
    return area.addr


@kfunc(_SRC)
def __vmalloc_area(k, area, gfp_mask, prot):
    """__vmalloc_area(): __vmalloc_area_node(area, gfp_mask, prot, -1) (#L521)."""
    return k.__vmalloc_area_node(area, gfp_mask, prot, -1)


@kfunc(_SRC)
def __vmalloc_node(k, size, gfp_mask, prot, node):
    """__vmalloc_node(): reserve a VM_ALLOC area and fill it (#L538)."""
    size = PAGE_ALIGN(k, size)
    if not size or (size >> k.PAGE_SHIFT) > k.nr_pages:
        return 0
    area = k.get_vm_area_node(size, VM_ALLOC, node, gfp_mask)
    if area is None:
        return 0
    return k.__vmalloc_area_node(area, gfp_mask, prot, node)


@kfunc(_SRC)
def __vmalloc(k, size, gfp_mask, prot):
    """__vmalloc(): __vmalloc_node(size, gfp_mask, prot, -1) (#L551)."""
    return k.__vmalloc_node(size, gfp_mask, prot, -1)


@kfunc(_SRC)
def vmalloc(k, size):
    """vmalloc(): __vmalloc(size, GFP_KERNEL | __GFP_HIGHMEM, PAGE_KERNEL) (#L566)."""
    return k.__vmalloc(size, GFP_KERNEL | __GFP_HIGHMEM, PAGE_KERNEL)


@kfunc(_SRC)
def vmalloc_node(k, size, node):
    """vmalloc_node(): vmalloc on a node (#L613)."""
    return k.__vmalloc_node(size, GFP_KERNEL | __GFP_HIGHMEM, PAGE_KERNEL, node)


@kfunc("mm/vmalloc.c (v2.6.26) s_show")
def vmallocinfo(k):
    """The lines of /proc/vmallocinfo (2.6.26 s_show format)."""
    lines = []
    for v in k.vmlist:
        line = f"0x{v.addr:x}-0x{v.addr + v.size:x} {v.size:7d}"
        if v.caller:
            line += f" {v.caller}"
        if v.nr_pages:
            line += f" pages={v.nr_pages}"
        if v.phys_addr:
            line += f" phys={v.phys_addr:x}"
        for bit, word in VM_FLAG_NAMES + list(getattr(k, "vm_flag_names", [])):
            if v.flags & bit:
                line += f" {word}"
        lines.append(line)
    return lines
