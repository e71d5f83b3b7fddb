"""The explore engine's snapshots and state graph, and the patch-dependency graph.

Restoring a snapshot and taking one action must give the state replaying
the whole call sequence on a fresh build gives; the recorded graph must
hold exactly the states and transitions the search counted, and survive
being written as GraphML and DOT.
"""
from __future__ import annotations

import re

import networkx as nx
import pytest

from vcpcheck.checks import graphs
from vcpcheck.checks.cli import main
from vcpcheck.checks.explore import KernelModel, bfs, canonical, run_explore
from vcpcheck.checks.graphs import (patch_graph, path_to, to_dot, write_graph)
from vcpcheck.checks.harness import Harness
from vcpcheck.checks.targets import TARGETS
from vcpcheck.impl.gfp import GFP_KERNEL
from vcpcheck.impl.series import Patch, Series
from vcpcheck.impl.series import v3 as v3_series


def first_cfg(target):
    return next(c for c in target.configs() if target.try_build(c)[1] is None)


class RecordingModel(KernelModel):
    """KernelModel that notes, for every step bfs takes, the snapshot it
    loaded, the action, and the snapshot and canonical state after it.
    Its snapshots keep their traces (KernelModel.traced), to replay."""

    traced = True

    def __init__(self, *a):
        super().__init__(*a)
        self.steps, self.loaded = [], None

    def load(self, snap):
        self.loaded = snap
        return super().load(snap)

    def step(self, h, action):
        super().step(h, action)
        self.steps.append((self.loaded, action, h.snapshot(), canonical(h)))


def replayed(model, snap, action) -> Harness:
    """A fresh build driven through the calls ``snap`` records, then ``action``."""
    h = model.fresh()
    h.replay([{"call": c, "args": list(a), "ret": r} for c, a, r in snap.trace])
    call, args = action
    getattr(h, call)(*args)
    return h


# --- snapshots ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["base", "v3"])
def test_restore_and_step_equals_replay_for_every_transition_to_depth_2(name):
    """Expect every state the search reaches (all transitions to depth 2,
    including those to states already seen) to be the state a replay of
    its calls on a fresh harness reaches: same canonical(), and the same
    snapshot -- kernel, ledger with its ids, trace and dead flag."""
    t = TARGETS[name]
    model = RecordingModel(t, first_cfg(t))
    res = bfs(model, 2)
    assert len(model.steps) == res.transitions > 100
    parents = {p for p, _a, _s, _k in model.steps}
    assert len(parents) > len(model.init_states())          # depth 1 expanded too
    for parent, action, after, key in model.steps:
        h = replayed(model, parent, action)
        assert canonical(h) == key, (parent.trace, action)
        assert h.snapshot() == after, (parent.trace, action)


def test_snapshot_is_not_changed_by_what_follows_and_restores_repeatedly():
    """Expect a snapshot to be a value: calls after it, and after each
    restore of it, leave it as it was."""
    t = TARGETS["base"]
    cfg = first_cfg(t)
    h = Harness(cfg, t.symbols(cfg))
    h.kmalloc(64, GFP_KERNEL)
    h.vmalloc(2 * 4096)
    snap = h.snapshot()
    frozen = repr(snap)
    for _ in range(2):
        h.alloc_pages(GFP_KERNEL, 1)
        h.kfree(next(a.handle for a in h.ledger if a.kind == "kmalloc"))
        assert canonical(h) != canonical_of(snap, t, cfg)
        h.restore(snap)
        assert h.snapshot() == snap and repr(snap) == frozen
        assert len(h.trace) == 2 and len(h.ledger) == 2


def canonical_of(snap, t, cfg):
    h = Harness(cfg, t.symbols(cfg))
    h.restore(snap)
    return canonical(h)


def test_restored_kernel_attributes_equal_the_replayed_ones():
    """Expect nothing of the kernel's state to be missed by the snapshot:
    every attribute of a restored kernel equals the replayed kernel's."""
    t = TARGETS["v3"]
    cfg = first_cfg(t)
    a = Harness(cfg, t.symbols(cfg))
    a.client("fork")
    a.alloc_vcompound_addr(GFP_KERNEL, 2)
    a.kmalloc(64, GFP_KERNEL)
    b = Harness(cfg, t.symbols(cfg))
    b.restore(a.snapshot())
    skip = set(a.k.symbols)                 # bound methods differ by identity
    va = {n: v for n, v in vars(a.k).items() if n not in skip}
    vb = {n: v for n, v in vars(b.k).items() if n not in skip}
    assert va.keys() == vb.keys()
    for n in va:
        assert va[n] == vb[n], n
    assert a.ledger.items == b.ledger.items and a.trace == b.trace


# --- the state graph ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def v3_graph():
    t = TARGETS["v3"]
    return run_explore(t, first_cfg(t), depth=2, graph=True)


