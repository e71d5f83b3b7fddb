"""Time to the first counterexample: how long a developer waits.

Runs the default `vcpcheck check TARGET` (all engines, default budget) in a
process of its own for each failing target, the posted versions and the
failing variants under bench/variants/, and measures the wall time from
the start of the process to the first violation line on its standard
output.  A build that prints its results only at the end (before issue 13)
is timed to the end of its run.  Once the first violation is in, the run
is stopped unless --whole is given.

    python bench/bench_first_answer.py [--vcpcheck CMD] [--whole] [--cap S]
                                       [TARGET...]

--vcpcheck names another build's command (e.g. a venv of an older commit)
to time it the same way.
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = ["v2", "v3", "v5"] + sorted(
    os.path.join("bench", "variants", f)
    for f in os.listdir(os.path.join(HERE, "variants")) if f.endswith(".py"))


def first_answer(cmd, target, cap, whole):
    """(seconds to the first violation line or None, seconds to the end or
    None if stopped, exit status)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd + ["check", target], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1,
                            cwd=os.path.dirname(HERE), start_new_session=True)
    first = None
    try:
        for line in proc.stdout:
            if first is None and line.lstrip().startswith("violation:"):
                first = time.monotonic() - t0
                if not whole:
                    break
            if time.monotonic() - t0 > cap:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    ended = time.monotonic() - t0 if proc.returncode in (0, 1, 2) else None
    return first, ended, proc.returncode


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("targets", nargs="*", default=DEFAULT)
    p.add_argument("--vcpcheck", default=f"{sys.executable} -m vcpcheck.checks.cli",
                   help="the command to time (default: this Python's vcpcheck)")
    p.add_argument("--whole", action="store_true",
                   help="let each run finish (time to the end as well)")
    p.add_argument("--cap", type=float, default=900.0,
                   help="stop a run after this many seconds")
    args = p.parse_args(argv)
    cmd = shlex.split(args.vcpcheck)
    print(f"{'target':45} {'first violation (s)':>20} {'end (s)':>9}  exit")
    for t in args.targets:
        first, ended, code = first_answer(cmd, t, args.cap, args.whole)
        f = f"{first:.1f}" if first is not None else "none"
        e = f"{ended:.1f}" if ended is not None else "stopped"
        print(f"{t:45} {f:>20} {e:>9}  {code}", flush=True)


if __name__ == "__main__":
    main()
