"""Write throughput with fsync on: zk_twisted and Java ZooKeeper 3.8 side by side; JSON out.

    python bench/write_throughput.py [--rounds 3] [--seconds 8] [--conns 8] [--depth 64] [--size 100]

Each round starts each server fresh (the order alternates between rounds), runs zkload's
``create`` then ``setData`` (100-byte values, pipelined clients), and reads ``mntr`` for
the fsync figures both servers keep (``avg_fsynctime``, ``avg_sync_processor_batch_size``:
txns per fsync).  Server CPU per txn comes from /proc.  Only ratios within one run compare:
the machine is shared and absolute figures swing with its load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from zkharness import SHARED_TOOLS, JavaZK, ZKProcess, four_letter, free_port  # noqa: E402

ZKLOAD = SHARED_TOOLS / "zkload.py"
OPS = ("create", "setData")
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def mntr(port: int) -> dict[str, str]:
    out = {}
    for line in four_letter(port, "mntr").splitlines():
        k, _, v = line.partition("\t")
        out[k] = v
    return out


def zkload(port: int, op: str, args) -> dict:
    r = subprocess.run(
        [
            sys.executable, str(ZKLOAD), "--hosts", f"127.0.0.1:{port}", "--op", op,
            "--seconds", str(args.seconds), "--conns", str(args.conns), "--depth", str(args.depth),
            "--size", str(args.size), "--procs", "1",
        ],
        capture_output=True, text=True, timeout=args.seconds * 10 + 60,
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"zkload {op} failed: {r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_one(kind: str, work: Path, args) -> dict:
    port = free_port()
    if kind == "java":
        server = JavaZK(work / "java", port, extra={"maxClientCnxns": "0"}).start()
        pid = int((work / "java" / "zk.pid").read_text())
    else:
        extra = {"maxClientCnxns": "0"}
        if kind == "zk_twisted_nosync":
            extra["forceSync"] = "no"
        server = ZKProcess(work / kind, port, extra=extra).start()
        pid = server.proc.pid
    result: dict = {}
    try:
        for op in OPS:
            before = mntr(port)
            cpu0 = cpu_seconds(pid)
            load = zkload(port, op, args)
            cpu = cpu_seconds(pid) - cpu0
            after = mntr(port)
            fsyncs = int(after.get("zk_cnt_fsynctime", 0)) - int(before.get("zk_cnt_fsynctime", 0))
            fsync_ms = int(after.get("zk_sum_fsynctime", 0)) - int(before.get("zk_sum_fsynctime", 0))
            batches = int(after.get("zk_cnt_sync_processor_batch_size", 0)) - int(
                before.get("zk_cnt_sync_processor_batch_size", 0)
            )
            txns = int(after.get("zk_sum_sync_processor_batch_size", 0)) - int(
                before.get("zk_sum_sync_processor_batch_size", 0)
            )
            result[op] = {
                "ops_per_s": load["ops_per_s"],
                "p99_ms": load["p99_ms"],
                "errors": load["errors"],
                "txns_per_fsync": round(txns / batches, 1) if batches else None,
                "fsync_ms_avg": round(fsync_ms / fsyncs, 2) if fsyncs else None,
                # every txn of the run (warm-up and zkload's clean-up included)
                "server_cpu_us_per_txn": round(cpu * 1e6 / txns, 1) if txns else None,
            }
    finally:
        server.stop()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--depth", type=int, default=64)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument(
        "--with-nosync", action="store_true", help="also zk_twisted with forceSync=no: what the fsync costs"
    )
    args = ap.parse_args(argv)
    runs: dict[str, list[dict]] = {"java": [], "zk_twisted": []}
    if args.with_nosync:
        runs["zk_twisted_nosync"] = []
    with tempfile.TemporaryDirectory(prefix="write_throughput.") as tmp:
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for kind in order:
                runs[kind].append(run_one(kind, Path(tmp) / f"r{r}", args))
    summary: dict = {"config": vars(args), "runs": runs}
    for op in OPS:
        med = {k: statistics.median(x[op]["ops_per_s"] for x in v) for k, v in runs.items()}
        summary[op] = {
            "java_ops_per_s": med["java"],
            "zk_twisted_ops_per_s": med["zk_twisted"],
            "ratio": round(med["zk_twisted"] / med["java"], 3) if med["java"] else None,
            "ratios_per_round": [
                round(o[op]["ops_per_s"] / j[op]["ops_per_s"], 3)
                for j, o in zip(runs["java"], runs["zk_twisted"], strict=True)
            ],
            "txns_per_fsync": {k: [x[op]["txns_per_fsync"] for x in v] for k, v in runs.items()},
            "fsync_ms_avg": {k: [x[op]["fsync_ms_avg"] for x in v] for k, v in runs.items()},
            "server_cpu_us_per_txn": {
                k: [x[op]["server_cpu_us_per_txn"] for x in v] for k, v in runs.items()
            },
        }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
