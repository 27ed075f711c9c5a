"""A zk_twisted ensemble as child ``twistd`` processes, for test suites of client code.

What Curator's ``TestingCluster`` gives Java suites: N members on loopback, each a
:class:`~zk_twisted.testing.process.ServerProcess` with its own zoo.cfg (the quorum's
``server.N`` lines), ``myid`` and data dir, so a test can kill the leader, restart a member
or stop a quorum and see what its client code does.  ``hosts`` is the connect string of
every member; :meth:`Ensemble.leader` names the member that leads now.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from .process import ServerProcess, ServerStartError, four_letter, free_port

#: srvr's "Mode: leader" (or follower, observer, standalone); a member that is not serving
#: answers "This ZooKeeper instance is not currently serving requests"
_MODE = re.compile(r"^Mode: (\w+)", re.M)


class Ensemble:
    """``size`` members (sids 1..size; ``observers`` among them observe), not started."""

    def __init__(self, base: str | Path, size: int = 3, config: dict | None = None, observers=()) -> None:
        self.base = Path(base)
        self.sids = list(range(1, size + 1))
        self.observers = set(observers)
        ports = {sid: (free_port(), free_port()) for sid in self.sids}  # quorum, election
        servers = {}
        for sid, (quorum, election) in ports.items():
            role = ":observer" if sid in self.observers else ""
            servers[f"server.{sid}"] = f"127.0.0.1:{quorum}:{election}{role}"
        self.members: dict[int, ServerProcess] = {}
        for sid in self.sids:
            extra = {**servers, **(config or {})}
            if sid in self.observers:
                extra["peerType"] = "observer"
            m = ServerProcess(self.base / f"zk{sid}", extra)
            m._own_port = False  # the other members' zoo.cfg and clients name this port
            m.data_dir.mkdir(parents=True, exist_ok=True)
            (m.data_dir / "myid").write_text(f"{sid}\n")
            self.members[sid] = m

    @property
    def hosts(self) -> str:
        """The connect string of every member."""
        return ",".join(self.members[s].hosts for s in self.sids)

    def mode(self, sid: int) -> str | None:
        """``leader``, ``follower`` or ``observer`` while member ``sid`` serves, else None."""
        m = _MODE.search(four_letter(self.members[sid].port, "srvr"))
        return m.group(1) if m else None

    def start(self, timeout: float = 60.0) -> Ensemble:
        """Start every member and wait until each serves."""
        for sid in self.sids:
            self.members[sid].launch()
        self.wait_serving(self.sids, timeout)
        return self

    def wait_serving(self, sids=None, timeout: float = 60.0) -> None:
        """Wait until the members ``sids`` (default: every live one) serve in a role."""
        sids = [s for s in self.sids if self.members[s].alive()] if sids is None else list(sids)
        deadline = time.monotonic() + timeout
        while True:
            for s in sids:
                m = self.members[s]
                if not m.alive():
                    raise ServerStartError(f"member {s} exited with {m.proc.returncode}:\n{m.log()}")
            if all(self.mode(s) is not None for s in sids):
                return
            if time.monotonic() > deadline:
                waiting = [s for s in sids if self.mode(s) is None]
                raise ServerStartError(f"members {waiting} not serving after {timeout}s")
            time.sleep(0.05)

    def leader(self, timeout: float = 60.0) -> int:
        """The sid of the member leading now (waits for one)."""
        deadline = time.monotonic() + timeout
        while True:
            for s in self.sids:
                if self.members[s].alive() and self.mode(s) == "leader":
                    return s
            if time.monotonic() > deadline:
                raise ServerStartError(f"no leader after {timeout}s")
            time.sleep(0.05)

    def kill(self, sid: int) -> None:
        """SIGKILL member ``sid``: a crash, nothing flushed beyond what it made durable."""
        self.members[sid].kill()

    def stop(self, sid: int | None = None) -> None:
        """SIGTERM member ``sid``, or every member."""
        for s in [sid] if sid is not None else self.sids:
            self.members[s].stop()

    def restart(self, sid: int, timeout: float = 60.0) -> None:
        """(Re)start member ``sid`` on its port and data, and wait until it serves again."""
        m = self.members[sid]
        m.stop()
        m.launch()
        self.wait_serving([sid], timeout)

    def __repr__(self) -> str:
        return f"<zk_twisted ensemble {self.hosts} in {self.base}>"
