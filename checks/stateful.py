"""The Hypothesis engine: a rule-based state machine over the kernel API.

Rules are the kernel calls a caller makes (allocate and free plain and
compound pages, vmalloc/vfree, vmap/vunmap, kmalloc/kfree, get/put_page),
plus the environment (pin pages to fragment memory, inject allocation
faults, change context: spinlock, interrupts off, interrupt handler).
Arguments are drawn from the whole legal domain of spec/api.py: any gfp
mask of gfp.h's bases and modifiers, every order up to MAX_ORDER itself,
vmap of any page the caller holds, vfree of a vmap area.  A rule whose
call the contract forbids in the current context does nothing.  After every step every
invariant is checked; Hypothesis shrinks a failure to a short sequence,
and the harness trace of the shrunk run is what gets reported.
"""
from __future__ import annotations

import functools
import operator
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.errors import Flaky
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant,
                                 precondition, rule, run_state_machine_as_test)

from vcpcheck.impl import gfp as _gfp
from vcpcheck.impl.gfp import GFP_ATOMIC, GFP_KERNEL
from vcpcheck.spec import api

from vcpcheck.impl.clients.thread_info import THREAD_SIZE

from .clients import CLIENTS, available
from .findings import Violation, signature  # noqa: F401 (their home was here)
from .harness import Harness

# Class bodies mangle __names, so the machine uses these aliases.
GFP_COMP, GFP_HIGHMEM, GFP_ZERO = (_gfp.__GFP_COMP, _gfp.__GFP_HIGHMEM,
                                   _gfp.__GFP_ZERO)
KMALLOC_SIZES = [8, 64, 4096, 5000, 8192]


def gfp_masks():
    """Any mask of spec/api.py's domain: a gfp.h base and up to three
    modifier bits.  The common masks come first, so Hypothesis shrinks
    towards them; a mask the call or context does not allow is skipped
    by the rule (spec/api.py), as a caller would not make that call."""
    common = [GFP_KERNEL, GFP_ATOMIC, GFP_KERNEL | GFP_ZERO, GFP_KERNEL | GFP_HIGHMEM]
    built = st.builds(lambda base, mods: base | functools.reduce(operator.or_, mods, 0),
                      st.sampled_from(list(api.GFP_BASES.values())),
                      st.sets(st.sampled_from(api.GFP_MODIFIERS), max_size=3))
    return st.one_of(st.sampled_from(common), built)


@dataclass
class RunResult:
    violations: list = field(default_factory=list)
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0
    error: str | None = None
    all_signatures: set = field(default_factory=set)
    # False when the budget ran out before every round had run its
    # examples: the sample is smaller than asked for (never a pass).
    complete: bool = True


class BudgetSpent(KeyboardInterrupt):
    """The budget ran out between two examples.

    A KeyboardInterrupt because that is the one exception Hypothesis lets
    through at once, without replaying or shrinking it (anything else that
    is not an Exception is replayed as the failure, which the datatree
    then calls flaky).  Raised only inside drive(), which always catches it.
    """


def shortest_lengths(violations) -> dict:
    """{signature: the shortest trace's length} of an engine's violations
    (what explore's ``reach`` is told)."""
    out = {}
    for v in violations:
        sig = signature(v.invariant, v.message)
        out[sig] = min(out.get(sig, len(v.trace)), len(v.trace))
    return out


