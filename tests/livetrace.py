"""Live faulty runs whose protocol logs trace validation checks (conformance/validate_log.py).

A :class:`LiveRun` is a 3-member zk_twisted ensemble (``twistd`` processes on loopback, from
empty data dirs) with each member's protocol event log on
(``-Dzookeeper.zk_twisted.traceLog=<logdir>/node<sid>.jsonl``) and the faults the run causes
written to ``<logdir>/env.jsonl`` (``Crash``: kill -9, or the SIGTERM stop at the end, which
the spec sees as a crash too).  :func:`faulty_run` is one seeded schedule of writes, kills and
restarts, kept inside spec/ZkSystemLive.cfg's bounds (few txns, few faults);
:func:`partition_run` cuts a link through relays (``LinkBreak`` / ``LinkHeal``).
"""

from __future__ import annotations

import json
import os
import random
import selectors
import shutil
import socket
import threading
import time
from pathlib import Path

from tcpproxy import TCPProxy
from zkharness import REPO, ZKEnsemble, wait_for

__all__ = [
    "FORBIDDEN_EDITS",
    "LiveRun",
    "edited_run",
    "faulty_run",
    "first_follower",
    "first_row",
    "mutant_env",
    "partition_run",
]


class LinkRelay(TCPProxy):
    """A relay whose cut link refuses connections as a closed port does (the listener is
    closed; reopened on the same port when healed): a connection attempt fails and is
    retried, as across a real partition, instead of opening and closing at once."""

    def block(self) -> None:
        done = threading.Event()

        def close() -> None:
            try:
                self._sel.unregister(self.listener)
            except (KeyError, ValueError):
                pass
            self.listener.close()
            self._cut_all()
            done.set()

        self._call(close)
        done.wait(10)

    def unblock(self) -> None:
        done = threading.Event()

        def reopen() -> None:
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", self.port))
            ls.listen(64)
            self.listener = ls
            self._sel.register(ls, selectors.EVENT_READ, "accept")
            done.set()

        self._call(reopen)
        done.wait(10)


class LiveRun:
    """One ensemble run whose logs land in ``logdir``."""

    def __init__(
        self,
        base: Path,
        logdir: Path,
        n: int = 3,
        extra: dict | None = None,
        env: dict | None = None,
        partitions: bool = False,
        flush_ms: int = 0,
    ):
        """``partitions``: every member reaches every other through its own relays (one per
        directed link and port, tests/tcpproxy.py), so :meth:`break_link` can cut one link.
        ``flush_ms``: the trace log's write delay; 0 (each line written at once, to the page
        cache) loses no line to a kill -9, so the checker needs no cut-tail step."""
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.ens = ZKEnsemble(Path(base), n, extra={"tickTime": "500", **(extra or {})})
        self.proxies: dict[tuple[int, int], list[LinkRelay]] = {}
        if partitions:
            bp = self.ens.base_port
            for i, m in self.ens.members.items():
                for j in self.ens.sids:
                    if j == i:
                        continue
                    q, e = LinkRelay(bp + 100 + j - 1), LinkRelay(bp + 200 + j - 1)
                    self.proxies[(i, j)] = [q, e]
                    m.extra[f"server.{j}"] = f"127.0.0.1:{q.port}:{e.port}"
        for i, m in self.ens.members.items():
            flags = (
                f"-Dzookeeper.zk_twisted.traceLog={self.logdir / f'node{i}.jsonl'}"
                f" -Dzookeeper.zk_twisted.traceLogFlushMs={flush_ms}"
            )
            m.env["SERVER_JVMFLAGS"] = flags
            m.env.update(env or {})
        self._env = open(self.logdir / "env.jsonl", "a")
        self.writes = 0

    def break_link(self, i: int, j: int) -> None:
        """Cut the link i - j (both directions, both ports; what is in flight is lost) and
        refuse new connections over it until :meth:`heal_link`."""
        for p in self.proxies[(i, j)] + self.proxies[(j, i)]:
            p.block()
        self.note("LinkBreak", i=i, j=j)

    def heal_link(self, i: int, j: int) -> None:
        self.note("LinkHeal", i=i, j=j)
        for p in self.proxies[(i, j)] + self.proxies[(j, i)]:
            p.unblock()

    def note(self, event: str, **params) -> None:
        self._env.write(json.dumps({"t": time.time(), "event": event, "params": params}) + "\n")
        self._env.flush()

    def start(self, timeout: float = 60.0) -> int:
        self.ens.start(timeout=timeout)
        return self.ens.wait_serving(timeout)

    def alive(self) -> list[int]:
        return [i for i, m in self.ens.members.items() if m.alive()]

    def kill(self, sid: int) -> None:
        self.ens.members[sid].kill()
        self.note("Crash", i=sid)

    def restart(self, sid: int) -> None:
        self.ens.members[sid].start(wait=False)

    def kill_and_restart(self, victim: int, write: bool = False) -> tuple[int, int]:
        """kill -9 ``victim``, wait for the others' leader (and write through them, with
        ``write``), restart it, wait for one leader again; -> (leader meanwhile, leader after)."""
        self.kill(victim)
        meanwhile = self.leader()
        if write:
            self.write()
        self.restart(victim)
        wait_for(lambda: self.ens.members[victim].alive(), 10, what="restart")
        return meanwhile, self.leader()

    def leader(self, timeout: float = 60.0) -> int:
        """Wait until the live members serve with one leader; -> its sid."""
        return self.ens.wait_serving(timeout)

    def write(self, timeout: float = 30.0) -> None:
        """One client session with one create (three txns: createSession, create, closeSession)."""
        from kazoo.client import KazooClient

        hosts = ",".join(self.ens.members[i].hosts for i in self.alive())
        c = KazooClient(hosts=hosts, timeout=10.0)
        c.start(timeout=timeout)
        try:
            self.writes += 1
            c.create(f"/w{self.writes}-", b"x", sequence=True)
        finally:
            c.stop()
            c.close()

    def wait_quiet(self, seconds: float = 0.3) -> None:
        """Let the members' logs settle (the trace log flushes every 20 ms)."""
        time.sleep(seconds)

    def stop(self) -> None:
        """Stop every member; each stop is a crash to the spec (nothing but the disk is kept)."""
        for i, m in self.ens.members.items():
            if m.alive():
                m.stop()
                self.note("Crash", i=i)
        self._env.close()
        for ps in self.proxies.values():
            for p in ps:
                p.close()


