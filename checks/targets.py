"""Built-in targets: a kernel build is base mm + patches + Kconfig.

For now the only built-in target is ``base``, the unpatched 2.6.25 memory
manager; the series' versions register here as they are modelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from vcpcheck.impl.kconfig import ConfigError, Kconfig
from vcpcheck.impl.symbols import KFunc, base_symbols

# The bound the engines check at (model parameters, not Kconfig choices).
CHECK_BOUND = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)


@dataclass
class Target:
    name: str
    description: str
    symbols: Callable = base_symbols          # cfg -> {name: KFunc}
    config_matrix: list = field(default_factory=list)

    def configs(self, overrides=None) -> list[Kconfig]:
        """The Kconfig combinations that matter, with overrides applied."""
        out, reasons = [], []
        for combo in self.config_matrix:
            values = dict(CHECK_BOUND)
            values.update(combo)
            values.update(overrides or {})
            try:
                cfg = Kconfig.make(**values)
            except ConfigError as e:       # the override rules this one out
                reasons.append(str(e))
                continue
            if cfg not in out:
                out.append(cfg)
        if not out:
            raise ConfigError("no configuration of this target accepts the "
                              "options given: " + "; ".join(sorted(set(reasons))))
        return out


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


BASE_MATRIX = [
    dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=True),
    dict(ARCH="x86_64", PAGEFLAGS_EXTENDED=False),
    dict(ARCH="i386", PAGEFLAGS_EXTENDED=True),
    dict(ARCH="i386", PAGEFLAGS_EXTENDED=False, HIGHMEM=True),
]

TARGETS: dict[str, Target] = {
    "base": Target("base", "the 2.6.25 memory manager without the series",
                   base_symbols, BASE_MATRIX),
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise KeyError(name)
    return TARGETS[name]
