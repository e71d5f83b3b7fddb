"""Past one machine (checks/dist.py): explore shards, stateful swarm blocks,
--out DIR/units with --resume, and --scheduler.

The default suite starts no cluster: the shards and blocks run in this
process (LocalRunner, or a runner that runs them in another order), and
--scheduler is asked only for what it refuses.  ``-m slow`` runs them on
Dask clusters over loopback: a LocalCluster of 2 workers (--scheduler),
and `dask scheduler` / `dask worker` started as processes.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from vcpcheck.checks import cli, dist
from vcpcheck.checks.explore import KernelModel, bfs, run_explore
from vcpcheck.checks.stateful import run_stateful, signature
from vcpcheck.checks.targets import TARGETS
from vcpcheck.checks.timeouts import Hang, time_limit

from test_cli import _untimed, run

FAST = ["--examples", "20", "--rounds", "1", "--jobs", "1", "--depth", "1"]


def config(target, bound="main", **want):
    """The first buildable configuration of ``target`` at ``bound`` with the
    options ``want``."""
    t = TARGETS[target]
    for cfg in t.configs({}, bound=bound):
        if not t.try_build(cfg)[1] and all(getattr(cfg, k) == v for k, v in want.items()):
            return cfg
    raise LookupError(want)


def summary(res):
    """What a search reports: counts, strength, and each violation's trace."""
    return (res.states, res.transitions, res.complete, res.depth, res.stale,
            res.strength, [(v.invariant, v.message, v.trace) for v in res.violations])


# --- fingerprints and the shard split are stable ------------------------------------------