#: tests/live_mutant/sitecustomize.py applies ZK_TWISTED_LIVE_MUTANT in each server
LIVE_MUTANT_DIR = Path(__file__).resolve().parent / "live_mutant"


def mutant_env(name: str) -> dict:
    """The server environment that applies the live mutant ``name`` at start-up."""
    return {"ZK_TWISTED_LIVE_MUTANT": name, "PYTHONPATH": f"{LIVE_MUTANT_DIR}{os.pathsep}{REPO}"}


def faulty_run(
    base: Path, logdir: Path, seed: int, faults: int = 2, env: dict | None = None, flush_ms: int = 0
) -> dict:
    """Start, write, then ``faults`` rounds of kill -9 (leader or follower, by the seed) with a
    write while one is down and a restart, then stop.  -> what the run did."""
    rng = random.Random(seed)
    run = LiveRun(base, logdir, env=env, flush_ms=flush_ms)
    did: list[str] = []
    try:
        leader = run.start()
        run.write()
        did.append(f"leader {leader}, write")
        for _ in range(faults):
            victim = leader if rng.random() < 0.5 else rng.choice([i for i in run.alive() if i != leader])
            write = rng.random() < 0.6
            meanwhile, leader = run.kill_and_restart(victim, write=write)
            did.append(f"kill {victim}, leader {meanwhile}" + (", write" if write else ""))
            did.append(f"restart {victim}, leader {leader}")
        run.wait_quiet()
    finally:
        run.stop()
    return {"seed": seed, "schedule": did, "writes": run.writes}


def partition_run(base: Path, logdir: Path, seed: int) -> dict:
    """Start, write, cut the link between the leader and one follower for a moment (the
    other two keep a quorum: a write goes through), heal it, wait until all serve, kill -9
    one member by the seed, restart it, stop.  -> what the run did."""
    rng = random.Random(seed)
    run = LiveRun(base, logdir, partitions=True)
    did: list[str] = []
    try:
        leader = run.start()
        run.write()
        f = rng.choice([i for i in run.alive() if i != leader])
        run.break_link(leader, f)
        time.sleep(1.0)
        run.write()
        run.heal_link(leader, f)
        leader = run.leader()
        did.append(f"break {f}-leader, write, heal, leader {leader}")
        victim = rng.choice(run.alive())
        _, leader = run.kill_and_restart(victim)
        did.append(f"kill {victim}, restart, leader {leader}")
        run.wait_quiet()
    finally:
        run.stop()
    return {"seed": seed, "schedule": did, "writes": run.writes}


# -- logs the spec forbids: a kept run's log, edited
def edited_run(src: Path, dst: Path, sid: int, edit) -> Path:
    """A copy of run ``src`` whose node ``sid`` log is ``edit(rows)``."""
    shutil.copytree(src, dst)
    f = dst / f"node{sid}.jsonl"
    rows = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    f.write_text("".join(json.dumps(r) + "\n" for r in edit(rows)))
    return dst


def first_row(rows: list[dict], event: str, pred=lambda r: True) -> int:
    """The index of the first ``event`` row that satisfies ``pred``."""
    return next(k for k, r in enumerate(rows) if r["event"] == event and pred(r))


def first_follower(logdir: Path) -> int:
    """A server whose first role was FOLLOWING."""
    for f in sorted(logdir.glob("node*.jsonl")):
        for x in f.open():
            r = json.loads(x)
            if r["event"] in ("FinalizeElection", "HandleNotification") and r["vars"]["state"] != "LOOKING":
                if r["vars"]["state"] == "FOLLOWING":
                    return r["sid"]
                break
    raise AssertionError("no follower")


def _second_leader(rows):  # the follower says it leads the epoch its leader leads
    k = first_row(rows, "FinalizeElection", lambda r: r["vars"]["state"] == "FOLLOWING")
    rows[k]["vars"]["state"] = "LEADING"
    rows[k]["vars"]["vote"]["leader"] = rows[k]["sid"]
    return rows


def _ack_before_newleader(rows):  # the follower never handled NEWLEADER, yet its ACK came
    k = first_row(rows, "HandleNEWLEADER")
    return rows[:k] + rows[k + 1 :]


def _epoch_never_written(rows):  # the follower's acceptedEpoch stays at 0 after LEADERINFO
    k = first_row(rows, "HandleLEADERINFO")
    rows[k]["vars"]["acceptedEpoch"] = 0
    return rows


#: name -> (edit of a follower's rows, the event the search must fail at)
FORBIDDEN_EDITS = {
    "second_leader": (_second_leader, "FinalizeElection"),
    "ack_before_newleader": (_ack_before_newleader, "HandleACK"),
    "epoch_never_written": (_epoch_never_written, "HandleLEADERINFO"),
}
