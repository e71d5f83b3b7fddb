"""Graphs: the explore engine's state graph and a series' patch dependencies.

Both are networkx directed graphs, written as DOT (text this module
writes, so no pydot is needed) or GraphML (networkx.write_graphml), chosen
by the file's suffix.

    python -m vcpcheck.checks.graphs SERIES --out FILE.dot|.graphml

writes the dependency graph of a built-in series (v2, v3, v5, reference).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time

import networkx as nx

from .atomic import write_atomic

GRAPH_SUFFIXES = (".dot", ".graphml")


# --- reading a path back ---------------------------------------------------------------

def path_to(graph, node) -> list:
    """The edges (u, v, action) from an initial state to ``node`` along the
    BFS tree: the transitions each state was first reached by, hence the
    trace the search found, and a shortest path in the whole graph."""
    tree = nx.subgraph_view(graph, filter_edge=lambda u, v, k: graph[u][v][k]["tree"])
    # From every state above ``node`` in the tree (only its ancestors) to it.
    paths = nx.shortest_path(tree, target=node)
    roots = [n for n in paths if graph.nodes[n]["depth"] == 0]
    if not roots:
        raise ValueError(f"state {node} is not reachable in the recorded graph")
    hops = paths[roots[0]]
    return [(u, v, _tree_action(graph, u, v)) for u, v in zip(hops, hops[1:])]


def _tree_action(graph, u, v):
    return next(d["action"] for d in graph[u][v].values() if d["tree"])


# --- the patch-dependency graph -----------------------------------------------------------

def patch_graph(series) -> nx.DiGraph:
    """A DiGraph of a Series (impl/series): a node per patch, prerequisites
    included, labelled as ``vcpcheck list`` names them (``v3:04``); an edge
    d -> p for each d in p.depends, so a topological order is an order the
    series applies in.  Prerequisites are applied first whatever the
    depends say, and have no implied edges."""
    if isinstance(series, str):
        series = builtin_series(series)
    g = nx.DiGraph(name=series.name, title=series.title, base=series.base)
    by_number = {}
    for p in series.prerequisites + series.patches:
        g.add_node(p.label, number=p.number, title=p.title, message_id=p.message_id,
                   prerequisite=p in series.prerequisites)
        by_number[p.number] = p.label
    for p in series.prerequisites + series.patches:
        for d in p.depends:
            if d not in by_number:
                raise ValueError(f"{p.label} depends on {series.name}:{d:02d}, "
                                 f"which is not in the series")
            g.add_edge(by_number[d], p.label)
    return g


def builtin_series(name: str):
    from vcpcheck.impl.series import reference, v2, v3, v5
    table = {s.name: s for s in (v2.SERIES, v3.SERIES, v5.SERIES, reference.SERIES)}
    if name not in table:
        raise ValueError(f"unknown series {name!r}: {', '.join(table)}")
    return table[name]


# --- writing ----------------------------------------------------------------------------------

def check_suffix(path: str) -> str:
    """The format of ``path`` by its suffix; ValueError if unsupported."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in GRAPH_SUFFIXES:
        raise ValueError(f"{path!r}: unsupported graph file suffix "
                         f"{suffix or '(none)'!r}; use .dot or .graphml")
    return suffix


def write_graph(graph, path: str) -> str:
    """Write ``graph`` as DOT or GraphML by the suffix of ``path``."""
    suffix = check_suffix(path)
    g = _exportable(graph)
    if suffix == ".dot":
        write_atomic(path, to_dot(g))
    else:
        write_atomic(path, "\n".join(nx.generate_graphml(g)) + "\n")
    return path


def _exportable(graph):
    """A copy whose attributes GraphML can hold (str, int, float, bool):
    the model's action tuples are dropped (``label`` spells them)."""
    g = graph.copy()
    for _u, _v, d in g.edges(data=True):
        d.pop("action", None)
    for attrs in [g.graph] + [d for _n, d in g.nodes(data=True)] + [
            d for *_e, d in g.edges(data=True)]:
        for key, value in list(attrs.items()):
            if not isinstance(value, (str, int, float, bool)):
                attrs[key] = str(value)
    return g


