"""Run the model's own kernel functions on z3 bit-vectors.

The smt engine never re-writes a target's code as formulas.  It calls the
target's Python functions (vcompound_head_page, virt_to_page, PageTail,
__page_find_buddy, ...) with ``Sym`` values in place of ints.  Arithmetic
and bit operations on a ``Sym`` build z3 terms; a branch (``if``, ``and``,
a comparison used as a truth value) forks the run.  ``explore_paths`` runs
the function once per feasible path, depth-first over the branch
decisions, so the paths together cover every input of the domain, and each
comes back with its path condition and its result (a term, an int, None,
or the KernelOops it ended in).

Python semantics are kept exactly: values are 128-bit two's-complement
vectors (every kernel value of the model, 64-bit words and small negative
numbers alike, fits with room to spare), ``>>`` is arithmetic, ``//`` and
``%`` floor like Python's.  A value Python needs as a plain int (a list
index, ``range()``, a dict key) is concretised: the run forks on
``value == v`` for each value the path allows, which keeps the cover
exact.  A branch z3 cannot decide within its resource limit makes the
whole query ``unknown`` (never a pass).

Every z3 check is bounded by ``Limits``: z3's resource limit (``rlimit``,
its own count of the work done, the same on any machine under any load),
not a wall-clock timeout, so the same query gets the same answer on an
idle machine and a busy one.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import z3

from vcpcheck.impl.kernel import KernelOops

WIDTH = 128
_LIMIT = 1 << (WIDTH - 2)

# The rlimit of one z3 check: 20 times the most one decided check used
# (bench/bench_smt.py prints it per target).  Over every configuration of
# base, v2, v3, v5 and reference at smt depth 1, that was 1.4 million, in
# the Optimize that minimises V3's counterexamples with VFALLBACK_ALWAYS=n;
# the solver checks used at most 35,000.  The count a check uses varies
# between processes, by up to half in the bench (z3's term ids follow the
# process's history), so the margin is wide: nothing decided today comes
# back unknown.
RLIMIT = 28_000_000

# The only clock: a net for z3 work the resource count may not see, far
# above the time RLIMIT takes on a loaded machine (about 40 s on a hard
# 128-bit product, 4-7 s in the Optimize).  An unknown it caused says so: it
# depends on the load, where an rlimit unknown does not.
WALL_CLOCK_NET_MS = 300_000

_RLIMIT_STAT = "rlimit count"


class Limits:
    """z3's limits for the checks of one query, and what they used.

    ``solver()`` and ``optimize()`` make solvers under the limits;
    ``check()`` runs one check and measures the rlimit it used (z3's count
    is per context, so it is read before and after).
    """

    def __init__(self, rlimit=None, seed=0, wall_clock_ms=None):
        self.rlimit = RLIMIT if rlimit is None else rlimit
        self.seed = seed
        self.wall_clock_ms = WALL_CLOCK_NET_MS if wall_clock_ms is None else wall_clock_ms
        self.most_used = 0          # the most rlimit one decided check used
        self._probe = None

    def _set(self, s):
        s.set("rlimit", self.rlimit)
        s.set("random_seed", self.seed)
        if self.wall_clock_ms:
            s.set("timeout", self.wall_clock_ms)
        return s

    def solver(self) -> z3.Solver:
        return self._set(z3.Solver())

    def optimize(self) -> z3.Optimize:
        return self._set(z3.Optimize())

    def _count(self) -> int:
        # Any solver of the context reports the context's running count.
        if self._probe is None:
            self._probe = z3.Solver()
        return self._probe.statistics().get_key_value(_RLIMIT_STAT)

    def check(self, s, *assumptions):
        """(sat | unsat | unknown, why): ``why`` is empty unless unknown."""
        before, t0 = self._count(), time.monotonic()
        r = s.check(*assumptions)
        used, secs = self._count() - before, time.monotonic() - t0
        if r != z3.unknown:
            self.most_used = max(self.most_used, used)
            return r, ""
        return r, self.why(s.reason_unknown(), used, secs)

    def why(self, reason, used, secs) -> str:
        """z3's reason, and which limit (if one) ended the check."""
        if self.rlimit and used >= self.rlimit:
            return (f"z3 ran out of its resource limit (rlimit {self.rlimit}; "
                    f"deterministic): {reason}")
        if self.wall_clock_ms and secs * 1000 >= 0.9 * self.wall_clock_ms:
            return (f"z3 hit the wall-clock safety net ({self.wall_clock_ms / 1000:g}s "
                    f"after {secs:.1f}s, rlimit {used} of {self.rlimit} used; this "
                    f"depends on the machine's load): {reason}")
        return f"z3: {reason}"


