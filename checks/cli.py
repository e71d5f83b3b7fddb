"""The vcpcheck command line.

    vcpcheck list [--json]
    vcpcheck check [TARGET...] [--engine stateful] [--config KEY=VALUE]...
                   [--seed N] [--examples N] [--budget SECONDS] [--json] [-v]

Exit status: 0 no violation found, 1 a violation found, 2 a usage or input
error (one line on stderr naming the problem; a traceback only with -v).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import traceback

from vcpcheck.impl.kconfig import OPTIONS, ConfigError, parse_value

from concurrent.futures import ProcessPoolExecutor

from . import report
from .stateful import run_stateful
from .targets import DEFAULT_TARGETS, TARGETS

ENGINES = ("stateful",)


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit status 2."""


def parse_config(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise UsageError(f"--config {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        key = key.strip()
        if key.startswith("CONFIG_"):
            key = key[len("CONFIG_"):]
        if key not in OPTIONS:
            raise UsageError(f"--config {pair!r}: unknown Kconfig option {key!r}")
        try:
            out[key] = parse_value(OPTIONS[key], value)
        except ConfigError as e:
            raise UsageError(f"--config {pair!r}: {e}")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vcpcheck", description=(
        "Model checker for the 2008 Virtual Compound Page series on an "
        "executable model of the 2.6.25 memory manager."))
    sub = p.add_subparsers(dest="command", required=True)
    lp = sub.add_parser("list", help="name the built-in targets")
    lp.add_argument("--json", action="store_true")
    cp = sub.add_parser("check", help="check targets against the invariants")
    cp.add_argument("targets", nargs="*", metavar="TARGET",
                    help="built-in target names (default: every target that "
                         "is not a series prefix)")
    cp.add_argument("--engine", default="all", choices=ENGINES + ("all",))
    cp.add_argument("--config", action="append", default=[], metavar="KEY=VALUE",
                    help="Kconfig option or model parameter (repeatable)")
    cp.add_argument("--seed", type=int, default=0)
    cp.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                    help="configurations checked in parallel (processes)")
    cp.add_argument("--examples", type=int, default=100,
                    help="examples per configuration for the stateful engine")
    cp.add_argument("--rounds", type=int, default=8,
                    help="after a violation, search again with what was found "
                         "excluded, up to this many times per configuration")
    cp.add_argument("--budget", type=float, default=120.0,
                    help="seconds per target at most")
    cp.add_argument("--json", action="store_true")
    cp.add_argument("-v", "--verbose", action="store_true")
    return p


class _Parser(argparse.ArgumentParser):
    pass


def cmd_list(args) -> int:
    if args.json:
        print(json.dumps({"targets": [{"name": t.name, "description": t.description}
                                      for t in TARGETS.values()]}))
    else:
        for t in TARGETS.values():
            print(f"{t.name:12} {t.description}")
    return 0


def check_target(target, args, overrides) -> dict:
    """Run the engines on every configuration of one target."""
    try:
        configs = target.configs(overrides)
    except ConfigError as e:
        raise UsageError(f"target {target.name}: {e}")
    start = time.monotonic()
    violations, examples, steps, done = [], 0, 0, 0
    unbuildable = []
    stopped_by_budget = False
    runnable = []
    for cfg in configs:
        symbols, why = target.try_build(cfg)
        if why:
            unbuildable.append({"config": cfg.short(), "reason": why})
        else:
            runnable.append(cfg)
    for cfg, r in run_configs(target, runnable, args, start):
        if r is None:
            stopped_by_budget = True
            continue
        if args.verbose:
            print(f"  {target.name} [{cfg.short()}] stateful: {r.examples} "
                  f"examples, {len(r.violations)} violations", file=sys.stderr)
        examples += r.examples
        steps += r.steps
        done += 1
        violations.extend(r.violations)
    buildable = len(configs) - len(unbuildable)
    if violations:
        verdict = "fail"
    elif not buildable:
        verdict = "error"
    elif stopped_by_budget:
        verdict = "unknown"
    else:
        verdict = "pass"
    strength = (f"sampled: {examples} examples, {steps} steps over {done} of "
                f"{buildable} buildable configurations")
    return {"target": target.name, "verdict": verdict, "violations": violations,
            "stats": {"engine": "stateful", "strength": strength,
                      "examples": examples, "steps": steps,
                      "configs_checked": done, "configs": len(configs),
                      "unbuildable": unbuildable,
                      "seconds": round(time.monotonic() - start, 2),
                      "seed": args.seed}}


def _run_one(name, cfg, seed, examples, rounds, budget):
    return run_stateful(TARGETS[name], cfg, seed=seed, max_examples=examples,
                        rounds=rounds, budget=budget)


def run_configs(target, cfgs, args, start):
    """(cfg, RunResult or None if the budget ran out) for each cfg, in order.

    Built-in targets run on ``--jobs`` processes (fork); every configuration
    has its own seed stream, so the result does not depend on the split.
    """
    jobs = max(1, min(args.jobs, len(cfgs)))
    left = max(0.0, args.budget - (time.monotonic() - start))
    if jobs > 1 and TARGETS.get(target.name) is target:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [pool.submit(_run_one, target.name, cfg, args.seed,
                                   args.examples, args.rounds, left) for cfg in cfgs]
            for cfg, fut in zip(cfgs, futures):
                yield cfg, fut.result()
        return
    for cfg in cfgs:
        left = args.budget - (time.monotonic() - start)
        if left <= 0:
            yield cfg, None
            continue
        yield cfg, run_stateful(target, cfg, seed=args.seed, max_examples=args.examples,
                                rounds=args.rounds, budget=left)


def print_text(result, verbose) -> None:
    st = result["stats"]
    print(f"{result['target']}: {result['verdict'].upper()} "
          f"({st['strength']}; {st['seconds']}s; seed {st['seed']})")
    for u in st["unbuildable"]:
        print(f"  unbuildable [{u['config']}]: {u['reason']}")
    groups: dict = {}
    for v in result["violations"]:
        key = (v.config, json.dumps(v.trace))
        groups.setdefault(key, []).append(v)
    for (cfg, _), vs in groups.items():
        for v in vs:
            print(f"  violation: {v.invariant} [{cfg.short()}] {v.message}")
        trace = vs[0].trace
        print(f"    engine {vs[0].engine}, {vs[0].strength}; trace of "
              f"{len(trace)} calls:")
        target = TARGETS[result["target"]]
        for line in report.trace_lines(trace, cfg, target.symbols(cfg), target.api):
            print(f"    {line}")


def cmd_check(args) -> int:
    overrides = parse_config(args.config)
    names = args.targets or list(DEFAULT_TARGETS)
    for name in names:
        if name not in TARGETS:
            raise UsageError(f"unknown target {name!r} (see 'vcpcheck list')")
    results = [check_target(TARGETS[n], args, overrides) for n in names]
    if args.json:
        print(json.dumps({"targets": [
            {"target": r["target"], "verdict": r["verdict"],
             "violations": [report.violation_json(v) for v in r["violations"]],
             "stats": r["stats"]} for r in results]}))
    else:
        for r in results:
            print_text(r, args.verbose)
    if any(r["verdict"] == "fail" for r in results):
        return 1
    if any(r["verdict"] in ("unknown", "error") for r in results):
        return 1
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:          # argparse already printed one line
        return 2 if e.code else 0
    try:
        if args.command == "list":
            return cmd_list(args)
        return cmd_check(args)
    except UsageError as e:
        print(f"vcpcheck: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:           # a crash is never a pass
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"vcpcheck: error: internal error: {type(e).__name__}: {e}"
              " (run with -v for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
