"""A small strict KTAP version 1 parser for the tests (written from the
specification, Documentation/dev-tools/ktap.rst, not from any parser).

What it holds output to:
  * a test (the whole document, or a subtest) opens with a version line
    "KTAP version 1" at its indentation, optionally a "# Subtest: NAME"
    header, then a plan "1..N";
  * subtests are indented four spaces deeper than their parent's lines,
    and each ends with its result line at the parent's indentation;
  * result lines are "ok|not ok NUMBER DESCRIPTION[ # DIRECTIVE[ TEXT]]",
    numbered from 1 up by one, as many as the plan says; a description
    holds no '#'; a subtest's result line names it as its header did;
  * diagnostic lines "# ..." may stand before any result line; any other
    line is an error here (the spec allows "unknown lines"; we write none).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

RESULT = re.compile(r"^(ok|not ok) ([0-9]+)(?: ([^#]*?))?"
                    r"(?: # (SKIP|TODO|XFAIL|TIMEOUT|ERROR)(?: (.*))?)?$")
PLAN = re.compile(r"^1\.\.([0-9]+)$")
STEP = "    "


class KtapError(Exception):
    pass


@dataclass
class Test:
    name: str
    ok: bool = True
    number: int = 0
    directive: str | None = None
    reason: str | None = None
    diagnostics: list = field(default_factory=list)
    subtests: list = field(default_factory=list)


def parse(text: str) -> Test:
    """The document as a Test whose subtests are the top-level tests."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    top, pos = _parse_test(lines, 0, "")
    if pos != len(lines):
        raise KtapError(f"line {pos + 1}: text after the last test: {lines[pos]!r}")
    return top


def _expect(lines, pos, what):
    if pos >= len(lines):
        raise KtapError(f"end of output where {what} was expected")
    return lines[pos]


def _parse_test(lines, pos, ind) -> tuple[Test, int]:
    if _expect(lines, pos, "a version line") != f"{ind}KTAP version 1":
        raise KtapError(f"line {pos + 1}: expected {ind!r}KTAP version 1, got "
                        f"{lines[pos]!r}")
    pos += 1
    test = Test(name="")
    line = _expect(lines, pos, "a plan")
    if line.startswith(f"{ind}# Subtest: "):
        test.name = line[len(f"{ind}# Subtest: "):]
        pos += 1
    line = _expect(lines, pos, "a plan")
    m = PLAN.match(line[len(ind):]) if line.startswith(ind) else None
    if not m or line[len(ind):len(ind) + 1] == " ":
        raise KtapError(f"line {pos + 1}: expected a plan 1..N at {ind!r}, got {line!r}")
    planned = int(m.group(1))
    pos += 1
    for n in range(1, planned + 1):
        sub = Test(name="")
        diags = []
        while True:
            line = _expect(lines, pos, f"test {n}'s result line")
            if line.startswith(f"{ind}# "):
                diags.append(line[len(ind) + 2:])
                pos += 1
            elif line.startswith(f"{ind}{STEP}KTAP version 1"):
                if sub.subtests:
                    raise KtapError(f"line {pos + 1}: test {n} has two subtest blocks")
                nested, pos = _parse_test(lines, pos, ind + STEP)
                sub.name, sub.subtests = nested.name, nested.subtests
                sub.diagnostics += nested.diagnostics
            else:
                break
        m = RESULT.match(line[len(ind):]) if line.startswith(ind) else None
        if not m or line[len(ind):len(ind) + 1] == " ":
            raise KtapError(f"line {pos + 1}: expected result line {n} at {ind!r}, "
                            f"got {line!r}")
        if int(m.group(2)) != n:
            raise KtapError(f"line {pos + 1}: test numbered {m.group(2)}, expected {n}")
        desc = (m.group(3) or "").strip()
        if sub.subtests and sub.name and desc != sub.name:
            raise KtapError(f"line {pos + 1}: result {desc!r} closes subtest {sub.name!r}")
        sub.name, sub.number, sub.ok = desc, n, m.group(1) == "ok"
        sub.directive, sub.reason = m.group(4), m.group(5)
        sub.diagnostics = diags + sub.diagnostics
        test.subtests.append(sub)
        pos += 1
    # Diagnostics after the last result belong to the enclosing test.
    while pos < len(lines) and lines[pos].startswith(f"{ind}# ") and ind:
        test.diagnostics.append(lines[pos][len(ind) + 2:])
        pos += 1
    return test, pos