class SymbolicError(BaseException):
    """The symbolic run cannot continue (undecided branch, too many paths,
    code that needs a concrete value where none can be given, a result
    Python would compute differently).  A BaseException, so code under
    test that catches Exception cannot turn it into an ordinary path."""


def _bv(x) -> z3.BitVecRef:
    if isinstance(x, Sym):
        return x.e
    if isinstance(x, SymBool):          # a truth value used as 0 or 1
        return z3.If(x.b, z3.BitVecVal(1, WIDTH), z3.BitVecVal(0, WIDTH))
    if isinstance(x, bool):
        return z3.BitVecVal(int(x), WIDTH)
    if isinstance(x, int):
        if not -_LIMIT <= x < _LIMIT:
            raise SymbolicError(f"integer {x:#x} does not fit the {WIDTH}-bit encoding")
        return z3.BitVecVal(x, WIDTH)
    return NotImplemented


def _wrap(e):
    e = z3.simplify(e)
    if z3.is_bv_value(e):
        return _signed(e.as_long())
    return Sym(e)


def _op(fn, fits=None, what=""):
    """A binary operator on terms; ``fits(a, b)`` is what must hold for the
    128-bit result to be Python's (no wrap, no ValueError or
    ZeroDivisionError in Python): it is required of the path (``_require``)."""
    def apply(a, b):
        if fits is not None:
            _require(fits(a, b), what)
        return _wrap(fn(a, b))

    def op(self, other):
        o = _bv(other)
        return NotImplemented if o is NotImplemented else apply(self.e, o)

    def rop(self, other):
        o = _bv(other)
        return NotImplemented if o is NotImplemented else apply(o, self.e)
    return op, rop


def _require(fits, what):
    """Note a condition the path must satisfy for the encoding to be exact;
    explore_paths checks them all at the end of the path (one solver call)
    and refuses the path (SymbolicError) if any may fail."""
    fits = z3.simplify(fits)
    if z3.is_true(fits):
        return
    run = _run_or_fail(what)
    fits = run.fold(fits)
    if not z3.is_true(fits):
        run.requires.append((fits, what))


def _add_fits(a, b):
    return z3.And(z3.BVAddNoOverflow(a, b, True), z3.BVAddNoUnderflow(a, b))


def _sub_fits(a, b):
    return z3.And(z3.BVSubNoOverflow(a, b), z3.BVSubNoUnderflow(a, b, True))


def _mul_fits(a, b):
    return z3.And(z3.BVMulNoOverflow(a, b, True), z3.BVMulNoUnderflow(a, b))


def _shl_fits(a, b):
    return z3.And(b >= 0, z3.ULT(b, WIDTH), (a << b) >> b == a)


def _shr_fits(a, b):
    return b >= 0


def _div_fits(a, b):
    return z3.And(b != 0, z3.BVSDivNoOverflow(a, b))


def _floordiv(a, b):
    return (a - a % b) / b          # bvsmod, then an exact signed division


