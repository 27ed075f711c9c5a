"""Client ops side by side: zk_twisted vs Java ZooKeeper 3.8 in one run; one JSON document out.

    python bench/client_ops.py [--seconds 5] [--warmup 1] [--rounds 2] [--only OP[,OP...]]
                               [--json-out FILE] [--no-java]

Both servers run at once on free loopback ports with the same zoo.cfg lines (tickTime=2000,
clientPortAddress=127.0.0.1, maxClientCnxns=0, 4lw.commands.whitelist=*, forceSync at its
default = yes), their dataDirs under one temp dir.  For every case, ``zkload.py`` (from
``../shared/tools``, or $ZK_SHARED_TOOLS) runs against zk_twisted then Java, ``--rounds`` times
(A B A B ...).  Cases: getData, exists, create, setData, ephemeral, connect at 8 connections x
64 outstanding; getData_1x1 and create_1x1 at 1 x 1 (latency).  ``--only`` takes case names or
op names (``--only getData`` runs getData and getData_1x1).

Reported per case and server: the median over rounds of ops/s, p50/p99 latency (ms) and
server CPU microseconds per op (zkload's /proc sampling of the server pid); ``ratio`` is
zk_twisted ops/s / Java ops/s (> 1: zk_twisted is faster).  Also start-up time (launch to
``ruok`` = ``imok``, polled the same way for both; median of ``--startup-samples`` launches)
and resident memory (VmRSS) idle after start and after the load.  Progress goes to stderr.

Exit status: 0, or 1 when a zkload run reported errors / verify failures / a bad tree check
(listed under "problems" with the exact command), 2 on a set-up failure.  Only ratios within
one run compare: the machine is shared and absolute figures swing with its load.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from zkharness import SHARED_TOOLS, ZK_JAVA_SH, ZKProcess, free_port  # noqa: E402

ZKLOAD = SHARED_TOOLS / "zkload.py"
OURS, JAVA = "zk_twisted", "java"

#: (case name, zkload op, connections, outstanding per connection)
CASES: list[tuple[str, str, int, int]] = [
    ("getData", "getData", 8, 64),
    ("exists", "exists", 8, 64),
    ("create", "create", 8, 64),
    ("setData", "setData", 8, 64),
    ("ephemeral", "ephemeral", 8, 64),
    ("connect", "connect", 8, 64),
    ("getData_1x1", "getData", 1, 1),
    ("create_1x1", "create", 1, 1),
]
READ_CASES = ("getData", "exists", "getData_1x1")

#: the issue's targets
READ_RATIO_MIN = 0.5
CONNECT_RATIO_MIN = 1.0
STARTUP_MAX_S = 1.0

#: the same zoo.cfg lines for both servers, on top of zk_java.sh's / ZKProcess's common ones
#: (tickTime=2000 initLimit=10 syncLimit=5 dataDir clientPort clientPortAddress=127.0.0.1
#: 4lw.commands.whitelist=*)
EXTRA_CFG = {"maxClientCnxns": "0", "admin.enableServer": "false"}


def log(msg: str) -> None:
    print(f"[client_ops {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def wait_imok(port: int, t0: float, timeout: float, alive, every: float = 0.02) -> float:
    """Probe ``ruok`` every 20 ms until ``imok``; -> seconds since t0 (perf_counter).

    A new probe starts every 20 ms without waiting for the earlier ones: Java ZooKeeper binds
    its client port before it serves, and a connection accepted in between is never answered,
    so a poll that waits out each probe's timeout would add up to that timeout to its figure.
    """
    sel = selectors.DefaultSelector()
    bufs: dict[socket.socket, bytearray] = {}

    def drop(s: socket.socket) -> None:
        sel.unregister(s)
        bufs.pop(s, None)
        s.close()

    deadline = t0 + timeout
    next_probe = time.perf_counter()
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                raise TimeoutError(f"no imok from 127.0.0.1:{port} within {timeout}s")
            if now >= next_probe:
                if not alive():
                    raise RuntimeError(f"server on port {port} exited before answering imok")
                if len(bufs) >= 100:                      # hung probes: drop the oldest
                    drop(next(iter(bufs)))
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                if s.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS):
                    bufs[s] = bytearray()
                    sel.register(s, selectors.EVENT_WRITE)
                else:
                    s.close()
                next_probe = now + every
            wait = max(0.0, min(next_probe, deadline) - time.perf_counter())
            for key, ev in sel.select(wait):
                s = key.fileobj
                try:
                    if ev & selectors.EVENT_WRITE:
                        if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                            drop(s)                       # refused: not listening yet
                            continue
                        s.send(b"ruok")
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    d = s.recv(64)
                except OSError:
                    drop(s)
                    continue
                if not d:
                    drop(s)
                    continue
                bufs[s] += d
                if bufs[s] == b"imok":
                    return time.perf_counter() - t0
    finally:
        for s in list(bufs):
            drop(s)
        sel.close()


class Ours:
    """zk_twisted: ``twistd --pidfile= -n zkserver -c zoo.cfg`` through tests/zkharness.py."""

    name = OURS

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.zk: ZKProcess | None = None

    def start(self, timeout: float = 60.0) -> float:
        shutil.rmtree(self.base / "data", ignore_errors=True)     # each launch from an empty dataDir
        self.zk = ZKProcess(self.base, self.port, extra=EXTRA_CFG)
        t0 = time.perf_counter()
        self.zk.start(wait=False)
        try:
            return wait_imok(self.port, t0, timeout, self.zk.alive)
        except Exception as e:
            raise RuntimeError(f"{e}\n{self.zk.log()}") from e

    @property
    def pid(self) -> int:
        assert self.zk is not None and self.zk.proc is not None
        return self.zk.proc.pid

    def stop(self) -> None:
        if self.zk is not None:
            self.zk.stop()


class Java:
    """Java ZooKeeper 3.8 standalone through ../shared/tools/zk_java.sh (JVM defaults)."""

    name = JAVA

    def __init__(self, base: Path):
        self.base = base
        self.port = free_port()
        self.script_ready: str | None = None
        self._pid: int | None = None

    def start(self, timeout: float = 120.0) -> float:
        lines = [f"{k}={v}" for k, v in EXTRA_CFG.items()]
        self.base.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        p = subprocess.Popen(
            ["bash", str(ZK_JAVA_SH), "standalone", str(self.base), str(self.port), *lines],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            took = wait_imok(self.port, t0, timeout, lambda: p.poll() in (None, 0))
        except Exception:
            p.kill()
            out, err = p.communicate()
            self.stop()
            raise RuntimeError(f"zk_java.sh standalone failed: {out}\n{err}") from None
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"zk_java.sh standalone failed ({p.returncode}): {out}\n{err}")
        self.script_ready = out.strip()            # "ready standalone in Xs pid P port N"
        self._pid = int((self.base / "zk.pid").read_text())
        return took

    @property
    def pid(self) -> int:
        assert self._pid is not None
        return self._pid

    def stop(self) -> None:
        subprocess.run(["bash", str(ZK_JAVA_SH), "stop", str(self.base)], capture_output=True, timeout=60)


def run_zkload(server, op: str, conns: int, depth: int, a) -> tuple[dict | None, dict | None]:
    """-> (zkload's JSON line, problem or None)."""
    cmd = [
        sys.executable, str(ZKLOAD), "--hosts", f"127.0.0.1:{server.port}", "--op", op,
        "--seconds", str(a.seconds), "--warmup", str(a.warmup), "--conns", str(conns),
        "--depth", str(depth), "--size", str(a.size), "--procs", str(a.procs),
        "--server-pids", str(server.pid), "--tag", server.name,
    ]  # fmt: skip
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.warmup + a.seconds + 180)
    except subprocess.TimeoutExpired as e:
        return None, {"cmd": shlex.join(cmd), "error": f"timed out after {e.timeout}s"}
    res = None
    lines = r.stdout.strip().splitlines()
    if lines:
        try:
            res = json.loads(lines[-1])
        except ValueError:
            res = None
    bad = (
        r.returncode != 0
        or res is None
        or res.get("errors")
        or res.get("verify_failures")
        or res.get("tree_check") not in (None, "ok")
        or res.get("failures")
    )
    problem = None
    if bad:
        problem = {"cmd": shlex.join(cmd), "rc": r.returncode, "stdout": r.stdout[-4000:],
                   "stderr": r.stderr[-4000:]}  # fmt: skip
    return res, problem