def make_machine(target, cfg, record: dict, exclude=frozenset(), call_timeout=None,
                 harness_factory=None, deadline=None):
    """A RuleBasedStateMachine class driving ``target`` built with ``cfg``;
    problems whose signature is in ``exclude`` were reported already.
    With ``deadline`` (time.monotonic()), an example that would start after
    it raises BudgetSpent instead."""
    symbols = target.symbols(cfg)
    max_order = cfg.FORCE_MAX_ZONEORDER
    n = cfg.mem_pages
    has_vcompound = target.has_vcompound(symbols)
    has_vcompound_page = bool(target.api) or (
        "alloc_vcompound" in symbols and "free_vcompound" in symbols)
    clients = available(symbols)

    def live(self, *kinds, pred=None):
        return [a for a in self.h.ledger
                if a.kind in kinds and (pred is None or pred(a))]

    def alive(self):
        return not self.h.dead

    def sleepable(self):
        return not self.h.dead and api.may_sleep(self.h.k)

    def unmappable(self):
        # vfree/vunmap: not in interrupt context, interrupts on
        return alive(self) and api.pre_vfree(self.h.k)

    def holds(*kinds, pred=None, sleep=False):
        """Precondition: the kernel is up (and may sleep) and the caller
        holds an allocation of one of ``kinds``."""
        def check(self):
            ok = sleepable(self) if sleep else alive(self)
            return ok and bool(live(self, *kinds, pred=pred))
        return precondition(check)

    def plain_or_compound(a):
        return a.order == 0 or bool(a.gfp & GFP_COMP)

    class KernelMachine(RuleBasedStateMachine):
        # Rules carry preconditions so Hypothesis only picks calls the
        # caller may make now; rules the target lacks are not defined.
        def __init__(self):
            if deadline is not None and time.monotonic() > deadline:
                raise BudgetSpent
            super().__init__()
            if harness_factory is not None:
                self.h = harness_factory()
            else:
                self.h = Harness(cfg, symbols, api=target.api)
            self.h.call_timeout = call_timeout
            record["examples"] = record.get("examples", 0) + 1

        @initialize(fault=st.sampled_from([None, "fail_pt_alloc", "fail_page_alloc",
                                           "fail_kmalloc"]))
        def start(self, fault):
            # A fault armed before anything is mapped reaches the first
            # page-table and array allocations, which later steps never redo.
            if fault and not self.h.dead:      # dead: it oopsed while booting
                getattr(self.h, fault)(1)

        def _step(self):
            record["steps"] = record.get("steps", 0) + 1
            return True

        # -- page allocator ---------------------------------------------------
        @precondition(alive)
        @rule(gfp=gfp_masks(), order=st.integers(0, max_order), comp=st.booleans())
        def alloc_pages(self, gfp, order, comp):
            if comp and order:
                gfp |= GFP_COMP
            if self._step() and api.pre_alloc_pages(self.h.k, gfp, order):
                self.h.alloc_pages(gfp, order)

        @precondition(alive)
        @rule(gfp=gfp_masks(), order=st.integers(0, max_order), comp=st.booleans())
        def get_free_pages(self, gfp, order, comp):
            if comp and order:
                gfp |= GFP_COMP
            if self._step() and api.pre_get_free_pages(self.h.k, gfp, order):
                self.h.get_free_pages(gfp, order)

        @holds("page", pred=lambda a: True)
        @rule(data=st.data())
        def free_page_allocation(self, data):
            items = [a for a in live(self, "page") if not self.h._busy(a)]
            if not items or not self._step():
                return
            a = data.draw(st.sampled_from(items))
            if a.refs > 1 or (plain_or_compound(a) and data.draw(st.booleans())):
                if not plain_or_compound(a):
                    return          # put_page frees only order 0 of a plain block
                sub = data.draw(st.integers(0, (1 << a.order) - 1))
                self.h.put_page(a.handle + sub)
            else:
                self.h.free_pages_struct(a.handle, a.order)

        @holds("page", pred=plain_or_compound)
        @rule(data=st.data())
        def get_page(self, data):
            a = data.draw(st.sampled_from(live(self, "page", pred=plain_or_compound)))
            self._step()
            self.h.get_page(a.handle + data.draw(st.integers(0, (1 << a.order) - 1)))

        @holds("addr", pred=lambda a: True)
        @rule(data=st.data())
        def free_pages(self, data):
            items = [a for a in live(self, "addr") if not self.h._busy(a)]
            if not items or not self._step():
                return
            a = data.draw(st.sampled_from(items))
            self.h.free_pages(a.handle, a.order)

        # -- vmalloc -------------------------------------------------------------
        @precondition(sleepable)
        @rule(size=st.integers(1, 5 * 4096))
        def vmalloc(self, size):
            self._step()
            self.h.vmalloc(size)

        @precondition(lambda self: unmappable(self)
                      and bool(live(self, "vmalloc", "vmap")))
        @rule(data=st.data())
        def vfree(self, data):
            # vfree of a vmalloc area, or of a vmap area (spec/api.py)
            items = [a for a in live(self, "vmalloc", "vmap") if not self.h._busy(a)]
            if not items or not self._step():
                return
            a = data.draw(st.sampled_from(items))
            self.h.vfree(a.handle)

        @precondition(lambda self: alive(self) and api.pre_vmap(self.h.k)
                      and bool(self.h.held_pages()))
        @rule(data=st.data())
        def vmap(self, data):
            # any pages the caller holds, in any form (Harness.held_pages)
            pages = sorted(self.h.held_pages())
            chosen = data.draw(st.lists(st.sampled_from(pages), min_size=1,
                                        max_size=3, unique=True))
            self._step()
            self.h.vmap(chosen)

        @precondition(lambda self: unmappable(self) and bool(live(self, "vmap")))
        @rule(data=st.data())
        def vunmap(self, data):
            a = data.draw(st.sampled_from(live(self, "vmap")))
            self._step()
            self.h.vunmap(a.handle)

        # -- kmalloc ---------------------------------------------------------------
        @precondition(alive)
        @rule(size=st.sampled_from(KMALLOC_SIZES), gfp=gfp_masks())
        def kmalloc(self, size, gfp):
            if self._step() and api.pre_kmalloc(self.h.k, gfp):
                self.h.kmalloc(size, gfp)

        @holds("kmalloc")
        @rule(data=st.data())
        def kfree(self, data):
            a = data.draw(st.sampled_from(live(self, "kmalloc")))
            self._step()
            self.h.kfree(a.handle)

        # -- the vcompound API ------------------------------------------------------------
        if has_vcompound:
            @precondition(lambda self: sleepable(self)
                          and api.pre_alloc_vcompound(self.h.k))
            @rule(gfp=gfp_masks(), order=st.integers(0, max_order))
            def alloc_vcompound_addr(self, gfp, order):
                if self._step() and api.pre_alloc_vcompound(self.h.k, gfp):
                    self.h.alloc_vcompound_addr(gfp, order)

            @holds("vcompound")
            @rule(data=st.data())
            def free_vcompound_addr(self, data):
                a = data.draw(st.sampled_from(live(self, "vcompound")))
                if self._step() and api.pre_free_vcompound(self.h.k):
                    self.h.free_vcompound_addr(a.handle)

            @precondition(lambda self: sleepable(self) and bool(self.h.k.workqueue))
            @rule()
            def run_workqueue(self):
                self._step()
                self.h.run_workqueue()

        if has_vcompound_page:
            @precondition(lambda self: sleepable(self)
                          and api.pre_alloc_vcompound(self.h.k))
            @rule(gfp=gfp_masks(), order=st.integers(0, max_order))
            def alloc_vcompound(self, gfp, order):
                if self._step() and api.pre_alloc_vcompound(self.h.k, gfp):
                    self.h.alloc_vcompound(gfp, order)

            @holds("vcompound_page")
            @rule(data=st.data())
            def free_vcompound(self, data):
                a = data.draw(st.sampled_from(live(self, "vcompound_page")))
                if self._step() and api.pre_free_vcompound(self.h.k):
                    self.h.free_vcompound(a.handle)

        # -- the converted users ------------------------------------------------------------
        if clients:
            @precondition(sleepable)
            @rule(data=st.data())
            def client(self, data):
                self._step()
                name = data.draw(st.sampled_from(clients))
                if name == "exit":
                    stacks = live(self, "client", pred=lambda a: a.size == THREAD_SIZE)
                    if stacks:
                        a = data.draw(st.sampled_from(stacks))
                        self.h.client("exit", a.handle, data.draw(st.booleans()))
                    return
                self.h.client(name, *data.draw(st.sampled_from(CLIENTS[name][1])))

        # -- environment: fragmentation, faults, context --------------------------------
        @precondition(alive)
        @rule(pfn=st.integers(0, n - 1))
        def pin(self, pfn):
            self._step()
            self.h.pin(pfn)

        @holds("pin")
        @rule(data=st.data())
        def unpin(self, data):
            a = data.draw(st.sampled_from(live(self, "pin")))
            self._step()
            self.h.unpin(a.handle)

        @precondition(alive)
        @rule(which=st.sampled_from(["fail_page_alloc", "fail_pt_alloc",
                                     "fail_kmalloc"]), count=st.integers(1, 2))
        def inject_fault(self, which, count):
            self._step()
            getattr(self.h, which)(count)

        @precondition(alive)
        @rule(op=st.sampled_from(["spin_lock", "spin_unlock", "local_irq_disable",
                                  "local_irq_enable", "irq_enter", "irq_exit"]))
        def context(self, op):
            c = self.h.k.ctx
            allowed = {"spin_lock": c.spin_depth == 0,
                       "spin_unlock": api.pre_spin_unlock(self.h.k),
                       "local_irq_disable": not c.irqs_disabled,
                       "local_irq_enable": c.irqs_disabled and not c.hardirq,
                       "irq_enter": c.hardirq == 0,
                       "irq_exit": api.pre_irq_exit(self.h.k)}[op]
            if allowed and self._step():
                getattr(self.h, op)()

        @precondition(lambda self: self.h.dead)
        @rule()
        def after_oops(self):
            # The kernel is down (its report was excluded as already seen):
            # nothing is callable, but Hypothesis needs a rule to draw.
            pass

        @invariant()
        def spec_holds(self):
            problems = [p for p in self.h.violations()
                        if signature(*p) not in exclude]
            if problems:
                record["failure"] = (problems, [dict(e) for e in self.h.trace])
                raise AssertionError(f"{problems[0][0]}: {problems[0][1]}")

    KernelMachine.__name__ = f"KernelMachine_{target.name}"
    return KernelMachine


