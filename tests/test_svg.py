"""The SVG trace pictures (checks/svg.py) and the shared page classification
(checks/picture.py): the text page map is unchanged by the refactor, and
the SVG draws exactly what the text map says."""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest

from vcpcheck.checks.harness import Harness
from vcpcheck.checks.picture import (LEGEND, STATES, page_map, page_states,
                                     picture, vmalloc_map)
from vcpcheck.checks.svg import COLOURS, trace_svg, write_svg
from vcpcheck.checks.targets import TARGETS
from vcpcheck.impl.gfp import GFP_KERNEL, __GFP_COMP
from vcpcheck.impl.kconfig import Kconfig

from test_invariants import busy_harness

HERE = os.path.dirname(__file__)
NS = "{http://www.w3.org/2000/svg}"
SMALL = dict(mem_pages=16, FORCE_MAX_ZONEORDER=3, vmalloc_pages=64)
VMALLOC_ONE = [{"call": "vmalloc", "args": [4096], "ret": None}]


def pin(target, index):
    """A fixed counterexample trace (frozen copies, so regenerating the pins
    in tests/counterexamples/ does not move these tests)."""
    with open(os.path.join(HERE, "svg_traces.json")) as f:
        return json.load(f)[f"{target}-{index}"]


def pin_svg(p, title=""):
    cfg = Kconfig.make(**p["config"])
    t = TARGETS[p["target"]]
    return trace_svg(p["trace"], cfg, t.symbols(cfg), t.api, title=title)


def rows(root):
    return [g for g in root.iter(NS + "g") if "row" in g.get("class", "").split()]


def pfn_rects(row):
    return [r for r in row.iter(NS + "rect") if "pfn" in r.get("class", "").split()]


def vm_pages(row):
    return [r for r in row.iter(NS + "rect") if "vm-page" in r.get("class", "").split()]


def row_map(row) -> str:
    rects = sorted(pfn_rects(row), key=lambda r: int(r.get("data-pfn")))
    return "".join(r.get("data-state") for r in rects)


def texts(el) -> str:
    return " ".join(t.text or "" for t in el.iter(NS + "text"))


# --- the text map, pinned before the refactor ------------------------------------

def hand_pictures():
    """Every state character the text map can draw but k: pinned, freed
    behind the ledger's back (!), leaked (?), reserved, vmalloc, page table."""
    h = Harness(Kconfig.make(**SMALL))
    out = [picture(h.k, h.ledger)]
    h.kmalloc(4096, GFP_KERNEL)
    out.append(picture(h.k, h.ledger))
    h.kmalloc(64, GFP_KERNEL)
    out.append(picture(h.k, h.ledger))
    p = h.pin(15)
    out.append(picture(h.k, h.ledger))
    h.k.call("__free_page", p)
    out.append(picture(h.k, h.ledger))
    h.k.alloc_pages(GFP_KERNEL, 0)
    out.append(picture(h.k, h.ledger))
    r = h.k.alloc_pages(GFP_KERNEL, 0)
    h.k.flags[r] |= 1 << h.k.PG_reserved
    out.append(picture(h.k, h.ledger))
    h.vmalloc(3 * 4096)
    out.append(picture(h.k, h.ledger))
    return h, out


def test_text_pictures_unchanged_on_a_hand_made_state():
    _h, got = hand_pictures()
    assert got == [
        "................  vmalloc (empty)",
        "................  vmalloc (empty)",
        "................  vmalloc (empty)",
        "...............p  vmalloc (empty)",
        "...............!  vmalloc (empty)",
        "............?..!  vmalloc (empty)",
        "............?R.!  vmalloc (empty)",
        "........vttt?Rvp  vmalloc [+0: 14 15 8 |g]",
    ]


def test_text_pictures_unchanged_on_the_busy_state():
    h = busy_harness()
    assert page_map(h.k, h.ledger) == "................HT.pvtttavaaHTTT"
    assert vmalloc_map(h.k) == "[+0: 25 20 |g] [+3: 24 |g]"


