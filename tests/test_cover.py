"""What a check ran (checks/cover.py): the warning for a variant function
no engine called, and --coverage's functions and branches per engine.

The hand-checked case: the explore engine to depth 1 on one configuration
starts from the booted kernel (and, with VFALLBACK_ALWAYS=n, from the
fragmented one).  One call from there:

    boot:  ................   (every block free; nothing is held)
    call:  alloc_vcompound / __alloc_vcompound of each order, ...

Expect the allocations' functions called (boot alone calls
__free_one_page), and no free of a vcompound object, since nothing is
held before the one call: free_vcompound never runs.  Every order offered
is below MAX_ORDER, so reference's alloc_vcompound never takes its
``order >= MAX_ORDER`` branch.
"""
from __future__ import annotations

import inspect
import json
import textwrap

from schema_check import validate

from vcpcheck.checks.cli import main
from vcpcheck.impl.series import reference

ONE_CONFIG = ["--config", "ARCH=x86_64", "--config", "PAGEFLAGS_EXTENDED=n",
              "--config", "PREEMPT=n", "--config", "VFALLBACK_ALWAYS=n"]
EXPLORE_1 = ["--engine", "explore", "--depth", "1", *ONE_CONFIG]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    if "--json" in argv and code in (0, 1):
        validate("check.schema.json", json.loads(out))
    return code, out, err


def stats(out):
    (t,) = json.loads(out)["targets"]
    return t["stats"]


# --- the warning: a variant function no engine called --------------------------------------

UNREACHED = '''
    """reference with vmallocinfo replaced (nothing calls it) and
    vcompound_head_page replaced (the explore engine calls it)."""
    BASE = "reference"

    def vmallocinfo(k):
        return [f"{v.addr:#x}" for v in k.vmlist]

    def vcompound_head_page(k, x):
        page = k.vmalloc_to_page(x) if k.is_vmalloc_addr(x) else k.virt_to_page(x)
        return None if page is None else k.compound_head(page)

    def my_unused_helper(k):
        return 0

    REPLACE = [vmallocinfo, vcompound_head_page]
    ADD = [my_unused_helper]
'''


def test_a_variant_function_no_engine_called_is_a_warning(capsys, tmp_path):
    path = tmp_path / "unreached.py"
    path.write_text(textwrap.dedent(UNREACHED))
    code, out, err = run(capsys, "check", str(path), *EXPLORE_1)
    assert code == 0 and err == ""
    assert (f"  warning: {path} replaces vmallocinfo, which no engine called: this "
            f"PASS says nothing about it") in out.splitlines()
    assert f"warning: {path} adds my_unused_helper, which no engine called" in out
    assert "vcompound_head_page, which" not in out       # it was called
    assert "coverage (" not in out                        # --coverage was not given
    code, out, _ = run(capsys, "check", str(path), "--json", *EXPLORE_1)
    st = stats(out)
    assert [w.split(", which")[0] for w in st["warnings"]] == [
        f"{path} adds my_unused_helper", f"{path} replaces vmallocinfo"]
    assert "coverage" not in st


def test_a_builtin_target_has_no_warning(capsys):
    code, out, _ = run(capsys, "check", "reference", "--json", *EXPLORE_1)
    assert code == 0 and stats(out)["warnings"] == []


# --- --coverage ---------------------------------------------------------------------------------

def test_coverage_on_v3_lists_what_explore_called_and_did_not(capsys):
    code, out, err = run(capsys, "check", "v3", "--coverage", "--json", *EXPLORE_1)
    assert code == 1 and err == ""
    c = stats(out)["coverage"]
    assert list(c) == ["explore"]
    e = c["explore"]
    assert 0 < e["called"] < e["functions"]
    assert e["called"] == sum(1 for n in e["calls"].values() if n)
    # called: the API entry points and the buddy allocator (boot frees)
    assert e["calls"]["__alloc_vcompound"] > 0 and e["calls"]["alloc_vcompound"] > 0
    assert e["calls"]["__free_one_page"] > 0
    # not called: nothing is held before the one call, so nothing is freed
    assert "free_vcompound" in e["series_never_called"]
    assert "free_vcompound" not in e["calls"]
    assert "__alloc_vcompound" not in e["series_never_called"]
    assert "vmallocinfo" not in e["calls"]


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    (i,) = [i for i, line in enumerate(lines) if text in line]
    return first + i


def test_coverage_branches_are_the_ones_not_taken(capsys):
    code, out, _ = run(capsys, "check", "reference", "--coverage", *EXPLORE_1)
    assert code == 0
    test = _line_of(reference.alloc_vcompound, "if order >= k.MAX_ORDER:")
    lines = out.splitlines()
    assert "  coverage (explore): " in out
    (alloc,) = [x for x in lines if "branches not taken in alloc_vcompound " in x]
    # the alphabet asks for orders at and above MAX_ORDER too (spec/api.py),
    # so both arcs of the order test are taken; with VFALLBACK_ALWAYS=n
    # _physical() is never false, so its arc to the fallback is not
    not_taken = alloc.split(": ", 1)[1].split(", ")
    assert f"{test}->{test + 1}" not in not_taken
    assert f"{test}->{test + 2}" not in not_taken
    physical = _line_of(reference.alloc_vcompound, "if _physical(k, flags, order):")
    fallback = _line_of(reference.alloc_vcompound, 'vm = k.call("____alloc_vcompound"')
    assert f"{physical}->{fallback}" in not_taken
    (never,) = [x for x in lines if "series/variant functions never called:" in x]
    assert "free_vcompound" in never and "__alloc_vcompound" not in never


def test_coverage_is_the_same_with_jobs_2(capsys):
    argv = ["check", "v3", "--coverage", "--json", "--engine", "explore", "--depth",
            "1", "--config", "ARCH=x86_64", "--config", "PAGEFLAGS_EXTENDED=n",
            "--bound", "main"]
    _, one, _ = run(capsys, *argv, "--jobs", "1")
    _, two, _ = run(capsys, *argv, "--jobs", "2")
    a, b = stats(one), stats(two)
    assert a["configs"] == 3                     # three configurations to split
    assert a["coverage"] == b["coverage"] and a["warnings"] == b["warnings"]


def test_coverage_with_ktap_is_one_line_exit_2(capsys):
    code, out, err = run(capsys, "check", "v3", "--coverage", "--format", "ktap",
                         *EXPLORE_1)
    assert code == 2 and out == ""
    assert err.startswith("vcpcheck: error: --coverage ") and err.count("\n") == 1