@pytest.mark.parametrize("hashed", [True, False])
def test_graph_has_the_states_and_transitions_bfs_counted(hashed):
    t = TARGETS["base"]
    res = bfs(KernelModel(t, first_cfg(t)), 2, hash_states=hashed, graph=True)
    g = res.graph
    assert g.number_of_nodes() == res.states and g.number_of_edges() == res.transitions
    assert sorted(g.nodes) == list(range(res.states))
    depths = [g.nodes[n]["depth"] for n in range(res.states)]
    assert depths[0] == 0 and depths == sorted(depths) and max(depths) == 2
    roots = depths.count(0)
    assert roots == len(KernelModel(t, first_cfg(t)).init_states())
    tree = [(u, v) for u, v, first in g.edges(data="tree") if first]
    assert sorted(v for _u, v in tree) == list(range(roots, res.states))
    assert all(g.nodes[v]["depth"] == g.nodes[u]["depth"] + 1 for u, v in tree)
    if hashed:      # merged states: some state is reached by several calls
        assert res.transitions > res.states and max(d for _n, d in g.in_degree()) > 1
    else:
        assert res.transitions == res.states - roots


def test_graph_recording_changes_no_violation_or_trace(v3_graph):
    t = TARGETS["v3"]
    plain = run_explore(t, first_cfg(t), depth=2)
    assert v3_graph.violations and len(v3_graph.violations) == len(plain.violations)
    for a, b in zip(v3_graph.violations, plain.violations):
        assert (a.invariant, a.message, a.trace) == (b.invariant, b.message, b.trace)
    assert (v3_graph.states, v3_graph.transitions) == (plain.states, plain.transitions)


def test_path_back_from_each_violating_state_is_a_shortest_path(v3_graph):
    g = v3_graph.graph
    bad = [n for n, v in g.nodes(data="violates") if v]
    assert bad and all(g.nodes[n]["invariants"] for n in bad)
    roots = [n for n, d in g.nodes(data="depth") if d == 0]
    model = KernelModel(TARGETS["v3"], first_cfg(TARGETS["v3"]))
    replayed_for = {}                   # one replay per set of invariants broken
    for n in bad:
        path = path_to(g, n)
        if n in roots:
            assert path == []
            continue
        assert len(path) == g.nodes[n]["depth"] == min(
            nx.shortest_path_length(g, r, n) for r in roots if nx.has_path(g, r, n))
        assert path[0][0] in roots and path[-1][1] == n
        assert all(v == path[i + 1][0] for i, (_u, v, _a) in enumerate(path[:-1]))
        if g.nodes[n]["invariants"] not in replayed_for:
            root = model.init_states()[roots.index(path[0][0])]
            h = model.realise(root + tuple(a for _u, _v, a in path))
            replayed_for[g.nodes[n]["invariants"]] = ",".join(
                sorted({inv for inv, _m in h.violations()}))
    assert all(k == v for k, v in replayed_for.items()) and len(replayed_for) > 1


def test_graphml_round_trips(v3_graph, tmp_path):
    g = v3_graph.graph
    path = write_graph(g, str(tmp_path / "v3.graphml"))
    back = nx.read_graphml(path, force_multigraph=True)
    assert back.number_of_nodes() == v3_graph.states
    assert back.number_of_edges() == v3_graph.transitions
    for n, d in g.nodes(data=True):
        assert back.nodes[str(n)]["depth"] == d["depth"]
        assert back.nodes[str(n)]["violates"] is d["violates"]
    labels = sorted(d["label"] for _u, _v, d in g.edges(data=True))
    assert sorted(d["label"] for _u, _v, d in back.edges(data=True)) == labels
    assert any(lb.startswith("alloc_vcompound_addr(GFP_KERNEL") for lb in labels)


def test_dot_text_has_a_line_per_state_and_per_transition(v3_graph, tmp_path):
    path = write_graph(v3_graph.graph, str(tmp_path / "v3.dot"))
    lines = open(path).read().splitlines()
    assert lines[0].startswith("digraph ") and lines[-1] == "}"
    nodes = [ln for ln in lines if re.fullmatch(r'  \d+ \[.*\];', ln)]
    edges = [ln for ln in lines if re.fullmatch(r'  \d+ -> \d+ \[label=".*\];', ln)]
    assert len(nodes) == v3_graph.states and len(edges) == v3_graph.transitions
    assert len(lines) == 3 + len(nodes) + len(edges) + 1
    bad = sum(1 for v in v3_graph.graph.nodes(data="violates") if v[1])
    assert sum('color="red"' in ln for ln in nodes) == bad > 0
    # every quote in a line is balanced once escapes are taken out
    assert all(ln.replace('\\"', "").count('"') % 2 == 0 for ln in lines)


