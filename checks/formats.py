"""Results in the formats CI and kernel developers read: JUnit XML and KTAP.

Both are written from the per-run rows run_rows() adds to a check result
(``stats["runs"]``): one row per configuration x engine, including the
configurations the target does not build under.

JUnit (``--junit FILE``): a <testsuite> per target, a <testcase> per row,
classname the target and name "[configuration] engine".
  * a violation is a <failure>: the invariant, the message and the trace as
    replayable calls (report.trace_lines), for each violation of the run;
  * an incomplete run (the budget cut it, z3 left a query unknown, nothing
    was explored) is an <error>: it is not a pass, and a skip would read as
    one to most CI dashboards;
  * an unbuildable configuration is <skipped>: the configuration does not
    exist for that patch (the posted code does not compile there), so there
    is nothing to check, and the message says so.  It is the one skip.  A
    target none of whose configurations builds gets one more testcase,
    "[no buildable configuration]", an <error>: its verdict is error, and
    a suite of skips alone would read as a pass.
No timestamp, hostname or time attribute (all optional in JUnit): the same
results give the same bytes.

KTAP (``--format ktap``, version 1, Documentation/dev-tools/ktap.rst): a
top-level test per target, a subtest per configuration, and in it one per
engine.  A violation is "not ok" with the invariant, message and trace as
"# " diagnostic lines before it; an incomplete run is "not ok ... # ERROR";
an unbuildable configuration is "ok N [config] # SKIP" (the only SKIP);
a target none of whose configurations builds ends with one more subtest,
"not ok N [no buildable configuration] # ERROR".
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from vcpcheck.impl.kconfig import Kconfig

from . import report

OUTCOMES = ("fail", "pass", "incomplete", "unbuildable")

# A target none of whose configurations builds has the verdict "error":
# its rows are all skips, which a dashboard would show as green, so both
# formats add one error of their own for it.
NOTHING_BUILT = "[no buildable configuration]"


def _nothing_built(r) -> str | None:
    """Why a target's result is an error of its own, or None."""
    if r["verdict"] != "error":
        return None
    return (f"no configuration of {r['target']} builds: nothing was checked "
            f"(verdict error, never a pass)")


# --- the rows --------------------------------------------------------------------------------

def _figures(engine, res) -> dict:
    """What one engine's run covered (0 where it never started)."""
    if engine == "stateful":
        return {"examples": res.examples if res else 0,
                "steps": res.steps if res else 0}
    if engine == "explore":
        return {"states": res.states if res else 0,
                "transitions": res.transitions if res else 0,
                "depth": res.depth if res else 0}
    counts = res.counts() if res else {"proved": 0, "refuted": 0, "unknown": 0}
    return {"states": res.states if res else 0, **counts}


def _row_strength(engine, fig, res=None, ran=True) -> str:
    """The run's strength; "not run" for a buildable configuration the
    engine never started (``ran`` and no result), and an explore search the
    budget cut is partial, never exhaustive."""
    if ran and res is None:
        return "not run"
    if engine == "stateful":
        return f"sampled: {fig['examples']} examples, {fig['steps']} steps"
    if engine == "explore":
        kind = "partial" if res is not None and not res.complete else "exhaustive"
        return (f"{kind} to depth {fig['depth']}: {fig['states']} states, "
                f"{fig['transitions']} transitions")
    return (f"decided by z3 on {fig['states']} states: {fig['proved']} proved, "
            f"{fig['refuted']} refuted, {fig['unknown']} unknown")


def _incomplete_reason(engine, res, cut) -> str | None:
    """Why a run without a violation is not a pass, or None if it is one."""
    if res is None:
        return ("the budget ran out before it started" if cut else
                "not run: the check stopped at the first violation (--fail-fast)")
    reasons = []
    if cut and engine != "smt":
        n, what = ((res.examples, "example") if engine == "stateful"
                   else (res.states, "state"))
        reasons.append(f"the budget ran out after {n} {what}{'s' if n != 1 else ''}")
    if engine == "smt":
        if getattr(res, "cut", False):
            reasons.append("the budget ran out before every query was decided")
        if res.unknown:
            n = len(res.unknown)
            more = f" (and {n - 1} more)" if n > 1 else ""
            reasons.append(f"z3 left {n} quer{'ies' if n > 1 else 'y'} unknown: "
                           f"{res.unknown[0]}{more}")
    if not reasons and not res.complete:
        reasons.append("the engine did not finish")
    explored = res.examples if engine == "stateful" else res.states
    if not explored:
        reasons.append("nothing was explored")
    return "; ".join(reasons) or None


