"""Page flags: bit numbers and the PageFoo()/SetPageFoo() family.

Two encodings, chosen by PAGEFLAGS_EXTENDED:
  * n -- include/linux/page-flags.h at v2.6.25: plain bit numbers, one
    PG_compound bit; a tail page is PG_compound|PG_reclaim
    (PG_head_tail_mask), a head page is PG_compound without PG_reclaim.
  * y -- include/linux/page-flags.h at v2.6.26 with CONFIG_PAGEFLAGS_EXTENDED:
    enum pageflags with separate PG_head and PG_tail bits;
    PageCompound() tests either.
The functions are generated the way 2.6.26 generates them (TESTPAGEFLAG,
SETPAGEFLAG, __SETPAGEFLAG, ... in page-flags.h#L107-L150).
"""
from __future__ import annotations

from .symbols import kfunc

_SRC25 = "include/linux/page-flags.h (v2.6.25)"
_SRC26 = "include/linux/page-flags.h (v2.6.26, PAGEFLAGS_EXTENDED)"

# page-flags.h#L70 (v2.6.25)
BITS_2625 = dict(
    PG_locked=0, PG_error=1, PG_referenced=2, PG_uptodate=3, PG_dirty=4,
    PG_lru=5, PG_active=6, PG_slab=7, PG_owner_priv_1=8, PG_arch_1=9,
    PG_reserved=10, PG_private=11, PG_writeback=12, PG_compound=14,
    PG_swapcache=15, PG_mappedtodisk=16, PG_reclaim=17, PG_buddy=19,
)
# enum pageflags, page-flags.h#L72 (v2.6.26), CONFIG_PAGEFLAGS_EXTENDED=y
BITS_2626_EXT = dict(
    PG_locked=0, PG_error=1, PG_referenced=2, PG_uptodate=3, PG_dirty=4,
    PG_lru=5, PG_active=6, PG_slab=7, PG_owner_priv_1=8, PG_arch_1=9,
    PG_reserved=10, PG_private=11, PG_writeback=12, PG_head=13, PG_tail=14,
    PG_swapcache=15, PG_mappedtodisk=16, PG_reclaim=17, PG_buddy=18,
)
ALIASES = dict(PG_checked="PG_owner_priv_1", PG_pinned="PG_owner_priv_1",
               PG_readahead="PG_reclaim")


def _extended(cfg):
    return cfg.PAGEFLAGS_EXTENDED


def _classic(cfg):
    return not cfg.PAGEFLAGS_EXTENDED


def page_flag_bits(cfg) -> dict:
    """PG_* bit numbers and the named masks for ``cfg``'s encoding."""
    bits = dict(BITS_2626_EXT if cfg.PAGEFLAGS_EXTENDED else BITS_2625)
    for alias, target in ALIASES.items():
        bits[alias] = bits[target]
    b = {k: 1 << v for k, v in bits.items()}
    # page-flags.h#L310-L331 (v2.6.26); 2.6.25 spells the same lists inline
    # in bad_page, free_pages_check and prep_new_page.
    page_flags = (b["PG_lru"] | b["PG_private"] | b["PG_locked"] | b["PG_buddy"]
                  | b["PG_writeback"] | b["PG_slab"] | b["PG_swapcache"]
                  | b["PG_active"])
    bits["PAGE_FLAGS"] = page_flags
    bits["PAGE_FLAGS_CLEAR_WHEN_BAD"] = page_flags | b["PG_reclaim"] | b["PG_dirty"]
    bits["PAGE_FLAGS_CHECK_AT_FREE"] = page_flags | b["PG_reserved"]
    bits["PAGE_FLAGS_CHECK_AT_PREP"] = page_flags | b["PG_reserved"] | b["PG_dirty"]
    if not cfg.PAGEFLAGS_EXTENDED:
        bits["PG_head_tail_mask"] = b["PG_compound"] | b["PG_reclaim"]
    return bits


def _register(name, fn, when=None, src=None):
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"{name}(): generated like the kernel's page-flag macros "
                  f"in {src or _SRC25}.")
    kfunc(src or _SRC25, name=name, when=when)(fn)