def run_stateful(target, cfg, seed=0, max_examples=100, steps=25,
                 rounds=1, budget=None, call_timeout=None, exclude=()) -> RunResult:
    """Run the state machine for one target and configuration.

    With ``rounds`` > 1, each round after a failure runs again with the
    signatures already found excluded, so one defect does not hide the
    next; rounds use seeds seed, seed+1, ...  ``rounds=None``: until a
    round finds nothing new (or the budget ends).  ``exclude``: signatures that
    other engines already found on this build, excluded from the first
    round on, so the sample looks for what they did not find.

    ``budget`` (seconds) is checked before every example: when it runs out
    the run stops there, ``complete`` is False and the strength says so.
    Otherwise nothing here depends on the clock, so the same seed and
    options give the same examples, counts and traces.
    """
    start = time.monotonic()
    deadline = None if budget is None else start + budget
    total = RunResult()
    exclude = set(exclude)
    r = 0
    while rounds is None or r < rounds:
        res = _run_once(target, cfg, seed + r, max_examples, steps, frozenset(exclude),
                        call_timeout, deadline)
        total.examples += res.examples
        total.steps += res.steps
        total.violations.extend(res.violations)
        if not res.complete:
            total.complete = False
            break
        new = ({signature(v.invariant, v.message) for v in res.violations}
               | set(res.all_signatures)) - exclude
        if not new:
            break                         # nothing new: the rounds are over
        exclude |= new
        r += 1
    total.seconds = time.monotonic() - start
    for v in total.violations:
        v.strength = strength(total)
    return total