@pytest.mark.parametrize("target,index,want", [
    ("v3", 19, ["................  vmalloc (empty)",
                "........t...TTtt  vmalloc [+0: 12 13 |g]",
                "........ta..TTtt  vmalloc [+0: 12 13 |g]",
                "........taa.TTtt  vmalloc [+0: 12 13 |g]",
                "....T...taaTTTtt  vmalloc [+0: 12 13 |g] [+3: 11 4 |g]"]),
    ("v5", 16, ["................  vmalloc (empty)",
                "p...............  vmalloc (empty)",
                "pa..............  vmalloc (empty)",
                "paa.............  vmalloc (empty)",
                "paaH....tt..TTTt  vmalloc [+0: 3 12 13 14 |g]"]),
    ("v5", 7, ["................  vmalloc (empty)",
               "................  vmalloc (empty)",
               "................  vmalloc [+0: - - |g]"]),
])
def test_text_pictures_unchanged_on_pinned_counterexamples(target, index, want):
    p = pin(target, index)
    cfg = Kconfig.make(**p["config"])
    t = TARGETS[p["target"]]
    h = Harness(cfg, t.symbols(cfg), api=t.api)
    got = [picture(h.k, h.ledger)]
    for e in p["trace"]:
        h.replay([e])
        got.append(picture(h.k, h.ledger))
    assert got == want


def test_page_map_joins_page_states():
    h, _ = hand_pictures()
    states = page_states(h.k, h.ledger)
    assert len(states) == h.k.nr_pages
    assert all(ch in STATES for ch in states)
    assert "".join(states) == page_map(h.k, h.ledger)
    assert LEGEND.startswith(". free  H head")


# --- the SVG -----------------------------------------------------------------------

def test_svg_of_one_vmalloc_links_its_page_to_the_v_pfn():
    cfg = Kconfig.make(**SMALL)
    root = ET.fromstring(trace_svg(VMALLOC_ONE, cfg, title="one vmalloc"))
    assert root.tag == NS + "svg"
    r0, r1 = rows(root)
    assert row_map(r0) == "." * 16
    assert vm_pages(r0) == []
    assert "initial state" in texts(r0)

    assert row_map(r1) == "............vttt"      # as the text map draws it
    v = row_map(r1).index("v")
    pages = vm_pages(r1)
    assert [int(r.get("data-pfn")) for r in pages] == [v]
    assert len([r for r in r1.iter(NS + "rect")
                if r.get("class") == "vm-guard"]) == 1
    assert "vmalloc(4096) -> 0xffffc20000000000" in texts(r1)
    assert pages[0].get("fill") == COLOURS["v"][0]
    # the link runs from the vmalloc box to the middle of pfn v's box
    (link,) = [ln for ln in r1.iter(NS + "line") if ln.get("class") == "vm-link"]
    box = next(r for r in pfn_rects(r1) if int(r.get("data-pfn")) == v)
    assert int(link.get("data-pfn")) == v
    mid = float(box.get("x")) + float(box.get("width")) / 2
    assert float(link.get("x2")) == pytest.approx(mid)
    assert float(link.get("y2")) == pytest.approx(float(box.get("y"))
                                                  + float(box.get("height")))
    vm_mid = float(pages[0].get("x")) + float(pages[0].get("width")) / 2
    assert float(link.get("x1")) == pytest.approx(vm_mid)


def test_svg_colours_follow_the_states():
    cfg = Kconfig.make(**SMALL)
    root = ET.fromstring(trace_svg(VMALLOC_ONE, cfg))
    for row in rows(root):
        for r in pfn_rects(row):
            fill, _ink, name = COLOURS[r.get("data-state")]
            assert r.get("fill") == fill
            assert name in r.get("class").split()
    fills = {ch: COLOURS[ch][0] for ch in "vt."}
    assert len(set(fills.values())) == 3


def test_legend_once_with_every_state():
    root = ET.fromstring(trace_svg(VMALLOC_ONE, Kconfig.make(**SMALL)))
    legends = [g for g in root.iter(NS + "g") if g.get("class") == "legend"]
    assert len(legends) == 1
    legend_text = texts(legends[0])
    for ch, name in STATES.items():
        assert f"{ch} {name}" in legend_text
    assert "guard page" in legend_text
    assert set(COLOURS) == set(STATES)
    assert len({fill for fill, _, _ in COLOURS.values()}) == len(COLOURS)


