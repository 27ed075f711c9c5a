"""Start-up of zk_twisted.testing's server (what every zk_server fixture pays), beside Java 3.8.

    python bench/testing_startup.py [--rounds 10] [--java-rounds 3] [--no-java] [--json-out FILE]

Then the wait a test has for the ``zk_server`` fixture in a sequence of tests (whose bodies
sleep ``--test-seconds``), with the plugin's spare server (started while the previous test
runs) and without it (``--zk-server-no-spare``).

Each round: ``ServerProcess.start()`` from an empty data dir until ``ruok`` answers ``imok``
(wall time, as a test waits for it), the server's own CPU time at that moment (utime+stime
from /proc: steadier than wall time on a loaded machine), then ``stop()`` (timed too: a
fixture's teardown).  Java ZooKeeper 3.8 standalone through ``../shared/tools/zk_java.sh``,
probed the same way as bench/client_ops.py does, for reference.  Prints one JSON document;
the target (issue 15) is start-up to serving under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from client_ops import Java  # noqa: E402

from zk_twisted.testing import ServerProcess  # noqa: E402
from zk_twisted.testing.pytest_plugin import ServerPool  # noqa: E402

TARGET_S = 0.5


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spread(xs: list[float]) -> dict:
    return {
        "median": round(statistics.median(xs), 4),
        "min": round(min(xs), 4),
        "max": round(max(xs), 4),
        "stdev": round(statistics.stdev(xs), 4) if len(xs) > 1 else 0.0,
        "samples": [round(x, 4) for x in xs],
    }


def ours(rounds: int, work: Path) -> dict:
    start, cpu, stop = [], [], []
    for i in range(rounds):
        srv = ServerProcess(work / f"ours{i}")
        t0 = time.perf_counter()
        srv.start()
        start.append(time.perf_counter() - t0)
        cpu.append(cpu_seconds(srv.proc.pid))
        t1 = time.perf_counter()
        srv.stop()
        stop.append(time.perf_counter() - t1)
        shutil.rmtree(srv.base, ignore_errors=True)
    return {"start_s": spread(start), "server_cpu_at_ready_s": spread(cpu), "stop_s": spread(stop)}


def fixture_waits(rounds: int, work: Path, spare: bool, body_s: float) -> dict:
    """What a test waits for ``zk_server`` in a suite: the plugin's pool, tests of ``body_s``."""
    pool = ServerPool(work / ("spare" if spare else "nospare"), spare)
    waits = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            srv = pool.take({})
            waits.append(time.perf_counter() - t0)
            time.sleep(body_s)  # the test's own work (idle here)
            srv.stop()
    finally:
        pool.close()
    return spread(waits)


def java(rounds: int, work: Path) -> dict:
    start = []
    for i in range(rounds):
        j = Java(work / f"java{i}")
        try:
            start.append(j.start())
        finally:
            j.stop()
    return {"start_s": spread(start)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--java-rounds", type=int, default=3)
    ap.add_argument("--no-java", action="store_true")
    ap.add_argument("--test-seconds", type=float, default=0.5, help="test body length in the fixture runs")
    ap.add_argument("--json-out")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zk-testing-startup-"))
    try:
        result = {
            "bench": "testing_startup",
            "loadavg_before": os.getloadavg(),
            "zk_twisted": ours(a.rounds, work),
        }
        result["zk_server_fixture_wait_s"] = {
            "test_body_s": a.test_seconds,
            "with_spare": fixture_waits(a.rounds, work, True, a.test_seconds),
            "no_spare": fixture_waits(a.rounds, work, False, a.test_seconds),
        }
        if not a.no_java:
            result["java"] = java(a.java_rounds, work)
        result["loadavg_after"] = os.getloadavg()
        median = result["zk_twisted"]["start_s"]["median"]
        result["target"] = {"start_s_below": TARGET_S, "met": median < TARGET_S}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(result, indent=2)
    print(text)
    if a.json_out:
        Path(a.json_out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
