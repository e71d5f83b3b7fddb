"""DIR/index.html: every counterexample `vcpcheck check --out DIR` wrote,
on one page.

One <section class="counterexample"> per set of files (traces.
counterexample_groups: one per configuration and trace): the target, the
configuration, each invariant with its message, the engine and its
strength, the SVG picture inline (read back from NAME.svg), the command
that replays it, and links to the trace, ITF and pytest files.  Every text
is HTML-escaped; the page has no script and no timestamp.
"""
from __future__ import annotations

import html
import os

from .traces import counterexample_groups

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
code, pre { font-family: monospace; }
table.summary td, table.summary th { padding: 2px 10px; text-align: left; }
section.counterexample { border-top: 1px solid #bbb; margin-top: 1.5em; }
.verdict-fail { color: #b00000; } .verdict-pass { color: #007000; }
.verdict-unknown, .verdict-error { color: #a06000; }
.picture { overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; }
dt { font-weight: bold; } dd { margin: 0; }
pre.replay { margin: 0; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def inline_svg(svg: str, n: int) -> str:
    """An SVG document as an element of the page: no XML declaration, and
    its ids made unique on the page (each picture defines the same
    hatch pattern)."""
    body = "\n".join(line for line in svg.splitlines()
                     if not line.startswith("<?xml"))
    return (body.replace('id="vcp-hatch"', f'id="vcp-hatch-{n}"')
                .replace("url(#vcp-hatch)", f"url(#vcp-hatch-{n})"))


def _entry(out_dir, target_name, stem, vs, n) -> list[str]:
    v = vs[0]
    out = [f'<section class="counterexample" id="{_e(stem)}" '
           f'data-target="{_e(target_name)}" data-stem="{_e(stem)}">',
           f"<h2>{_e(target_name)}: {_e(', '.join(dict.fromkeys(x.invariant for x in vs)))}"
           f"</h2>",
           "<dl>",
           f"<dt>target</dt><dd>{_e(target_name)}</dd>",
           f'<dt>configuration</dt><dd><code class="config">{_e(v.config.short())}'
           f"</code></dd>"]
    for x in vs:
        out.append(f'<dt>invariant</dt><dd><code class="invariant">{_e(x.invariant)}'
                   f'</code>: <span class="message">{_e(x.message)}</span></dd>')
    for engine, strength in dict.fromkeys((x.engine, x.strength) for x in vs):
        out.append(f'<dt>engine</dt><dd class="engine">{_e(engine)}: '
                   f'<span class="strength">{_e(strength)}</span></dd>')
    n_calls = len(v.trace)
    out += [f"<dt>trace</dt><dd>{n_calls} call{'s' if n_calls != 1 else ''}</dd>",
            f'<dt>replay</dt><dd><pre class="replay">vcpcheck replay {_e(stem)}.json'
            f"</pre></dd>",
            f'<dt>files</dt><dd><a href="{_e(stem)}.json">{_e(stem)}.json</a> '
            f'<a href="{_e(stem)}.itf.json">{_e(stem)}.itf.json</a> '
            f'<a href="test_{_e(stem)}.py">test_{_e(stem)}.py</a> '
            f'<a href="{_e(stem)}.svg">{_e(stem)}.svg</a></dd>',
            "</dl>"]
    try:
        with open(os.path.join(out_dir, stem + ".svg"), encoding="utf-8") as f:
            out.append(f'<div class="picture">{inline_svg(f.read(), n)}</div>')
    except OSError as e:
        out.append(f'<p class="missing">{_e(stem)}.svg: {_e(e.strerror)}</p>')
    out.append("</section>")
    return out


def index_html(results, targets, out_dir) -> str:
    """The page for check results (cli.check_target's dicts) whose files
    write_outputs put in ``out_dir``."""
    head = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            "<title>vcpcheck counterexamples</title>", f"<style>{STYLE}</style>",
            "</head>", "<body>", "<h1>vcpcheck counterexamples</h1>",
            '<table class="summary">',
            "<tr><th>target</th><th>verdict</th><th>counterexamples</th>"
            "<th>strength</th></tr>"]
    body, n = [], 0
    for r, t in zip(results, targets):
        groups = counterexample_groups(t.name, r["violations"])
        head.append(f'<tr><td>{_e(r["target"])}</td><td class="verdict-{_e(r["verdict"])}">'
                    f'{_e(r["verdict"].upper())}</td><td>{len(groups)}</td>'
                    f'<td>{_e(r["stats"]["strength"])}</td></tr>')
        for stem, vs in groups:
            n += 1
            body += _entry(out_dir, t.name, stem, vs, n)
    head.append("</table>")
    if not n:
        body.append("<p>No counterexample was found.</p>")
    return "\n".join(head + body + ["</body>", "</html>", ""])