def _cmp(fn):
    def op(self, other):
        if isinstance(other, float):
            raise SymbolicError("a symbolic int compared with a float")
        o = _bv(other)
        if o is NotImplemented:
            return NotImplemented
        return SymBool(fn(_bv(self), o))
    return op


class Sym:
    """A symbolic integer: a z3 bit-vector term with Python int semantics."""

    __slots__ = ("e",)

    def __init__(self, e):
        self.e = e

    __add__, __radd__ = _op(lambda a, b: a + b, _add_fits, "an addition that may wrap")
    __sub__, __rsub__ = _op(lambda a, b: a - b, _sub_fits, "a subtraction that may wrap")
    __mul__, __rmul__ = _op(lambda a, b: a * b, _mul_fits, "a product that may wrap")
    __and__, __rand__ = _op(lambda a, b: a & b)
    __or__, __ror__ = _op(lambda a, b: a | b)
    __xor__, __rxor__ = _op(lambda a, b: a ^ b)
    __lshift__, __rlshift__ = _op(lambda a, b: a << b, _shl_fits,
                                  "a left shift that may wrap or have a negative count")
    __rshift__, __rrshift__ = _op(lambda a, b: a >> b, _shr_fits,   # arithmetic
                                  "a right shift that may have a negative count")
    __floordiv__, __rfloordiv__ = _op(_floordiv, _div_fits, "a division that may be by 0")
    __mod__, __rmod__ = _op(lambda a, b: a % b, _div_fits,      # bvsmod: sign of divisor
                            "a modulo that may be by 0")

    def __divmod__(self, other):
        return self // other, self % other

    def __neg__(self):
        _require(z3.BVSNegNoOverflow(self.e), "a negation that may wrap")
        return _wrap(-self.e)

    def __invert__(self):
        return _wrap(~self.e)

    def __pos__(self):
        return self

    __lt__ = _cmp(lambda a, b: a < b)
    __le__ = _cmp(lambda a, b: a <= b)
    __gt__ = _cmp(lambda a, b: a > b)
    __ge__ = _cmp(lambda a, b: a >= b)
    __eq__ = _cmp(lambda a, b: a == b)
    __ne__ = _cmp(lambda a, b: a != b)

    def __bool__(self):
        return decide(self.e != 0)

    def __index__(self):
        return concretise(self.e)

    __int__ = __index__

    def __hash__(self):
        # A dict lookup with a symbolic key: fork on each value it may take.
        return hash(concretise(self.e))

    def __format__(self, spec):
        return f"<{self.e}>"

    def __repr__(self):
        return f"Sym({self.e})"


class SymBool:
    """A symbolic truth value; using it as a bool forks the run."""

    __slots__ = ("b",)

    def __init__(self, b):
        self.b = b

    def __bool__(self):
        return decide(self.b)

    def __invert__(self):
        return Sym(~_bv(self))              # Python: ~True == -2

    __eq__ = _cmp(lambda a, b: a == b)      # as ints: (x < 3) == 1
    __ne__ = _cmp(lambda a, b: a != b)
    __hash__ = None

    def __index__(self):
        return int(decide(self.b))

    __int__ = __index__

    def __repr__(self):
        return f"SymBool({self.b})"


def _as_int_op(name):
    def op(self, other):
        return getattr(Sym(_bv(self)), name)(other)
    return op


# A truth value in arithmetic is the int 0 or 1, as in Python.
for _name in ("add", "sub", "mul", "and", "or", "xor", "lshift", "rshift",
              "floordiv", "mod"):
    for _n in (f"__{_name}__", f"__r{_name}__"):
        setattr(SymBool, _n, _as_int_op(_n))


def term(x) -> z3.BitVecRef:
    """The bit-vector term of an int or Sym."""
    e = _bv(x)
    if e is NotImplemented:
        raise SymbolicError(f"{type(x).__name__} value where an integer was expected")
    return e


def symbol(name: str) -> Sym:
    return Sym(z3.BitVec(name, WIDTH))


