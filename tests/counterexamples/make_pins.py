"""Regenerate the pinned counterexamples (run by hand, not by pytest):

    python tests/counterexamples/make_pins.py [TARGET...]

For each posted version it runs the stateful engine with the default seed
and options of `vcpcheck check`, keeps the shortest trace for each distinct
problem (invariant and message with numbers blanked), and writes them to
tests/counterexamples/<target>.json.  The tests replay these files, so they
do not depend on the search finding the same traces again.
"""
from __future__ import annotations

import json
import os
import sys

from vcpcheck.checks.cli import build_parser, check_target, parse_config
from vcpcheck.checks.stateful import signature
from vcpcheck.checks.targets import TARGETS

HERE = os.path.dirname(os.path.abspath(__file__))


def pins_for(name):
    args = build_parser().parse_args(["check", name, "--engine", "stateful"])
    result = check_target(TARGETS[name], args, parse_config([]))
    best = {}
    for v in result["violations"]:
        sig = signature(v.invariant, v.message)
        cur = best.get(sig)
        if cur is None or len(v.trace) < len(cur["trace"]):
            best[sig] = {"target": name, "config": v.config.as_dict(),
                         "invariant": v.invariant, "message": v.message,
                         "trace": v.trace}
    return sorted(best.values(), key=lambda p: (p["invariant"], len(p["trace"]),
                                                 p["message"]))


def main(names):
    for name in names or ["v2", "v3", "v5"]:
        pins = pins_for(name)
        path = os.path.join(HERE, f"{name}.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(pins, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
        print(f"{name}: {len(pins)} pinned counterexamples -> {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