def _in_another_process(code, seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


KEY_CODE = """
from vcpcheck.checks.explore import KernelModel
from vcpcheck.checks.targets import TARGETS
from vcpcheck.checks import dist
t = TARGETS["v3"]
cfg = [c for c in t.configs({}, bound="main") if not t.try_build(c)[1]][0]
m = KernelModel(t, cfg, stale=True)
h = m.realise(m.init_states()[-1])
h.alloc_vcompound_addr(0xd0, 1)
trace = m.init_states()[-1] + (("alloc_vcompound_addr", (0xd0, 1)),)
print(m.fingerprint(m.save(h)), dist.shard_of(trace, 7), dist.code_digest())
"""


def test_fingerprints_and_shards_are_the_same_in_every_process():
    """A state's fingerprint and a trace's shard do not depend on the
    process's salted str hash (PYTHONHASHSEED): the key holds strings and
    sets of pfns."""
    answers = {_in_another_process(KEY_CODE, seed) for seed in (1, 2, 3)}
    assert len(answers) == 1
    fp, shard, _code = answers.pop().split()
    assert 0 <= int(shard) < 7 and -2 ** 63 <= int(fp) < 2 ** 63


# --- explore shards: the same search as one bfs ------------------------------------------------

SEARCHES = [
    pytest.param("base", {}, 2, (1, 3, 5), id="base-d2"),
    # the stale-word audit breaks: both searches start again unmerged and
    # name the same first breach
    pytest.param("v3", {"ARCH": "x86_64", "PREEMPT": False}, 2, (1, 3, 5), id="v3-breach"),
    # two initial states (booted and fragmented): the shortest traces mix
    # both, and ties are broken as bfs breaks them
    pytest.param("v5", {"ARCH": "i386", "HIGHMEM": True, "VIRTUALIZE_ALWAYS": False}, 2,
                 (1, 3, 5), id="v5-fragmented"),
    # three calls: the client searches two, the shards the third, from the
    # states one search keeps (see sharded_search: exact counts)
    pytest.param("v5", {"bound": "vmalloc-full", "PREEMPT": True}, 3, (3,), id="v5-d3"),
]


@pytest.mark.parametrize("target,want,depth,splits", SEARCHES)
def test_shards_give_the_search_one_process_gives(target, want, depth, splits):
    """run_explore with its search split into 1, 3 or 5 shards (run here,
    one after the other): the same states, transitions, strength, and the
    same violations with the same traces in the same order (the stale-word
    merge asked for, as it is on by default only deeper)."""
    t, cfg = TARGETS[target], config(target, **want)
    one = summary(run_explore(t, cfg, depth=depth, stale=True))
    assert one[0] > 100 and one[2] and (one[-1] or target == "base")
    for shards in splits:
        search = dist._sharded(dist.LocalRunner(), t.name, shards=shards)
        assert summary(run_explore(t, cfg, depth=depth, stale=True, search=search)) == one, shards


def test_shards_cover_every_state_of_the_search():
    """The union of the shards' fingerprints (and the client's levels) is
    the set one bfs visits, each state's transitions counted once; no
    shard searches past the depth bound."""
    t, cfg = TARGETS["base"], config("base", PAGEFLAGS_EXTENDED=True)
    whole = bfs(KernelModel(t, cfg, stale=True), 2, fingerprint=True)
    model = KernelModel(t, cfg, stale=True)
    frontier = []
    client = bfs(model, 1, fingerprint=True,
                 visit=lambda trace, h, d: d == 1 and not h.dead and frontier.append(trace))
    shards = [[tr for tr in frontier if dist.shard_of(tr, 4) == s] for s in range(4)]
    assert all(shards) and sum(map(len, shards)) == len(frontier)
    fps = dict(client.fingerprints)
    for roots in shards:
        part = dist.explore_shard(t, cfg, tuple(roots), 1, 2, None)
        assert part.complete and part.breach is None
        for fp, made in part.fingerprints.items():
            fps[fp] = max(fps.get(fp, 0), made)
    assert set(fps) == set(whole.fingerprints)
    assert fps == whole.fingerprints
    assert (len(fps), sum(fps.values())) == (whole.states, whole.transitions)


def test_a_shard_cut_by_the_budget_is_partial_never_exhaustive():
    t, cfg = TARGETS["base"], config("base")

    class Late(dist.LocalRunner):
        def run(self, calls, deadline):     # the cluster did not answer in time
            return [None for _ in calls]
    res = run_explore(t, cfg, depth=2, search=dist._sharded(Late(), t.name, shards=2))
    assert not res.complete and res.strength.startswith("partial (budget ran out)")


# --- stateful swarm blocks ---------------------------------------------------------------------

class Reversed(dist.LocalRunner):
    """Runs the blocks last first, as a second worker might finish them."""

    def run(self, calls, deadline):
        out = [None] * len(calls)
        for n in reversed(range(len(calls))):
            fn, args = calls[n]
            out[n] = fn(deadline - time.monotonic(), *args)
        return out


def _blocks_args(**kw):
    import argparse
    base = dict(seed=3, examples=12, rounds=2, blocks=3, call_timeout=10.0)
    return argparse.Namespace(**{**base, **kw})


def _stateful_summary(res):
    return (res.examples, res.steps, res.complete, sorted(res.all_signatures),
            [(v.invariant, v.message, v.trace, v.strength) for v in res.violations])


def test_swarm_blocks_merge_the_same_whoever_ran_them():
    """Three seed blocks run in order and last first: the same merged
    examples, steps, violations and shortest traces; the counts are the
    blocks' sums and each signature is listed once."""
    t, cfg = TARGETS["v3"], config("v3", ARCH="x86_64", PREEMPT=False)
    args = _blocks_args()
    plan = dist.block_plan(args.seed, args.examples, args.blocks)
    assert [n for _s, n in plan] == [4, 4, 4] and plan[0][0] == args.seed
    assert len({s for s, _n in plan}) == 3
    far = time.monotonic() + 600
    here = dist.run_blocks(dist.LocalRunner(), t, cfg, args, far)
    there = dist.run_blocks(Reversed(), t, cfg, args, far)
    assert _stateful_summary(here) == _stateful_summary(there)
    parts = [run_stateful(t, cfg, seed=s, max_examples=n, rounds=2) for s, n in plan]
    assert here.examples == sum(p.examples for p in parts)
    sigs = [signature(v.invariant, v.message) for v in here.violations]
    assert here.violations and len(sigs) == len(set(sigs))
    shortest = {}
    for p in parts:
        for v in p.violations:
            sig = signature(v.invariant, v.message)
            shortest[sig] = min(shortest.get(sig, 99), len(v.trace))
    assert {s: len(v.trace) for s, v in zip(sigs, here.violations)} == shortest


def test_one_block_is_run_stateful_itself():
    t, cfg = TARGETS["v3"], config("v3", ARCH="x86_64", PREEMPT=False)
    args = _blocks_args(blocks=1, examples=15, rounds=1)
    res = dist.run_blocks(dist.LocalRunner(), t, cfg, args, time.monotonic() + 600)
    plain = run_stateful(t, cfg, seed=3, max_examples=15, rounds=1)
    assert _stateful_summary(res) == _stateful_summary(plain)


def test_a_block_that_did_not_run_makes_the_sample_partial():
    t, cfg = TARGETS["base"], config("base")
    res = dist.run_blocks(dist.LocalRunner(), t, cfg, _blocks_args(examples=4, blocks=2),
                          time.monotonic() - 1)
    assert not res.complete and res.examples == 0


def test_blocks_on_the_command_line_one_or_two_processes(capsys):
    argv = ["check", "v3", "--json", "--engine", "stateful", "--config", "ARCH=x86_64",
            "--config", "PREEMPT=n", "--examples", "12", "--rounds", "1",
            "--blocks", "2"]
    one = json.loads(run(capsys, *argv, "--jobs", "1")[1])["targets"][0]
    two = json.loads(run(capsys, *argv, "--jobs", "2")[1])["targets"][0]
    assert one["violations"] and _untimed(one) == _untimed(two)
    assert one["stats"]["configs_checked"] == 2


# --- --out DIR/units and --resume -------------------------------------------------------------

RESUMED = ["check", "v3", "--json", "--engine", "explore,stateful", "--config",
           "ARCH=x86_64", "--config", "PREEMPT=n", "--examples", "5", "--rounds", "1",
           "--jobs", "1", "--depth", "1", "--bound", "main"]


def _calls_logged(monkeypatch, log):
    """cli.run_engine, each call written to ``log`` (the check runs in a
    forked child)."""
    real = cli.run_engine

    def logged(target, cfg, engine, *rest):
        with open(log, "a") as f:
            f.write(f"{engine} {cfg.short()}\n")
        return real(target, cfg, engine, *rest)
    monkeypatch.setattr(cli, "run_engine", logged)


def test_resume_skips_finished_units_and_gives_the_same_verdict(capsys, tmp_path,
                                                                monkeypatch):
    out, log = tmp_path / "out", tmp_path / "calls"
    code, first, _ = run(capsys, *RESUMED, "--out", str(out))
    assert code == 1
    units = sorted((out / "units").iterdir())
    assert len(units) >= 4          # 2 configurations x explore, stateful (, deepen)
    _calls_logged(monkeypatch, log)
    code, again, _ = run(capsys, *RESUMED, "--out", str(out), "--resume")
    assert code == 1 and not log.exists()          # nothing ran again
    assert _untimed(json.loads(again)["targets"][0]) == \
        _untimed(json.loads(first)["targets"][0])
    # one unit lost (a run stopped before it ended): only it runs again
    units[0].unlink()
    code, third, _ = run(capsys, *RESUMED, "--out", str(out), "--resume")
    assert code == 1 and len(log.read_text().splitlines()) == 1
    assert _untimed(json.loads(third)["targets"][0]) == \
        _untimed(json.loads(first)["targets"][0])
    # without --resume every unit runs
    run(capsys, *RESUMED, "--out", str(out))
    assert len(log.read_text().splitlines()) == 1 + len(units)


def test_a_unit_cut_by_the_budget_is_not_kept(capsys, tmp_path):
    code, out, _ = run(capsys, "check", "base", "--json", "--engine", "stateful",
                       "--budget", "1", "--examples", "5000", "--rounds", "1",
                       "--jobs", "1", "--config", "ARCH=x86_64", "--config",
                       "PAGEFLAGS_EXTENDED=y", "--out", str(tmp_path))
    assert code == 1 and json.loads(out)["targets"][0]["verdict"] == "unknown"
    assert not (tmp_path / "units").exists()


def test_resume_without_out_is_a_usage_error(capsys):
    code, out, err = run(capsys, "check", "base", "--resume")
    assert code == 2 and out == ""
    assert err == ("vcpcheck: error: --resume needs --out DIR (the finished units of "
                   "work are kept in DIR/units)\n")


# --- --scheduler: what it refuses (no cluster is started) -----------------------------------------

@pytest.mark.parametrize("addr", ["base", "tcp://bad host:1", "tcp://h:p"])
def test_scheduler_address_that_is_not_one(capsys, addr):
    code, out, err = run(capsys, "check", "--scheduler", addr, "base")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "is not a scheduler address" in err and repr(addr) in err


@pytest.mark.parametrize("argv,needle", [
    (["--blocks", "0"], "argument --blocks: '0' is not a whole number of at least 1"),
    (["--out", "/etc/passwd/x", "--resume"], "--out"),
])
def test_bad_dist_options_are_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, "check", "base", "--depth", "1", *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("vcpcheck: error: ") and needle in err


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_scheduler_that_does_not_answer(capsys, monkeypatch):
    monkeypatch.setattr(dist, "CONNECT_TIMEOUT", 1.0)
    addr = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    code, out, err = run(capsys, "check", "base", "--engine", "explore", "--depth", "1",
                         "--scheduler", addr)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"vcpcheck: error: --scheduler {addr}: no scheduler answered")
    assert time.monotonic() - t0 < 30


