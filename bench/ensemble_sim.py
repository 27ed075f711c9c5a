"""Whole ensemble members under random schedules (zk_twisted.testing.simulation), as JSON.

    python bench/ensemble_sim.py [-n 500] [--seed 1] [--nodes 3,5] [--steps 400] [--faults 14]

Each schedule: a Simulation of real QuorumPeers (3 or 5 voters, or ``4+1`` for four voters
and an observer), ``--steps`` events chosen by the seed with a random fault plan (crashes,
restarts, partitions, heals, cuts, client writes, power losses) and a random disk speed,
the safety checks after every step, then convergence (``settle``).  Prints schedules,
steps, elapsed seconds, schedules/s, steps/s, epochs and acknowledged writes seen, the
unhandled protocol errors by message, and failures (the seed of each: replay with
``--seed S -n 1``).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from zk_twisted.testing.simulation import SafetyViolation, Simulation, random_plan  # noqa: E402


def one(seed: int, size: str, steps: int, faults: int) -> tuple[Simulation, str | None]:
    voters, _, observers = size.partition("+")
    rng = random.Random(seed)
    disk = rng.choice([1.0, 0.1, 0.01])
    sim = Simulation(int(voters), int(observers or 0), seed=seed, weights={"fsync": disk})
    try:
        sim.run(steps, plan=random_plan(rng, sim.sids, steps, faults, power=True))
        sim.settled_in = sim.settle(20000)
        return sim, None
    except SafetyViolation as e:
        return sim, str(e)
    except Exception as e:  # noqa: BLE001 - reported with its seed
        return sim, f"{type(e).__name__}: {e}"
    finally:
        sim.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=500, help="schedules per ensemble size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nodes", default="3,5", help="sizes: 3, 5, 4+1 (voters+observers)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--faults", type=int, default=14)
    args = ap.parse_args(argv)
    logging.disable(logging.CRITICAL)
    out = {"schedules_per_size": args.n, "steps_per_schedule": args.steps, "sizes": {}}
    for size in args.nodes.split(","):
        failures, steps, epochs, acked, settles = [], 0, 0, 0, []
        unhandled: collections.Counter = collections.Counter()
        t0 = time.perf_counter()
        for k in range(args.n):
            seed = args.seed + k
            sim, failure = one(seed, size, args.steps, args.faults)
            steps += sim.steps
            epochs += len(sim.leaders)
            acked += len(sim.acked)
            if hasattr(sim, "settled_in"):
                settles.append(sim.settled_in)
            unhandled.update(f.getErrorMessage() for f in sim.net.unhandled)
            if failure:
                failures.append({"seed": seed, "violation": failure})
                print(f"seed {seed} ({size}): {failure}", file=sys.stderr)
        dt = time.perf_counter() - t0
        out["sizes"][size] = {
            "schedules": args.n,
            "steps": steps,
            "seconds": round(dt, 2),
            "schedules_per_s": round(args.n / dt, 1),
            "steps_per_s": round(steps / dt),
            "leaders_established": epochs,
            "acked_writes": acked,
            "settle_steps_mean": round(sum(settles) / max(len(settles), 1)),
            "settle_steps_max": max(settles, default=0),
            "unhandled_errors": dict(unhandled),
            "failures": failures,
        }
    print(json.dumps(out, indent=2))
    return 1 if any(s["failures"] for s in out["sizes"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