def _flag_functions(uname, pg, when=None, src=None):
    """TESTPAGEFLAG/SETPAGEFLAG/CLEARPAGEFLAG/__SET/__CLEAR for one flag."""
    def test(k, page):
        if page is None or not 0 <= page < k.nr_pages:
            k.deref(page, "Page" + uname)
        return bool(k.flags[page] >> getattr(k, pg) & 1)

    def set_(k, page):
        k.deref(page, "SetPage" + uname)
        k.flags[page] |= 1 << getattr(k, pg)

    def clear(k, page):
        k.deref(page, "ClearPage" + uname)
        k.flags[page] &= ~(1 << getattr(k, pg))

    _register("Page" + uname, test, when, src)
    # The model is single-threaded: atomic and non-atomic setters agree.
    for prefix, fn in (("SetPage", set_), ("ClearPage", clear)):
        _register(prefix + uname, fn, when, src)
        _register("__" + prefix + uname, _copy(fn), when, src)


def _copy(fn):
    def wrapper(k, page):
        return fn(k, page)
    return wrapper


for _u, _pg in (("Locked", "PG_locked"), ("Error", "PG_error"),
                ("Referenced", "PG_referenced"), ("Uptodate", "PG_uptodate"),
                ("Dirty", "PG_dirty"), ("LRU", "PG_lru"), ("Active", "PG_active"),
                ("Slab", "PG_slab"), ("Checked", "PG_checked"),
                ("Pinned", "PG_pinned"), ("Reserved", "PG_reserved"),
                ("Private", "PG_private"), ("Writeback", "PG_writeback"),
                ("SwapCache", "PG_swapcache"),
                ("MappedToDisk", "PG_mappedtodisk"), ("Reclaim", "PG_reclaim"),
                ("Readahead", "PG_readahead"), ("Buddy", "PG_buddy")):
    _flag_functions(_u, _pg)


# --- compound pages, v2.6.25 encoding (page-flags.h#L255-L285) -------------

def _classic_PageCompound(k, page):
    if page is None or not 0 <= page < k.nr_pages:
        k.deref(page, "PageCompound")
    return bool(k.flags[page] >> k.PG_compound & 1)


def _classic_PageHead(k, page):
    if page is None or not 0 <= page < k.nr_pages:
        k.deref(page, "PageHead")
    return (k.flags[page] & k.PG_head_tail_mask) == 1 << k.PG_compound


def _classic_PageTail(k, page):
    if page is None or not 0 <= page < k.nr_pages:
        k.deref(page, "PageTail")
    m = k.PG_head_tail_mask
    return (k.flags[page] & m) == m


def _classic___SetPageHead(k, page):
    k.deref(page, "__SetPageHead")
    k.flags[page] |= 1 << k.PG_compound


def _classic___ClearPageHead(k, page):
    k.deref(page, "__ClearPageHead")
    k.flags[page] &= ~(1 << k.PG_compound)


def _classic___SetPageTail(k, page):
    k.deref(page, "__SetPageTail")
    k.flags[page] |= k.PG_head_tail_mask


def _classic___ClearPageTail(k, page):
    k.deref(page, "__ClearPageTail")
    k.flags[page] &= ~k.PG_head_tail_mask


for _fn in (_classic_PageCompound, _classic_PageHead, _classic_PageTail,
            _classic___SetPageHead, _classic___ClearPageHead,
            _classic___SetPageTail, _classic___ClearPageTail):
    _register(_fn.__name__.replace("_classic_", "", 1), _fn, _classic)


# --- compound pages, 2.6.26 PAGEFLAGS_EXTENDED (page-flags.h#L256-L270) ----

_flag_functions("Head", "PG_head", _extended, _SRC26)
_flag_functions("Tail", "PG_tail", _extended, _SRC26)


def _ext_PageCompound(k, page):
    if page is None or not 0 <= page < k.nr_pages:
        k.deref(page, "PageCompound")
    return bool(k.flags[page] & (1 << k.PG_head | 1 << k.PG_tail))


_register("PageCompound", _ext_PageCompound, _extended, _SRC26)


@kfunc("include/linux/page-flags.h (v2.6.25) via page_zone()")
def PageHighMem(k, page):
    """PageHighMem(): is_highmem(page_zone(page)); never true on x86_64."""
    k.deref(page, "PageHighMem")
    return k.zone_of(page).name == "HighMem"
