"""ZAB cores under random schedules (tests/zab/zabsim.run_schedule), schedules/s as JSON.

    python bench/zab_schedules.py [-n 2000] [--seed 1] [--nodes 3,5]

Each schedule: 10-80 random events (deliveries, fsyncs, half-ticks, client writes, up to
two crashes, oracle elections) with the invariants checked after every step, then
convergence.  Prints schedules, steps, elapsed seconds, schedules/s, and failures (the
seed of each, to replay with --seed S -n 1).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "zab"))

from zabsim import run_schedule  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nodes", default="3,5")
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)
    sizes = [int(x) for x in args.nodes.split(",")]
    failures, steps, commits = [], 0, 0
    t0 = time.perf_counter()
    for k in range(args.n):
        seed = args.seed + k
        rng = random.Random(seed)
        n = rng.choice(sizes)
        count = rng.randint(10, 80)
        try:
            sim = run_schedule(n, lambda options, label, r=rng: r.choice(list(options)), count)
            commits += len(sim.committed)
        except AssertionError as e:
            failures.append({"seed": seed, "nodes": n, "error": str(e)[:300]})
        steps += count
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "schedules": args.n, "steps": steps, "txns_committed": commits, "elapsed_s": round(elapsed, 2),
        "schedules_per_s": round(args.n / elapsed, 1), "failures": failures,
    }, indent=2))  # fmt: skip
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
