"""The command line: its contract, user variants, fail-closed input, bisect,
compare, replay, --out and the pytest plugin."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from schema_check import validate

from vcpcheck.checks.cli import SHARES, budget_deadlines, main

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")
FAST = ["--examples", "20", "--rounds", "1", "--jobs", "1", "--depth", "1"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    if argv[0] == "check" and "--json" in argv and code in (0, 1):
        validate("check.schema.json", json.loads(out))       # schemas/
    return code, out, err


def variant(tmp_path, body, name="variant.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return str(path)


# --- the contract ----------------------------------------------------------------------

def test_list_names_the_builtin_targets(capsys):
    code, out, _ = run(capsys, "list", "--json")
    names = {t["name"] for t in json.loads(out)["targets"]}
    assert code == 0
    assert {"base", "v2", "v3", "v5", "reference"} <= names
    assert {f"v3:{n:02d}" for n in range(1, 15)} <= names


def test_check_json_has_the_contract_fields(capsys):
    code, out, err = run(capsys, "check", "v3", "--json", "--config", "ARCH=x86_64",
                         "--config", "PREEMPT=n", "--config", "VFALLBACK_ALWAYS=y", *FAST)
    assert code == 1 and err == ""
    (t,) = json.loads(out)["targets"]
    assert t["target"] == "v3" and t["verdict"] == "fail"
    v = t["violations"][0]
    assert set(v) >= {"invariant", "engine", "strength", "config", "message", "trace"}
    # the engines run explore first: its shortest trace is the first report
    assert v["engine"] == "explore" and v["strength"].startswith("exhaustive to depth")
    assert all(set(e) == {"call", "args", "ret"} for e in v["trace"])
    assert t["stats"]["unbuildable"], "PAGEFLAGS_EXTENDED=y is reported unbuildable"


def _untimed(t):
    """A target's JSON result without its clock readings."""
    stats = {k: v for k, v in t["stats"].items() if k not in ("seconds", "engine_seconds")}
    stats["runs"] = [{k: v for k, v in r.items() if k != "seconds"}
                     for r in stats.get("runs", [])]
    return {**t, "stats": stats}


def test_same_seed_same_verdict_and_trace(capsys):
    argv = ["check", "v5", "--json", "--config", "ARCH=i386", "--config", "HIGHMEM=n",
            "--config", "VIRTUALIZE_ALWAYS=y", *FAST]
    a = json.loads(run(capsys, *argv)[1])["targets"][0]
    b = json.loads(run(capsys, *argv)[1])["targets"][0]
    assert a["violations"] == b["violations"] and a["verdict"] == b["verdict"]
    assert _untimed(a) == _untimed(b)


def test_same_result_on_one_process_or_two(capsys):
    """Two configurations on one process and on two: the same counts,
    verdict and traces, whichever process ran what."""
    argv = ["check", "v3", "--json", "--engine", "stateful", "--config", "ARCH=i386",
            "--config", "HIGHMEM=n", "--config", "PREEMPT=n", "--examples", "20",
            "--rounds", "1"]
    one = json.loads(run(capsys, *argv, "--jobs", "1")[1])["targets"][0]
    two = json.loads(run(capsys, *argv, "--jobs", "2")[1])["targets"][0]
    assert one["stats"]["configs_checked"] == 2 and one["violations"]
    assert _untimed(one) == _untimed(two)


# --- the budget ---------------------------------------------------------------------------

def test_budget_is_split_between_the_engines_that_run():
    """Laid end to end in the order they run: explore, smt, stateful, then
    explore's deeper search (only when explore and stateful both run)."""
    every = budget_deadlines(["explore", "smt", "stateful"], 10.0, 100.0)
    assert every["explore"] == pytest.approx(10 + 100 * SHARES["explore"])
    assert every["smt"] == pytest.approx(every["explore"] + 100 * SHARES["smt"])
    assert every["stateful"] == pytest.approx(every["smt"] + 100 * SHARES["stateful"])
    assert every["deepen"] == pytest.approx(110.0)
    assert budget_deadlines(["explore"], 0.0, 50.0) == {"explore": pytest.approx(50.0)}
    two = budget_deadlines(["explore", "smt"], 0.0, 10.0)
    assert set(two) == {"explore", "smt"} and two["smt"] == pytest.approx(10.0)


