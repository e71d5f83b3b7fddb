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
exact.  A branch z3 cannot decide within the time limit makes the whole
query ``unknown`` (never a pass).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import z3

from vcpcheck.impl.kernel import KernelOops

WIDTH = 128
_LIMIT = 1 << (WIDTH - 2)


class SymbolicError(Exception):
    """The symbolic run cannot continue (undecided branch, too many paths,
    code that needs a concrete value where none can be given)."""


def _bv(x) -> z3.BitVecRef:
    if isinstance(x, Sym):
        return x.e
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


def _binop(fn):
    def op(self, other):
        o = _bv(other)
        if o is NotImplemented:
            return NotImplemented
        return _wrap(fn(self.e, o))

    def rop(self, other):
        o = _bv(other)
        if o is NotImplemented:
            return NotImplemented
        return _wrap(fn(o, self.e))
    return op, rop


def _floordiv(a, b):
    return (a - a % b) / b          # bvsmod, then an exact signed division


def _cmp(fn):
    def op(self, other):
        o = _bv(other)
        if o is NotImplemented:
            return NotImplemented
        return SymBool(fn(self.e, o))
    return op


class Sym:
    """A symbolic integer: a z3 bit-vector term with Python int semantics."""

    __slots__ = ("e",)

    def __init__(self, e):
        self.e = e

    __add__, __radd__ = _binop(lambda a, b: a + b)
    __sub__, __rsub__ = _binop(lambda a, b: a - b)
    __mul__, __rmul__ = _binop(lambda a, b: a * b)
    __and__, __rand__ = _binop(lambda a, b: a & b)
    __or__, __ror__ = _binop(lambda a, b: a | b)
    __xor__, __rxor__ = _binop(lambda a, b: a ^ b)
    __lshift__, __rlshift__ = _binop(lambda a, b: a << b)
    __rshift__, __rrshift__ = _binop(lambda a, b: a >> b)      # arithmetic
    __floordiv__, __rfloordiv__ = _binop(_floordiv)
    __mod__, __rmod__ = _binop(lambda a, b: a % b)     # z3's % is bvsmod: sign of divisor

    def __divmod__(self, other):
        return self // other, self % other

    def __neg__(self):
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
        return SymBool(z3.Not(self.b))

    def __repr__(self):
        return f"SymBool({self.b})"


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
    prefix: tuple
    decisions: list = field(default_factory=list)
    cond: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    checks: int = 0


_current: list[_Run] = []


def _feasible(run: _Run, b) -> bool:
    run.checks += 1
    run.solver.push()
    run.solver.add(b)
    r = run.solver.check()
    reason = run.solver.reason_unknown() if r == z3.unknown else ""
    run.solver.pop()
    if r == z3.unknown:
        raise SymbolicError(f"z3 could not decide a branch ({reason})")
    return r == z3.sat


def _take(run: _Run, b, yes, no):
    """Follow the prefix, or take ``yes`` (b) and leave ``no`` (not b) pending
    when both are feasible.  Returns the token taken."""
    pos = len(run.decisions)
    if pos < len(run.prefix):
        d = run.prefix[pos]
    else:
        t, f = _feasible(run, b), _feasible(run, z3.Not(b))
        if t and f:
            d = yes
            run.pending.append(tuple(run.decisions) + (no,))
        elif t or f:
            d = yes if t else no
        else:
            raise SymbolicError("a branch with no feasible side (inconsistent path)")
    run.decisions.append(d)
    c = b if d == yes else z3.Not(b)
    run.cond.append(c)
    run.solver.add(c)
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
    return _take(_run_or_fail("a truth value"), b, True, False)


def _signed(v: int) -> int:
    return v - (1 << WIDTH) if v >> (WIDTH - 1) else v


def concretise(e) -> int:
    """A value the path allows for ``e``, forking on ``e == v``.

    The values are recorded in the decisions, so a replayed prefix takes
    the same ones whatever model z3 gives.
    """
    e = z3.simplify(e)
    if z3.is_bv_value(e):
        return _signed(e.as_long())
    run = _run_or_fail("an int")
    for _ in range(1 << 12):
        pos = len(run.decisions)
        if pos < len(run.prefix):
            v = run.prefix[pos][1]
        else:
            run.checks += 1
            if run.solver.check() != z3.sat:
                raise SymbolicError(f"z3 could not give a value "
                                    f"({run.solver.reason_unknown()})")
            v = _signed(run.solver.model().eval(e, model_completion=True).as_long())
        if _take(run, e == v, ("=", v), ("!=", v))[0] == "=":
            return v
    raise SymbolicError("a symbolic value takes more than 4096 values where an "
                        "int is needed")


def explore_paths(fn, domain, max_paths=512, timeout_ms=10000, seed=0) -> list[Path]:
    """Run ``fn()`` once per feasible path under the ``domain`` constraints.

    Returns every path; raises SymbolicError if there are more than
    ``max_paths`` or a branch is undecided (the cover would be incomplete).
    """
    todo, paths = [()], []
    while todo:
        prefix = todo.pop()
        solver = z3.Solver()
        solver.set("timeout", timeout_ms)
        solver.set("random_seed", seed)
        solver.add(*[d.b if isinstance(d, SymBool) else d for d in domain])
        run = _Run(solver, prefix)
        _current.append(run)
        try:
            try:
                result, oops = fn(), None
            except KernelOops as e:
                result, oops = None, e
        finally:
            _current.pop()
        paths.append(Path(list(run.cond), result, oops, tuple(run.decisions)))
        todo.extend(reversed(run.pending))
        if len(paths) + len(todo) > max_paths:
            raise SymbolicError(f"more than {max_paths} paths")
    return paths
