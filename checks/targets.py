"""Built-in targets: a kernel build is base mm + patches + Kconfig.

``base`` is the unpatched 2.6.25 memory manager; ``v3`` is the V3 series
as posted, and ``v3:NN`` its prefix up to patch NN.  Each target names the
Kconfig combinations that matter for it; a combination its posted code does
not build under is reported as unbuildable with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from vcpcheck.impl.kconfig import ConfigError, Kconfig
from vcpcheck.impl.series import Unbuildable, build
from vcpcheck.impl.symbols import KFunc, base_symbols

# The bound the engines check at (model parameters, not Kconfig choices).
CHECK_BOUND = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)


@dataclass(frozen=True)
class Bound:
    """A small world to check in: model parameters (impl/kconfig.py) put
    over CHECK_BOUND.  ``applies(combo)``: the Kconfig combinations of a
    target's matrix the bound changes anything in (None: all of them)."""
    name: str
    params: tuple                 # (option, value) pairs over CHECK_BOUND
    purpose: str
    applies: Callable | None = None

    def values(self) -> dict:
        return dict(CHECK_BOUND, **dict(self.params))

    def describe(self) -> str:
        v = self.values()
        text = (f"{v['mem_pages']} pages, MAX_ORDER {v['FORCE_MAX_ZONEORDER']}, "
                f"vmalloc window {v['vmalloc_pages']} pages")
        if v.get("lowmem_pages"):
            text += f", lowmem {v['lowmem_pages']} pages with HIGHMEM"
        return text


def _highmem(combo) -> bool:
    return bool(combo.get("HIGHMEM"))


# The bound matrix: each bound is small enough for the explore engine to
# close depth 2 in about a second per configuration, and each opens a part
# of the world the others do not reach.  "main" is CHECK_BOUND itself.
BOUNDS = {b.name: b for b in (
    Bound("main", (), "the checking bound: every call of the alphabet fits "
          "twice over, and 4 top-order blocks can be fragmented"),
    Bound("vmalloc-tight", (("vmalloc_pages", 4),),
          "a 4-page vmalloc window: one small area and its guard page nearly "
          "fill it, an order-2 virtual object never fits (vmalloc.c#L276-L281)"),
    Bound("vmalloc-full", (("vmalloc_pages", 1),),
          "an exhausted vmalloc window: no area fits (each needs a guard page), "
          "so vmalloc, vmap and every virtual fallback fail"),
    Bound("zone-unaligned", (("mem_pages", 14), ("lowmem_pages", 6)),
          "memory ending inside a MAX_ORDER block; with i386 HIGHMEM the "
          "lowmem/highmem boundary inside one too, so buddies straddle zones "
          "(page_is_buddy's zone check, page_alloc.c#L381)"),
    Bound("lowmem-small", (("lowmem_pages", 4),),
          "i386 HIGHMEM with one MAX_ORDER block of lowmem: GFP_KERNEL "
          "exhausts the Normal zone while HighMem is free", _highmem),
    Bound("max-order-2", (("FORCE_MAX_ZONEORDER", 2),),
          "MAX_ORDER 2: orders 2 and 3 are at or above MAX_ORDER "
          "(alloc_pages returns NULL, gfp.h#L180)"),
    Bound("max-order-4", (("FORCE_MAX_ZONEORDER", 4),),
          "MAX_ORDER 4: two order-3 blocks, orders up to 3"),
    Bound("pages-32", (("mem_pages", 32),),
          "32 pages: 8 top-order blocks, more room before memory runs out"),
)}
DEFAULT_BOUND = "main"


@dataclass
class Target:
    name: str
    description: str
    symbols: Callable = base_symbols          # cfg -> {name: KFunc}; may raise Unbuildable
    config_matrix: list = field(default_factory=list)
    options: frozenset = frozenset()          # Kconfig options the target adds
    api: dict | None = None                   # how users spell the vcompound API

    def has_vcompound(self, symbols) -> bool:
        return bool(self.api) or "__alloc_vcompound" in symbols

    def configs(self, overrides=None, bound=DEFAULT_BOUND) -> list[Kconfig]:
        """The Kconfig combinations that matter, at ``bound`` (a name in
        BOUNDS), with overrides applied.

        Overrides naming an option this target does not have are ignored
        (the caller checks that some target has it); combinations the
        overrides rule out, or the bound does not apply to, are dropped
        (a bound that applies to none of them gives an empty list).
        """
        b = BOUNDS[bound]
        from vcpcheck.impl.kconfig import OPTIONS
        series_only = {name for name in OPTIONS if name in _ALL_SERIES_OPTIONS}
        mine = {key: v for key, v in (overrides or {}).items()
                if key not in series_only or key in self.options}
        out, reasons = [], []
        for combo in self.config_matrix:
            if b.applies is not None and not b.applies(combo):
                continue
            values = b.values()
            values.update(combo)
            values.update(mine)
            try:
                cfg = Kconfig.make(**values)
            except ConfigError as e:       # the override rules this one out
                reasons.append(str(e))
                continue
            if cfg not in out:
                out.append(cfg)
        if not out and (b.applies is None or reasons):
            raise ConfigError("no configuration of this target accepts the "
                              "options given: " + "; ".join(sorted(set(reasons))))
        return out

    def try_build(self, cfg):
        """(symbols, None) or (None, reason it does not build)."""
        try:
            return self.symbols(cfg), None
        except Unbuildable as e:
            return None, str(e)


