"""Leader election: the in-memory simulation's speed, and election time on loopback,
zk_twisted's election processes beside Java ZooKeeper 3.8's 3-node ensemble, in one run.

    python bench/election.py                   # sim 300 schedules, 3 socket rounds, 3 Java rounds
    python bench/election.py --no-java --rounds 1 --schedules 50

Prints one JSON document.  ``election_ms`` per server is lookForLeader's start to its
decision: ours from the election process's own clock, Java's from its log line
"LEADER ELECTION TOOK - N MS".  Both ensembles are launched one process after the other, so
the figure includes the launch skew of the later members (a JVM takes longer to start).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "election"))

from electionproc import ElectionProc, client_port_line, ensemble_config  # noqa: E402
from zkharness import ZK_JAVA_SH, free_port  # noqa: E402

from zk_twisted.testing.election_sim import ElectionSim  # noqa: E402


def bench_sim(n_schedules: int) -> dict:
    logging.disable(logging.WARNING)
    out = {}
    for n in (3, 5):
        t0, steps = time.perf_counter(), 0
        for seed in range(n_schedules):
            r = random.Random(seed)
            votes = {i: (e := r.randint(0, 2), (r.randint(0, e) << 32) | r.randint(0, 3)) for i in range(1, n + 1)}
            sim = ElectionSim(votes, seed=seed)
            for _ in range(r.randint(0, 600)):
                sim.step(0.05)
            sim.stop_faults()
            for _ in range(30000):
                if sim.settled() is not None and not [e for e in sim.net.events() if e.kind != "timer"]:
                    break
                sim.step()
            assert sim.settled() is not None
            steps += len(sim.net.trace)
        dt = time.perf_counter() - t0
        out[f"{n}_servers"] = {"schedules": n_schedules, "schedules_per_s": round(n_schedules / dt, 1),
                               "steps_per_s": round(steps / dt)}  # fmt: skip
    logging.disable(logging.NOTSET)
    return out


def bench_ours(rounds: int) -> dict:
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as d:
            text, ports = ensemble_config(3, tick=2000, sync=5)
            procs = [ElectionProc(Path(d), s, text + client_port_line(ports, s)) for s in (1, 2, 3)]
            try:
                for p in procs:
                    p.start()
                times.append([p.wait("decided")["elapsed_ms"] for p in procs])
            finally:
                for p in procs:
                    p.stop()
    return _summary(times)


def bench_java(rounds: int) -> dict:
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as d:
            bp = free_port() % 20000 + 20000
            r = subprocess.run(["bash", str(ZK_JAVA_SH), "ensemble", d, str(bp)], capture_output=True, text=True)
            try:
                if r.returncode != 0:
                    raise RuntimeError(r.stdout + r.stderr)
                ms = []
                for i in (1, 2, 3):
                    m = re.search(r"LEADER ELECTION TOOK - (\d+) MS", Path(d, f"zk{i}.log").read_text())
                    ms.append(float(m.group(1)) if m else None)
                times.append(ms)
            finally:
                subprocess.run(["bash", str(ZK_JAVA_SH), "stop", d], capture_output=True)
    return _summary(times)


def _summary(times: list[list[float]]) -> dict:
    flat = [t for row in times for t in row if t is not None]
    return {"election_ms_per_round": times, "median_ms": statistics.median(flat) if flat else None,
            "max_ms": max(flat) if flat else None}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--schedules", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-java", action="store_true")
    args = ap.parse_args()
    print("simulating...", file=sys.stderr)
    result = {"sim": bench_sim(args.schedules)}
    print("zk_twisted election processes...", file=sys.stderr)
    result["zk_twisted"] = bench_ours(args.rounds)
    if not args.no_java:
        print("Java ZooKeeper 3.8 ensembles...", file=sys.stderr)
        result["java"] = bench_java(args.rounds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
