"""The formats CI and kernel developers read: JUnit XML, KTAP, ITF traces,
the JSON schemas, DIR/index.html, atomic files and Ctrl-C.

Most tests share one small check, `vcpcheck check v3 --engine explore
--depth 1`, which finds V3's defects on all 7 configurations V3 builds
under (and lists the 7 it does not build under) in well under a second.
"""
from __future__ import annotations

import contextlib
import glob
import html.parser
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import itf_py
import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from ktap_parser import parse as parse_ktap
from schema_check import validator

from vcpcheck.checks import atomic
from vcpcheck.checks.cli import main
from vcpcheck.checks.index import index_html
from vcpcheck.checks.stateful import Violation
from vcpcheck.checks.targets import TARGETS
from vcpcheck.checks.traces import load_record, write_outputs
from vcpcheck.impl.kconfig import Kconfig

V3_CONFIGS, V3_BUILDABLE = 14, 7


def run_cli(*argv) -> tuple[int, str, str]:
    # the formats are checked at the main bound (one run per configuration
    # and engine); the bound matrix is tests/test_world.py's
    if argv and argv[0] == "check" and "--bound" not in argv:
        argv = argv + ("--bound", "main")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def v3(tmp_path_factory):
    """One check of v3 with every output: --json, --out, --junit."""
    d = tmp_path_factory.mktemp("v3")
    rc, out, err = run_cli("check", "v3", "--engine", "explore", "--depth", "1",
                           "--jobs", "1", "--out", str(d / "out"),
                           "--junit", str(d / "junit.xml"), "--json")
    assert rc == 1, err
    return {"dir": d, "out": d / "out", "junit": d / "junit.xml",
            "json": json.loads(out)}


def trace_files(out) -> list[Path]:
    return sorted(p for p in Path(out).glob("*.json") if not p.name.endswith(".itf.json"))


# --- the runs rows and the JSON schemas ----------------------------------------------------------

def test_runs_rows_cover_every_configuration_and_engine(v3):
    t = v3["json"]["targets"][0]
    rows = t["stats"]["runs"]
    assert len(rows) == V3_CONFIGS
    assert {r["engine"] for r in rows} == {"explore"}
    outcomes = [r["outcome"] for r in rows]
    assert outcomes.count("unbuildable") == V3_CONFIGS - V3_BUILDABLE
    assert outcomes.count("fail") == V3_BUILDABLE
    for r in rows:
        if r["outcome"] == "fail":
            assert r["violations"] and r["states"] > 0 and r["reason"] is None
            assert all(v["config"] == r["config"] for v in r["violations"])
        else:
            assert "PAGEFLAGS_EXTENDED" in r["reason"] and not r["violations"]
    # Every violation the target reports was found on some run.
    found = {(v["config"], v["invariant"], v["message"]) for r in rows
             for v in r["violations"]}
    assert {(v["config"], v["invariant"], v["message"]) for v in t["violations"]} <= found


def test_check_json_matches_its_schema(v3):
    validator("check.schema.json").validate(v3["json"])


def test_runs_rows_of_every_engine_cut_by_the_budget_match_the_schema():
    """--budget 0.001: no engine starts; every buildable row is incomplete
    (never a pass), and the rows of all three engines match the schema."""
    rc, out, _err = run_cli("check", "v3", "--engine", "all", "--budget", "0.001", "--json")
    assert rc == 1
    doc = json.loads(out)
    validator("check.schema.json").validate(doc)
    t = doc["targets"][0]
    rows = t["stats"]["runs"]
    assert len(rows) == 3 * V3_CONFIGS and t["verdict"] == "unknown"
    assert [r["engine"] for r in rows[:3]] == ["explore", "smt", "stateful"]
    for r in rows:
        assert r["outcome"] in ("incomplete", "unbuildable")
        if r["outcome"] == "incomplete":
            assert r["reason"] == "the budget ran out before it started"
            assert r["strength"] == "not run", r      # never "exhaustive to depth 0"


