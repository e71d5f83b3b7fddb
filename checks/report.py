"""Reports: the summary line, replayable traces with pictures, JSON.

Text output: one grep-able summary line per target, then for each violation
the trace as Python calls on a Harness (paste them to replay), each with
the page map after the step.
"""
from __future__ import annotations

from vcpcheck.impl.gfp import gfp_to_str
from vcpcheck.impl.kconfig import Kconfig

from .harness import OOPS_INVARIANT, Harness, HarnessError, harness_method
from .picture import LEGEND, picture

GFP_ARG = {"alloc_pages": 0, "__get_free_pages": 0, "kmalloc": 1, "kzalloc": 1,
           "__alloc_vcompound": 0, "alloc_vcompound": 0}


def format_args(call: str, args: list) -> str:
    out = []
    for i, a in enumerate(args):
        if GFP_ARG.get(call) == i and isinstance(a, int):
            out.append(gfp_to_str(a))
        elif isinstance(a, int) and a > 0xffff:
            out.append(hex(a))
        else:
            out.append(repr(a))
    return ", ".join(out)


def format_ret(ret) -> str:
    if isinstance(ret, int) and not isinstance(ret, bool) and ret > 0xffff:
        return hex(ret)
    return repr(ret)


def config_literal(cfg: Kconfig) -> str:
    items = []
    for key, value in cfg.values:
        default = Kconfig.make().as_dict()[key]
        if value != default:
            items.append(f"{key}={value!r}")
    return f"Kconfig.make({', '.join(items)})"


def trace_lines(trace: list, cfg: Kconfig, symbols=None, api=None) -> list[str]:
    """Replayable Python, one call per line, each with the picture after it."""
    h = Harness(cfg, symbols, api=api)
    lines = [f"h = Harness({config_literal(cfg)})",
             f"#   {picture(h.k, h.ledger)}"]
    for e in trace:
        call = f"h.{harness_method(e['call'])}({format_args(e['call'], e['args'])})"
        try:
            h.replay([e])
            pic = picture(h.k, h.ledger)
        except Exception as exc:           # a picture must never hide a trace
            pic = f"(replay failed: {exc})"
        lines.append(f"{call:<52} # -> {format_ret(e['ret'])}")
        lines.append(f"#   {pic}")
        if h.dead:
            break
    lines.append(f"#   legend: {LEGEND}")
    return lines


def add_consequences(violations, target) -> None:
    """Fill in, for each reported oops (a kernel_reported_no_errors
    violation whose trace ends in a call that oopsed), what the other
    invariants find in the state the oops left: its consequences, reported
    under it and never as findings of their own (Harness.violations)."""
    for v in violations:
        if (v.invariant != OOPS_INVARIANT or not v.trace
                or v.trace[-1].get("ret") != "oops" or v.consequences):
            continue
        h = Harness(v.config, target.symbols(v.config), api=target.api)
        try:
            h.replay(v.trace)
        except HarnessError:
            continue
        v.consequences = h.consequences()


def violation_json(v) -> dict:
    return {"invariant": v.invariant, "engine": v.engine, "strength": v.strength,
            "original_length": v.original_length or len(v.trace),
            "config": v.config.short() if hasattr(v.config, "short") else str(v.config),
            "message": v.message,
            "trace": [{"call": e["call"], "args": e["args"], "ret": e["ret"]}
                      for e in v.trace],
            **({"consequences": [{"invariant": n, "message": m}
                                 for n, m in v.consequences]}
               if getattr(v, "consequences", None) else {})}