def median(vals):
    vals = [v for v in vals if v is not None]
    return round(statistics.median(vals), 3) if vals else None


def summarize(runs: list[dict]) -> dict:
    return {
        "ops_per_s": median(r.get("ops_per_s") for r in runs),
        "p50_ms": median(r.get("p50_ms") for r in runs),
        "p99_ms": median(r.get("p99_ms") for r in runs),
        "server_cpu_us_per_op": median(r.get("server_cpu_us_per_op") for r in runs),
        "rounds": [
            {k: r.get(k) for k in ("ops_per_s", "p50_ms", "p99_ms", "server_cpu_us_per_op", "errors",
                                   "server_rss_max_mb", "other_cpu_s")}
            for r in runs
        ],
    }  # fmt: skip


def ratio(x, y):
    return round(x / y, 3) if x is not None and y else None


def targets(doc: dict, have_java: bool) -> dict:
    ops = doc["ops"]

    def ratio_target(cases, minimum):
        got = {c: ops[c]["ratio"] for c in cases if c in ops}
        met = None
        if have_java and got:
            met = all(v is not None and v >= minimum for v in got.values())
        return {"target": f"zk_twisted/java ops/s >= {minimum}", "ratios": got, "met": met}

    st = doc["startup_s"]
    rss = doc["rss_mb"]
    ours_after, java_after = rss[OURS]["after_load"], rss.get(JAVA, {}).get("after_load")
    return {
        "reads_ratio": ratio_target(READ_CASES, READ_RATIO_MIN),
        "connect_ratio": ratio_target(("connect",), CONNECT_RATIO_MIN),
        "startup_under_1s": {
            "target": f"zk_twisted launch to imok < {STARTUP_MAX_S} s",
            "value": st[OURS]["median"],
            "met": st[OURS]["median"] is not None and st[OURS]["median"] < STARTUP_MAX_S,
        },
        "rss_after_load_below_java": {
            "target": "zk_twisted VmRSS after load < Java's",
            "value": {OURS: ours_after, JAVA: java_after},
            "met": (ours_after < java_after) if have_java and ours_after and java_after else None,
        },
    }