def test_a_run_cut_by_the_budget_is_partial_not_exhaustive():
    """A row whose search the budget cut says partial, to the depth asked,
    with the figures it got to; a complete one says exhaustive."""
    from vcpcheck.checks.explore import ExploreResult
    from vcpcheck.checks.formats import run_rows
    from vcpcheck.impl.kconfig import Kconfig
    cfg = Kconfig.make()
    cut = ExploreResult(states=7, transitions=9, depth=3, complete=False)
    done = ExploreResult(states=7, transitions=9, depth=3)
    rows = run_rows([cfg], [cfg], [], ["explore"], {(0, "explore"): (cut, True)})
    assert rows[0]["outcome"] == "incomplete"
    assert rows[0]["strength"] == "partial to depth 3: 7 states, 9 transitions"
    rows = run_rows([cfg], [cfg], [], ["explore"], {(0, "explore"): (done, False)})
    assert rows[0]["outcome"] == "pass"
    assert rows[0]["strength"] == "exhaustive to depth 3: 7 states, 9 transitions"


def test_check_schema_rejects_a_run_without_its_figures(v3):
    doc = json.loads(json.dumps(v3["json"]))
    del doc["targets"][0]["stats"]["runs"][0]["states"]
    with pytest.raises(jsonschema.ValidationError):
        validator("check.schema.json").validate(doc)
    doc = json.loads(json.dumps(v3["json"]))
    doc["targets"][0]["stats"]["runs"][0]["outcome"] = "skipped"
    with pytest.raises(jsonschema.ValidationError):
        validator("check.schema.json").validate(doc)


def test_trace_files_match_their_schema_and_load(v3):
    files = trace_files(v3["out"])
    assert files
    val = validator("trace.schema.json")
    for p in files:
        data = json.loads(p.read_text())
        val.validate(data)
        assert load_record(p)["target"] == "v3"
    with pytest.raises(jsonschema.ValidationError):
        val.validate({"target": "v3", "trace": [{"call": "vmalloc"}]})


# --- JUnit ---------------------------------------------------------------------------------------

def test_junit_one_testcase_per_configuration_and_engine(v3):
    xml = JUnitXml.fromfile(str(v3["junit"]))
    suites = list(xml)
    assert [s.name for s in suites] == ["v3"]
    cases = list(suites[0])
    assert len(cases) == V3_CONFIGS
    assert all(c.classname == "v3" and c.name.endswith("] explore") for c in cases)
    rows = v3["json"]["targets"][0]["stats"]["runs"]
    assert [c.name for c in cases] == [f"[{r['config']}] {r['engine']}" for r in rows]
    assert (suites[0].tests, suites[0].failures, suites[0].errors, suites[0].skipped) == (
        V3_CONFIGS, V3_BUILDABLE, 0, V3_CONFIGS - V3_BUILDABLE)


def test_junit_failure_carries_invariant_message_and_replayable_trace(v3):
    rows = {f"[{r['config']}] {r['engine']}": r
            for r in v3["json"]["targets"][0]["stats"]["runs"]}
    for case in next(iter(JUnitXml.fromfile(str(v3["junit"])))):
        row = rows[case.name]
        kinds = [type(r) for r in case.result]
        if row["outcome"] == "fail":
            assert kinds == [Failure]
            f = case.result[0]
            first = row["violations"][0]
            assert f.type == first["invariant"]
            assert f.message.startswith(f"{first['invariant']}: {first['message']}")
            for v in row["violations"]:
                assert f"violation: {v['invariant']} [{row['config']}] {v['message']}" in f.text
            assert "h = Harness(Kconfig.make(" in f.text
            assert "# -> " in f.text
        else:
            assert kinds == [Skipped]
            assert "does not exist for this patch" in case.result[0].message
            assert row["reason"] in case.result[0].message


