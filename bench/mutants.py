"""Mutation test: does the default check kill small slips in the model?

    python bench/mutants.py [--only NAME[,NAME...]] [--jobs N] [--cap SECONDS]
                            [--out FILE] [--keep DIR]

Each entry of bench/mutants/mutations.py is one slip in one function of
the model (the base mm or ``reference``).  For each, this writes a variant
file (checks/variants.py) whose BASE is ``reference`` (or ``base``) and
which REPLACEs the kernel function with a mutated copy: the function's own
source (inspect.getsource), the snippet replaced (it must occur exactly
once, or the bench stops), exec'd in a copy of its module's globals.  A
slip in a helper that is not a kernel function (``via``) re-makes the
kernel functions that call it in the same globals and REPLACEs those.

Then it runs ``vcpcheck check MUTANT.py -x --json`` (the default options,
stopping at the first violation) with a time cap per mutant, and sorts the
outcomes:

- killed: exit 1 with a violation (the table names the invariant, engine
  and seconds);
- survived: exit 0, a PASS of the whole default check;
- crashed: exit 2 (the mutant crashed the model, or hung a call), or the
  cap was reached; not counted as killed or survived;
- unknown: exit 1 without a violation (the budget ran out).

It prints the kill rate, killed / (killed + survived), and the table, and
writes both to --out (bench/mutants/results.txt by default).  A survivor
is listed with the explanation its entry gives (``survives``), or flagged
as unexplained.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))


class MutationError(Exception):
    """A mutation that does not apply: its snippet is not in the function
    exactly once, or the function is not one the model has."""


def load_mutations(path=None) -> list:
    """MUTATIONS of bench/mutants/mutations.py (or of ``path``)."""
    path = path or os.path.join(HERE, "mutants", "mutations.py")
    spec = importlib.util.spec_from_file_location("vcpcheck_bench_mutations", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MUTATIONS


def _module(m):
    return importlib.import_module("vcpcheck." + m["module"])


def function_source(fn) -> str:
    """A module-level function's source without its decorators (they would
    register the copy in the symbol table again)."""
    lines = inspect.getsource(fn).splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("def "))
    return "".join(lines[start:])


def mutated_source(m) -> str:
    """The function's source with the snippet replaced, exactly once."""
    module = _module(m)
    fn = getattr(module, m["function"], None)
    if not inspect.isfunction(fn):
        raise MutationError(f"{m['name']}: {m['module']} has no function {m['function']}")
    src = function_source(fn)
    n = src.count(m["snippet"])
    if n != 1:
        raise MutationError(f"{m['name']}: the snippet {m['snippet']!r} occurs {n} "
                            f"times in {m['module']}.{m['function']} (must be once)")
    return src.replace(m["snippet"], m["replacement"])


def kernel_name(module, fn_name) -> str:
    """The C name a function of ``module`` is bound under."""
    from vcpcheck.impl.symbols import BASE, _load_all
    _load_all()
    fn = getattr(module, fn_name)
    for name, defs in BASE.items():
        if any(d.fn is fn for d in defs):
            return name
    return getattr(fn, "cname", fn.__name__)


def replaced(m) -> list:
    """[(C name, Python name)] of the kernel functions the variant replaces."""
    module = _module(m)
    names = m.get("via") or [m["function"]]
    return [(kernel_name(module, n), n) for n in names]


def default_base(m) -> str:
    """reference, unless reference replaces one of the functions (the slip
    is unreachable through it): then base."""
    if "base" in m:
        return m["base"]
    if m["module"] == "impl.series.reference":
        return "reference"
    from vcpcheck.checks.targets import TARGETS
    from vcpcheck.impl.symbols import base_symbols
    ref = TARGETS["reference"]
    cfg = ref.configs()[0]
    ref_table, base_table = ref.symbols(cfg), base_symbols(cfg)
    for cname, _ in replaced(m):
        if cname in base_table and ref_table[cname].fn is not base_table[cname].fn:
            return "base"
    return "reference"


def variant_text(m) -> str:
    """The variant file of one mutation."""
    module = _module(m)
    sources = [mutated_source(m)]
    for _cname, pyname in replaced(m):
        if pyname != m["function"]:
            sources.append(function_source(getattr(module, pyname)))
    replace = {cname: pyname for cname, pyname in replaced(m)}
    return (f'"""mutant {m["name"]}: {m["description"]}"""\n'
            f"import importlib\n\n"
            f"BASE = {default_base(m)!r}\n"
            f"_MODULE = importlib.import_module({('vcpcheck.' + m['module'])!r})\n"
            f"# the mutated copy runs with its module's globals (a copy of them)\n"
            f"_NS = dict(vars(_MODULE))\n"
            f"for _src in {sources!r}:\n"
            f"    exec(compile(_src, {('<mutant ' + m['name'] + '>')!r}, 'exec'), _NS)\n"
            f"REPLACE = {{name: _NS[py] for name, py in {replace!r}.items()}}\n")