def strength(res: RunResult) -> str:
    """How much was sampled, and whether the budget cut it short."""
    cut = "" if res.complete else " (partial: the budget ran out)"
    return f"sampled: {res.examples} examples, {res.steps} steps{cut}"


@contextmanager
def _seed_alone():
    """Make a Hypothesis run depend on its seed and settings alone.

    Two things in Hypothesis's engine (6.155) depend on something else:

    - now and then it draws a constant read from the source of a local
      module loaded so far (hypothesis.internal.conjecture.providers).
      Which of vcpcheck's modules are loaded depends on what ran before in
      the process (the explore and smt engines, the minimiser, the other
      configurations a --jobs worker happened to get), so the same seed
      gave other examples.  The pool is emptied for the run, and the cache
      of constants filtered from it is cleared on the way in and out;
    - it stops shrinking after MAX_SHRINKING_SECONDS (300) of wall-clock
      time, which a busy machine reaches and a quiet one does not.  The
      limit is lifted: the budget (BudgetSpent) is the only clock, and its
      effect is reported.

    Both are internals, looked up when the run starts: a Hypothesis
    without them is left as it is (tests/test_stateful.py would then show
    whether the runs still agree).
    """
    try:
        from hypothesis.internal.conjecture import engine, providers
        saved = (providers._get_local_constants, engine.MAX_SHRINKING_SECONDS)
        cache, empty = providers.CONSTANTS_CACHE, providers.Constants()
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    engine.MAX_SHRINKING_SECONDS = float("inf")
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants, engine.MAX_SHRINKING_SECONDS = saved
        cache.cache.clear()