def test_budget_is_a_hard_limit_and_a_cut_is_never_a_pass(capsys):
    """Each engine stops when its share of the budget ends, on both
    processes; what it cut short is listed, the strength says partial and
    the verdict is unknown (exit 1), not a pass."""
    t0 = time.monotonic()
    code, out, _ = run(capsys, "check", "base", "--json", "--budget", "3",
                       "--examples", "2000", "--rounds", "1", "--jobs", "2")
    took = time.monotonic() - t0
    (t,) = json.loads(out)["targets"]
    assert took < 3 + 15, took        # forking, imports, the last example or state
    assert code == 1 and t["verdict"] == "unknown"
    cut = t["stats"]["budget_ran_out"]
    assert {c["engine"] for c in cut} >= {"stateful"}
    assert all(c["reason"].startswith("the budget ran out") for c in cut)
    assert "sampled: " in t["stats"]["strength"]
    assert "(partial: the budget ran out)" in t["stats"]["strength"]
    code, out, _ = run(capsys, "check", "base", "--engine", "stateful", "--budget", "1",
                       "--examples", "2000", "--rounds", "1", "--jobs", "1")
    assert code == 1 and out.startswith("base: UNKNOWN (sampled: ")
    assert "unknown (stateful, not a pass): [" in out and "the budget ran out" in out


def test_reference_passes(capsys):
    code, out, _ = run(capsys, "check", "reference", "--config", "ARCH=x86_64",
                       "--config", "PREEMPT=n", "--engine", "stateful", *FAST)
    assert code == 0 and out.startswith("reference: PASS (sampled: ")