def run_rows(configs, runnable, unbuildable, engines, runs) -> list[dict]:
    """One row per configuration x engine, in configuration then engine
    order: {config, options, engine, outcome, reason, strength, seconds,
    figures..., violations}.

    ``runs`` is check_target's {(index in runnable, engine): (result, cut)};
    ``unbuildable`` its [{config, reason}] in ``configs`` order.  The
    outcome is fail (the run found violations, listed as report.violation_json
    dicts), pass, incomplete (``reason`` says why: never a pass), or
    unbuildable (``reason`` is the build's).  ``options`` is the
    configuration as Kconfig.make keywords, to replay the traces.
    """
    why = iter(unbuildable)
    index = {id(c): i for i, c in enumerate(runnable)}
    rows = []
    for cfg in configs:
        i = index.get(id(cfg))
        skip = next(why)["reason"] if i is None else None
        for e in engines:
            res, cut = runs.get((i, e), (None, False)) if i is not None else (None, False)
            fig = _figures(e, res)
            row = {"config": cfg.short(), "options": cfg.as_dict(), "engine": e,
                   "outcome": "unbuildable", "reason": skip,
                   "strength": _row_strength(e, fig, res, ran=i is not None),
                   "seconds": round(res.seconds, 2) if res else 0.0,
                   **fig, "violations": []}
            if i is not None:
                row["violations"] = [report.violation_json(v)
                                     for v in (res.violations if res else [])]
                row["reason"] = _incomplete_reason(e, res, cut)
                row["outcome"] = ("fail" if row["violations"] else
                                  "incomplete" if row["reason"] else "pass")
            rows.append(row)
    return rows


# --- the text of a failure -------------------------------------------------------------------

def failure_lines(row: dict, target) -> list[str]:
    """A failed row's violations as lines, as the text report prints them:
    each violation that one trace shows, then the engine, its strength and
    the trace as replayable calls with the page map after each."""
    groups: dict = {}
    for v in row["violations"]:
        groups.setdefault(json.dumps(v["trace"]), []).append(v)
    cfg = Kconfig.make(**row["options"])
    lines = []
    for vs in groups.values():
        lines += [f"violation: {v['invariant']} [{v['config']}] {v['message']}"
                  for v in vs]
        trace = vs[0]["trace"]
        lines.append(f"engine {vs[0]['engine']}, {vs[0]['strength']}; trace of "
                     f"{len(trace)} calls:")
        lines += report.trace_lines(trace, cfg, target.symbols(cfg), target.api)
    return lines


# --- JUnit -----------------------------------------------------------------------------------

def _xml_text(s: str) -> str:
    """Drop the characters XML 1.0 cannot hold (escaping is ElementTree's)."""
    return "".join(c for c in s if c in "\t\n\r" or ord(c) >= 0x20)


def junit_xml(results, targets) -> str:
    """JUnit XML for check results (cli.check_target's dicts) of ``targets``
    (the Target objects, in the same order)."""
    root = ET.Element("testsuites", name="vcpcheck")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for r, target in zip(results, targets):
        rows = r["stats"]["runs"]
        counts = {"tests": len(rows),
                  "failures": sum(x["outcome"] == "fail" for x in rows),
                  "errors": sum(x["outcome"] == "incomplete" for x in rows),
                  "skipped": sum(x["outcome"] == "unbuildable" for x in rows)}
        suite = ET.SubElement(root, "testsuite", name=r["target"],
                              **{k: str(n) for k, n in counts.items()})
        props = ET.SubElement(suite, "properties")
        for name, value in (("verdict", r["verdict"]),
                            ("strength", r["stats"]["strength"]),
                            ("engine", r["stats"]["engine"]),
                            ("seed", str(r["stats"]["seed"]))):
            ET.SubElement(props, "property", name=name, value=_xml_text(value))
        for row in rows:
            case = ET.SubElement(suite, "testcase", classname=r["target"],
                                 name=f"[{row['config']}] {row['engine']}")
            _junit_result(case, row, target)
        why = _nothing_built(r)
        if why:
            case = ET.SubElement(suite, "testcase", classname=r["target"],
                                 name=NOTHING_BUILT)
            ET.SubElement(case, "error", type="unbuildable", message=_xml_text(why))
            counts["tests"] += 1
            counts["errors"] += 1
            for k in ("tests", "errors"):
                suite.set(k, str(counts[k]))
        for k in totals:
            totals[k] += counts[k]
    for k, n in totals.items():
        root.set(k, str(n))
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def _junit_result(case, row, target) -> None:
    if row["outcome"] == "fail":
        vs = row["violations"]
        more = f" (and {len(vs) - 1} more)" if len(vs) > 1 else ""
        el = ET.SubElement(case, "failure", type=vs[0]["invariant"],
                           message=_xml_text(f"{vs[0]['invariant']}: "
                                             f"{vs[0]['message']}{more}"))
        el.text = _xml_text("\n".join(failure_lines(row, target)) + "\n")
    elif row["outcome"] == "incomplete":
        el = ET.SubElement(case, "error", type="incomplete",
                           message=_xml_text(f"incomplete, not a pass: {row['reason']}"))
        el.text = _xml_text(f"{row['strength']}\n{row['reason']}\n")
    elif row["outcome"] == "unbuildable":
        ET.SubElement(case, "skipped", message=_xml_text(
            f"unbuildable: the configuration does not exist for this patch "
            f"(the posted code does not build under it): {row['reason']}"))
    ET.SubElement(case, "system-out").text = _xml_text(row["strength"])


