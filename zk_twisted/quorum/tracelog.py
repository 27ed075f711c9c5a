"""The protocol event log that trace validation reads (``conformance/validate_log.py``).

Off by default.  ``-Dzookeeper.zk_twisted.traceLog=<file>`` (SERVER_JVMFLAGS, JVMFLAGS or
java.env, as any system property) turns it on: every handler run at the spec's grain
(spec/README.md's action table) appends one JSON line to ``<file>``::

    {"sid": 2, "inc": 1, "seq": 7, "t": 1764637069.123, "event": "HandleLEADERINFO",
     "params": {"j": 3, "zxid": [1, 0]},
     "vars": {"state": "FOLLOWING", "zabState": "SYNCHRONIZATION", "currentEpoch": 0,
              "acceptedEpoch": 1, "logicalclock": 1, "lastCommitted": [0, 0],
              "vote": {"leader": 3, "zxid": [0, 0], "peerEpoch": 0}}}

``vars`` are the spec variables of this server after the step, as the node holds them.
``inc`` is the incarnation (one more per start of the process on the same file), ``seq``
the line's number within it, ``t`` the wall clock (one clock for every process of a
loopback ensemble: the checker's first guess at the global order).

The hooks are one attribute check when the log is off (``tracelog.active is None``).
Lines are buffered and written when the reactor next runs a timer (``flush_ms``, 20 ms by
default; 0 writes each line at once), and at exit: a kill -9 may lose the last lines of an
incarnation, which the checker takes as a cut suffix.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["TRACE_LOG_PROPERTY", "FLUSH_PROPERTY", "TraceLog", "active", "configure", "record", "zx"]

log = logging.getLogger(__name__)

TRACE_LOG_PROPERTY = "zookeeper.zk_twisted.traceLog"
FLUSH_PROPERTY = "zookeeper.zk_twisted.traceLogFlushMs"

#: the process's log, or None (off): hooks test this one attribute
active: TraceLog | None = None


def zx(z: int | None) -> list[int]:
    """A 64-bit zxid as the spec's ``<<epoch, counter>>`` (none / -1: ``<<0, 0>>``)."""
    if z is None or z < 0:
        return [0, 0]
    return [(z >> 32) & 0xFFFFFFFF, z & 0xFFFFFFFF]


class TraceLog:
    """One server's event log: ``record(event, **params)`` with the variables ``view()`` reads."""

    def __init__(self, path: str | os.PathLike, sid: int, *, flush_ms: int = 20, reactor=None) -> None:
        self.path = Path(path)
        self.sid = sid
        self.flush_ms = flush_ms
        self.reactor = reactor
        self.incarnation = self._next_incarnation()
        self.seq = 0
        self._buf: list[str] = []
        self._timer = None
        #: () -> the server's spec variables now (set by the QuorumPeer)
        self.view: Callable[[], dict] = dict
        #: what starts the next FLE round: "Start", "Restart", "LeaderTimeout", "FollowerTimeout"
        self.next_round = "Start" if self.incarnation == 1 else "Restart"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        atexit.register(self.flush)

    def _next_incarnation(self) -> int:
        try:
            text = self.path.read_text(errors="replace")
        except OSError:
            return 1
        inc = 0
        for line in text.splitlines():
            try:
                inc = max(inc, int(json.loads(line).get("inc", 0)))
            except (ValueError, AttributeError):
                continue  # a torn last line of an earlier incarnation
        return inc + 1

    def record(self, event: str, **params) -> None:
        self.seq += 1
        try:
            variables = self.view()
        except Exception:  # noqa: BLE001 - a log must never break the server
            log.exception("trace log: reading the variables after %s", event)
            variables = {}
        line = {
            "sid": self.sid, "inc": self.incarnation, "seq": self.seq, "t": time.time(),
            "event": event, "params": params, "vars": variables,
        }  # fmt: skip
        self._buf.append(json.dumps(line, separators=(",", ":")) + "\n")
        if self.flush_ms <= 0 or self.reactor is None:
            self.flush()
        elif self._timer is None:
            self._timer = self.reactor.callLater(self.flush_ms / 1000.0, self.flush)

    def flush(self) -> None:
        self._timer = None
        if not self._buf:
            return
        data, self._buf = "".join(self._buf).encode(), []
        try:
            os.write(self._fd, data)
        except OSError as e:
            log.warning("trace log %s: %s", self.path, e)


def configure(cfg, reactor) -> TraceLog | None:
    """Turn the log on if the config's system properties name a file (else leave it off)."""
    global active
    path = cfg.system_property(TRACE_LOG_PROPERTY)
    if not path:
        return None
    flush = cfg.system_property(FLUSH_PROPERTY)
    active = TraceLog(path, cfg.server_id, flush_ms=int(flush) if flush else 20, reactor=reactor)
    log.info("protocol trace log: %s (incarnation %d)", path, active.incarnation)
    return active


def record(event: str, **params) -> None:
    """Log ``event`` if the log is on (callers on hot paths test ``active`` themselves)."""
    if active is not None:
        active.record(event, **params)