def test_junit_incomplete_run_is_an_error_never_a_skip(tmp_path):
    path = tmp_path / "j.xml"
    rc, _out, err = run_cli("check", "v3", "--engine", "explore", "--budget", "0.001",
                            "--junit", str(path))
    assert rc == 1, err
    suite = next(iter(JUnitXml.fromfile(str(path))))
    kinds = [type(c.result[0]) for c in suite]
    assert kinds.count(Error) == V3_BUILDABLE
    assert kinds.count(Skipped) == V3_CONFIGS - V3_BUILDABLE
    for c in suite:
        if isinstance(c.result[0], Error):
            assert "incomplete, not a pass" in c.result[0].message
            assert "budget" in c.result[0].message


def test_a_target_that_builds_nowhere_is_an_error_in_both_formats(tmp_path):
    """V3 needs PAGEFLAGS_EXTENDED=n: forced to y, every configuration is
    unbuildable, the verdict is error, and neither format may read as a
    pass (all skips would)."""
    j = tmp_path / "j.xml"
    n = 7                     # v3's configurations, PAGEFLAGS_EXTENDED=y in each
    argv = ["check", "v3", "--engine", "explore", "--config", "PAGEFLAGS_EXTENDED=y"]
    rc, out, _err = run_cli(*argv, "--junit", str(j), "--format", "ktap")
    assert rc == 1
    suite = next(iter(JUnitXml.fromfile(str(j))))
    kinds = [type(c.result[0]) for c in suite]
    assert kinds == [Skipped] * n + [Error]
    assert (suite.tests, suite.errors, suite.skipped) == (n + 1, 1,
                                                           n)
    assert "no configuration of v3 builds" in list(suite)[-1].result[0].message
    v3 = parse_ktap(out).subtests[0]
    assert not v3.ok and [c.directive for c in v3.subtests] == (
        ["SKIP"] * n + ["ERROR"])
    assert not v3.subtests[-1].ok


def test_every_file_is_deterministic(v3, tmp_path):
    """The same check writes the same bytes: JUnit, traces, ITF, pytest
    files, SVG and the index (no timestamps, sorted where order is not
    meaningful)."""
    path, out = tmp_path / "again.xml", tmp_path / "out"
    rc, _o, _e = run_cli("check", "v3", "--engine", "explore", "--depth", "1",
                         "--jobs", "2", "--junit", str(path), "--out", str(out))
    assert rc == 1
    assert path.read_bytes() == v3["junit"].read_bytes()
    assert b"timestamp" not in path.read_bytes()
    # units/ is --resume's cache of results (with their timings), not a report
    names = sorted(n for n in os.listdir(out) if n != "units")
    assert names == sorted(n for n in os.listdir(v3["out"]) if n != "units")
    for n in names:
        assert (out / n).read_bytes() == (v3["out"] / n).read_bytes(), n


# --- KTAP ----------------------------------------------------------------------------------------

def test_ktap_nests_target_configuration_engine():
    rc, out, err = run_cli("check", "v3", "--engine", "explore", "--depth", "1",
                           "--jobs", "1", "--format", "ktap")
    assert rc == 1 and err == ""
    top = parse_ktap(out)
    assert [t.name for t in top.subtests] == ["v3"]
    v3 = top.subtests[0]
    assert not v3.ok and len(v3.subtests) == V3_CONFIGS
    skipped = [c for c in v3.subtests if c.directive == "SKIP"]
    assert len(skipped) == V3_CONFIGS - V3_BUILDABLE
    for c in skipped:
        assert c.ok and not c.subtests and "does not exist for this patch" in c.reason
    for c in v3.subtests:
        if c.directive == "SKIP":
            continue
        assert c.name.startswith("[") and not c.ok
        assert [e.name for e in c.subtests] == ["explore"]
        engine = c.subtests[0]
        assert not engine.ok and engine.directive is None
        text = "\n".join(engine.diagnostics)
        assert "violation: " in text and "h = Harness(Kconfig.make(" in text
    assert any(d.startswith("v3: FAIL") for d in v3.diagnostics)


