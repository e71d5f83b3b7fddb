"""What the engines find: a Violation, and its signature (the mechanism,
without the pfns and addresses it was seen at).

Kept apart from checks/stateful.py so that the explore engine does not
import Hypothesis to name what it finds.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field


@dataclass
class Violation:
    invariant: str
    message: str
    trace: list
    config: object
    engine: str = "stateful"
    strength: str = ""
    original_length: int = 0          # before delta-debugging minimisation
    # An oops: what the other invariants found in the state it left
    # half-built (Harness.consequences), reported under it.
    consequences: list = field(default_factory=list)


@functools.lru_cache(maxsize=1 << 16)
def signature(invariant: str, message: str) -> tuple:
    """The mechanism of a problem: (invariant, what went wrong where).

    The same defect seen at another pfn, address, order or flag word, or
    through the other flavour of the vcompound API (an address from
    __alloc_vcompound or a page from alloc_vcompound: the same object),
    has the same signature; reports are deduplicated by it and the
    engines' rounds exclude by it.  For the kernel's own reports
    (kernel_reported_no_errors: "KIND in FUNCTION: text") that is the
    kind, the kernel function and its report; for the other invariants,
    the page role and the relation their message names ("tail pfn # has
    _count #", "head pfn # is not marked head-only").

    Cached: the explore engine asks it of every problem of every state,
    and a state's problems are mostly the ones its parent had.
    """
    text = re.sub(r"0x[0-9a-f]+|\d+", "#", message)
    text = re.sub(r"\bvcompound_page\b|\bvcompound\b(?= # order)", "<vcompound>", text)
    return invariant, text
