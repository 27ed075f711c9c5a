"""3-node ensembles: zk_twisted and Java ZooKeeper 3.8 side by side in one run; JSON out.

    python bench/ensemble.py [--rounds 2] [--seconds 5] [--kinds java,zk_twisted] [--no-load]
                             [--mix JJZ,ZZJ]

Per round and kind (the order alternates between rounds), on 127.0.0.1 with the port layout
of ``zk_java.sh ensemble`` (member i: client BASE+i-1, quorum BASE+100+i-1, election
BASE+200+i-1; tickTime=2000 initLimit=10 syncLimit=5, fsync on):

* **start to first write**: launch of the three members to the first successful create
  through any member (a fresh connection per attempt, every 20 ms);
* **load** (8 connections x 64 outstanding, 100 B, zkload): create and setData through a
  follower and through the leader, getData through a follower; server CPU µs per op is summed
  over the three members (utime + stime from /proc), RSS of each member after the load;
* **failover**: kill -9 of the leader, then the time until a write succeeds through a
  survivor, and until a survivor reports ``Mode: leader``; the election time the new leader
  logged (3.8: "LEADER ELECTION TOOK - N MS").

Java runs through ``../shared/tools/zk_java.sh ensemble``; zk_twisted as three ``twistd -n
zkserver`` processes with the same zoo.cfg lines and myid files.  ``--mix JJZ`` adds a
mixed ensemble (kind ``mix:JJZ``: member i is Java 3.8 or zk_twisted as letter i says,
tests/zkharness.py MixedEnsemble) to the same rounds.  A kind that cannot run an
ensemble is reported with its error rather than dropped.  Only ratios within one run compare.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from client_ops import git_rev, median, rss_mb  # noqa: E402
from zkharness import SHARED_TOOLS, ZK_JAVA_SH, MixedEnsemble, ZKEnsemble, four_letter, free_port_range  # noqa: E402

ZKLOAD = SHARED_TOOLS / "zkload.py"
KINDS = ("java", "zk_twisted")
#: (case, op, where): where = "follower" | "leader"
LOAD_CASES = (
    ("create_follower", "create", "follower"),
    ("create_leader", "create", "leader"),
    ("setData_follower", "setData", "follower"),
    ("getData_follower", "getData", "follower"),
)
_TICK = os.sysconf("SC_CLK_TCK")
_ELECTION_TOOK = re.compile(r"ELECTION TOOK - (\d+) MS")


def log(msg: str) -> None:
    print(f"[ensemble {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def sched_ns(pid: int) -> tuple[int, int]:
    """(ns on a CPU, ns runnable but waiting for one) summed over the process's threads,
    from /proc/PID/task/*/schedstat: where a member's time went besides sleeping."""
    run = wait = 0
    for t in Path(f"/proc/{pid}/task").glob("*"):
        try:
            r, w, _ = (int(x) for x in (t / "schedstat").read_text().split())
        except (OSError, ValueError):
            continue
        run, wait = run + r, wait + w
    return run, wait


def try_create(port: int, path: str, timeout: float = 1.0) -> bool:
    """One fresh session, one create; True when the server answered OK or NODEEXISTS."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            req = struct.pack(">iqiq", 0, 0, 10000, 0) + struct.pack(">i", 16) + bytes(16) + b"\x00"
            s.sendall(struct.pack(">i", len(req)) + req)
            _read_frame(s)
            p = path.encode()
            body = struct.pack(">ii", 1, 1) + struct.pack(">i", len(p)) + p + struct.pack(">i", 0)
            body += struct.pack(">i", 1) + struct.pack(">i", 31) + _ustr("world") + _ustr("anyone")
            body += struct.pack(">i", 1)  # ephemeral: gone with the session
            s.sendall(struct.pack(">i", len(body)) + body)
            rsp = _read_frame(s)
            err = struct.unpack_from(">i", rsp, 12)[0]
            return err in (0, -110)
    except (OSError, struct.error):
        return False


def _ustr(v: str) -> bytes:
    b = v.encode()
    return struct.pack(">i", len(b)) + b


def _read_frame(s: socket.socket) -> bytes:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            d = s.recv(n - len(buf))
            if not d:
                raise OSError("closed")
            buf += d
        return buf

    (n,) = struct.unpack(">i", exact(4))
    return exact(n)


def mode_of(port: int) -> str:
    for line in four_letter(port, "srvr", timeout=1.0).splitlines():
        if line.startswith("Mode: "):
            return line[6:].strip()
    return ""


class JavaEnsemble:
    name = "java"

    def __init__(self, base: Path, base_port: int) -> None:
        self.base, self.base_port = base, base_port
        self.base.mkdir(parents=True, exist_ok=True)

    def launch(self) -> subprocess.Popen:
        return subprocess.Popen(
            ["bash", str(ZK_JAVA_SH), "ensemble", str(self.base), str(self.base_port), "maxClientCnxns=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def pid(self, i: int) -> int | None:
        try:
            return int((self.base / f"zk{i}.pid").read_text())
        except (OSError, ValueError):
            return None

    def log_text(self, i: int) -> str:
        try:
            return (self.base / f"zk{i}.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        subprocess.run(["bash", str(ZK_JAVA_SH), "stop", str(self.base)], capture_output=True, timeout=90)


class TwistedEnsemble(ZKEnsemble):
    name = "zk_twisted"

    def __init__(self, base: Path, base_port: int) -> None:
        super().__init__(base, 3, extra={"maxClientCnxns": "0"}, base_port=base_port)

    def launch(self) -> None:
        self.start(wait=False)

    def pid(self, i: int) -> int | None:
        m = self.members[i]
        return m.proc.pid if m.alive() else None

    def exited(self) -> str | None:
        for i, m in self.members.items():
            if m.proc is not None and m.proc.poll() is not None:
                return f"member {i} exited with {m.proc.returncode}: {m.log()[-400:].strip()}"
        return None

    def log_text(self, i: int) -> str:
        # the whole log: ZKProcess.log() is its last 6000 characters, where the count of
        # "ELECTION TOOK" lines before and after a failover can come out the same
        try:
            return self.members[i].log_path.read_text(errors="replace")
        except OSError:
            return ""


class MixedBenchEnsemble(MixedEnsemble):
    """Java and zk_twisted members in one ensemble (``mix:JJZ``)."""

    def __init__(self, base: Path, base_port: int, mix: str) -> None:
        super().__init__(base, mix, extra={"maxClientCnxns": "0"}, base_port=base_port)
        self.name = f"mix:{mix}"

    launch = TwistedEnsemble.launch
    pid = TwistedEnsemble.pid
    exited = TwistedEnsemble.exited
    log_text = TwistedEnsemble.log_text


def make_ensemble(kind: str, base: Path, base_port: int):
    if kind == "java":
        return JavaEnsemble(base, base_port)
    if kind.startswith("mix:"):
        return MixedBenchEnsemble(base, base_port, kind[4:])
    return TwistedEnsemble(base, base_port)


def wait_first_write(ens, t0: float, timeout: float) -> float:
    ports = [ens.base_port + i for i in range(3)]
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        problem = getattr(ens, "exited", lambda: None)()
        if problem:
            raise RuntimeError(problem)
        for p in ports:
            if try_create(p, "/bench-first-write", timeout=0.5):
                return time.perf_counter() - t0
        time.sleep(0.02)
    raise TimeoutError(f"no successful write within {timeout}s")


def roles(ens) -> dict[int, str]:
    return {i: mode_of(ens.base_port + i - 1) for i in (1, 2, 3) if ens.pid(i)}


def wait_roles(ens, timeout: float = 60.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = roles(ens)
        if sorted(r.values()) == ["follower", "follower", "leader"]:
            return r
        time.sleep(0.05)
    raise TimeoutError(f"roles not settled: {roles(ens)}")


def zkload(port: int, op: str, pids: list[int], a) -> dict:
    cmd = [
        sys.executable, str(ZKLOAD), "--hosts", f"127.0.0.1:{port}", "--op", op,
        "--seconds", str(a.seconds), "--warmup", str(a.warmup), "--conns", "8", "--depth", "64",
        "--size", "100", "--procs", "1", "--server-pids", ",".join(map(str, pids)),
    ]  # fmt: skip
    before, t0 = [sched_ns(p) for p in pids], time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.warmup + a.seconds + 180)
    after, dt = [sched_ns(p) for p in pids], time.monotonic() - t0
    lines = r.stdout.strip().splitlines()
    if r.returncode != 0 or not lines:
        return {"error": (r.stderr or r.stdout)[-1000:]}
    res = json.loads(lines[-1])
    out = {k: res.get(k) for k in ("ops_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_op", "errors")}
    # per member (1, 2, 3) over the whole zkload run (warm-up and drain included): % of wall
    # time on a CPU, and % runnable but waiting for one (the machine's other load)
    out["on_cpu_pct"] = [round((b[0] - a0[0]) / 1e7 / dt, 1) for a0, b in zip(before, after, strict=True)]
    out["runqueue_pct"] = [round((b[1] - a0[1]) / 1e7 / dt, 1) for a0, b in zip(before, after, strict=True)]
    return out


def failover(ens, leader: int, timeout: float = 60.0) -> dict:
    survivors = [i for i in (1, 2, 3) if i != leader]
    logs_before = {i: len(_ELECTION_TOOK.findall(ens.log_text(i))) for i in survivors}
    pid = ens.pid(leader)
    t0 = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    out: dict = {}
    deadline = t0 + timeout
    while time.perf_counter() < deadline and ("write_s" not in out or "leader_s" not in out):
        for i in survivors:
            port = ens.base_port + i - 1
            if "write_s" not in out and try_create(port, "/bench-failover", timeout=0.3):
                out["write_s"] = round(time.perf_counter() - t0, 3)
            if "leader_s" not in out and mode_of(port) == "leader":
                out["leader_s"] = round(time.perf_counter() - t0, 3)
                out["new_leader"] = i
        time.sleep(0.01)
    if "new_leader" in out:
        took = _ELECTION_TOOK.findall(ens.log_text(out["new_leader"]))
        if len(took) > logs_before[out["new_leader"]]:
            out["election_ms"] = int(took[-1])
    if len(out) < 3:
        out["error"] = f"failover incomplete after {timeout}s: {out}"
    return out


def run_round(kind: str, work: Path, a) -> dict:
    base_port = free_port_range(width=3)
    ens = make_ensemble(kind, work / kind.replace(":", "-"), base_port)
    res: dict = {"base_port": base_port}
    t0 = time.perf_counter()
    try:
        ens.launch()
        res["start_to_first_write_s"] = round(wait_first_write(ens, t0, a.start_timeout), 3)
        r = wait_roles(ens)
        leader = next(i for i, m in r.items() if m == "leader")
        follower = next(i for i, m in r.items() if m == "follower")
        res["leader"], res["follower"] = leader, follower
        if not a.no_load:
            pids = [ens.pid(i) for i in (1, 2, 3)]
            for case, op, where in LOAD_CASES:
                if a.cases and case not in a.cases.split(","):
                    continue
                target = leader if where == "leader" else follower
                res[case] = zkload(base_port + target - 1, op, pids, a)
                log(f"{kind} {case}: {res[case].get('ops_per_s')} ops/s")
            res["rss_mb"] = {i: rss_mb(ens.pid(i)) for i in (1, 2, 3)}
        if not a.no_failover:
            res["failover"] = failover(ens, leader)
    except (RuntimeError, TimeoutError, OSError) as e:
        res["error"] = str(e)[-2000:]
    finally:
        ens.stop()
    return res


def summarize(rounds: list[dict]) -> dict:
    ok = [r for r in rounds if "error" not in r]
    out: dict = {"rounds": rounds}
    if not ok:
        out["error"] = rounds[-1].get("error") if rounds else "no round ran"
        return out
    out["start_to_first_write_s"] = median(r.get("start_to_first_write_s") for r in ok)
    for key in ("write_s", "leader_s", "election_ms"):
        out[f"failover_{key}"] = median(r["failover"].get(key) for r in ok if "failover" in r)
    for case, _, _ in LOAD_CASES:
        runs = [r[case] for r in ok if case in r and "error" not in r[case]]
        if runs:
            out[case] = {
                "ops_per_s": median(x["ops_per_s"] for x in runs),
                "server_cpu_us_per_op": median(x["server_cpu_us_per_op"] for x in runs),
                "spread_ops_per_s": [x["ops_per_s"] for x in runs],
                "spread_cpu_us_per_op": [x["server_cpu_us_per_op"] for x in runs],
            }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--no-load", action="store_true", help="start-up and failover only")
    ap.add_argument("--cases", default="", help="only these load cases (comma-separated), e.g. setData_follower")
    ap.add_argument("--no-failover", action="store_true", help="skip the kill -9 of the leader")
    ap.add_argument("--start-timeout", type=float, default=90.0)
    ap.add_argument("--mix", default="", help="mixed ensembles too, e.g. JJZ,ZZJ (J: Java 3.8, Z: zk_twisted)")
    a = ap.parse_args(argv)
    kinds = [k for k in a.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        ap.error(f"unknown kinds {sorted(unknown)}")
    for mix in (m.strip().upper() for m in a.mix.split(",") if m.strip()):
        if len(mix) != 3 or set(mix) - {"J", "Z"}:
            ap.error(f"--mix {mix!r}: three letters, each J (Java) or Z (zk_twisted)")
        kinds.append(f"mix:{mix}")
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="zk-ensemble-bench-") as tmp:
        for rnd in range(a.rounds):
            order = kinds if rnd % 2 == 0 else kinds[::-1]
            for kind in order:
                log(f"round {rnd + 1}: {kind}")
                r = run_round(kind, Path(tmp) / f"r{rnd}", a)
                if "error" in r:
                    log(f"{kind}: {r['error'][:300]}")
                results[kind].append(r)
    doc = {"bench": "ensemble", "commit": git_rev(), "args": vars(a)}
    doc.update({k: summarize(v) for k, v in results.items()})
    if "java" in doc:
        j = doc["java"]
        for other in [k for k in kinds if k != "java"]:
            z = doc[other]
            key = "ratios" if other == "zk_twisted" else f"ratios_{other}"
            doc[key] = {
                case: (round(z[case]["ops_per_s"] / j[case]["ops_per_s"], 3) if case in z and case in j else None)
                for case, _, _ in LOAD_CASES
            }
    print(json.dumps(doc, indent=1, default=str))
    return 0 if all("error" not in doc[k] for k in kinds) else 1


if __name__ == "__main__":
    sys.exit(main())