def test_ktap_incomplete_runs_are_errors_and_skip_is_only_unbuildable():
    rc, out, _err = run_cli("check", "v3", "--engine", "stateful,explore", "--budget",
                            "0.001", "--format", "ktap")
    assert rc == 1
    v3 = parse_ktap(out).subtests[0]
    assert not v3.ok
    for c in v3.subtests:
        if c.directive == "SKIP":
            assert "unbuildable" in c.reason
            continue
        assert [e.name for e in c.subtests] == ["explore", "stateful"]
        for e in c.subtests:
            assert not e.ok and e.directive == "ERROR" and "budget" in e.reason


def test_ktap_parser_is_strict():
    good = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: a\n    1..1\n" \
           "    ok 1 x\nok 1 a\n"
    assert parse_ktap(good).subtests[0].subtests[0].name == "x"
    from ktap_parser import KtapError
    for bad in (good.replace("1..1\n    ok", "1..2\n    ok"),          # plan count
                good.replace("    ok 1 x", "    ok 2 x"),              # numbering
                good.replace("    ok 1 x", "  ok 1 x"),                # indentation
                good.replace("ok 1 a", "ok 1 b"),                      # subtest name
                good.replace("KTAP version 1\n1..1\n", "1..1\n", 1)):  # version line
        with pytest.raises(KtapError):
            parse_ktap(bad)


# --- ITF -----------------------------------------------------------------------------------------

def test_itf_trace_beside_each_trace_file_loads_with_itf_py(v3):
    files = trace_files(v3["out"])
    for p in files:
        itf = p.with_name(p.stem + ".itf.json")
        doc = json.loads(itf.read_text())
        record = json.loads(p.read_text())
        trace = itf_py.trace_from_json(doc)
        assert trace.vars == ["step", "call", "args", "ret", "pages", "vm_areas",
                              "ledger", "violations", "oops"]
        assert doc["#meta"]["source"] == p.name and doc["#meta"]["format"] == "ITF"
        states = trace.states
        assert states[0].values["step"] == 0 and states[0].values["call"] == ""
        assert len(states) == len(record["trace"]) + 1 or states[-1].values["oops"]
        for i, (s, e) in enumerate(zip(states[1:], record["trace"]), 1):
            assert s.values["step"] == i and s.values["call"] == e["call"]
            assert list(s.values["args"]) == e["args"]
            assert len(s.values["pages"]) == Kconfig.make(**record["config"]).mem_pages
        last = states[-1].values
        assert isinstance(last["pages"][0].flags, frozenset)
        if not last["oops"]:
            assert any(v.startswith(record["invariant"] + ": ") for v in last["violations"])


def test_itf_states_follow_a_vmalloc(tmp_path):
    """Expect: the ITF states say what the call did, in the model's words.

        before  ................  vmalloc (empty)
        vmalloc(4096)
        after   one page allocated, mapped at VMALLOC_START +0, held by the ledger
    """
    cfg = Kconfig.make(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)
    t = TARGETS["base"]
    v = Violation("made_up", "a trace to draw", [{"call": "vmalloc", "args": [4096],
                                                  "ret": None}], cfg, engine="explore")
    write_outputs(tmp_path, "base", [v], t.symbols, t.api)
    doc = json.loads((tmp_path / "base-1.itf.json").read_text())
    s0, s1 = (s.values for s in itf_py.trace_from_json(doc).states)
    assert s0["vm_areas"] == [] and len(s0["ledger"]) == 0
    (area,) = s1["vm_areas"]
    (pfn,) = area.pages.values()
    assert area.size == 2 * 4096 and area.offset == 0
    assert s1["pages"][pfn].state == "vmalloc" and not s1["pages"][pfn].free
    (alloc,) = s1["ledger"].values()
    assert alloc.kind == "vmalloc" and alloc.handle == area.addr
    assert s1["ret"].ret == area.addr
    assert s0["pages"][pfn].free and s0["pages"][pfn].owners == []
    assert s1["pages"][pfn].owners == [f"vm area {area.addr:#x}"]


# --- index.html ----------------------------------------------------------------------------------