def test_scheduler_without_dask(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)      # import fails
    code, out, err = run(capsys, "check", "base", "--scheduler")
    assert code == 2 and out == ""
    assert err == ("vcpcheck: error: --scheduler needs dask: pip install "
                   "'vcpcheck[dist]'\n")


def test_vcpcheck_imports_and_checks_without_dask(tmp_path):
    code = ("import sys; sys.modules['distributed'] = sys.modules['dask'] = None\n"
            "from vcpcheck.checks.cli import main\n"
            "sys.exit(main(['check', 'base', '--engine', 'explore', '--depth', '1', "
            "'--bound', 'main', '--config', 'ARCH=x86_64', '--config', "
            "'PAGEFLAGS_EXTENDED=y']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("base: PASS (exhaustive to")


# --- a call timeout off the main thread (a Dask worker's task thread) ----------------------------

def test_time_limit_stops_a_loop_off_the_main_thread():
    seen = {}

    def body():
        try:
            with time_limit(0.2, "spin()"):
                while True:
                    try:
                        pass
                    except Exception:        # noqa: BLE001 - a hostile loop
                        pass
        except Hang as e:
            seen["hang"] = str(e)
        with time_limit(0.2, "quick()"):
            seen["quick"] = sum(range(100))
        time.sleep(0.4)                      # its timer must not fire later
        seen["after"] = True
    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert seen == {"hang": "spin() did not finish within 0.2s (a hang?)",
                    "quick": 4950, "after": True}


# --- on clusters (-m slow) ----------------------------------------------------------------------

SAME = ["v3", "--json", "--engine", "all", "--depth", "2", "--examples", "24",
        "--rounds", "2", "--blocks", "2", "--config", "ARCH=x86_64", "--config",
        "PREEMPT=n", "--bound", "main"]


@pytest.mark.slow
def test_local_cluster_gives_the_local_verdict_counts_and_traces(capsys):
    """--scheduler (a LocalCluster of one worker per core, 2 here): the
    same JSON as the run on --jobs processes, but for the clock."""
    code, here, _ = run(capsys, "check", *SAME)
    code2, there, err = run(capsys, "check", *SAME, "--scheduler")
    assert (code, code2) == (1, 1) and err == ""
    a, b = json.loads(here)["targets"][0], json.loads(there)["targets"][0]
    assert a["violations"] and _untimed(a) == _untimed(b)


@pytest.mark.slow
@pytest.mark.parametrize("depth,budget,configs", [
    ("4", "3", []),                  # 4 configurations: whole units, cut
    # one configuration: sharded; the client's search to depth 2 ends, the
    # shards' last call does not
    ("3", "2", ["--config", "ARCH=x86_64", "--config", "PAGEFLAGS_EXTENDED=y"]),
])
def test_a_budget_cut_on_the_cluster_is_unknown(capsys, depth, budget, configs):
    code, out, _ = run(capsys, "check", "base", "--json", "--engine", "explore",
                       "--depth", depth, "--budget", budget, "--bound", "main",
                       *configs, "--scheduler")
    (t,) = json.loads(out)["targets"]
    assert code == 1 and t["verdict"] == "unknown"
    assert t["stats"]["strength"].startswith(f"partial to depth {depth}")
    assert t["stats"]["budget_ran_out"]


@pytest.mark.slow
def test_a_variant_is_checked_here_under_its_guard(capsys, tmp_path):
    """With --scheduler a variant file is checked on this machine, as
    without it: the same verdict, and a variant that hangs is still
    stopped (exit 2), never a pass."""
    example = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples",
                           "v3_gfp_comp.py")
    argv = ["check", example, "--json", *FAST, "--config", "ARCH=x86_64"]
    code, here, _ = run(capsys, *argv)
    code2, there, err = run(capsys, *argv, "--scheduler")
    assert (code, code2) == (1, 1) and err == ""
    assert _untimed(json.loads(here)["targets"][0]) == \
        _untimed(json.loads(there)["targets"][0])
    hang = tmp_path / "hang.py"
    hang.write_text("BASE = 'reference'\n"
                    "def __alloc_vcompound(k, flags, order):\n"
                    "    while True:\n"
                    "        pass\n"
                    "REPLACE = [__alloc_vcompound]\n")
    code, out, err = run(capsys, "check", str(hang), "--call-timeout", "0.3", *FAST,
                         "--scheduler")
    assert code == 2 and out == "" and "did not return within 0.3s" in err


def _dask(*argv, **kw):
    exe = shutil.which("dask", path=os.path.dirname(sys.executable)) or "dask"
    return subprocess.Popen([exe, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, **kw)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """`dask scheduler` and `dask worker` (2 single-threaded worker
    processes) on loopback, started as a user would: (address, worker
    process)."""
    pytest.importorskip("distributed")
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    sched = _dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                  "--scheduler-file", str(info), cwd=folder)
    deadline = time.monotonic() + 60
    while not info.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    addr = json.loads(info.read_text())["address"]
    workers = _dask("worker", addr, "--nthreads", "1", "--nworkers", "2",
                    "--host", "127.0.0.1", "--no-dashboard", "--memory-limit", "0",
                    cwd=folder)
    try:
        yield addr, workers
    finally:
        for p in (workers, sched):
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def _vcpcheck(*argv):
    return subprocess.run([sys.executable, "-m", "vcpcheck.checks.cli", *argv],
                          capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_dask_scheduler_and_worker_processes(dask_cluster):
    addr, _workers = dask_cluster
    assert addr.startswith("tcp://127.0.0.1:")
    argv = ["check", "base", "--engine", "explore", "--depth", "1"]
    there = _vcpcheck(*argv, "--scheduler", addr)
    here = _vcpcheck(*argv)
    assert there.returncode == 0 and there.stderr == ""
    assert there.stdout.startswith("base: PASS (exhaustive to depth 1 over 8 bounds")
    strip = lambda text: text.split(";")[0]           # noqa: E731 - the clock after it
    assert strip(there.stdout) == strip(here.stdout)


@pytest.mark.slow
def test_a_worker_killed_mid_run_gives_the_same_result(dask_cluster):
    """A worker process is killed while it runs a unit (a shard); its
    nanny starts another, Dask runs the lost task again, and the verdict,
    counts and traces are those of the run on this machine."""
    distributed = pytest.importorskip("distributed")
    addr, _workers = dask_cluster
    # one configuration, so its search is sharded (see dist.run_phase)
    argv = ["check", "v3", "--json", "--engine", "explore", "--depth", "3", "--bound",
            "main", "--config", "ARCH=x86_64", "--config", "PREEMPT=n", "--config",
            "VFALLBACK_ALWAYS=y", "--budget", "600"]
    here = _vcpcheck(*argv)
    proc = subprocess.Popen([sys.executable, "-m", "vcpcheck.checks.cli", *argv,
                             "--scheduler", addr], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    victim = None
    with distributed.Client(addr, timeout=30) as watcher:
        deadline = time.monotonic() + 300
        while victim is None and proc.poll() is None and time.monotonic() < deadline:
            busy = sorted(w for w, keys in watcher.processing().items()
                          if any(str(k).startswith("vcpcheck-") for k in keys))
            if busy:
                time.sleep(0.5)                         # mid-run
                victim = watcher.run(os.getpid, workers=busy[:1])[busy[0]]
            else:
                time.sleep(0.1)
        assert victim is not None, "no unit of work was seen running"
        os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 1, err
    a = json.loads(here.stdout)["targets"][0]
    b = json.loads(out)["targets"][0]
    assert a["violations"] and _untimed(a) == _untimed(b)
