"""Expected verdicts per target and configuration (the tlaplus-Examples style
manifest), run by tests/test_series.py::test_manifest.

A row is (target, Kconfig predicate, expected): "pass", "unbuildable", or the
set of invariants of which the stateful engine (seed 0, the CLI's default
examples, one round) must report at least one.  The first matching row wins.
"""
from __future__ import annotations

EXT = lambda c: c.PAGEFLAGS_EXTENDED            # noqa: E731
HASHED = lambda c: c.HIGHMEM                    # noqa: E731
ANY = lambda c: True                            # noqa: E731

HEAD_TAIL = {"vcompound_head_tail_consistent", "compound_head_tail_consistent"}
BROKEN = HEAD_TAIL | {"kernel_reported_no_errors", "no_leak"}
LEAK = {"no_leak", "vcompound_head_tail_consistent", "vcompound_addresses_resolve_to_head"}

MANIFEST = [
    ("base", ANY, "pass"),
    ("reference", ANY, "pass"),
    # V2: 05/18 needs PG_compound; the fallback breaks head/tail rules or oopses.
    ("v2", EXT, "unbuildable"),
    ("v2", ANY, HEAD_TAIL | {"kernel_reported_no_errors", "no_leak"}),
    # V3: posted against 2.6.25-rc5-mm1 (no PAGEFLAGS_EXTENDED).
    ("v3", EXT, "unbuildable"),
    ("v3", HASHED, {"kernel_reported_no_errors"} | HEAD_TAIL | {"no_leak"}),
    ("v3", lambda c: not c.VFALLBACK_ALWAYS, LEAK),
    ("v3", ANY, BROKEN),
    # V5: 02/11 does not compile without PAGEFLAGS_EXTENDED.
    ("v5", lambda c: not EXT(c), "unbuildable"),
    ("v5", HASHED, {"kernel_reported_no_errors"} | HEAD_TAIL | {"no_leak"}),
    ("v5", lambda c: not c.VIRTUALIZE_ALWAYS, LEAK | HEAD_TAIL),
    ("v5", ANY, BROKEN),
]


def expected(target: str, cfg):
    for name, pred, exp in MANIFEST:
        if name == target and pred(cfg):
            return exp
    raise KeyError((target, cfg.short()))
