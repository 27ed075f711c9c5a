"""How densely each schedule family catches each implementation mutant, as JSON.

    python bench/mutant_search.py [-n 50] [--first 1000] [--only NAME ...]

For every mutant of zk_twisted.testing.mutants and every search detector conformance.mutants
lists for it, ``-n`` schedules from seed ``--first`` (new seeds: the test suite uses those
from 0): how many broke an invariant, by which invariant, the first seed that did; then the
same schedules on the unmutated code, which must break nothing.  The nightly-sized check
that a catch in the suite is not one lucky seed.  Prints schedules/s.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from conformance.mutants import DETECTORS, run_schedule  # noqa: E402
from zk_twisted.testing.mutants import MUTANTS, mutant  # noqa: E402


def sweep(family: str, seeds: range) -> dict:
    by: collections.Counter = collections.Counter()
    first = None
    t0 = time.perf_counter()
    for seed in seeds:
        v = run_schedule(family, seed)
        if v is not None:
            by[v.invariant or "unnamed"] += 1
            first = seed if first is None else first
    dt = time.perf_counter() - t0
    return {
        "schedules": len(seeds),
        "caught": sum(by.values()),
        "by": dict(by),
        "first_seed": first,
        "seconds": round(dt, 2),
        "schedules_per_s": round(len(seeds) / dt, 1) if dt else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=50, help="schedules per (mutant, family)")
    ap.add_argument("--first", type=int, default=1000, help="first seed")
    ap.add_argument("--only", nargs="+", help="these mutants only")
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)
    seeds = range(args.first, args.first + args.n)
    out: dict = {"seeds": [seeds.start, seeds.stop], "mutants": {}, "baseline": {}}
    families = set()
    for name in args.only or list(MUTANTS):
        fams = [d.name for d in DETECTORS[name] if d.kind == "search"]
        families.update(fams)
        with mutant(name):
            out["mutants"][name] = {f: sweep(f, seeds) for f in fams}
    for f in sorted(families):
        out["baseline"][f] = sweep(f, seeds)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    missed = [n for n, fams in out["mutants"].items() if fams and not any(r["caught"] for r in fams.values())]
    alarms = [f for f, r in out["baseline"].items() if r["caught"]]
    if missed or alarms:
        print(f"missed: {missed}; false alarms: {alarms}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