def drive(machine, seed, max_examples, steps, record) -> tuple:
    """Run a machine under the engine's fixed settings (seeded, no example
    database, shrinking on, nothing but the seed: see _seed_alone).  Returns
    (problems, trace) of the shrunk failure, or None when every example
    passed.  If the machine raises BudgetSpent, ``record["partial"]`` is
    set and the failure seen last, if any, is returned unshrunk."""
    machine._hypothesis_internal_use_seed = seed
    s = settings(max_examples=max_examples, stateful_step_count=steps,
                 deadline=None, database=None, print_blob=False,
                 report_multiple_bugs=False,
                 suppress_health_check=list(HealthCheck),
                 phases=[Phase.generate, Phase.shrink])
    try:
        with _seed_alone():
            run_state_machine_as_test(machine, settings=s)
    except BudgetSpent:
        record["partial"] = True
        return record.get("failure")
    except (AssertionError, Flaky):
        return record.get("failure", ([("unknown", "no record")], []))
    return None


def _run_once(target, cfg, seed, max_examples, steps, exclude,
              call_timeout=None, deadline=None) -> RunResult:
    record: dict = {}
    machine = make_machine(target, cfg, record, exclude, call_timeout,
                           deadline=deadline)
    start = time.monotonic()
    result = RunResult()
    failure = drive(machine, seed, max_examples, steps, record)
    if failure is not None:
        from .minimise import minimise
        problems, trace = failure
        symbols = target.symbols(cfg)
        for inv, msg in _first_per_invariant(problems):
            short = minimise(trace, cfg, symbols, target.api, inv, msg)
            result.violations.append(Violation(inv, msg, short, cfg,
                                               original_length=len(trace)))
        result.all_signatures = {signature(*p) for p in problems}
    result.complete = not record.get("partial")
    result.examples = record.get("examples", 0)
    result.steps = record.get("steps", 0)
    result.seconds = time.monotonic() - start
    return result


def _first_per_invariant(problems):
    seen = {}
    for inv, msg in problems:
        seen.setdefault(inv, msg)
    return list(seen.items())