class _Page(html.parser.HTMLParser):
    VOID = {"meta", "br", "img", "hr", "input", "link"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.sections, self.errors = [], [], []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("class") == "counterexample":
            self.sections.append({"stem": a["data-stem"], "svg": 0, "replay": ""})
        if tag == "svg" and self.sections and "section" in self.stack:
            self.sections[-1]["svg"] += 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        pass                                    # <rect .../> inside SVG

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1] == "pre" and self.sections:
            self.sections[-1]["replay"] += data


def read_page(text) -> _Page:
    p = _Page()
    p.feed(text)
    p.close()
    return p


def test_index_lists_every_counterexample_with_svg_and_replay(v3):
    text = (v3["out"] / "index.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    page = read_page(text)
    assert page.errors == [] and page.stack == []
    stems = sorted(p.stem for p in trace_files(v3["out"]))
    assert sorted(s["stem"] for s in page.sections) == stems
    for s in page.sections:
        assert s["svg"] == 1
        assert s["replay"] == f"vcpcheck replay {s['stem']}.json"
    assert text.count('id="vcp-hatch-') == len(stems)   # ids unique on the page


def test_index_escapes_what_it_shows(tmp_path):
    cfg = Kconfig.make(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)
    t = TARGETS["base"]
    v = Violation("no_<leak>", 'a "<script>alert(1)</script>" & more',
                  [{"call": "vmalloc", "args": [4096], "ret": None}], cfg,
                  engine="explore", strength="<b>exhaustive</b>")
    write_outputs(tmp_path, "base", [v], t.symbols, t.api)
    result = {"target": "base", "verdict": "fail", "violations": [v],
              "stats": {"strength": "x < y"}}
    text = index_html([result], [t], tmp_path)
    assert "<script>" not in text and "<b>" not in text
    page = read_page(text)
    assert page.errors == [] and len(page.sections) == 1
    shown = "".join(page.text)
    assert 'a "<script>alert(1)</script>" & more' in shown
    assert "no_<leak>" in shown and "<b>exhaustive</b>" in shown


@pytest.mark.slow
def test_index_renders_in_headless_chromium(v3, tmp_path):
    """Renders DIR/index.html in headless Chromium and checks the screenshot
    is a PNG that is not one flat colour.  Skipped where /usr/bin/chromium
    is not installed: CI does not install it, which is fine for a slow test
    (the default suite checks the page's structure with html.parser)."""
    chromium = "/usr/bin/chromium"
    if not os.access(chromium, os.X_OK):
        pytest.skip("chromium is not installed")
    png = tmp_path / "index.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                    "--window-size=1200,2000",
                    (v3["out"] / "index.html").resolve().as_uri()],
                   check=True, timeout=120, capture_output=True)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert len(set(_png_pixels(data))) > 10


def _png_pixels(data: bytes):
    """The raw scanline bytes of a PNG (enough to tell a blank image)."""
    import struct
    import zlib
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    return [raw[i:i + 3] for i in range(0, len(raw) - 3, 97)]


# --- files and Ctrl-C ---------------------------------------------------------------------------

def leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder)
            if n.startswith(atomic.TMP_PREFIX) or n.endswith(".tmp")]


