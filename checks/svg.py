"""A trace as one standalone SVG picture: physical memory and the vmalloc
window, for the initial state and after every step.

trace_svg() replays the trace on a fresh Harness (as report.trace_lines
does) and draws one row per state.  A row shows the call and its return,
one box per pfn coloured by its state (picture.page_states, the same
classification as the text page map), and the vm areas as strips of boxes
(one per mapped page, labelled with the pfn it maps, then a hatched guard
page) with a thin line from each vmalloc box to the pfn box it maps.  Pfns
whose state the step changed get a bold outline.  If the kernel oopses (or
replaying a step raises) the picture ends with a row saying so.

The SVG is hand-written (no external dependencies); every pfn box carries
``data-pfn`` and ``data-state`` and every vmalloc box ``data-pfn`` so tests
and scripts can read the picture back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from vcpcheck.impl.kconfig import Kconfig

from .atomic import write_atomic
from .harness import Harness
from .picture import STATES, AreaView, page_states, vm_areas
from .report import config_literal, format_args, format_ret

# state character -> (fill, text colour, class name)
COLOURS = {
    ".": ("#ffffff", "#999999", "free"),
    "H": ("#1f5fa8", "#ffffff", "head"),
    "T": ("#8fbce6", "#000000", "tail"),
    "a": ("#3a9e3a", "#ffffff", "allocated"),
    "p": ("#8c564b", "#ffffff", "pinned"),
    "t": ("#ff9f1c", "#000000", "pagetable"),
    "v": ("#7b52ae", "#ffffff", "vmalloc"),
    "k": ("#e6c229", "#000000", "kmalloc"),
    "R": ("#4d4d4d", "#ffffff", "reserved"),
    "?": ("#d62728", "#ffffff", "leaked"),
    "!": ("#e6007e", "#ffffff", "freeheld"),
}
UNKNOWN = ("#cccccc", "#000000", "unknown")
LINK_COLOURS = ("#1b4f8a", "#b5371b", "#2e7d32", "#6a1b9a", "#8d6e00", "#00695c")
GUARD_FILL = "url(#vcp-hatch)"
FONT = "monospace"

# layout (pixels)
LEFT = 78            # label column
RIGHT = 16
TOP_PAD = 10
CALL_H = 20          # the call line
RULER_H = 12         # pfn numbers above the boxes
LINK_GAP = 34        # between the physical row and the vmalloc strip
VM_LABEL_H = 12      # "+offset" under each area
ROW_PAD = 10
CHAR_W = 7.3         # monospace width at 12px, for sizing


@dataclass
class _Row:
    step: int
    text: str
    states: list | None = None
    areas: list = field(default_factory=list)
    oops: str | None = None          # why the picture stops here
    failed: str | None = None        # the state could not be pictured


def _snapshot(h, step, text, oops=None) -> _Row:
    row = _Row(step, text, oops=oops)
    try:
        row.states = page_states(h.k, h.ledger)
        row.areas = vm_areas(h.k)
    except Exception as exc:         # a picture must never hide a trace
        row.states, row.areas = None, []
        row.failed = f"(picture failed: {type(exc).__name__}: {exc})"
    return row


def _oops_reason(h) -> str:
    try:
        bugs = [e for e in h.k.errors() if e.kind == "BUG"]
    except Exception:
        bugs = []
    if bugs:
        return f"oops: {bugs[-1].kind} in {bugs[-1].function}: {bugs[-1].message}"
    return "oops: the kernel oopsed"


def _ret_text(h, mark, e) -> str:
    """What the replayed call returned (the entry it recorded first), and
    what the trace says where that differs."""
    got = h.trace[mark] if len(h.trace) > mark else None
    if got is None or got["call"] != e["call"]:
        return format_ret(e.get("ret"))
    text = format_ret(got["ret"])
    if e.get("ret") is not None and e["ret"] != got["ret"]:
        text += f" (trace says {format_ret(e['ret'])})"
    return text


def replay_rows(trace: list, cfg: Kconfig, symbols=None,
                api=None) -> tuple[list[_Row], int]:
    """The initial state and the state after each step, until an oops;
    and the kernel's nr_pages."""
    h = Harness(cfg, symbols, api=api)
    rows = [_snapshot(h, 0, "initial state")]
    for i, e in enumerate(trace, 1):
        call = f"{e['call']}({format_args(e['call'], e['args'])})"
        mark = len(h.trace)
        try:
            h.replay([e])
        except Exception as exc:
            rows.append(_snapshot(h, i, call,
                                  oops=f"oops: replay raised {type(exc).__name__}: {exc}"))
            break
        text = f"{call} -> {_ret_text(h, mark, e)}"
        if h.dead:
            rows.append(_snapshot(h, i, text, oops=_oops_reason(h)))
            break
        rows.append(_snapshot(h, i, text))
    return rows, h.k.nr_pages


