"""ServerView: the server as its commands see it, shared by the four-letter words and the AdminServer.

3.8 hands every command its ZooKeeperServer, and keeps the little state the commands change
in globals (ZooTrace's mask, the metrics ``srst`` resets).  Here the sans-IO core
(:class:`~zk_twisted.server.zkserver.ZooKeeperServer`) knows nothing of config, storage or
bound ports, so a view joins it with the service around it (``context``) and holds that
state, once per server: ``stmk`` over HTTP shows in ``gtmk`` on the client port.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from ..server.zkserver import ZooKeeperServer
from .procinfo import canonical_host_name

#: ZooTrace's default text trace mask (what 'gtmk' answers until 'stmk' changes it)
DEFAULT_TRACE_MASK = 306

#: the canonical host name, looked up once per process (DNS may block: off the reactor
#: thread); until it is known, the plain host name
_HOST_NAME = [socket.gethostname() or "<NA>"]
_LOOKUP = threading.Lock()
_looked_up = False


def _start_host_name_lookup() -> None:
    global _looked_up
    with _LOOKUP:
        if _looked_up:
            return
        _looked_up = True

    def lookup() -> None:
        _HOST_NAME[0] = canonical_host_name()

    threading.Thread(target=lookup, name="zk-hostname", daemon=True).start()


class ServerView:
    """One server's core plus ``context``, the service that runs it (config, storage, ports).

    ``context`` is duck-typed so a quorum peer can be one later: it may have ``config``,
    ``storage``, ``port`` (the bound client port), ``started_at`` (epoch seconds),
    ``server_state`` ('leading', ...) and ``quorum`` (see :mod:`zk_twisted.admin.commands`).
    """

    def __init__(self, zks: ZooKeeperServer | None, context=None) -> None:
        self.zks = zks
        self.context = context
        self.trace_mask = DEFAULT_TRACE_MASK
        _start_host_name_lookup()
        self._created_ms = zks.wall_time() if zks is not None else int(time.time() * 1000)
        #: counters we read from elsewhere, as they were at the last 'srst' (3.8 resets its metrics)
        self._baseline: dict[str, int] = {}

    @property
    def running(self) -> bool:
        """ZooKeeperServer.isRunning: commands that need a server answer 'not serving' otherwise."""
        return self.zks is not None and getattr(self.zks, "running", True)

    @property
    def config(self):
        return getattr(self.context, "config", None)

    @property
    def storage(self):
        return getattr(self.context, "storage", None)

    @property
    def quorum(self):
        """The quorum peer's view for leader / zabstate / voting_view / observers; None standalone."""
        return getattr(self.context, "quorum", None)

    def server_state(self) -> str:
        """ServerStats.getServerState: standalone here; a quorum peer's context says more."""
        return getattr(self.context, "server_state", None) or "standalone"

    def host_name(self) -> str:
        return _HOST_NAME[0]

    def uptime_ms(self) -> int:
        started = getattr(self.context, "started_at", 0) or 0
        start_ms = int(started * 1000) if started else self._created_ms
        return max(0, self.zks.wall_time() - start_ms)

    def cnxns(self) -> list:
        """The connections, oldest first (3.8 prints its hash-set order)."""
        return sorted(self.zks.cnxns, key=lambda c: (c.established, c.remote_port, id(c)))

    def cfg(self, *names: str, default=None):
        cfg = self.config
        for n in names:
            v = getattr(cfg, n, None)
            if v is not None:
                return v
        return default

    def snap_dir(self) -> str | None:
        """FileTxnSnapLog's snapDir: <dataDir>/version-2."""
        d = self.cfg("data_dir", "dataDir")
        return os.path.abspath(os.path.join(str(d), "version-2")) if d else None

    def log_dir(self) -> str | None:
        """FileTxnSnapLog's dataDir: <dataLogDir or dataDir>/version-2."""
        d = self.cfg("data_log_dir", "dataLogDir", "data_dir", "dataDir")
        return os.path.abspath(os.path.join(str(d), "version-2")) if d else None

    def client_port(self) -> int:
        port = getattr(self.context, "port", None)
        try:
            return int(port.getHost().port)
        except AttributeError:
            return int(self.cfg("client_port", "clientPort", default=-1))

    def metric_sources(self) -> list:
        """Objects that may carry storage metrics: the sync stage, the storage."""
        out = []
        for src in (getattr(self.zks, "sync", None), self.storage):
            if src is not None and src not in out:
                out.append(src)
                inner = getattr(src, "sync", None)
                if inner is not None and inner not in out:
                    out.append(inner)
        return out

    def counter(self, key: str, value: int | float) -> int | float:
        """``value`` minus what it was at the last 'srst'."""
        return value - self._baseline.get(key, 0)