def test_one_row_per_step_and_one_rect_per_pfn():
    p = pin("v3", 19)
    root = ET.fromstring(pin_svg(p, title="v3 <19> & co"))
    rs = rows(root)
    assert len(rs) == len(p["trace"]) + 1
    assert [int(r.get("data-step")) for r in rs] == list(range(len(rs)))
    assert [row_map(r) for r in rs] == ["................", "........t...TTtt",
                                        "........ta..TTtt", "........taa.TTtt",
                                        "....T...taaTTTtt"]
    for r in rs:
        assert len(pfn_rects(r)) == 16
        assert sorted(int(x.get("data-pfn")) for x in pfn_rects(r)) == list(range(16))
    # the last step's two areas: [12 13 |g] [11 4 |g]
    assert [int(x.get("data-pfn")) for x in vm_pages(rs[-1])] == [12, 13, 11, 4]
    assert "alloc_vcompound(GFP_KERNEL, 1) -> 11" in texts(rs[-1])
    assert "v3 <19> &amp; co" not in texts(root)            # escaped once only
    assert "v3 <19> & co" in texts(root)


def test_kernel_oops_ends_the_picture_with_an_oops_row():
    p = pin("v3", 12)                    # oopses at its third step
    root = ET.fromstring(pin_svg(p))
    rs = rows(root)
    assert len(rs) == 4
    assert ["oops" in r.get("class").split() for r in rs] == [False] * 3 + [True]
    assert "oops" in texts(rs[-1])
    assert "mm/highmem.c" in texts(rs[-1])
    assert all(len(pfn_rects(r)) == 16 for r in rs)


def test_a_step_that_raises_ends_the_picture_with_an_oops_row():
    trace = VMALLOC_ONE + [{"call": "vfree", "args": [12345], "ret": None},
                           {"call": "vmalloc", "args": [4096], "ret": None}]
    root = ET.fromstring(trace_svg(trace, Kconfig.make(**SMALL)))
    rs = rows(root)
    assert len(rs) == 3
    assert "oops" in rs[-1].get("class").split()
    assert "oops" in texts(rs[-1]) and "HarnessError" in texts(rs[-1])
    assert "oops" not in rs[1].get("class").split()


def test_64_pfns_and_20_steps_stay_readable():
    cfg = Kconfig.make(mem_pages=64, FORCE_MAX_ZONEORDER=4, vmalloc_pages=128)
    h = Harness(cfg)
    for _ in range(3):
        h.alloc_pages(GFP_KERNEL | __GFP_COMP, 2)
    for n in range(1, 10):
        h.vmalloc(n * 4096)
    while len(h.trace) < 20:
        h.alloc_pages(GFP_KERNEL, 0)
    svg = trace_svg(h.trace, cfg)
    root = ET.fromstring(svg)
    rs = rows(root)
    assert len(rs) == 21
    assert all(len(pfn_rects(r)) == 64 for r in rs)
    h2 = Harness(cfg).replay(h.trace)
    assert row_map(rs[-1]) == page_map(h2.k, h2.ledger)
    assert sum(1 for _ in vm_pages(rs[-1])) == sum(range(1, 10))
    assert float(root.get("width")) <= 1200
    box = pfn_rects(rs[0])[0]
    assert float(box.get("width")) >= 12


def test_write_svg_is_atomic(tmp_path):
    svg = trace_svg(VMALLOC_ONE, Kconfig.make(**SMALL))
    path = tmp_path / "trace.svg"
    path.write_text("old")
    write_svg(path, svg)
    assert path.read_text(encoding="utf-8") == svg
    assert not (tmp_path / "trace.svg.tmp").exists()
    write_svg(str(path), "<svg/>")
    assert path.read_text() == "<svg/>"
    assert os.listdir(tmp_path) == ["trace.svg"]
