"""A 1,000,000-znode tree: restore time, resident memory, and a snapshot taken while clients
read, for zk_twisted and Java ZooKeeper 3.8 side by side; JSON out.

    python bench/snapshot_1m.py [--znodes 1000000] [--read-seconds 40]

1. One snapshot file holding the tree (1000 parents x 1000 children, 100-byte values) is
   written with zk_twisted's snapshot writer; each server starts on its own copy of it
   (Java reads our snapshot format, which the interop tests check), so both restore the
   same bytes.  Reported: time until the server answers, the restore phases as each logs
   them, and VmRSS / VmHWM.
2. With ``snapCount=1000``, 1,100 setData then make each server take a snapshot of the
   whole tree while ``zkload getData`` (4 connections, one request in flight each) reads:
   the slowest read during the snapshot, its p99, and the same figures from a run without
   a snapshot; the snapshot's duration as the server logs it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from kazoo.client import KazooClient  # noqa: E402
from zkharness import SHARED_TOOLS, JavaZK, ZKProcess, four_letter, wait_for  # noqa: E402

ZKLOAD = SHARED_TOOLS / "zkload.py"


def build_snapshot(znodes: int, data_dir: Path) -> Path:
    """The tree, created by txns through our DataTree, written as one snapshot."""
    from zk_twisted.constants import OpCode
    from zk_twisted.jute import records as R
    from zk_twisted.persistence.snapshot import write_snapshot
    from zk_twisted.server.datatree import DataTree
    from zk_twisted.server.zkdatabase import ZKDatabase

    db = ZKDatabase(DataTree())
    acl = [R.ACL(31, R.Id("world", "anyone"))]
    value = b"v" * 100
    parents = max(1, znodes // 1000)
    zxid = 0
    for p in range(parents):
        zxid += 1
        db.process_txn(
            R.TxnHeader(0, 0, zxid, 1_700_000_000_000 + zxid, OpCode.create),
            R.CreateTxn(f"/b{p}", b"", acl, False, -1),
        )
        for c in range(znodes // parents):
            zxid += 1
            hdr = R.TxnHeader(0, 0, zxid, 1_700_000_000_000 + zxid, OpCode.create)
            db.process_txn(hdr, R.CreateTxn(f"/b{p}/n{c}", value, acl, False, -1))
    snap_dir = data_dir / "version-2"
    snap_dir.mkdir(parents=True)
    return write_snapshot(db, snap_dir)


def memory(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key + "_MB"] = int(value.split()[0]) // 1024
    return out


def zkload(port: int, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable, str(ZKLOAD), "--hosts", f"127.0.0.1:{port}", "--op", "getData",
            "--seconds", str(seconds), "--conns", "4", "--depth", "1", "--warmup", "1",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def read_result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"zkload failed: {err}")
    r = json.loads(out.strip().splitlines()[-1])
    return {
        "reads_per_s": r["ops_per_s"],
        "p99_ms": r["p99_ms"],
        "max_ms": r["max_ms"],
        "errors": r["errors"],
    }


def snapshot_under_reads(port: int, log: Path, pattern: str, read_seconds: float) -> dict:
    """Baseline reads, then reads while 1,100 setData make the server snapshot the tree."""
    baseline = read_result(zkload(port, 6))
    before = len(re.findall(pattern, log.read_text(errors="replace")))
    reader = zkload(port, read_seconds)
    time.sleep(3)
    zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=30)
    zk.start()
    zk.ensure_path("/snap-trigger")
    for i in range(1100):
        zk.set("/snap-trigger", str(i).encode())
    zk.stop()
    zk.close()
    deadline = time.monotonic() + read_seconds
    taken = []
    while time.monotonic() < deadline:
        taken = re.findall(pattern, log.read_text(errors="replace"))[before:]
        if taken:
            break
        time.sleep(0.2)
    during = read_result(reader)
    return {
        "snapshot_ms": int(taken[0]) if taken else None,
        "reads_during_snapshot": during,
        "reads_without_snapshot": baseline,
    }


def run_ours(snapshot: Path, work: Path, read_seconds: float) -> dict:
    data = work / "ours-data"
    (data / "version-2").mkdir(parents=True)
    shutil.copy(snapshot, data / "version-2" / snapshot.name)
    server = ZKProcess(work / "ours", extra={"snapCount": "1000", "maxClientCnxns": "0"}, data_dir=data)
    t0 = time.monotonic()
    server.start(timeout=600)
    result: dict = {"ready_s": round(time.monotonic() - t0, 2)}
    try:
        m = re.search(
            r"Restored zxid \S+ from \S+ \+ \d+ logged txns \(snapshot (\d+) ms", server.log_path.read_text()
        )
        result["snapshot_load_ms"] = int(m.group(1)) if m else None
        result.update(memory(server.proc.pid))
        result.update(
            snapshot_under_reads(server.port, server.log_path, r"Snapshot taken in (\d+) ms", read_seconds)
        )
        result["after_snapshot"] = memory(server.proc.pid)
    finally:
        server.stop()
    return result


def run_java(snapshot: Path, work: Path, read_seconds: float) -> dict:
    data = work / "java-data"
    (data / "version-2").mkdir(parents=True)
    shutil.copy(snapshot, data / "version-2" / snapshot.name)
    java = JavaZK(work / "java", extra={"snapCount": "1000", "maxClientCnxns": "0", "dataDir": str(data)})
    t0 = time.monotonic()
    java.start()
    # zk_java.sh's ruok says imok before the database is loaded: wait until srvr serves
    wait_for(lambda: "Zxid:" in four_letter(java.port, "srvr"), 600, 0.05, "Java to serve")
    result: dict = {"ready_s": round(time.monotonic() - t0, 2)}
    log = work / "java" / "zk.log"
    pid = int((work / "java" / "zk.pid").read_text())
    try:
        m = re.search(r"Snapshot loaded in (\d+) ms", log.read_text(errors="replace"))
        result["snapshot_load_ms"] = int(m.group(1)) if m else None
        result.update(memory(pid))
        result.update(snapshot_under_reads(java.port, log, r"Snapshot taken in (\d+) ms", read_seconds))
        result["after_snapshot"] = memory(pid)
    finally:
        java.stop()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--znodes", type=int, default=1_000_000)
    ap.add_argument("--read-seconds", type=float, default=40)
    ap.add_argument("--dir", type=Path, default=None, help="work dir, kept (default: a temporary one)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="snapshot_1m.") as tmp:
        work = args.dir or Path(tmp)
        t0 = time.monotonic()
        snapshot = build_snapshot(args.znodes, work / "built")
        out = {
            "znodes": args.znodes,
            "snapshot_bytes": snapshot.stat().st_size,
            "build_s": round(time.monotonic() - t0, 1),
            "zk_twisted": run_ours(snapshot, work, args.read_seconds),
            "java": run_java(snapshot, work, args.read_seconds),
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
