"""A trace in the Informal Trace Format (ITF) of Apalache (ADR-015), for
tools that read traces of TLA+ and Quint models.

The trace is replayed on a fresh Harness (as report.trace_lines and
svg.replay_rows do) and each state is written as a map from variable to
value: the initial state, then one state after each call, until an oops.
The variables:

  step        the number of calls made (0 in the initial state)
  call        the call made to reach the state, as the trace file names it
              ("" in the initial state), ``args`` its arguments (a tuple)
              and ``ret`` what it returned: a variant, Value({ret: x}),
              Void (the call returns nothing) or Oops (the kernel oopsed)
  pages       pfn -> {state, flags, order, free, owners, count}: ``state``
              the page map's word for the pfn (picture.STATES: free, head,
              tail, allocated, ...), ``flags`` the PG_ bits set, ``order``
              the free block's order for a free page, the compound order
              the kernel reads for a compound head, else 0, ``owners``
              who holds it (the callers' ledger and the kernel's roots)
  vm_areas    the vm areas in vmlist order: {addr, offset (pages from
              VMALLOC_START), size (bytes, the guard page included), flags,
              pages: slot -> the pfn its PTE maps}
  ledger      the allocations the callers hold: id -> {kind, handle,
              order, size, gfp, refs, pages}
  violations  the invariants that fail in the state, "name: message"
  oops        whether the kernel has oopsed

Integers are {"#bigint": "..."} (addresses exceed JSON's safe integers),
sets {"#set": [...]} and maps {"#map": [[k, v], ...]}, both sorted, so the
same trace gives the same bytes.
"""
from __future__ import annotations

from vcpcheck.impl.kconfig import Kconfig
from vcpcheck.impl.page_flags import BITS_2625, BITS_2626_EXT
from vcpcheck.spec.invariants import free_map, is_head, ownership

from .harness import Harness
from .picture import STATES, page_states, vm_areas
from .report import format_args

ADR = "https://apalache-mc.org/docs/adr/015adr-trace.html"
VARS = ["step", "call", "args", "ret", "pages", "vm_areas", "ledger",
        "violations", "oops"]
UNIT = "U_OF_UNIT"          # Apalache's value of the unit type


def big(n: int) -> dict:
    return {"#bigint": str(int(n))}


def value(x):
    """A call's argument or return value as an ITF value."""
    if isinstance(x, bool) or isinstance(x, str):
        return x
    if isinstance(x, int):
        return big(x)
    if isinstance(x, (list, tuple)):
        return [value(v) for v in x]
    if x is None:
        return {"tag": "Void", "value": UNIT}
    return str(x)


def ret_value(ret) -> dict:
    if ret == "oops":
        return {"tag": "Oops", "value": UNIT}
    if ret is None:
        return {"tag": "Void", "value": UNIT}
    # The payload is a record: a variant's value may be any ITF value, but
    # itf-py reads a JSON object there as a record (its fields named).
    return {"tag": "Value", "value": {"ret": value(ret)}}


def itf_map(pairs) -> dict:
    return {"#map": [[k, v] for k, v in pairs]}


def _flag_names(k) -> tuple[list, dict]:
    """The PG_ names of the configuration's encoding in bit order, and the bits."""
    bits = BITS_2626_EXT if k.cfg.PAGEFLAGS_EXTENDED else BITS_2625
    return sorted(bits, key=bits.get), bits


def _order(k, q, free) -> int:
    if q in free:
        return free[q][1]
    if is_head(k, q):
        try:
            return int(k.call("compound_order", q))
        except Exception:             # a broken state: the word is unreadable
            return 0
    return 0


def pages_value(h) -> dict:
    k = h.k
    states = page_states(k, h.ledger)
    free = free_map(k)
    owners = ownership(k, h.ledger).owners
    names, bits = _flag_names(k)
    rows = []
    for q in range(k.nr_pages):
        rows.append((big(q), {
            "state": STATES.get(states[q], "unknown"),
            "flags": {"#set": [n for n in names if k.flags[q] >> bits[n] & 1]},
            "order": big(_order(k, q, free)),
            "free": q in free,
            "owners": sorted(owners.get(q, [])),
            "count": big(k._count[q]),
        }))
    return itf_map(rows)


def vm_areas_value(k) -> list:
    return [{"addr": big(a.addr), "offset": big(a.offset), "size": big(a.size),
             "flags": big(a.flags),
             "pages": itf_map((big(i), big(p)) for i, p in enumerate(a.pfns)
                              if p is not None)}
            for a in vm_areas(k)]


def ledger_value(ledger) -> dict:
    return itf_map((big(i), {"kind": a.kind, "handle": big(a.handle),
                             "order": big(a.order), "size": big(a.size),
                             "gfp": big(a.gfp), "refs": big(a.refs),
                             "pages": [big(p) for p in a.pages]})
                   for i, a in sorted(ledger.items.items()))


def _violations(h) -> list[str]:
    try:
        return [f"{n}: {m}" for n, m in h.violations()]
    except Exception as exc:          # the state could not be checked
        return [f"(checking the invariants raised {type(exc).__name__}: {exc})"]


def state(h, step, entry, index) -> dict:
    return {"#meta": {"index": index},
            "step": big(step),
            "call": entry["call"] if entry else "",
            "args": {"#tup": [value(a) for a in entry["args"]]} if entry else {"#tup": []},
            "ret": ret_value(entry["ret"]) if entry else {"tag": "Void", "value": UNIT},
            "pages": pages_value(h), "vm_areas": vm_areas_value(h.k),
            "ledger": ledger_value(h.ledger), "violations": _violations(h),
            "oops": bool(h.dead)}


def trace_itf(record: dict, symbols=None, api=None, source: str = "") -> dict:
    """The ITF document of a trace record (traces.trace_record's dict),
    replayed on a Harness of ``symbols`` (the target's build)."""
    cfg = Kconfig.make(**record.get("config", {}))
    h = Harness(cfg, symbols, api=api)
    states = [state(h, 0, None, 0)]
    for i, e in enumerate(record["trace"], 1):
        mark = len(h.trace)
        try:
            h.replay([e])
        except Exception:
            break                      # the picture ends where the replay does
        got = h.trace[mark] if len(h.trace) > mark else e
        states.append(state(h, i, got, i))
        if h.dead:
            break
    calls = "; ".join(f"{e['call']}({format_args(e['call'], e['args'])})"
                      for e in record["trace"])
    meta = {"format": "ITF", "format-description": ADR, "source": source,
            "description": (f"vcpcheck counterexample on {record.get('target')}: "
                            f"{record.get('invariant')}: {record.get('message')}; "
                            f"calls: {calls}"),
            "target": record.get("target", ""), "invariant": record.get("invariant", ""),
            "config": Kconfig.make(**record.get("config", {})).short()}
    return {"#meta": meta, "vars": VARS, "states": states}