# --- running a function once per path ---------------------------------------------------

@dataclass
class Path:
    cond: list                     # z3 Bool terms that hold on this path
    result: object = None          # what the function returned (int, Sym, None, ...)
    oops: KernelOops | None = None
    decisions: tuple = ()


@dataclass
class _Run:
    solver: z3.Solver
    limits: Limits
    prefix: tuple
    decisions: list = field(default_factory=list)
    cond: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    checks: int = 0
    subst: list = field(default_factory=list)    # (variable, value) fixed on this path
    model: object = None           # a z3 model of the path so far, when known
    resume_model: object = None    # a model of the whole prefix
    prefix_terms: tuple = ()       # the branch terms the prefix was taken on
    terms: list = field(default_factory=list)
    requires: list = field(default_factory=list)   # (term, what) the path must satisfy

    def fold(self, e):
        """``e`` with the variables this path has fixed replaced, simplified."""
        if self.subst:
            e = z3.substitute(e, *self.subst)
        return z3.simplify(e)


_current: list[_Run] = []


def _model_of(run: _Run, b):
    """A model of the path with ``b``, or None if there is none.

    ``b`` is guarded by a fresh literal and checked as an assumption
    (cheaper than push/pop on z3's incremental solver).
    """
    run.checks += 1
    guard = z3.Bool(f"__branch{run.checks}")
    run.solver.add(z3.Implies(guard, b))
    r, why = run.limits.check(run.solver, guard)
    if r == z3.unknown:
        raise SymbolicError(f"z3 could not decide a branch ({why})")
    return run.solver.model() if r == z3.sat else None


def _split(run: _Run, b):
    """(a model with b, a model with not b), None for an infeasible side.

    The last model of the path already satisfies one side, so a fresh
    branch costs one solver call once a model is known.
    """
    m = run.model
    if m is not None:
        v = m.eval(b, model_completion=True)
        if z3.is_true(v):
            return m, _model_of(run, z3.Not(b))
        if z3.is_false(v):
            return _model_of(run, b), m
    return _model_of(run, b), _model_of(run, z3.Not(b))


def _take(run: _Run, b, yes, no):
    """Follow the prefix, or take ``yes`` (b) and leave ``no`` (not b) pending
    when both are feasible.  Returns the token taken."""
    pos = len(run.decisions)
    if pos < len(run.prefix):
        if not b.eq(run.prefix_terms[pos]):
            raise SymbolicError("the code branched differently when run again on "
                                "the same inputs (it is not deterministic)")
        d = run.prefix[pos]
        # At the end of the prefix, the model saved with it is a model of the path.
        run.model = run.resume_model if pos == len(run.prefix) - 1 else None
    else:
        mt, mf = _split(run, b)
        if mt is not None and mf is not None:
            d = yes
            run.pending.append((tuple(run.decisions) + (no,),
                                tuple(run.terms) + (b,), mf))
        elif mt is not None or mf is not None:
            d = yes if mt is not None else no
        else:
            raise SymbolicError("a branch with no feasible side (inconsistent path)")
        run.model = mt if d == yes else mf
    run.decisions.append(d)
    run.terms.append(b)
    c = b if d == yes else z3.Not(b)
    run.cond.append(c)
    run.solver.add(c)
    if d == yes and z3.is_eq(b):
        # var == value: later terms over var fold to constants, no solver call.
        lhs, rhs = b.arg(0), b.arg(1)
        if z3.is_const(lhs) and not z3.is_bv_value(lhs) and z3.is_bv_value(rhs):
            run.subst.append((lhs, rhs))
    return d


def _run_or_fail(what):
    if not _current:
        raise SymbolicError(f"a symbolic value was used as {what} outside a "
                            "symbolic run")
    return _current[-1]


