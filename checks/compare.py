"""`vcpcheck compare A B`: the first call where two targets behave differently.

The stateful engine drives target A; a PairHarness mirrors every call on B,
translating A's handles (pfns, addresses) to the ones B returned for the
same call.  After each call it compares what a caller can observe: whether
the call succeeded (NULL or not) or oopsed, the kinds of kernel reports it
caused, the invariants that fail, and what the clients observed.  The first
difference ends the run with the trace.
"""
from __future__ import annotations

from .harness import HandleMap, Harness, HarnessError
from .report import format_args
from .stateful import signature


def _observable(h, before_events, ret):
    k = h.k
    if h.dead:
        outcome = "oops"
    elif ret is None or ret == 0 or ret is False:
        outcome = "NULL/0"
    elif isinstance(ret, int) and ret < 0:
        outcome = f"error {ret}"
    else:
        outcome = "ok"
    reports = sorted({(e.kind, e.function) for e in k.events[before_events:]
                      if e.is_error()})
    failing = sorted({name for name, _ in h.violations()})
    seen = sorted({signature("", o)[1] for o in h.ledger.observations})
    return {"result": outcome, "kernel reports": reports,
            "failing invariants": failing, "client observations": seen}


class PairHarness:
    """Looks like a Harness of target A; mirrors each operation on B."""

    def __init__(self, a: Harness, b: Harness, a_name, b_name):
        self.a, self.b = a, b
        self.names = (a_name, b_name)
        self.handles = HandleMap()          # A's handles -> B's
        self.difference = None
        self.call_timeout = None

    # what the state machine reads
    @property
    def k(self):
        return self.a.k

    @property
    def ledger(self):
        return self.a.ledger

    @property
    def trace(self):
        return self.a.trace

    @property
    def dead(self):
        return self.a.dead or self.b.dead or self.difference is not None

    def _mapped_by_vmap(self, page):
        return self.a._mapped_by_vmap(page)

    def _busy(self, a):
        return self.a._busy(a)

    def held_pages(self):
        return self.a.held_pages()

    def violations(self):
        if self.difference:
            return [("behaviour_differs", self.difference)]
        return []

    def __getattr__(self, name):
        if name.startswith("_") or not callable(getattr(self.a, name, None)):
            raise AttributeError(name)

        def op(*args):
            ea, eb = len(self.a.k.events), len(self.b.k.events)
            ra = getattr(self.a, name)(*args)
            try:
                rb = getattr(self.b, name)(*self.handles.translate(list(args)))
            except HarnessError as e:
                self.difference = (f"{self.names[1]} cannot make the call "
                                   f"{name}{tuple(args)}: {e}")
                return ra
            self.handles.learn(ra, rb, self.b.ledger)
            oa = _observable(self.a, ea, ra)
            ob = _observable(self.b, eb, rb)
            for key in oa:
                if oa[key] != ob[key]:
                    call = self.a.trace[-1]["call"]
                    shown = list(args[1:] if name == "client" else args)
                    self.difference = (f"after {call}({format_args(call, shown)})"
                                       f": {key}: {self.names[0]} {oa[key]}, "
                                       f"{self.names[1]} {ob[key]}")
                    break
            return ra
        return op


def run_compare(ta, tb, cfg, seed, examples, call_timeout=None):
    """A RunResult whose violations (invariant "behaviour_differs") carry the
    first difference found, with A's trace."""
    from .stateful import RunResult, Violation, drive, make_machine

    sa, sb = ta.symbols(cfg), tb.symbols(cfg)
    record: dict = {}

    def factory():
        return PairHarness(Harness(cfg, sa, api=ta.api), Harness(cfg, sb, api=tb.api),
                           ta.name, tb.name)
    machine = make_machine(ta, cfg, record, call_timeout=call_timeout,
                           harness_factory=factory)
    result = RunResult()
    failure = drive(machine, seed, examples, 25, record)
    if failure is not None:
        name, msg = failure[0][0]
        result.violations.append(Violation(name, msg, failure[1], cfg))
    result.examples = record.get("examples", 0)
    result.steps = record.get("steps", 0)
    for v in result.violations:
        v.strength = f"sampled: {result.examples} examples, {result.steps} steps"
    return result
