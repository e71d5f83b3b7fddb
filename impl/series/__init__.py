"""Patch series: each posted version as an ordered list of patches.

A patch replaces or adds kernel functions by C name and registers Kconfig
options, as its diff does to the C tree; a build is base mm + patches +
Kconfig.  A patch whose posted code would not compile under a configuration
says so (``unbuildable``); the build then reports the configuration as
unbuildable with that reason instead of inventing code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..kconfig import Kconfig, Option, register_option
from ..symbols import KFunc, base_symbols


@dataclass(frozen=True)
class Patch:
    series: str
    number: int
    title: str
    message_id: str
    depends: tuple = ()
    functions: tuple = ()           # python functions named by their C name
    options: tuple = ()             # Kconfig Options the patch adds
    unbuildable: Callable | None = None   # cfg -> reason or None
    clients: tuple = ()             # client workloads the patch converts
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.series}:{self.number:02d}"

    def symbols(self) -> dict[str, KFunc]:
        src = f"{self.label} {self.title} <{self.message_id}>"
        out = {}
        for fn in self.functions:
            name = getattr(fn, "cname", fn.__name__)
            out[name] = KFunc(name, fn, src)
        return out


def cname(name: str):
    """Give a function a C name Python cannot spell as a def (or reuse)."""
    def mark(fn):
        fn.cname = name
        return fn
    return mark


@dataclass
class Series:
    name: str
    title: str
    base: str
    patches: list = field(default_factory=list)
    prerequisites: list = field(default_factory=list)   # applied first, always

    def __post_init__(self):
        for p in self.prerequisites + self.patches:
            for opt in p.options:
                register_option(opt)

    def prefix(self, n: int | None = None) -> list[Patch]:
        """Prerequisites plus patches 1..n (all when n is None)."""
        chosen = self.patches if n is None else [p for p in self.patches
                                                 if p.number <= n]
        return self.prerequisites + chosen

    def options(self) -> set[str]:
        return {o.name for p in self.prerequisites + self.patches for o in p.options}


class Unbuildable(Exception):
    """The posted code does not build under this configuration."""


def build(patches: list[Patch], cfg: Kconfig) -> dict[str, KFunc]:
    """Base symbols with ``patches`` applied in order, or Unbuildable."""
    applied = set()
    table = dict(base_symbols(cfg))
    for p in patches:
        missing = [d for d in p.depends if d not in applied]
        if missing:
            raise Unbuildable(f"{p.label} needs {', '.join(f'{p.series}:{d:02d}' for d in missing)}")
        if p.unbuildable is not None:
            why = p.unbuildable(cfg)
            if why:
                raise Unbuildable(f"{p.label} ({p.title}): {why}")
        table.update(p.symbols())
        applied.add(p.number)
    return table


def option(name, default, help_text) -> Option:
    return Option(name, bool, default, help_text)