def _q(value) -> str:
    """A DOT ID: numbers bare, everything else a quoted string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attrs(d: dict) -> str:
    return ", ".join(f"{k}={_q(v)}" for k, v in d.items())


def to_dot(graph) -> str:
    """DOT text: one line per node, then one per edge, in BFS order."""
    kind, arrow = ("digraph", "->") if graph.is_directed() else ("graph", "--")
    lines = [f"{kind} {_q(graph.graph.get('name', 'G'))} {{",
             '  node [shape=box, fontname="monospace"];',
             '  edge [fontname="monospace"];']
    for n, d in graph.nodes(data=True):
        d = dict(d)
        if "depth" in d:                                     # a state graph
            text = f"{n} (depth {d['depth']})"
            if d.get("invariants"):
                text += "\\n" + d["invariants"]
                d.setdefault("color", "red")
            if d.get("dead"):
                text += "\\noops"
                d.setdefault("shape", "octagon")
            d.setdefault("label", text)
        lines.append(f"  {_q(n)} [{_attrs(d)}];")
    for u, v, d in graph.edges(data=True):
        lines.append(f"  {_q(u)} {arrow} {_q(v)} [{_attrs(d)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_path(path: str, target: str, cfg, several_targets: bool,
               several_configs: bool) -> str:
    """FILE, or FILE with the target and/or the configuration's short name
    inserted before the suffix when one --graph covers several runs."""
    stem, suffix = os.path.splitext(path)
    parts = ([target] if several_targets else []) + (
        [cfg.short()] if several_targets or several_configs else [])
    safe = [re.sub(r"[^A-Za-z0-9_.,=+-]", "_", p) for p in parts]
    return ".".join([stem] + safe) + suffix


def export_check_graphs(args, targets, results, overrides) -> None:
    """``vcpcheck check --graph FILE``: explore each buildable configuration
    of each target at each --bound (cmd_check makes it main by default)
    again, with the state graph recorded, to the same
    --depth and within --budget (a partial graph says so in its
    ``complete`` attribute), and write it.  Adds
    ``stats["graphs"]`` to each result; -v names the files on stderr."""
    from .cli import UsageError
    from .explore import run_explore
    start = time.monotonic()
    for t, r in zip(targets, results):
        cfgs = [c for b in (getattr(args, "bound", None) or ("main",))
                for c in t.configs(overrides, bound=b) if t.try_build(c)[1] is None]
        written = []
        for cfg in cfgs:
            left = max(0.0, args.budget - (time.monotonic() - start))
            res = run_explore(t, cfg, depth=args.depth, budget=left, graph=True)
            g = res.graph
            g.graph.update(name=f"{t.name} [{cfg.short()}]", target=t.name,
                           config=cfg.short(), depth=args.depth, complete=res.complete,
                           strength=res.strength)
            path = graph_path(args.graph, t.name, cfg, len(targets) > 1, len(cfgs) > 1)
            try:
                write_graph(g, path)
            except OSError as e:
                raise UsageError(f"--graph {path!r}: {e.strerror or e}")
            written.append({"config": cfg.short(), "file": path, "states": res.states,
                            "transitions": res.transitions, "complete": res.complete})
            if args.verbose:
                print(f"  {t.name} [{cfg.short()}] graph: {path} ({res.states} states, "
                      f"{res.transitions} transitions)", file=sys.stderr)
        r["stats"]["graphs"] = written


# --- python -m vcpcheck.checks.graphs SERIES --out FILE ----------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vcpcheck.checks.graphs",
                                 description="write a series' patch-dependency graph")
    ap.add_argument("series", help="v2, v3, v5 or reference")
    ap.add_argument("--out", required=True, metavar="FILE.dot|FILE.graphml")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        check_suffix(args.out)
        g = patch_graph(args.series)
        write_graph(g, args.out)
    except (ValueError, OSError) as e:
        print(f"vcpcheck: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: {g.number_of_nodes()} patches, {g.number_of_edges()} dependencies")
    return 0


if __name__ == "__main__":
    sys.exit(main())