def write_variant(m, directory) -> str:
    path = os.path.join(directory, f"mutant_{m['name']}.py")
    with open(path, "w") as f:
        f.write(variant_text(m))
    return path


def run_mutant(m, directory, cap) -> dict:
    """Check one mutant; its outcome row."""
    path = write_variant(m, directory)
    cmd = [sys.executable, "-m", "vcpcheck.checks.cli", "check", path, "-x", "--json"]
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=cap,
                           env=dict(os.environ, PYTHONHASHSEED="0"))
    except subprocess.TimeoutExpired:
        return dict(name=m["name"], outcome="crashed", seconds=round(cap),
                    detail=f"still running after the cap ({cap:g}s)")
    seconds = round(time.monotonic() - start, 1)
    row = dict(name=m["name"], seconds=seconds, detail="")
    if p.returncode == 2:
        err = (p.stderr.strip().splitlines() or ["exit 2"])[-1]
        return dict(row, outcome="crashed", detail=err[:200])
    try:
        result = json.loads(p.stdout)["targets"][0]
    except (ValueError, KeyError, IndexError):
        return dict(row, outcome="crashed", detail=f"exit {p.returncode}, no JSON")
    if p.returncode == 0 and result["verdict"] == "pass":
        return dict(row, outcome="survived", detail=result["stats"]["strength"][:120])
    if result["violations"]:
        v = result["violations"][0]
        return dict(row, outcome="killed", invariant=v["invariant"], engine=v["engine"],
                    detail=f"{v['invariant']} ({v['engine']}, {len(v['trace'])} calls)")
    return dict(row, outcome="unknown", detail=result["verdict"])


def table(mutations, rows) -> list:
    """The report's lines: the kill rate, then one line per mutant."""
    by = {r["name"]: r for r in rows}
    count = {k: sum(r["outcome"] == k for r in rows)
             for k in ("killed", "survived", "crashed", "unknown")}
    decided = count["killed"] + count["survived"]
    rate = f"{100 * count['killed'] / decided:.1f}%" if decided else "n/a"
    lines = [f"kill rate: {count['killed']}/{decided} = {rate} (killed / (killed + "
             f"survived)); {count['crashed']} crashed or capped, {count['unknown']} "
             f"unknown, {len(rows)} mutants",
             f"{'mutant':38} {'outcome':9} {'secs':>7}  detail"]
    for m in mutations:
        r = by.get(m["name"])
        if r is None:
            continue
        lines.append(f"{m['name']:38} {r['outcome']:9} {r['seconds']:>7}  {r['detail']}")
    for m in mutations:
        r = by.get(m["name"])
        if r is None:
            continue
        if r["outcome"] == "survived":
            why = m.get("survives") or "UNEXPLAINED: look at it and say why in mutations.py"
            lines.append(f"survivor {m['name']}: {m['description']}\n    why: {why}")
        elif m.get("survives"):
            lines.append(f"note {m['name']}: expected to survive but {r['outcome']}; "
                         f"its 'survives' text is out of date")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", help="comma-separated mutant names")
    p.add_argument("--jobs", type=int, default=1,
                   help="mutants checked at once (each check uses vcpcheck's "
                        "default --jobs)")
    p.add_argument("--cap", type=float, default=900.0,
                   help="seconds one mutant's check may take before it counts as "
                        "crashed")
    p.add_argument("--out", default=os.path.join(HERE, "mutants", "results.txt"))
    p.add_argument("--keep", metavar="DIR", help="write the variant files here")
    args = p.parse_args(argv)
    mutations = load_mutations()
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m["name"] for m in mutations}
        if unknown:
            p.error(f"no mutant named {', '.join(sorted(unknown))}")
        mutations = [m for m in mutations if m["name"] in wanted]
    for m in mutations:            # fail loudly before running anything
        mutated_source(m)
    directory = args.keep or tempfile.mkdtemp(prefix="vcpcheck-mutants-")
    os.makedirs(directory, exist_ok=True)
    start = time.monotonic()
    rows = []
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for row in pool.map(lambda m: run_mutant(m, directory, args.cap), mutations):
            print(f"{row['name']:38} {row['outcome']:9} {row['seconds']:>7}  "
                  f"{row['detail']}", flush=True)
            rows.append(row)
    total = time.monotonic() - start
    lines = table(mutations, rows) + [f"total: {total:.0f}s wall with --jobs {args.jobs}"]
    print("\n".join(lines))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