def test_write_atomic_replaces_whole_and_keeps_the_mode(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    atomic.write_atomic(path, "new text")
    assert path.read_text() == "new text" and leftovers(tmp_path) == []
    assert path.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK
    atomic.write_atomic(str(path), b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_write_atomic_interrupted_leaves_the_old_file(tmp_path, monkeypatch, where):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def interrupt(*_a):
        raise KeyboardInterrupt
    monkeypatch.setattr(atomic.os, where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomic(path, "new")
    monkeypatch.undo()
    assert path.read_text() == "old" and leftovers(tmp_path) == []


def test_ctrl_c_while_writing_outputs_leaves_no_partial_file(tmp_path, monkeypatch):
    calls = []
    real = atomic.os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 7:
            raise KeyboardInterrupt
        real(fd)
    monkeypatch.setattr(atomic.os, "fsync", fsync)
    out = tmp_path / "out"
    rc, _o, err = run_cli("check", "v3", "--engine", "explore", "--depth", "1",
                          "--jobs", "1", "--out", str(out))
    assert (rc, err) == (130, "vcpcheck: interrupted\n")
    assert leftovers(out) == [] and os.listdir(out)
    for p in out.glob("*.json"):
        json.loads(p.read_text())                   # whole, not cut


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_during_check_exits_130_in_one_line(tmp_path, jobs):
    """A SIGINT to the process group (a terminal's Ctrl-C) while the
    stateful engine runs, in one process or with --jobs workers: one line,
    exit status 130, no traceback from the parent or a worker, nothing
    left in --out."""
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from vcpcheck.checks.cli import main; "
         "sys.exit(main())", "check", "v3", "--engine", "stateful", "--examples",
         "1000000", "--jobs", jobs, "--out", str(out), "--junit", str(out / "j.xml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGINT)          # as a terminal's Ctrl-C does
    try:
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err == "vcpcheck: interrupted\n"
    assert leftovers(out) == [] and glob.glob(str(out / "*")) == []


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["--format", "tap"], "--format 'tap': choose text or ktap"),
    (["--format", "ktap", "--json"], "choose one"),
    (["--junit", "/nonexistent-dir/j.xml"], "no such directory"),
    (["--junit", "."], "is a directory"),
])
def test_bad_format_options_are_one_line_exit_2(argv, words):
    rc, out, err = run_cli("check", "v3", "--engine", "explore", "--depth", "1", *argv)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("vcpcheck: error: ") and words in err


def test_junit_path_under_a_file_is_refused_before_the_check(tmp_path):
    (tmp_path / "file").write_text("")
    rc, out, err = run_cli("check", "v3", "--engine", "explore", "--junit",
                           str(tmp_path / "file" / "j.xml"))
    assert (rc, out) == (2, "") and "no such directory" in err


def test_junit_write_failure_is_one_line_exit_2(tmp_path, monkeypatch):
    def refuse(path, data):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(atomic, "write_atomic", refuse)
    rc, out, err = run_cli("check", "v3", "--engine", "explore", "--depth", "1",
                           "--jobs", "1", "--junit", str(tmp_path / "j.xml"))
    # the violations were printed as they were found; the summary was not
    assert rc == 2 and "v3: FAIL" not in out
    assert err == f"vcpcheck: error: --junit {tmp_path / 'j.xml'}: Permission denied\n"


@pytest.mark.slow
def test_every_engine_in_every_format(tmp_path):
    """All three engines on v3 (a few examples, depth 1): the JSON matches
    the schema, JUnit and KTAP hold a result for every configuration and
    engine, and they agree with the runs rows."""
    j = tmp_path / "j.xml"
    argv = ["check", "v3", "--engine", "all", "--depth", "1", "--examples", "20",
            "--rounds", "1", "--junit", str(j)]
    rc, out, _err = run_cli(*argv, "--json")
    assert rc == 1
    doc = json.loads(out)
    validator("check.schema.json").validate(doc)
    rows = doc["targets"][0]["stats"]["runs"]
    assert len(rows) == 3 * V3_CONFIGS
    cases = list(next(iter(JUnitXml.fromfile(str(j)))))
    assert [c.name for c in cases] == [f"[{r['config']}] {r['engine']}" for r in rows]
    for c, r in zip(cases, rows):
        want = {"fail": [Failure], "incomplete": [Error], "unbuildable": [Skipped],
                "pass": []}[r["outcome"]]
        assert [type(x) for x in c.result] == want
    rc, out, _err = run_cli(*argv, "--format", "ktap")
    v3 = parse_ktap(out).subtests[0]
    engines = [(c.name[1:-1], e.name, e.ok) for c in v3.subtests for e in c.subtests]
    assert engines == [(r["config"], r["engine"], r["outcome"] == "pass") for r in rows
                       if r["outcome"] != "unbuildable"]
