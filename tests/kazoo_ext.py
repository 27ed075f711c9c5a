"""The opcodes kazoo 2.11 has no method for, as kazoo request objects.

kazoo's connection sends any object with ``type``, ``serialize()`` and (for a reply body)
``deserialize(bytes, offset)``; :func:`call` queues one through ``client._call`` exactly as
kazoo's own methods do, so these requests travel kazoo's real connection (xids, pings,
reconnects, error mapping) and only the record layout is ours.

:func:`record_events` hooks kazoo's event reader: kazoo drops events it has no watcher for
(persistent and recursive watch events, watch-removed events), the hook keeps them all,
in arrival order.
"""

from __future__ import annotations

import struct
import threading
from collections import namedtuple

from kazoo.protocol.serialization import (
    int_struct,
    read_buffer,
    read_string,
    stat_struct,
    write_buffer,
    write_string,
)
from kazoo.protocol.states import ZnodeStat

__all__ = [
    "AddWatch", "CheckWatches", "CreateContainer", "CreateTTL", "EventLog", "GetAllChildrenNumber",
    "GetEphemerals", "MultiRead", "RawOp", "RemoveWatches", "Script", "WhoAmI", "assert_same",
    "call", "record_events",
]  # fmt: skip


def _acl_bytes(acl) -> bytes:
    b = bytearray(int_struct.pack(len(acl)))
    for a in acl:
        b += int_struct.pack(a.perms) + write_string(a.id.scheme) + write_string(a.id.id)
    return bytes(b)


def _strings(items) -> bytes:
    items = list(items)
    return int_struct.pack(len(items)) + b"".join(write_string(s) for s in items)


def _read_strings(buf, off):
    n = int_struct.unpack_from(buf, off)[0]
    off += 4
    out = []
    for _ in range(max(n, 0)):
        s, off = read_string(buf, off)
        out.append(s)
    return out, off


def _path_stat(buf, off):
    path, off = read_string(buf, off)
    return (path, ZnodeStat._make(stat_struct.unpack_from(buf, off))), off + stat_struct.size


class CreateContainer(namedtuple("CreateContainer", "path data acl")):
    """createContainer (19): CreateRequest with flags CONTAINER, answered as create2."""

    type = 19

    def serialize(self):
        return write_string(self.path) + write_buffer(self.data) + _acl_bytes(self.acl) + int_struct.pack(4)

    @classmethod
    def deserialize(cls, buf, off):
        return _path_stat(buf, off)[0]


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    """createTTL (21): CreateTTLRequest; flags 5 (PERSISTENT_WITH_TTL) or 6 (..._SEQUENTIAL_...)."""

    type = 21

    def serialize(self):
        return (
            write_string(self.path) + write_buffer(self.data) + _acl_bytes(self.acl)
            + int_struct.pack(self.flags) + struct.pack(">q", self.ttl)
        )  # fmt: skip

    @classmethod
    def deserialize(cls, buf, off):
        return _path_stat(buf, off)[0]


class AddWatch(namedtuple("AddWatch", "path mode")):
    """addWatch (106): mode 0 persistent, 1 persistent recursive; the reply body is an int."""

    type = 106

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.mode)

    @classmethod
    def deserialize(cls, buf, off):
        return int_struct.unpack_from(buf, off)[0]


class RemoveWatches(namedtuple("RemoveWatches", "path watcher_type")):
    """removeWatches (18): watcher_type 1 children, 2 data, 3 any."""

    type = 18

    def serialize(self):
        return write_string(self.path) + int_struct.pack(self.watcher_type)

    @classmethod
    def deserialize(cls, buf, off):
        return True


class CheckWatches(RemoveWatches):
    type = 17


class GetEphemerals(namedtuple("GetEphemerals", "prefix")):
    type = 103

    def serialize(self):
        return write_string(self.prefix)

    @classmethod
    def deserialize(cls, buf, off):
        return _read_strings(buf, off)[0]


class GetAllChildrenNumber(namedtuple("GetAllChildrenNumber", "path")):
    type = 104

    def serialize(self):
        return write_string(self.path)

    @classmethod
    def deserialize(cls, buf, off):
        return int_struct.unpack_from(buf, off)[0]


class WhoAmI:
    """whoAmI (107): no body (a class, not an empty namedtuple: kazoo tests ``if request``)."""

    type = 107

    def serialize(self):
        return b""

    @classmethod
    def deserialize(cls, buf, off):
        n = int_struct.unpack_from(buf, off)[0]
        off += 4
        out = []
        for _ in range(max(n, 0)):
            scheme, off = read_string(buf, off)
            user, off = read_string(buf, off)
            out.append((scheme, user))
        return out


class MultiRead(namedtuple("MultiRead", "ops")):
    """multiRead (22): ``ops`` is a list of ("getData" | "getChildren", path).

    Result per op: ("data", bytes, ZnodeStat) | ("children", [names]) | ("error", code).
    """

    type = 22
    _OPS = {"getChildren": 8, "getData": 4}

    def serialize(self):
        b = bytearray()
        for name, path in self.ops:
            b += struct.pack(">iBi", self._OPS[name], 0, -1) + write_string(path) + b"\x00"
        return bytes(b + struct.pack(">iBi", -1, 1, -1))

    @classmethod
    def deserialize(cls, buf, off):
        out = []
        while True:
            t, done, err = struct.unpack_from(">iBi", buf, off)
            off += 9
            if done:
                return out
            if t == 4:
                data, off = read_buffer(buf, off)
                out.append(("data", data, ZnodeStat._make(stat_struct.unpack_from(buf, off))))
                off += stat_struct.size
            elif t == 8:
                names, off = _read_strings(buf, off)
                out.append(("children", names))
            elif t == -1:
                code = int_struct.unpack_from(buf, off)[0]
                off += 4
                out.append(("error", code))
            else:
                raise ValueError(f"unexpected op {t} in a multiRead reply")