# --- KTAP ------------------------------------------------------------------------------------

def _desc(text: str) -> str:
    """A KTAP description may hold any character but '#' and a newline."""
    return text.replace("#", "no.").replace("\n", " ")


def _diag(indent: str, text: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in text.splitlines() or [""]]


def ktap(results, targets) -> str:
    """KTAP version 1 for check results (see the module docstring)."""
    out = ["KTAP version 1", f"1..{len(results)}"]
    for n, (r, target) in enumerate(zip(results, targets), 1):
        by_cfg: dict = {}
        for row in r["stats"]["runs"]:
            by_cfg.setdefault(row["config"], []).append(row)
        ind = " " * 4
        why = _nothing_built(r)
        out += [f"{ind}KTAP version 1", f"{ind}# Subtest: {_desc(r['target'])}",
                f"{ind}1..{len(by_cfg) + bool(why)}"]
        for m, (short, rows) in enumerate(by_cfg.items(), 1):
            name = _desc(f"[{short}]")
            if rows[0]["outcome"] == "unbuildable":
                out.append(f"{ind}ok {m} {name} # SKIP unbuildable: the "
                           f"configuration does not exist for this patch: "
                           f"{_desc(rows[0]['reason'])}")
                continue
            out += _ktap_config(ind * 2, name, rows, target)
            failed = any(x["outcome"] != "pass" for x in rows)
            out.append(f"{ind}{'not ok' if failed else 'ok'} {m} {name}")
        if why:
            out.append(f"{ind}not ok {len(by_cfg) + 1} {NOTHING_BUILT} # ERROR {_desc(why)}")
        out += _diag("", f"{r['target']}: {r['verdict'].upper()} "
                         f"({r['stats']['strength']})")
        out.append(f"{'ok' if r['verdict'] == 'pass' else 'not ok'} {n} "
                   f"{_desc(r['target'])}")
    return "\n".join(out) + "\n"


def _ktap_config(ind, name, rows, target) -> list[str]:
    out = [f"{ind}KTAP version 1", f"{ind}# Subtest: {name}", f"{ind}1..{len(rows)}"]
    for k, row in enumerate(rows, 1):
        out += _diag(ind, row["strength"])
        if row["outcome"] == "fail":
            out += _diag(ind, "\n".join(failure_lines(row, target)))
            out.append(f"{ind}not ok {k} {row['engine']}")
        elif row["outcome"] == "incomplete":
            out.append(f"{ind}not ok {k} {row['engine']} # ERROR incomplete, not a "
                       f"pass: {_desc(row['reason'])}")
        else:
            out.append(f"{ind}ok {k} {row['engine']}")
    return out


# --- the command line ------------------------------------------------------------------------

FORMATS = ("text", "ktap")


def check_format_options(args) -> None:
    """Refuse --format/--junit values before anything runs (UsageError:
    one line, exit status 2), so a long check never ends unwritable."""
    import os

    from .cli import UsageError
    if args.format not in FORMATS:
        raise UsageError(f"--format {args.format!r}: choose text or ktap")
    if args.format == "ktap" and args.json:
        raise UsageError("--format ktap and --json both print the results on "
                         "stdout: choose one")
    if args.junit:
        folder = os.path.dirname(os.path.abspath(args.junit))
        if os.path.isdir(args.junit):
            raise UsageError(f"--junit {args.junit}: is a directory; name a file")
        if not os.path.isdir(folder):
            raise UsageError(f"--junit {args.junit}: no such directory {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"--junit {args.junit}: directory {folder} is not "
                             f"writable")


def write_formats(args, targets, results) -> bool:
    """After a check: the index (--out), JUnit (--junit), and KTAP on
    stdout (--format ktap).  True if the results were printed."""
    import os

    from .atomic import write_atomic
    from .cli import UsageError
    if args.out:
        from .index import index_html
        write_atomic(os.path.join(args.out, "index.html"), index_html(results, targets, args.out))
    if args.junit:
        try:
            write_atomic(args.junit, junit_xml(results, targets))
        except OSError as e:
            raise UsageError(f"--junit {args.junit}: {e.strerror}")
    if args.format == "ktap":
        print(ktap(results, targets), end="")
        return True
    return False