def test_dot_escapes_quotes_and_backslashes():
    g = nx.DiGraph(name='a "b"')
    g.add_edge("x\\y", 'q"', label='say "hi"\nbye')
    text = to_dot(g)
    assert 'digraph "a \\"b\\"" {' in text
    assert '  "x\\\\y" -> "q\\"" [label="say \\"hi\\"\\nbye"];' in text


# --- the command line -----------------------------------------------------------------------

ONE_CFG = ["--config", "ARCH=x86_64", "--config", "PAGEFLAGS_EXTENDED=y"]


def test_cli_graph_writes_the_file_named(tmp_path, capsys):
    out = tmp_path / "base.graphml"
    code = main(["check", "base", "--engine", "explore", "--depth", "1", "--jobs", "1",
                 "--graph", str(out), "--json"] + ONE_CFG)
    assert code == 0
    stats = __import__("json").loads(capsys.readouterr().out)["targets"][0]["stats"]
    g = nx.read_graphml(out, force_multigraph=True)
    assert [x["file"] for x in stats["graphs"]] == [str(out)]
    assert g.number_of_nodes() == stats["states"] == stats["graphs"][0]["states"]
    assert g.number_of_edges() == stats["transitions"]


def test_cli_graph_with_several_configurations_writes_one_file_each(tmp_path, capsys):
    code = main(["check", "base", "--engine", "explore", "--depth", "1", "--jobs", "1",
                 "--graph", str(tmp_path / "g.dot"), "--config", "ARCH=x86_64"])
    assert code == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and all(f.startswith("g.") and f.endswith(".dot") for f in files)
    assert any("PAGEFLAGS_EXTENDED=n" in f for f in files)
    assert not (tmp_path / "g.dot").exists()


@pytest.mark.parametrize("extra", [["--graph", "states.png"], ["--graph", "states"],
                                   ["--graph", "s.dot", "--engine", "stateful"]])
def test_cli_graph_usage_errors_exit_2_in_one_line(extra, capsys, tmp_path,
                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["check", "base", "--depth", "1"] + ONE_CFG + extra)
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--graph" in err
    assert list(tmp_path.iterdir()) == []


# --- the patch-dependency graph ---------------------------------------------------------------

def test_patch_graph_of_v3_follows_depends():
    g = patch_graph(v3_series.SERIES)
    series = v3_series.SERIES
    assert g.number_of_nodes() == len(series.prerequisites) + len(series.patches) == 15
    assert g.number_of_edges() == sum(len(p.depends) for p in series.patches) == 13
    assert set(g.predecessors("v3:04")) == {"v3:01", "v3:02", "v3:03"}
    assert set(g.successors("v3:04")) == {f"v3:{n:02d}" for n in range(5, 15)}
    assert nx.is_directed_acyclic_graph(g) and g.nodes["v3:00"]["prerequisite"]
    assert g.nodes["v3:04"]["message_id"] and list(nx.topological_sort(g))
    assert set(nx.ancestors(g, "v3:10")) == {"v3:01", "v3:02", "v3:03", "v3:04"}


def test_patch_graph_by_name_and_a_missing_dependency():
    g = patch_graph("v2")
    assert set(g.predecessors("v2:08")) == {"v2:02", "v2:05", "v2:06", "v2:07"}
    broken = Series("t", "test", "none", [Patch("t", 1, "one", "x@y", depends=(7,))])
    with pytest.raises(ValueError, match="t:07"):
        patch_graph(broken)
    with pytest.raises(ValueError, match="unknown series"):
        patch_graph("v4")


def test_patch_graph_command_writes_dot_and_graphml(tmp_path, capsys):
    assert graphs.main(["v5", "--out", str(tmp_path / "v5.graphml")]) == 0
    back = nx.read_graphml(tmp_path / "v5.graphml")
    assert back.number_of_nodes() == 11 and back.number_of_edges() == 10
    assert graphs.main(["v5", "--out", str(tmp_path / "v5.dot")]) == 0
    text = (tmp_path / "v5.dot").read_text()
    assert text.count(" -> ") == 10 and '"v5:01" -> "v5:04"' in text
    assert graphs.main(["v5", "--out", str(tmp_path / "v5.svg")]) == 2
    assert "unsupported" in capsys.readouterr().err


def test_vcpcheck_graph_subcommand(tmp_path, capsys):
    """`vcpcheck graph SERIES --out FILE`: the same graph through the CLI;
    a bad suffix or series is one line on stderr and exit status 2."""
    assert main(["graph", "v3", "--out", str(tmp_path / "v3.graphml")]) == 0
    assert "15 patches, 13 dependencies" in capsys.readouterr().out
    back = nx.read_graphml(tmp_path / "v3.graphml")
    assert back.has_edge("v3:04", "v3:05") or back.has_edge("v3:05", "v3:04")
    for argv, needle in ((["graph", "v3", "--out", str(tmp_path / "v3.png")], "unsupported"),
                         (["graph", "v9", "--out", str(tmp_path / "x.dot")], "unknown series")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1