def with_replacements(symbols_fn: Callable, replacements: dict,
                      source: str = "variant") -> Callable:
    """A symbols function with some kernel functions replaced by C name,
    the way a patch replaces them in the C tree."""
    def symbols(cfg):
        table = dict(symbols_fn(cfg))
        for name, fn in replacements.items():
            table[name] = KFunc(name, fn, source)
        return table
    return symbols


def series_symbols(patches) -> Callable:
    def symbols(cfg):
        return build(patches, cfg)
    return symbols


BASE_MATRIX = [
    dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=True),
    dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=False),
    dict(ARCH="i386", PAGEFLAGS_EXTENDED=True),
    dict(ARCH="i386", PAGEFLAGS_EXTENDED=False, HIGHMEM=True),
]


def series_matrix(always_option: str) -> list[dict]:
    """Both flag encodings, both arches (i386 with and without HIGHMEM),
    the debugging option y and n, and one PREEMPT kernel."""
    out = []
    for always in (True, False):
        for arch in (dict(ARCH="x86_64"), dict(ARCH="i386"),
                     dict(ARCH="i386", HIGHMEM=True)):
            for ext in (False, True):
                out.append(dict(arch, PAGEFLAGS_EXTENDED=ext, **{always_option: always}))
    out.append(dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=False, PREEMPT=True,
                    **{always_option: True}))
    out.append(dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=True, PREEMPT=True,
                    **{always_option: True}))
    return out


def _series_targets(series, always_option: str, api=None,
                    api_from: int = 0) -> dict[str, Target]:
    """The whole series and each prefix; ``api`` (how users spell the
    vcompound API) applies to prefixes from patch ``api_from`` on."""
    matrix = series_matrix(always_option)
    out = {series.name: Target(series.name, f"{series.title}, as posted "
                               f"(against {series.base})",
                               series_symbols(series.prefix()), matrix,
                               frozenset(series.options()), api)}
    for p in series.patches:
        prefix = series.prefix(p.number)
        opts = frozenset(o.name for q in prefix for o in q.options)
        m = matrix if always_option in opts else [
            {k: v for k, v in c.items() if k != always_option} for c in matrix]
        out[p.label] = Target(p.label, f"{series.name} up to {p.number:02d}: "
                              f"{p.title}", series_symbols(prefix), m, opts,
                              api if p.number >= api_from else None)
    return out


def _load():
    from vcpcheck.impl.series import reference, v2, v3, v5
    targets = {"base": Target("base", "the 2.6.25 memory manager without the series",
                              base_symbols, BASE_MATRIX)}
    targets.update(_series_targets(v2.SERIES, "VFALLBACK_ALWAYS", v2.USER_API,
                                   api_from=8))
    targets.update(_series_targets(v3.SERIES, "VFALLBACK_ALWAYS"))
    targets.update(_series_targets(v5.SERIES, "VIRTUALIZE_ALWAYS"))
    ref = reference.SERIES
    targets["reference"] = Target(
        "reference", "vcpcheck's correct design with V3's API (must pass everywhere)",
        series_symbols(ref.prefix()), series_matrix("VFALLBACK_ALWAYS"),
        frozenset(ref.options()))
    return targets


TARGETS: dict[str, Target] = _load()
# The built-in names (variant and series files add theirs to TARGETS when
# loaded, so the --jobs processes forked later find them too).
BUILTIN = frozenset(TARGETS)
_ALL_SERIES_OPTIONS = frozenset().union(*(t.options for t in TARGETS.values()))
DEFAULT_TARGETS = [name for name in TARGETS if ":" not in name]


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise KeyError(name)
    return TARGETS[name]
