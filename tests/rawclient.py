"""A tiny raw ZooKeeper client over a plain socket, built on ``struct`` only.

It does not use zk_twisted's jute codec, so what it checks about the wire is checked by
an independent reading of zookeeper.jute.  Used by the bad-input tests (it can send any
bytes at all), the watch-ordering test (it sees frames in the order they left the server)
and the session tests (it can send a ConnectRequest with any id and password).
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

# ---------------------------------------------------------------------------- encoding

OP = {
    "notification": 0, "create": 1, "delete": 2, "exists": 3, "getData": 4, "setData": 5,
    "getACL": 6, "setACL": 7, "getChildren": 8, "sync": 9, "ping": 11, "getChildren2": 12,
    "check": 13, "multi": 14, "create2": 15, "reconfig": 16, "checkWatches": 17,
    "removeWatches": 18, "createContainer": 19, "deleteContainer": 20, "createTTL": 21,
    "multiRead": 22, "auth": 100, "setWatches": 101, "sasl": 102, "getEphemerals": 103,
    "getAllChildrenNumber": 104, "setWatches2": 105, "addWatch": 106, "whoAmI": 107,
    "createSession": -10, "closeSession": -11, "error": -1,
}  # fmt: skip

OPEN_ACL = [(31, "world", "anyone")]


def i32(v: int) -> bytes:
    return struct.pack(">i", v)


def i64(v: int) -> bytes:
    return struct.pack(">q", v)


def boolean(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


def ustring(s: str | None) -> bytes:
    if s is None:
        return i32(-1)
    b = s.encode("utf-8")
    return i32(len(b)) + b


def buffer(b: bytes | None) -> bytes:
    return i32(-1) if b is None else i32(len(b)) + b


def strings(items) -> bytes:
    items = list(items)
    return i32(len(items)) + b"".join(ustring(s) for s in items)


def acls(acl_list) -> bytes:
    return i32(len(acl_list)) + b"".join(i32(p) + ustring(s) + ustring(i) for p, s, i in acl_list)


def create_body(path: str, data: bytes | None = b"", acl=OPEN_ACL, flags: int = 0) -> bytes:
    return ustring(path) + buffer(data) + acls(acl) + i32(flags)


def path_watch(path: str, watch: bool = False) -> bytes:
    return ustring(path) + boolean(watch)


def frame(payload: bytes) -> bytes:
    return i32(len(payload)) + payload


def connect_request(
    session_id: int = 0,
    passwd: bytes = bytes(16),
    timeout_ms: int = 30000,
    last_zxid: int = 0,
    protocol_version: int = 0,
    read_only: bool | None = False,
) -> bytes:
    """ConnectRequest; ``read_only=None`` leaves the trailing flag out (an 'old client')."""
    body = i32(protocol_version) + i64(last_zxid) + i32(timeout_ms) + i64(session_id) + buffer(passwd)
    if read_only is not None:
        body += boolean(read_only)
    return body


# ---------------------------------------------------------------------------- decoding

STAT_FIELDS = (
    "czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
    "ephemeralOwner", "dataLength", "numChildren", "pzxid",
)  # fmt: skip
_STAT = struct.Struct(">qqqqiiiqiiq")


class Reader:
    def __init__(self, data: bytes, off: int = 0) -> None:
        self.data = data
        self.off = off

    def int(self) -> int:
        v = struct.unpack_from(">i", self.data, self.off)[0]
        self.off += 4
        return v

    def long(self) -> int:
        v = struct.unpack_from(">q", self.data, self.off)[0]
        self.off += 8
        return v

    def bool(self) -> bool:
        v = self.data[self.off]
        self.off += 1
        return v != 0

    def buffer(self) -> bytes | None:
        n = self.int()
        if n < 0:
            return None
        v = self.data[self.off : self.off + n]
        self.off += n
        return bytes(v)

    def string(self) -> str | None:
        b = self.buffer()
        return None if b is None else b.decode("utf-8")

    def strings(self) -> list[str]:
        n = self.int()
        return [self.string() for _ in range(max(n, 0))]

    def stat(self) -> dict:
        v = _STAT.unpack_from(self.data, self.off)
        self.off += _STAT.size
        return dict(zip(STAT_FIELDS, v, strict=True))

    def acls(self) -> list[tuple[int, str, str]]:
        n = self.int()
        return [(self.int(), self.string(), self.string()) for _ in range(max(n, 0))]

    @property
    def left(self) -> int:
        return len(self.data) - self.off


@dataclass
class Reply:
    xid: int
    zxid: int
    err: int
    body: bytes

    def reader(self) -> Reader:
        return Reader(self.body)


@dataclass
class ConnectResponse:
    protocol_version: int
    timeout: int
    session_id: int
    passwd: bytes
    read_only: bool | None


class Closed(Exception):
    """The server closed the connection."""


class RawClient:
    """One TCP connection; frames in, frames out, nothing hidden."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self._buf = b""
        self.xid = 0
        self.events: list[tuple[int, int, str]] = []  # (type, state, path)
        self.log: list[tuple[str, object]] = []  # ("event", (type, path)) / ("reply", xid) in arrival order
        self.session: ConnectResponse | None = None

    # ---- bytes
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, n: int, deadline: float) -> None:
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {n} bytes within {self.timeout}s (have {len(self._buf)})")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e)) from None
            if not d:
                raise Closed("EOF")
            self._buf += d

    def read_frame(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        self._fill(4, deadline)
        (n,) = struct.unpack_from(">i", self._buf, 0)
        self._fill(4 + n, deadline)
        payload, self._buf = self._buf[4 : 4 + n], self._buf[4 + n :]
        return payload

    def wait_closed(self, timeout: float | None = None) -> bytes:
        """Read until the server closes; returns whatever arrived before the close."""
        deadline = time.monotonic() + (timeout or self.timeout)
        got = self._buf
        self._buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"connection still open after {timeout or self.timeout}s")
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                return got
            if not d:
                return got
            got += d

    def is_open(self, probe_timeout: float = 0.2) -> bool:
        """No EOF within ``probe_timeout`` and nothing unexpected buffered (an honest 'still open')."""
        self.sock.settimeout(probe_timeout)
        try:
            d = self.sock.recv(65536, socket.MSG_PEEK)
        except TimeoutError:
            return True
        except (ConnectionResetError, BrokenPipeError):
            return False
        return bool(d)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- protocol
    def connect(self, **kw) -> ConnectResponse:
        self.send(frame(connect_request(**kw)))
        r = Reader(self.read_frame())
        proto, timeout, sid = r.int(), r.int(), r.long()
        passwd = r.buffer()
        ro = r.bool() if r.left else None
        self.session = ConnectResponse(proto, timeout, sid, passwd, ro)
        return self.session

    def send_request(self, op: int | str, body: bytes = b"", xid: int | None = None) -> int:
        if isinstance(op, str):
            op = OP[op]
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send(frame(i32(xid) + i32(op) + body))
        return xid

    def read_reply(self, xid: int, timeout: float | None = None) -> Reply:
        """Read frames until the reply to ``xid``; watch events met on the way are kept."""
        while True:
            payload = self.read_frame(timeout)
            r = Reader(payload)
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == -1:
                ev = (r.int(), r.int(), r.string())
                self.events.append(ev)
                self.log.append(("event", (ev[0], ev[2])))
                continue
            self.log.append(("reply", rxid))
            if rxid != xid:
                raise AssertionError(f"reply to xid {rxid} while waiting for {xid}")
            return Reply(rxid, zxid, err, payload[r.off :])

    def call(self, op: int | str, body: bytes = b"", xid: int | None = None) -> Reply:
        xid = self.send_request(op, body, xid)
        return self.read_reply(xid)

    def wait_event(self, timeout: float | None = None) -> tuple[int, int, str]:
        """The next watch event (already buffered ones first)."""
        if self.events:
            return self.events.pop(0)
        payload = self.read_frame(timeout)
        r = Reader(payload)
        rxid, _zxid, _err = r.int(), r.long(), r.int()
        if rxid != -1:
            raise AssertionError(f"expected a watch event, got a reply to xid {rxid}")
        ev = (r.int(), r.int(), r.string())
        self.log.append(("event", (ev[0], ev[2])))
        return ev

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def connected(port: int, **kw) -> RawClient:
    c = RawClient(port)
    c.connect(**kw)
    return c