@pytest.mark.parametrize("argv,needle", [
    (["check", "nosuch"], "unknown target 'nosuch'"),
    (["check", "base", "--config", "FOO=1"], "unknown Kconfig option 'FOO'"),
    (["check", "base", "--config", "ARCH"], "expected KEY=VALUE"),
    (["check", "base", "--config", "DEBUG_VM=maybe"], "expected y or n"),
    (["check", "base", "--config", "ARCH=sparc"], "is not one of"),
    (["bisect", "v9"], "unknown series 'v9'"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_bad_flag_exits_2(capsys):
    code, _out, err = run(capsys, "check", "--engine", "nonsense")
    assert code == 2 and "invalid choice" in err


# --- user variants and fail-closed loading -------------------------------------------------

def test_example_variant_is_checked_like_a_builtin(capsys):
    path = os.path.join(EXAMPLES, "v3_gfp_comp.py")
    code, out, _ = run(capsys, "check", path, "--json", "--config", "ARCH=x86_64",
                       "--config", "PREEMPT=n", "--engine", "stateful", *FAST)
    (t,) = json.loads(out)["targets"]
    assert code == 1 and t["target"] == path and t["verdict"] == "fail"


@pytest.mark.parametrize("body,needle", [
    ("BASE = 'v3'\ndef f(:\n", "SyntaxError"),
    ("BASE = 'v3'\nraise RuntimeError('boom')\n", ":2: RuntimeError while loading: boom"),
    ("BASE = 'v99'\nCONFIG = {'DEBUG_VM': True}\n", "BASE 'v99' is not a built-in target"),
    ("CONFIG = {}\n", "no BASE"),
    ("BASE = 'v3'\ndef nosuch_function(k):\n    pass\nREPLACE = [nosuch_function]\n",
     "unknown kernel function 'nosuch_function'"),
    ("BASE = 'v3'\ndef vunmap(k, addr, extra):\n    pass\nREPLACE = [vunmap]\n",
     "vunmap takes 2 argument(s) after k, the kernel's vunmap takes 1 (addr)"),
    ("BASE = 'v3'\nCONFIG = {'NO_SUCH_OPTION': True}\n",
     "unknown Kconfig option 'NO_SUCH_OPTION'"),
    ("BASE = 'v3'\ndef vunmap(k, addr):\n    pass\nADD = [vunmap]\n",
     "already has (use REPLACE)"),
    ("BASE = 'v3'\n", "nothing differs"),
])
def test_variant_that_cannot_load_fails_closed(capsys, tmp_path, body, needle):
    path = variant(tmp_path, body)
    code, out, err = run(capsys, "check", path, *FAST)
    assert code == 2 and out == ""
    assert needle in err and err.count("\n") == 1, err


def test_variant_that_hangs_while_loading(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("vcpcheck.checks.variants.LOAD_TIMEOUT", 0.3)
    path = variant(tmp_path, "BASE = 'v3'\nwhile True:\n    pass\n")
    code, _out, err = run(capsys, "check", path)
    # the loader's own timer, or the supervisor on a loaded machine
    assert code == 2 and ("did not finish within 0.3s" in err
                          or "loading the file did not return within 0.3s" in err)


def test_variant_that_raises_when_called(capsys, tmp_path):
    """A Python exception in kernel code is an oops, as it would be in C: a
    counterexample of kernel_reported_no_errors with its shortest trace,
    the frame that raised it and the kernel function it belongs to."""
    path = variant(tmp_path, """\
        BASE = "reference"
        def __alloc_vcompound(k, flags, order):
            return 1 // 0
        REPLACE = [__alloc_vcompound]
        """)
    code, out, err = run(capsys, "check", path, "--json", *FAST)
    assert code == 1 and err == ""
    (t,) = json.loads(out)["targets"]
    oops = [v for v in t["violations"] if "ZeroDivisionError" in v["message"]]
    assert t["verdict"] == "fail" and oops
    v = oops[0]
    assert v["invariant"] == "kernel_reported_no_errors"
    assert f"{path}:3 in __alloc_vcompound()" in v["message"]
    assert "oops in kernel function __alloc_vcompound" in v["message"]
    assert len(v["trace"]) == 1 and v["trace"][-1]["ret"] == "oops"


def test_an_exception_in_no_kernel_frame_is_the_checkers_bug(capsys, monkeypatch):
    """An exception raised by the harness itself is not an oops: exit 2."""
    from vcpcheck.checks.harness import Harness

    def broken(self, gfp, order):
        raise RuntimeError("harness bug")
    monkeypatch.setattr(Harness, "alloc_pages", broken)
    code, out, err = run(capsys, "check", "base", "--engine", "explore", *FAST)
    assert code == 2 and "RuntimeError: harness bug" in err and err.count("\n") == 1


def test_variant_that_hangs_when_called(capsys, tmp_path):
    path = variant(tmp_path, """\
        BASE = "reference"
        def __alloc_vcompound(k, flags, order):
            while True:
                pass
        REPLACE = [__alloc_vcompound]
        """)
    code, out, err = run(capsys, "check", path, "--call-timeout", "0.3", *FAST)
    assert code == 2 and out == "" and "did not return within 0.3s" in err


# --- bisect, compare, replay, --out ----------------------------------------------------------

def test_bisect_a_series_file_names_the_first_bad_patch(capsys):
    path = os.path.join(EXAMPLES, "reference_series.py")
    code, out, _ = run(capsys, "bisect", path, "--json", "--config", "ARCH=x86_64",
                       "--config", "PREEMPT=n", "--config", "PAGEFLAGS_EXTENDED=y",
                       "--engine", "stateful",
                       "--examples", "50", "--rounds", "1", "--jobs", "1")
    data = json.loads(out)
    assert code == 1
    assert data["first_bad"] == "reference_series:02"
    assert [s["verdict"] for s in data["steps"]] == ["pass", "pass", "fail"]


@pytest.mark.slow
def test_bisect_builtin_v3(capsys):
    code, out, _ = run(capsys, "bisect", "v3", "--config", "ARCH=x86_64",
                       "--config", "PREEMPT=n", "--examples", "100", "--rounds", "1",
                       "--jobs", "1")
    assert code == 1 and "first bad patch: v3:01" in out


@pytest.mark.slow
def test_compare_finds_the_first_difference(capsys):
    path = os.path.join(EXAMPLES, "reference_no_zero.py")
    code, out, _ = run(capsys, "compare", "reference", path, "--json",
                       "--config", "ARCH=x86_64", "--config", "PREEMPT=n",
                       "--config", "PAGEFLAGS_EXTENDED=y", "--examples", "300")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "differ"
    assert "callers_observe_the_contract" in data["difference"]["message"]


def test_compare_a_target_with_itself_is_the_same(capsys):
    code, out, _ = run(capsys, "compare", "base", "base", "--config", "ARCH=x86_64",
                       "--config", "PAGEFLAGS_EXTENDED=y", "--examples", "30")
    assert code == 0 and "SAME" in out


def test_compare_cut_by_the_budget_is_not_same(capsys):
    code, out, _ = run(capsys, "compare", "base", "base", "--budget", "0.001",
                       "--examples", "30")
    assert code == 1 and "UNKNOWN" in out and "the budget ran out" in out


def test_out_writes_json_pytest_and_svg_then_replay(capsys, tmp_path):
    out_dir = tmp_path / "out"
    code, _out, _err = run(capsys, "check", "v3:01", "--out", str(out_dir),
                           "--engine", "stateful",
                           "--config", "ARCH=x86_64", "--config", "PREEMPT=n",
                           "--examples", "100", "--rounds", "1", "--jobs", "1")
    assert code == 1
    files = sorted(os.listdir(out_dir))
    # units/: each finished unit of work, for --resume (checks/dist.py UnitStore)
    assert files == ["index.html", "test_v3_01-1.py", "units", "v3_01-1.itf.json",
                     "v3_01-1.json", "v3_01-1.svg"]
    record = str(out_dir / "v3_01-1.json")
    validate("trace.schema.json", json.loads((out_dir / "v3_01-1.json").read_text()))
    assert run(capsys, "replay", record)[0] == 1
    assert run(capsys, "replay", record, "--target", "reference")[0] == 0
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(out_dir / "test_v3_01-1.py")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed, 1 passed" in result.stdout


@pytest.mark.parametrize("content,needle", [
    ("not json", "not JSON"),
    ('{"trace": []}', "'trace' must be a non-empty list"),
    ('{"trace": [{"call": "reboot", "args": []}]}', "unknown operation 'reboot'"),
    ('{"trace": [{"call": "vmalloc"}]}', "needs 'call'"),
    ('{"target": "v3", "config": {"NOPE": 1}, "trace": [{"call": "vmalloc", "args": [1]}]}',
     "unknown Kconfig option 'NOPE'"),
])
def test_malformed_trace_file(capsys, tmp_path, content, needle):
    path = tmp_path / "t.json"
    path.write_text(content)
    code, out, err = run(capsys, "replay", str(path))
    assert code == 2 and out == "" and needle in err and err.count("\n") == 1


# --- the pytest plugin ---------------------------------------------------------------------------

def test_pytest_plugin_kernel_fixture(tmp_path):
    test = tmp_path / "test_mine.py"
    test.write_text(textwrap.dedent("""\
        def test_vcompound_is_virtual(kernel, harness, vcp_target):
            assert vcp_target.name == "v3"
            addr = harness.alloc_vcompound_addr(0xd0, 1)
            assert kernel.is_vmalloc_addr(addr)
        """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "--vcp-target", "v3", "--vcp-config", "VFALLBACK_ALWAYS=y",
                             str(test)], capture_output=True, text=True, cwd=tmp_path)
    assert "1 passed" in result.stdout, result.stdout + result.stderr


def test_explore_is_told_the_stateful_lengths_and_goes_deeper(capsys):
    """--engine stateful,explore: the stateful engine finds V3's fork
    client defect in 2 calls; explore at --depth 1 misses it, so for that
    configuration it searches to depth 2, and the strength says so.  Alone,
    explore stays at the bound it was given."""
    argv = ["check", "v3", "--json", "--depth", "1", "--config", "ARCH=x86_64",
            "--config", "PREEMPT=n", "--config", "VFALLBACK_ALWAYS=y", "--jobs", "1",
            "--bound", "main"]
    code, out, _ = run(capsys, *argv, "--engine", "explore,stateful")
    r = json.loads(out)["targets"][0]
    assert code == 1 and r["stats"]["engine"] == "explore,stateful"
    strength = r["stats"]["strength"]
    assert "exhaustive to depth 1 at bound main (to depth 2 on 1 of 1 configurations" in strength
    assert "stale struct page words merged on 0 (on by default from depth 5) and " in strength
    fork = [v for v in r["violations"] if v["message"].startswith("client fork")]
    assert fork and len(fork[0]["trace"]) == 2
    code, out, _ = run(capsys, *argv, "--engine", "explore")
    r = json.loads(out)["targets"][0]
    assert "exhaustive to depth 1 at bound main:" in r["stats"]["strength"]
    assert not [v for v in r["violations"] if v["message"].startswith("client fork")]


def test_engine_list_rejects_an_unknown_engine(capsys):
    code, _out, err = run(capsys, "check", "base", "--engine", "stateful,nope")
    assert code == 2 and "'nope'" in err


def test_a_cut_deeper_search_is_listed_and_the_search_to_depth_stands(capsys,
                                                                      monkeypatch):
    """The stateful engine finds a counterexample longer than --depth that
    explore missed, and the budget ends before explore's search one call
    deeper: explore's search to --depth stands (not partial), the cut is
    its own line ("deepen"), and the verdict is still the violation's."""
    from vcpcheck.checks import cli
    real = cli.run_engine

    def no_time_to_deepen(target, cfg, engine, deadline, args, told=None):
        if engine == "deepen":
            return None, True
        return real(target, cfg, engine, deadline, args, told)
    monkeypatch.setattr(cli, "run_engine", no_time_to_deepen)
    argv = ["check", "v3", "--json", "--depth", "1", "--config", "ARCH=x86_64",
            "--config", "PREEMPT=n", "--config", "VFALLBACK_ALWAYS=y", "--jobs", "1",
            "--engine", "explore,stateful", "--examples", "20", "--rounds", "1"]
    code, out, _ = run(capsys, *argv)
    r = json.loads(out)["targets"][0]
    assert code == 1 and r["verdict"] == "fail"
    cut = r["stats"]["budget_ran_out"]
    assert [c["engine"] for c in cut] == ["deepen"]
    assert "its search to --depth stands" in cut[0]["reason"]
    strength = r["stats"]["strength"]
    assert "exhaustive to depth 1" in strength and "cut by the budget on 1" in strength


def test_an_oops_while_booting_is_a_counterexample_of_no_calls(capsys, tmp_path):
    """A variant whose kernel code raises while the kernel boots: an oops
    on the initial state, reported with an empty trace, in every engine."""
    path = variant(tmp_path, """\
        BASE = "base"
        def __free_one_page(k, page, zone, order):
            return [][page]
        REPLACE = [__free_one_page]
        """)
    for engine in ("explore", "stateful", "smt"):
        code, out, err = run(capsys, "check", path, "--json", "--bound", "main",
                             "--engine", engine, "--config", "ARCH=x86_64",
                             "--config", "PAGEFLAGS_EXTENDED=y", *FAST)
        assert code == 1 and err == "", (engine, err)
        (t,) = json.loads(out)["targets"]
        assert t["verdict"] == "fail", engine
        assert [v for v in t["violations"]
                if v["invariant"] == "kernel_reported_no_errors" and v["trace"] == []
                and "IndexError" in v["message"] and "__free_one_page" in v["message"]]
