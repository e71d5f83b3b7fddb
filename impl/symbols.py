"""The kernel's symbol table: kernel functions by C name.

A kernel build links every function by name, so a patch or a user variant
that replaces a function is seen by every caller.  The model does the same:
each kernel function is a module-level Python function taking the kernel
``k`` first, registered here under its C name with the kernel file it models
and an optional configuration condition (the ``#ifdef`` it sits under).  A
build binds one definition per name onto the Kernel instance, and functions
call each other as ``k.name(...)``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class KFunc:
    name: str
    fn: Callable
    source: str                      # kernel file (and tag) it models
    when: Callable | None = None     # Kconfig condition, like an #ifdef

    def params(self) -> list[str]:
        """Parameter names after the kernel argument ``k``."""
        return list(inspect.signature(self.fn).parameters)[1:]


# name -> definitions, in registration order (later #ifdef branches last)
BASE: dict[str, list[KFunc]] = {}


def kfunc(source: str, name: str | None = None, when: Callable | None = None):
    """Register a base-kernel function under its C name.

    ``source`` cites the kernel file the function models, e.g.
    ``"mm/page_alloc.c (v2.6.25)"``.  ``when(cfg)`` selects between
    configuration-dependent definitions of one name.
    """
    def register(fn):
        kname = name or fn.__name__
        BASE.setdefault(kname, []).append(KFunc(kname, fn, source, when))
        return fn
    return register


def select(defs: list[KFunc], cfg) -> KFunc | None:
    """The definition of a name that the configuration compiles in."""
    chosen = None
    for d in defs:
        if d.when is None or d.when(cfg):
            chosen = d
    return chosen


def base_symbols(cfg) -> dict[str, KFunc]:
    """Every base-kernel function compiled in under ``cfg``."""
    _load_all()
    table = {}
    for name, defs in BASE.items():
        d = select(defs, cfg)
        if d is not None:
            table[name] = d
    return table


def _load_all():
    # Importing the modules registers their functions.
    from . import (page_flags, page, mm, internal, gfp, page_alloc,  # noqa
                   swap, highmem, pgtable, vmalloc, slub, sched, memory,
                   workqueue, smp)
    from .clients import (thread_info, wait, wait_table, xor,  # noqa
                          slub_loc, e1000, swapfile, inet_hashtables, sparse)
