"""mm/internal.h (v2.6.25): set_page_refcounted() and page_order()."""
from __future__ import annotations

from .symbols import kfunc

_SRC = "mm/internal.h (v2.6.25)"


@kfunc(_SRC)
def set_page_refcounted(k, page):
    """set_page_refcounted(): VM_BUG_ON tail or nonzero count; _count = 1 (#L25)."""
    k.VM_BUG_ON(k.PageTail(page), "set_page_refcounted", "mm/internal.h:27")
    k.VM_BUG_ON(k._count[page] != 0, "set_page_refcounted", "mm/internal.h:28")
    k.set_page_count(page, 1)


@kfunc(_SRC)
def page_order(k, page):
    """page_order(): the buddy order in private; VM_BUG_ON(!PageBuddy) (#L45)."""
    k.VM_BUG_ON(not k.PageBuddy(page), "page_order", "mm/internal.h:47")
    return k.private[page]