def select_cases(only: list[str] | None) -> list[tuple[str, str, int, int]]:
    if not only:
        return list(CASES)
    want = {w.strip() for item in only for w in item.split(",") if w.strip()}
    known = {c[0] for c in CASES} | {c[1] for c in CASES}
    unknown = want - known
    if unknown:
        raise SystemExit(f"client_ops: unknown case/op {sorted(unknown)}; known: {sorted(known)}")
    return [c for c in CASES if c[0] in want or c[1] in want]


def git_rev() -> str | None:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
        return (rev + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="timed window per zkload run")
    ap.add_argument("--warmup", type=float, default=1.0, help="zkload warm-up before the window")
    ap.add_argument("--rounds", type=int, default=2, help="zk_twisted/Java pairs per case")
    ap.add_argument("--only", action="append", help="case or op name(s), comma-separated; repeatable")
    ap.add_argument("--json-out", help="also write the JSON document to this file")
    ap.add_argument("--no-java", action="store_true", help="zk_twisted only (smoke test)")
    ap.add_argument("--startup-samples", type=int, default=3, help="launches per server to time start-up")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds idle before reading RSS")
    ap.add_argument("--size", type=int, default=100, help="data bytes per znode")
    ap.add_argument("--procs", type=int, default=1, help="zkload client processes")
    ap.add_argument("--time-limit", type=float, default=900.0,
                    help="stop starting new runs after this many seconds (the rest is marked skipped)")
    ap.add_argument("--workdir", help="where to make the run's temp dir (servers' dataDirs, logs)")
    ap.add_argument("--keep", action="store_true", help="keep the run's temp dir (default: removed)")
    a = ap.parse_args(argv)
    if a.rounds < 1 or a.startup_samples < 1 or a.seconds <= 0 or a.warmup < 0:
        ap.error("rounds and startup-samples must be >= 1, seconds > 0, warmup >= 0")
    if not ZKLOAD.is_file():
        ap.error(f"{ZKLOAD} not found (set ZK_SHARED_TOOLS)")
    cases = select_cases(a.only)

    # SIGTERM: unwind through the finally below so both servers are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="client_ops.", dir=a.workdir))
    kinds = [OURS] if a.no_java else [OURS, JAVA]
    servers = {OURS: Ours(work / OURS)}
    if not a.no_java:
        servers[JAVA] = Java(work / JAVA)
    doc: dict = {
        "benchmark": "client_ops",
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]},
        "zk_twisted_rev": git_rev(),
        "settings": {"seconds": a.seconds, "warmup": a.warmup, "rounds": a.rounds, "size": a.size,
                     "procs": a.procs, "startup_samples": a.startup_samples, "zoo_cfg_extra": EXTRA_CFG,
                     "servers": kinds},  # fmt: skip
    }
    problems: list[dict] = []
    skipped: list[str] = []
    results: dict[str, dict[str, list[dict]]] = {c[0]: {k: [] for k in kinds} for c in cases}
    started: list = []
    try:
        # ---- start-up: launch to imok, alternating; the last launch of each stays up
        startup: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(a.startup_samples):
            order = kinds if i % 2 == 0 else kinds[::-1]
            last = i == a.startup_samples - 1
            for k in order:
                s = servers[k]
                started.append(s)
                took = s.start()
                startup[k].append(round(took, 3))
                log(f"start-up {k} #{i + 1}: {took:.3f} s (port {s.port}, pid {s.pid})")
                if not last:
                    s.stop()
                    started.remove(s)
        doc["startup_s"] = {k: {"median": median(v), "samples": v} for k, v in startup.items()}
        if JAVA in servers:
            doc["startup_s"][JAVA]["zk_java_sh_says"] = servers[JAVA].script_ready
        time.sleep(a.settle)
        rss = {k: {"idle": rss_mb(servers[k].pid)} for k in kinds}
        log("RSS idle: " + ", ".join(f"{k} {v['idle']} MB" for k, v in rss.items()))

        # ---- load: per case, A B A B ...
        for name, op, conns, depth in cases:
            for r in range(a.rounds):
                for k in kinds:
                    if time.monotonic() - t_start > a.time_limit:
                        skipped.append(f"{name} round {r + 1} {k}")
                        continue
                    res, prob = run_zkload(servers[k], op, conns, depth, a)
                    if prob is not None:
                        prob.update(server=k, case=name, round=r + 1)
                        problems.append(prob)
                        log(f"PROBLEM {name} {k} round {r + 1}: {prob['cmd']}\n"
                            f"  rc={prob.get('rc')} stdout={prob.get('stdout', '').strip()}\n"
                            f"  stderr={prob.get('stderr', prob.get('error', '')).strip()}")  # fmt: skip
                    if res is not None:
                        results[name][k].append(res)
                        log(f"{name:<12} {conns}x{depth:<3} round {r + 1}/{a.rounds} {k:<10} "
                            f"{res.get('ops_per_s', 0):>9.1f} ops/s  p50 {res.get('p50_ms')} ms  "
                            f"p99 {res.get('p99_ms')} ms  cpu {res.get('server_cpu_us_per_op')} us/op")  # fmt: skip
        time.sleep(a.settle)
        for k in kinds:
            rss[k]["after_load"] = rss_mb(servers[k].pid)
            rss[k]["max_during_load"] = max(
                (x.get("server_rss_max_mb") or 0 for c in results.values() for x in c[k]), default=None
            )
        log("RSS after load: " + ", ".join(f"{k} {v['after_load']} MB" for k, v in rss.items()))
        doc["rss_mb"] = rss
    except Exception as e:
        log(f"set-up failure: {e}")
        doc["setup_failure"] = str(e)
    finally:
        for s in started:
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                log(f"stopping {s.name}: {e}")
        if a.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    ops: dict = {}
    for name, op, conns, depth in cases:
        entry: dict = {"op": op, "conns": conns, "depth": 1 if op == "connect" else depth}
        for k in kinds:
            entry[k] = summarize(results[name][k])
        entry["ratio"] = ratio(entry[OURS]["ops_per_s"], entry[JAVA]["ops_per_s"]) if JAVA in kinds else None
        if JAVA in kinds:
            entry["ratios_per_round"] = [
                ratio(o.get("ops_per_s"), j.get("ops_per_s"))
                for o, j in zip(results[name][OURS], results[name][JAVA], strict=False)
            ]
        ops[name] = entry
    doc["ops"] = ops
    if "startup_s" in doc and "rss_mb" in doc:
        doc["targets"] = targets(doc, JAVA in kinds)
    doc["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    doc["elapsed_s"] = round(time.monotonic() - t_start, 1)
    doc["problems"] = problems
    if skipped:
        doc["skipped"] = skipped
    text = json.dumps(doc, indent=1)
    if a.json_out:
        Path(a.json_out).write_text(text + "\n")
    print(text, flush=True)
    if "setup_failure" in doc:
        return 2
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
