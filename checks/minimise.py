"""Trace minimisation: delta debugging over the calls of a counterexample.

Whatever engine found a violation, the trace is replayed with calls left
out, one at a time and then in halves, keeping any shorter trace on which
the same problem (invariant and message signature) still appears.  Calls
that no longer make sense without an earlier one (a free of something never
allocated) make that candidate fail, so they are dropped only together.
"""
from __future__ import annotations

from .harness import Harness, HarnessError
from .stateful import signature


def reproduces(trace, cfg, symbols, api, want) -> bool:
    try:
        h = Harness(cfg, symbols, api=api).replay(trace)
    except HarnessError:
        return False
    return want in {signature(*p) for p in h.violations()}


def minimise(trace, cfg, symbols, api, invariant, message, max_replays=400):
    """The shortest sub-trace found that still shows (invariant, message)."""
    want = signature(invariant, message)
    best = list(trace)
    replays = 0
    chunk = max(1, len(best) // 2)
    while chunk >= 1 and replays < max_replays:
        i, shrunk = 0, False
        while i < len(best) and replays < max_replays:
            cand = best[:i] + best[i + chunk:]
            replays += 1
            if cand and reproduces(cand, cfg, symbols, api, want):
                best, shrunk = cand, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    return best