# --- drawing -----------------------------------------------------------------

def _f(x) -> str:
    """A coordinate, compactly."""
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x, y, s, size=12, fill="#000000", anchor="start", weight=None, cls=None):
    extra = f' font-weight="{weight}"' if weight else ""
    extra += f' class="{cls}"' if cls else ""
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-family="{FONT}" font-size="{_f(size)}" '
            f'fill="{fill}" text-anchor="{anchor}"{extra}>{escape(s)}</text>')


class _Geometry:
    def __init__(self, nr_pages: int):
        self.n = nr_pages
        self.cell = max(14, min(28, 960 // max(1, nr_pages)))
        self.box = self.cell - 2
        self.phys_w = nr_pages * self.cell
        # the vmalloc strip wraps at this width
        self.vm_w = max(self.phys_w, 24 * self.cell)
        self.tick = 1 if self.cell >= 22 else (2 if self.cell >= 18 else 4)

    def pfn_x(self, q) -> float:
        return LEFT + q * self.cell

    def vm_layout(self, areas: list[AreaView]):
        """[(area index, slot or 'guard', line, column)], number of lines.

        Areas go left to right with half a cell between them; an area that
        does not fit on the current line starts a new one (a longer one
        wraps where it must)."""
        cols = int(self.vm_w // self.cell)
        out, line, col = [], 0, 0
        for ai, a in enumerate(areas):
            need = len(a.pfns) + 1
            if col and col + need > cols:
                line, col = line + 1, 0
            for slot in list(range(len(a.pfns))) + ["guard"]:
                if col >= cols:
                    line, col = line + 1, 0
                out.append((ai, slot, line, col))
                col += 1
            col += 1                          # gap between areas
        return out, (line + 1 if areas else 0)

    def vm_line_h(self) -> float:
        return self.cell + VM_LABEL_H + 4


def _row_height(g: _Geometry, row: _Row) -> float:
    h = TOP_PAD + CALL_H
    if row.states is None:
        return h + 16 + ROW_PAD
    h += RULER_H + g.cell + LINK_GAP
    _, lines = g.vm_layout(row.areas)
    h += max(1, lines) * g.vm_line_h()
    return h + ROW_PAD


def _draw_row(g: _Geometry, row: _Row, prev: list | None, y: float,
              width: float, shade: bool) -> list[str]:
    cls = "row oops" if row.oops else "row"
    out = [f'<g class="{cls}" id="row-{row.step}" data-step="{row.step}" '
           f'transform="translate(0,{_f(y)})">']
    out.append(f'<rect class="row-bg" x="0" y="0" width="{_f(width)}" '
               f'height="{_f(_row_height(g, row))}" fill="{"#f6f6f6" if shade else "#ffffff"}"/>')
    label = "boot" if row.step == 0 else f"{row.step}."
    out.append(_text(8, TOP_PAD + 12, label, weight="bold"))
    out.append(_text(LEFT, TOP_PAD + 12, row.text, cls="call"))
    if row.oops:
        x = LEFT + (len(row.text) + 2) * CHAR_W
        out.append(_text(x, TOP_PAD + 12, row.oops, fill="#c00000", weight="bold",
                         cls="oops"))
    y0 = TOP_PAD + CALL_H
    if row.states is None:
        out.append(_text(LEFT, y0 + 12, row.failed or "", fill="#c00000"))
        out.append("</g>")
        return out

    # physical memory
    phys_y = y0 + RULER_H
    out.append(_text(8, phys_y + g.cell * 0.7, "pfn", size=11, fill="#555555"))
    for q in range(0, g.n, g.tick):
        out.append(_text(g.pfn_x(q) + g.box / 2, phys_y - 3, str(q), size=8,
                         fill="#777777", anchor="middle"))
    vm_y = phys_y + g.cell + LINK_GAP
    out.append(_text(8, vm_y + g.cell * 0.7, "vmalloc", size=11, fill="#555555"))

    # links first, so the boxes sit on top of them
    layout, _lines = g.vm_layout(row.areas)
    vm_x = lambda col: LEFT + col * g.cell                        # noqa: E731
    vm_top = lambda line: vm_y + line * g.vm_line_h()             # noqa: E731
    for ai, slot, line, col in layout:
        pfn = row.areas[ai].pfns[slot] if slot != "guard" else None
        if pfn is not None and 0 <= pfn < g.n:
            out.append(
                f'<line class="vm-link" data-pfn="{pfn}" x1="{_f(vm_x(col) + g.box / 2)}" '
                f'y1="{_f(vm_top(line))}" x2="{_f(g.pfn_x(pfn) + g.box / 2)}" '
                f'y2="{_f(phys_y + g.box)}" stroke="{LINK_COLOURS[ai % len(LINK_COLOURS)]}" '
                f'stroke-width="1" stroke-opacity="0.7"/>')

    for q, ch in enumerate(row.states):
        fill, ink, name = COLOURS.get(ch, UNKNOWN)
        changed = prev is not None and (q >= len(prev) or prev[q] != ch)
        stroke, sw = ("#000000", 2) if changed else (
            ("#b0b0b0", 1) if ch == "." else ("#ffffff", 0.5))
        tip = f"pfn {q}: {STATES.get(ch, 'unknown')}" + (" (changed)" if changed else "")
        x = g.pfn_x(q)
        out.append(f'<rect class="pfn {name}" data-pfn="{q}" data-state={quoteattr(ch)} '
                   f'x="{_f(x)}" y="{_f(phys_y)}" width="{g.box}" height="{g.box}" '
                   f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}">'
                   f'<title>{escape(tip)}</title></rect>')
        if ch != ".":
            out.append(_text(x + g.box / 2, phys_y + g.box / 2 + 3.5, ch,
                             size=min(11, g.box * 0.7), fill=ink, anchor="middle"))

    # the vmalloc window
    if not row.areas:
        out.append(_text(LEFT, vm_y + g.cell * 0.7, "(no vm areas)", size=11,
                         fill="#999999"))
    labelled = set()
    for ai, slot, line, col in layout:
        a = row.areas[ai]
        x, y1 = vm_x(col), vm_top(line)
        if ai not in labelled:
            labelled.add(ai)
            out.append(_text(x, y1 + g.cell + VM_LABEL_H - 2, f"+{a.offset}", size=9,
                             fill="#555555", cls="vm-label"))
        where = f"vm area {a.addr:#x} (+{a.offset})"
        if slot == "guard":
            out.append(f'<rect class="vm-guard" data-area="{a.addr:#x}" x="{_f(x)}" '
                       f'y="{_f(y1)}" width="{g.box}" height="{g.box}" fill="{GUARD_FILL}" '
                       f'stroke="#888888" stroke-width="0.5">'
                       f'<title>{escape(where)}: guard page</title></rect>')
            continue
        pfn = a.pfns[slot]
        if pfn is None:
            out.append(f'<rect class="vm-page unmapped" data-area="{a.addr:#x}" '
                       f'data-slot="{slot}" x="{_f(x)}" y="{_f(y1)}" width="{g.box}" '
                       f'height="{g.box}" fill="#ffffff" stroke="#888888" '
                       f'stroke-dasharray="2,2"><title>{escape(where)} page {slot}: '
                       f'no PTE</title></rect>')
            out.append(_text(x + g.box / 2, y1 + g.box / 2 + 3, "-", size=9,
                             fill="#888888", anchor="middle"))
            continue
        inside = 0 <= pfn < g.n
        ch = row.states[pfn] if inside else None
        fill, ink, _name = COLOURS.get(ch, UNKNOWN)
        stroke = "#ffffff" if inside else "#c00000"
        out.append(f'<rect class="vm-page" data-area="{a.addr:#x}" data-slot="{slot}" '
                   f'data-pfn="{pfn}" x="{_f(x)}" y="{_f(y1)}" width="{g.box}" '
                   f'height="{g.box}" fill="{fill}" stroke="{stroke}" stroke-width="1">'
                   f'<title>{escape(where)} page {slot} maps pfn {pfn}'
                   f'{"" if inside else " (outside mem_map)"}</title></rect>')
        out.append(_text(x + g.box / 2, y1 + g.box / 2 + 3, str(pfn),
                         size=min(10, g.box * 0.6), fill=ink, anchor="middle"))
    out.append("</g>")
    return out


def _legend(g: _Geometry, width: float, y: float) -> tuple[list[str], float]:
    """The legend, wrapped to width; returns its elements and height."""
    items = [(ch, f"{ch} {name}") for ch, name in STATES.items()]
    items += [("guard", "guard page"), ("unmapped", "- no PTE"),
              ("link", "vmalloc page -> pfn"), ("changed", "changed by the step")]
    out = ['<g class="legend">']
    x, line_h, sw = LEFT, 18, 12
    for key, label in items:
        w = sw + 5 + len(label) * 6.6 + 14
        if x + w > width - RIGHT and x > LEFT:
            x, y = LEFT, y + line_h
        if key in COLOURS:
            fill, _ink, name = COLOURS[key]
            stroke = "#b0b0b0" if key == "." else "#ffffff"
            out.append(f'<rect class="legend-swatch {name}" x="{_f(x)}" y="{_f(y)}" '
                       f'width="{sw}" height="{sw}" fill="{fill}" stroke="{stroke}"/>')
        elif key == "guard":
            out.append(f'<rect class="legend-swatch" x="{_f(x)}" y="{_f(y)}" width="{sw}" '
                       f'height="{sw}" fill="{GUARD_FILL}" stroke="#888888" stroke-width="0.5"/>')
        elif key == "unmapped":
            out.append(f'<rect class="legend-swatch" x="{_f(x)}" y="{_f(y)}" width="{sw}" '
                       f'height="{sw}" fill="#ffffff" stroke="#888888" stroke-dasharray="2,2"/>')
        elif key == "link":
            out.append(f'<line x1="{_f(x)}" y1="{_f(y + sw)}" x2="{_f(x + sw)}" y2="{_f(y)}" '
                       f'stroke="{LINK_COLOURS[0]}" stroke-width="1"/>')
        else:
            out.append(f'<rect class="legend-swatch" x="{_f(x)}" y="{_f(y)}" width="{sw}" '
                       f'height="{sw}" fill="#ffffff" stroke="#000000" stroke-width="2"/>')
        out.append(_text(x + sw + 5, y + 10, label, size=11))
        x += w
    out.append("</g>")
    return out, y + line_h


def render_svg(rows: list[_Row], nr_pages: int, title: str = "",
               subtitle: str = "") -> str:
    """Draw replayed rows (see replay_rows) as one SVG document."""
    g = _Geometry(nr_pages)
    longest = max((len(r.text) + (len(r.oops) + 2 if r.oops else 0) for r in rows),
                  default=0)
    width = max(LEFT + g.phys_w, LEFT + g.vm_w, LEFT + longest * CHAR_W,
                LEFT + len(subtitle) * 6.6, 560) + RIGHT
    width = float(int(width + 0.999))
    head = [_text(8, 22, title or "vcpcheck trace", size=15, weight="bold")]
    y = 30
    if subtitle:
        head.append(_text(8, y + 12, subtitle, size=11, fill="#555555"))
        y += 18
    legend, y = _legend(g, width, y + 6)
    y += 6
    body, prev = [], None
    for i, row in enumerate(rows):
        body += _draw_row(g, row, prev, y, width, shade=i % 2 == 1)
        y += _row_height(g, row)
        if row.states is not None:
            prev = row.states
    height = int(y + 8)
    doc = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_f(width)}" '
        f'height="{height}" viewBox="0 0 {_f(width)} {height}">',
        f"<title>{escape(title or 'vcpcheck trace')}</title>",
        "<defs>",
        '<pattern id="vcp-hatch" patternUnits="userSpaceOnUse" width="4" height="4" '
        'patternTransform="rotate(45)"><rect width="4" height="4" fill="#dddddd"/>'
        '<line x1="0" y1="0" x2="0" y2="4" stroke="#888888" stroke-width="1.5"/></pattern>',
        "</defs>",
        f'<rect x="0" y="0" width="{_f(width)}" height="{height}" fill="#ffffff"/>',
        *head, *legend, *body, "</svg>", ""]
    return "\n".join(doc)


def trace_svg(trace: list, cfg: Kconfig, symbols=None, api=None, title="") -> str:
    """Replay ``trace`` on a fresh Harness and draw every state as SVG."""
    rows, nr_pages = replay_rows(trace, cfg, symbols, api)
    return render_svg(rows, nr_pages, title, config_literal(cfg))


def write_svg(path, svg: str) -> None:
    """Write atomically (checks/atomic.py)."""
    write_atomic(path, svg)