def decide(b) -> bool:
    """The direction of a branch on ``b`` for the path being run."""
    b = z3.simplify(b)
    if z3.is_true(b):
        return True
    if z3.is_false(b):
        return False
    run = _run_or_fail("a truth value")
    b = run.fold(b)
    if z3.is_true(b):
        return True
    if z3.is_false(b):
        return False
    return _take(run, b, True, False)


def _signed(v: int) -> int:
    return v - (1 << WIDTH) if v >> (WIDTH - 1) else v


def value_in(model, s: Sym) -> int:
    """The int a model gives a symbolic value (two's complement)."""
    return _signed(model.eval(s.e, model_completion=True).as_long())


def constraints(domain) -> list:
    """A domain (SymBool or z3 Bool terms) as z3 Bool terms."""
    return [d.b if isinstance(d, SymBool) else d for d in domain]


def concretise(e) -> int:
    """A value the path allows for ``e``, forking on ``e == v``.

    The values are recorded in the decisions, so a replayed prefix takes
    the same ones whatever model z3 gives.
    """
    e = z3.simplify(e)
    if z3.is_bv_value(e):
        return _signed(e.as_long())
    run = _run_or_fail("an int")
    e = run.fold(e)
    if z3.is_bv_value(e):
        return _signed(e.as_long())
    for _ in range(1 << 12):
        pos = len(run.decisions)
        if pos < len(run.prefix):
            v = run.prefix[pos][1]
        else:
            if run.model is None:
                run.model = _model_of(run, z3.BoolVal(True))
                if run.model is None:
                    raise SymbolicError("z3 could not give a value (the path has "
                                        "no model)")
            v = _signed(run.model.eval(e, model_completion=True).as_long())
        if _take(run, e == v, ("=", v), ("!=", v))[0] == "=":
            return v
    raise SymbolicError("a symbolic value takes more than 4096 values where an "
                        "int is needed")


def _check_requires(run: _Run) -> None:
    """Refuse a path on which an operation may differ from Python's ints."""
    if not run.requires:
        return
    if _model_of(run, z3.Not(z3.And([t for t, _w in run.requires]))) is None:
        return
    for t, what in run.requires:
        if _model_of(run, z3.Not(t)) is not None:
            raise SymbolicError(f"{what}: the {WIDTH}-bit encoding would differ "
                                f"from Python's int there ({z3.simplify(t)})")
    raise SymbolicError("an operation may differ from Python's ints on this path")


def _where(exc) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else "?"


def explore_paths(fn, domain, max_paths=512, limits: Limits | None = None,
                  reset=None) -> list[Path]:
    """Run ``fn()`` once per feasible path under the ``domain`` constraints.

    ``reset()``, if given, is called before each run: it puts back the
    state ``fn`` reads, so that what one path did (a store, a log line)
    cannot change what the next one sees.  Returns every path; raises
    SymbolicError if there are more than ``max_paths`` or a branch is
    undecided (the cover would be incomplete).  ``limits``: z3's limits
    (default: ``Limits()``, rlimit RLIMIT, seed 0).
    """
    limits = Limits() if limits is None else limits
    todo, paths = [((), (), None)], []
    while todo:
        prefix, terms, model = todo.pop()
        solver = limits.solver()
        solver.add(*constraints(domain))
        run = _Run(solver, limits, prefix, resume_model=model, prefix_terms=terms)
        if reset is not None:
            reset()
        _current.append(run)
        try:
            try:
                result, oops = fn(), None
            except KernelOops as e:
                result, oops = None, e
            except SymbolicError:
                raise
            except Exception as e:
                raise SymbolicError(f"the code cannot run on symbolic values: "
                                    f"{type(e).__name__}: {e} ({_where(e)})") from e
        finally:
            _current.pop()
        _check_requires(run)
        paths.append(Path(list(run.cond), result, oops, tuple(run.decisions)))
        todo.extend(reversed(run.pending))
        if len(paths) + len(todo) > max_paths:
            raise SymbolicError(f"more than {max_paths} paths")
    return paths
