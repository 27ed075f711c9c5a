"""Crash testing: kazoo writers under SIGKILL, and the check that nothing acknowledged was lost.

Each :class:`Writer` is one kazoo session (one thread) creating and updating znodes under
its own path, one request at a time, with data unique to each attempt.  A write whose
reply arrived is *confirmed* with the data and version the server answered; a write that
failed with a connection error is *uncertain* (it may or may not have been applied).
Each writer also holds an ephemeral znode, so that sessions surviving a restart (and
their ephemerals) are checked too.

:func:`crash_round` lets the writers run, kills the server with SIGKILL at a random
moment, restarts it on the same data dir, pauses the writers and checks every path:
confirmed state present exactly (same data, same version), or, after uncertain writes,
one of the states they could have produced.  What was checked becomes confirmed, so the
next round is exact again.  Used by ``tests/test_crash.py`` (short) and
``bench/crash_loop.py`` (20+ kills), against one server or an ensemble
(:class:`EnsembleTarget`: a random member killed each round, the writers' sessions moving
to the members that are left).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.retry import KazooRetry

ROOT = "/crash"


@dataclass
class PathState:
    #: (data, version) the server acknowledged (or a later check observed); None: never
    confirmed: tuple[bytes, int] | None = None
    #: data of writes sent since, whose outcome is unknown
    uncertain: list[bytes] = field(default_factory=list)


class Writer(threading.Thread):
    def __init__(self, hosts: str, index: int, rng: random.Random, session_timeout: float = 30.0) -> None:
        super().__init__(name=f"crash-writer-{index}", daemon=True)
        self.index = index
        self.rng = rng
        self.base = f"{ROOT}/w{index}"
        self.client = KazooClient(
            hosts=hosts,
            timeout=session_timeout,
            connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5),
        )
        self.paths: dict[str, PathState] = {}
        self.lock = threading.Lock()
        self.running = threading.Event()
        self.idle = threading.Event()
        self.stopped = False
        self.seq = 0
        self.confirmed_writes = 0
        self.uncertain_writes = 0
        self.session_id = 0

    def setup(self) -> None:
        self.client.start(timeout=30)
        self.client.ensure_path(self.base)
        self.session_id = self.client.client_id[0]
        self.client.create(f"{ROOT}/eph{self.index}", b"alive", ephemeral=True)

    def run(self) -> None:
        while not self.stopped:
            if not self.running.is_set():
                self.idle.set()
                self.running.wait(0.05)
                continue
            self.idle.clear()
            self.step()

    def step(self) -> None:
        self.seq += 1
        data = f"w{self.index}:{self.seq}:".encode().ljust(100, b".")
        with self.lock:
            existing = [p for p, s in self.paths.items() if s.confirmed is not None]
            create = not existing or self.rng.random() < 0.4
            path = f"{self.base}/n{self.seq}" if create else self.rng.choice(existing)
            state = self.paths.setdefault(path, PathState())
        try:
            if create:
                self.client.create(path, data)
                result = (data, 0)
            else:
                stat = self.client.set(path, data)
                result = (data, stat.version)
        except KazooException:
            with self.lock:
                state.uncertain.append(data)
                self.uncertain_writes += 1
            time.sleep(0.02)
            return
        with self.lock:
            state.confirmed = result
            state.uncertain.clear()
            self.confirmed_writes += 1

    def pause(self, timeout: float = 60.0) -> None:
        self.running.clear()
        if not self.idle.wait(timeout):
            raise TimeoutError(f"{self.name} did not pause")

    def resume(self) -> None:
        self.idle.clear()
        self.running.set()

    def stop(self) -> None:
        self.stopped = True
        self.running.set()
        self.join(30)
        self.client.stop()
        self.client.close()


def check(checker: KazooClient, writers: list[Writer]) -> tuple[int, int, list[str]]:
    """Compare every path with what its writer knows; returns (exact, resolved, problems).

    The writers must be paused.  Uncertain paths are resolved to what is observed.
    """
    problems: list[str] = []
    exact = resolved = 0
    for w in writers:
        try:
            _, eph = checker.get(f"{ROOT}/eph{w.index}")
            if eph.ephemeralOwner != w.session_id:
                problems.append(f"eph{w.index}: owner 0x{eph.ephemeralOwner:x} != session 0x{w.session_id:x}")
        except NoNodeError:
            problems.append(f"eph{w.index}: the ephemeral of a live session is gone")
        with w.lock:
            for path, st in list(w.paths.items()):
                try:
                    data, stat = checker.get(path)
                    seen: tuple[bytes, int] | None = (data, stat.version)
                except NoNodeError:
                    seen = None
                if not st.uncertain:
                    exact += 1
                    if seen != st.confirmed:
                        problems.append(f"{path}: acknowledged {_show(st.confirmed)}, found {_show(seen)}")
                    continue
                resolved += 1
                if seen is None:
                    if st.confirmed is not None:
                        problems.append(f"{path}: acknowledged {_show(st.confirmed)}, found nothing")
                    else:
                        del w.paths[path]  # a create that never happened
                    continue
                if seen != st.confirmed and seen[0] not in st.uncertain:
                    problems.append(f"{path}: found {_show(seen)}, neither acknowledged nor attempted")
                elif st.confirmed is not None and seen[0] != st.confirmed[0] and seen[1] <= st.confirmed[1]:
                    problems.append(f"{path}: version went back from {st.confirmed[1]} to {seen[1]}")
                st.confirmed = seen
                st.uncertain.clear()
    return exact, resolved, problems


def _show(s: tuple[bytes, int] | None) -> str:
    return "nothing" if s is None else f"{s[0][:16]!r}.. v{s[1]}"


@dataclass
class RoundResult:
    ran_s: float
    restart_s: float
    exact: int
    resolved: int
    problems: list[str]


def crash_round(
    server, writers: list[Writer], checker: KazooClient, rng: random.Random, run_s=(0.3, 1.5)
) -> RoundResult:
    """Writers run; SIGKILL at a random moment; restart; pause; check."""
    for w in writers:
        w.resume()
    ran = rng.uniform(*run_s)
    time.sleep(ran)
    server.kill()
    t0 = time.monotonic()
    server.start()
    restart_s = time.monotonic() - t0
    for w in writers:
        w.pause()
    checker_ready(checker)
    checker.sync(ROOT)  # an ensemble member answers reads from what it has applied
    exact, resolved, problems = check(checker, writers)
    return RoundResult(ran, restart_s, exact, resolved, problems)


class EnsembleTarget:
    """What :func:`crash_round` kills in an ensemble: the leader and a random follower in
    turn, restarted on its data dir; the round goes on once all serve again."""

    def __init__(self, ensemble, rng: random.Random) -> None:
        self.ensemble = ensemble
        self.rng = rng
        self.victim: int | None = None
        self.kills: list[tuple[int, str]] = []

    @property
    def hosts(self) -> str:
        return self.ensemble.hosts

    def kill(self) -> None:
        ens = self.ensemble
        leader = ens.wait_serving(60)
        others = [i for i in ens.sids if i != leader]
        self.victim = leader if len(self.kills) % 2 == 0 else self.rng.choice(others)
        self.kills.append((self.victim, "leader" if self.victim == leader else "follower"))
        ens.members[self.victim].kill()

    def start(self) -> None:
        self.ensemble.members[self.victim].start(wait=False)
        self.ensemble.wait_serving(60)


def checker_ready(checker: KazooClient, timeout: float = 30.0) -> None:
    """Wait until the checker's session is connected again after the restart."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            checker.exists(ROOT)
            return
        except KazooException:
            time.sleep(0.05)
    raise TimeoutError("checker did not reconnect")


def start_writers(hosts: str, n: int, seed: int) -> tuple[list[Writer], KazooClient]:
    checker = KazooClient(hosts=hosts, timeout=30.0, connection_retry=KazooRetry(max_tries=-1, delay=0.05))
    checker.start(timeout=30)
    checker.ensure_path(ROOT)
    writers = [Writer(hosts, i, random.Random(seed * 100 + i)) for i in range(n)]
    for w in writers:
        w.setup()
        w.start()
    return writers, checker


def stop_writers(writers: list[Writer], checker: KazooClient) -> None:
    for w in writers:
        w.stop()
    checker.stop()
    checker.close()
