"""Kconfig options and the x86 constants that depend on them.

Models the configuration symbols of arch/x86/Kconfig, mm/Kconfig (2.6.26 for
PAGEFLAGS_EXTENDED), lib/Kconfig.debug and kernel/Kconfig.preempt that the
Virtual Compound Page series interacts with, plus the model's own size
parameters.  Constants come from include/asm-x86/page_{32,64}.h,
include/asm-x86/pgtable_{32,64}.h and arch/x86/mm/init_32.c at v2.6.25.

Shims (in the style of tools/testing/memblock):
  * customised: ``mem_pages`` plays the role of the ``mem=`` boot option, and
    ``lowmem_pages`` places the i386 HIGHMEM boundary inside a small memory
    (on a real machine it is MAXMEM, 896 MiB with the 3G/1G split).
  * customised: ``vmalloc_pages`` shrinks the vmalloc window for bounded
    checking (the i386 ``vmalloc=<size>`` boot option does the same job).
  * customised: ``watermark_pages`` is the zone's pages_min; the kernel derives
    it from min_free_kbytes, which would exceed a 16-page model.
  * customised: ``per_cpu_pages`` turns the per-cpu page lists on (one CPU).
    They are off at the checking bound, where the checker's invariants read
    every free page on a buddy list, and on in ``vcpcheck simulate``.

Patches may register further options (``register_option``); every build
validates the options it is given against this registry, so a misspelt
option is an error, never silently ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


class ConfigError(ValueError):
    """An unknown option, a bad value, or an impossible combination."""


@dataclass(frozen=True)
class Option:
    name: str
    kind: type            # bool, int or str
    default: Any
    help: str
    choices: tuple = ()
    # Kconfig "depends on": returns None when satisfied, else the reason.
    depends: Callable[[dict], str | None] | None = None
    minimum: int | None = None


OPTIONS: dict[str, Option] = {}


def register_option(opt: Option) -> None:
    """Add a Kconfig option (patches call this, as a Kconfig hunk would)."""
    OPTIONS[opt.name] = opt


def _x86_32_only(name):
    def dep(values):
        if values[name] and values["ARCH"] != "i386":
            return f"{name} depends on X86_32 (ARCH=i386)"
        return None
    return dep


for _opt in (
    Option("ARCH", str, "x86_64", "target architecture", ("x86_64", "i386")),
    Option("PAGEFLAGS_EXTENDED", bool, True,
           "y: 2.6.26 separate PG_head/PG_tail bits; "
           "n: the 2.6.25 PG_compound + PG_reclaim tail encoding"),
    Option("DEBUG_VM", bool, True, "VM_BUG_ON() checks are active"),
    Option("PREEMPT", bool, False,
           "preemptible kernel: spinlocks raise preempt_count"),
    Option("HIGHMEM", bool, False,
           "i386 HIGHMEM4G: pages above lowmem have no linear address",
           depends=_x86_32_only("HIGHMEM")),
    Option("MEMORY_HOTPLUG", bool, False, "memory hot-add (mm/sparse.c "
           "section memmaps, zone wait tables after boot)"),
    Option("SPARSEMEM_VMEMMAP", bool, True,
           "virtual memmap; n = classic SPARSEMEM, whose hot-added memmaps "
           "mm/sparse.c allocates"),
    Option("FORCE_MAX_ZONEORDER", int, 11,
           "MAX_ORDER: orders 0..MAX_ORDER-1 (11 is the kernel's default)",
           minimum=1),
    Option("mem_pages", int, 16, "model parameter: pages of RAM (mem=)",
           minimum=1),
    Option("lowmem_pages", int, 0,
           "model parameter: i386 HIGHMEM boundary in pages "
           "(0 = half of mem_pages)", minimum=0),
    Option("vmalloc_pages", int, 0,
           "model parameter: size of the vmalloc window in pages "
           "(0 = the architecture's full window)", minimum=0),
    Option("watermark_pages", int, 0,
           "model parameter: the zone's pages_min watermark", minimum=0),
    Option("per_cpu_pages", bool, False,
           "model parameter: struct per_cpu_pages in front of the buddy "
           "lists for order-0 pages (mm/page_alloc.c buffered_rmqueue, "
           "free_hot_cold_page); n at the checking bound, y in simulate"),
):
    register_option(_opt)


def parse_value(opt: Option, text: str) -> Any:
    """Parse a command-line KEY=VALUE value the way Kconfig spells it."""
    if opt.kind is bool:
        low = text.strip().lower()
        if low in ("y", "yes", "1", "true"):
            return True
        if low in ("n", "no", "0", "false"):
            return False
        raise ConfigError(f"{opt.name}: expected y or n, got {text!r}")
    if opt.kind is int:
        try:
            return int(text, 0)
        except ValueError:
            raise ConfigError(f"{opt.name}: expected an integer, got {text!r}")
    return text


@dataclass(frozen=True)
class Kconfig:
    """A validated, hashable set of option values."""
    values: tuple = field(default=())

    @classmethod
    def make(cls, **overrides) -> "Kconfig":
        values = {name: opt.default for name, opt in OPTIONS.items()}
        for name, value in overrides.items():
            if name not in OPTIONS:
                raise ConfigError(f"unknown Kconfig option {name!r}")
            opt = OPTIONS[name]
            if isinstance(value, str) and opt.kind is not str:
                value = parse_value(opt, value)
            if opt.kind is bool and not isinstance(value, bool):
                raise ConfigError(f"{name}: expected y or n, got {value!r}")
            if opt.kind is int and (isinstance(value, bool)
                                    or not isinstance(value, int)):
                raise ConfigError(f"{name}: expected an integer, got {value!r}")
            if opt.choices and value not in opt.choices:
                raise ConfigError(
                    f"{name}: {value!r} is not one of {', '.join(opt.choices)}")
            if opt.minimum is not None and value < opt.minimum:
                raise ConfigError(f"{name}: must be >= {opt.minimum}")
            values[name] = value
        for opt in OPTIONS.values():
            if opt.depends:
                why = opt.depends(values)
                if why:
                    raise ConfigError(why)
        return cls(tuple(sorted(values.items())))

    def __getattr__(self, name):
        # Called only for names that are not attributes: the options.  The
        # first lookup of each caches it in the instance (hot: flag tests
        # read k.cfg.PAGEFLAGS_EXTENDED on every page).
        if name.startswith("__"):
            raise AttributeError(name)
        for key, value in self.values:
            if key == name:
                object.__setattr__(self, name, value)
                return value
        raise AttributeError(name)

    def as_dict(self) -> dict:
        return dict(self.values)

    def replace(self, **overrides) -> "Kconfig":
        d = self.as_dict()
        d.update(overrides)
        return Kconfig.make(**d)

    def short(self) -> str:
        """Options that differ from their defaults, KEY=VALUE."""
        parts = []
        for key, value in self.values:
            if OPTIONS[key].default != value:
                if isinstance(value, bool):
                    value = "y" if value else "n"
                parts.append(f"{key}={value}")
        return ",".join(parts) or "defaults"


# --- architecture constants (include/asm-x86/page*.h, pgtable*.h) ---------

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

X86_64 = dict(
    BITS=64,
    __PAGE_OFFSET=0xffff810000000000,          # page_64.h#L29
    __START_KERNEL_map=0xffffffff80000000,     # page_64.h#L44
    VMALLOC_START=0xffffc20000000000,          # pgtable_64.h#L140
    VMALLOC_END=0xffffe1ffffffffff,            # pgtable_64.h#L141
    VMEMMAP_START=0xffffe20000000000,          # pgtable_64.h#L142
    SIZEOF_STRUCT_PAGE=56,
    # 4-level page tables: pgd 39, pud 30, pmd 21, pte 12; 512 entries each.
    PT_SHIFTS=(39, 30, 21),
    PTRS_PER_TABLE=512,
)

VMALLOC_OFFSET = 8 << 20                      # pgtable_32.h#L55
I386 = dict(
    BITS=32,
    __PAGE_OFFSET=0xC0000000,                  # CONFIG_PAGE_OFFSET, 3G/1G split
    # customised: the fixmap and pkmap bases depend on the fixmap size; these
    # are the usual values of a 2008 PC kernel.
    PKMAP_BASE=0xff800000,
    FIXADDR_START=0xfff4f000,
    MEM_MAP_VIRT=0xc0100000,                   # customised: mem_map in .bss
    SIZEOF_STRUCT_PAGE=32,
    # 2-level (non-PAE) page tables: pgd 22, pte 12; 1024 entries each.
    PT_SHIFTS=(22,),
    PTRS_PER_TABLE=1024,
    LAST_PKMAP=1024,
)


def arch_constants(cfg: Kconfig) -> dict:
    """The address-space layout of ``cfg`` as a dict of kernel-named values."""
    if cfg.ARCH == "x86_64":
        c = dict(X86_64)
        c["PAGE_OFFSET"] = c["__PAGE_OFFSET"]
        c["MEM_MAP_VIRT"] = c["VMEMMAP_START"]
        c["lowmem_pages"] = cfg.mem_pages
        vstart, vend = c["VMALLOC_START"], c["VMALLOC_END"]
    else:
        c = dict(I386)
        c["PAGE_OFFSET"] = c["__PAGE_OFFSET"]
        if cfg.HIGHMEM:
            low = cfg.lowmem_pages or max(1, cfg.mem_pages // 2)
            low = min(low, cfg.mem_pages)
        else:
            low = cfg.mem_pages
        c["lowmem_pages"] = low
        high_memory = c["PAGE_OFFSET"] + (low << PAGE_SHIFT)
        # pgtable_32.h#L59: 8 MiB gap after high_memory, 8 MiB aligned.
        vstart = (high_memory + 2 * VMALLOC_OFFSET - 1) & ~(VMALLOC_OFFSET - 1)
        # pgtable_32.h#L66-L70: two guard pages below pkmap (or fixmap).
        top = c["PKMAP_BASE"] if cfg.HIGHMEM else c["FIXADDR_START"]
        vend = top - 2 * PAGE_SIZE
        c["high_memory"] = high_memory
    if cfg.vmalloc_pages:
        vend = min(vend, vstart + cfg.vmalloc_pages * PAGE_SIZE)
    c["VMALLOC_START"], c["VMALLOC_END"] = vstart, vend
    c["MAX_ORDER"] = cfg.FORCE_MAX_ZONEORDER
    return c