class RawOp(namedtuple("RawOp", "type body")):
    """Any opcode with any body (an unknown opcode as a feature probe, ...)."""

    def serialize(self):
        return self.body

    @classmethod
    def deserialize(cls, buf, off):
        return bytes(buf[off:])


def call(client, request, timeout: float = 10.0):
    """Send ``request`` through kazoo's connection and wait for its result (kazoo exceptions raised)."""
    result = client.handler.async_result()
    client._call(request, result)
    return result.get(timeout=timeout)


class EventLog:
    """Every WatcherEvent a kazoo client receives, as (type, path), in arrival order."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str]] = []
        self.cond = threading.Condition()

    def add(self, ev) -> None:
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def wait_for(self, pred, timeout: float = 10.0) -> list[tuple[int, str]]:
        """Wait until ``pred(events)`` holds; returns a copy of the events."""
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self.events), timeout):
                raise TimeoutError(f"events so far: {self.events}")
            return list(self.events)

    def wait_count(self, n: int, timeout: float = 10.0) -> list[tuple[int, str]]:
        return self.wait_for(lambda ev: len(ev) >= n, timeout)

    def take(self) -> list[tuple[int, str]]:
        with self.cond:
            out, self.events = self.events, []
            return out


def record_events(client) -> EventLog:
    """Hook ``client``'s connection so that every event it reads is logged (then handled as usual)."""
    log = EventLog()
    conn = client._connection
    original = conn._read_watch_event

    def hooked(buffer, offset):
        t, _state = struct.unpack_from(">ii", buffer, offset)
        path, _ = read_string(buffer, offset + 8)
        log.add((t, client.unchroot(path)))
        if t in (1, 2, 3, 4):
            return original(buffer, offset)
        return None  # kazoo knows no other event type; it would only log a warning

    conn._read_watch_event = hooked
    return log


# ---------------------------------------------------------------------------- comparing two servers


class Script:
    """One client script's answers, recorded step by step, normalized for comparison.

    ``step(label, fn, *args)`` runs ``fn`` and records its result or the kazoo exception it
    raised (by class name: the class encodes the ZooKeeper error code).  :meth:`normalized`
    rewrites what legitimately differs between two servers running the same script: zxids
    become offsets from ``base_zxid`` (so "a failed write consumes a zxid" still shows),
    non-zero times become "t" (checking ctime <= mtime), session ids become the names given
    to :meth:`session`.
    """

    def __init__(self) -> None:
        self.steps: list[tuple[str, object]] = []
        self.base_zxid = 0
        self.sessions: dict[int, str] = {}

    def session(self, name: str, client) -> None:
        self.sessions[client.client_id[0]] = name

    def step(self, label: str, fn, *args, **kw):
        from kazoo.exceptions import KazooException

        try:
            value = fn(*args, **kw)
        except KazooException as e:
            value = _error(e)
        self.steps.append((label, value))
        return value

    def note(self, label: str, value) -> None:
        self.steps.append((label, value))

    # ---- normalization
    def _zxid(self, v: int):
        return 0 if v == 0 else v - self.base_zxid

    def _stat(self, st) -> dict:
        assert st.ctime <= st.mtime or st.mtime == 0, st
        owner = st.ephemeralOwner
        return {
            "czxid": self._zxid(st.czxid), "mzxid": self._zxid(st.mzxid), "pzxid": self._zxid(st.pzxid),
            "ctime": "t" if st.ctime else 0, "mtime": "t" if st.mtime else 0,
            "version": st.version, "cversion": st.cversion, "aversion": st.aversion,
            "ephemeralOwner": 0 if owner == 0 else self.sessions.get(owner, f"unknown-session-{owner:x}"),
            "dataLength": st.dataLength, "numChildren": st.numChildren,
        }  # fmt: skip

    def norm(self, v):
        from kazoo.exceptions import KazooException
        from kazoo.security import ACL

        if isinstance(v, ZnodeStat):
            return self._stat(v)
        if isinstance(v, ACL):
            return (v.perms, v.id.scheme, v.id.id)
        if isinstance(v, KazooException):
            return _error(v)
        if isinstance(v, dict):
            return {k: self.norm(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return type(v)(self.norm(x) for x in v) if not hasattr(v, "_fields") else tuple(self.norm(x) for x in v)
        return v

    def normalized(self) -> list[tuple[str, object]]:
        return [(label, self.norm(v)) for label, v in self.steps]


def _error(e) -> tuple[str, str]:
    return ("error", type(e).__name__)


def assert_same(ours: Script, java: Script) -> None:
    """Step-by-step equality of two normalized scripts, with a readable first difference."""
    a, b = ours.normalized(), java.normalized()
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        assert x == y, f"step {i} differs from Java ZooKeeper 3.8:\n  zk_twisted: {x!r}\n  java 3.8:   {y!r}"
    assert len(a) == len(b), f"zk_twisted ran {len(a)} steps, Java {len(b)}"
