"""In-process driving of the sans-IO core: a connection that records frames, a tiny client.

Unit and property tests use these to feed the real ZooKeeperServer bytes and time
(twisted.internet.task.Clock) without sockets; acceptance tests use real servers instead.
"""

from __future__ import annotations

import struct

from twisted.internet.task import Clock

from zk_twisted.constants import OpCode
from zk_twisted.jute import records as R
from zk_twisted.server.cnxn import ServerCnxn
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase
from zk_twisted.server.zkserver import ServerSettings, ZooKeeperServer

OPEN_ACL = [R.ACL(31, R.Id("world", "anyone"))]


class FakeCnxn(ServerCnxn):
    """Collects every frame the server writes; knows nothing about the protocol."""

    def __init__(self, zks: ZooKeeperServer, ip: str = "127.0.0.1") -> None:
        self.init_cnxn(ip, 40000, zks.wall_time())
        self.frames: list[bytes] = []
        self.closed = False
        self.paused = False
        zks.connection_made(self)

    def write(self, data: bytes) -> None:
        assert not self.closed or self.closing
        self.frames.append(data)

    def close_after_flush(self, reason: int = 0) -> None:
        self.closing = True
        self.closed = True

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def pop(self) -> list[bytes]:
        out, self.frames = self.frames, []
        return out


class HeldSync:
    """A sync stage that holds every txn until the test flushes it, as a disk would.

    With the default ImmediateSync each txn is applied inside ``submit()`` and Prep never has
    more than one txn's change records outstanding; holding them lets a test pipeline writes
    as deep as it likes, and choose when (and how many of) the held txns become durable.
    """

    def __init__(self, zks: ZooKeeperServer) -> None:
        self.zks = zks
        self.held: list = []

    def process(self, req) -> None:
        self.held.append(req)

    def flush(self, count: int | None = None) -> int:
        """Commit the oldest ``count`` held txns (all when None), in zxid order, as one batch."""
        n = len(self.held) if count is None else min(count, len(self.held))
        batch, self.held = self.held[:n], self.held[n:]
        if batch:
            self.zks.commit(batch)
        return n

    def shutdown(self) -> None:
        return None


def flush(zks: ZooKeeperServer, count: int | None = None) -> int:
    """Flush ``zks``'s held sync stage (a no-op for any other)."""
    sync = zks.sync
    return sync.flush(count) if isinstance(sync, HeldSync) else 0


class CoreClient:
    """Speaks the client protocol to the core through a FakeCnxn; replies decoded lightly."""

    def __init__(self, zks: ZooKeeperServer, timeout: int = 30000, ip: str = "127.0.0.1") -> None:
        self.zks = zks
        self.cnxn = FakeCnxn(zks, ip)
        self.xid = 0
        req = R.ConnectRequest(0, 0, timeout, 0, bytes(16)).to_bytes() + b"\x00"
        zks.process_connect(self.cnxn, req)
        if not self.cnxn.frames:
            flush(zks)  # the createSession txn
        frame = self.cnxn.pop()[0]
        rsp, _ = R.ConnectResponse._read(frame, 4)
        self.session_id = rsp.sessionId
        self.passwd = rsp.passwd
        self.timeout = rsp.timeOut
        self.events: list[tuple[int, str]] = []

    def send(self, op: int, record=None, raw: bytes | None = None) -> int:
        """Send one request without waiting for its reply; returns its xid."""
        self.xid += 1
        body = raw if raw is not None else (record.to_bytes() if record is not None else b"")
        self.zks.process_packet(self.cnxn, struct.pack(">ii", self.xid, op) + body)
        return self.xid

    def receive(self) -> dict[int, tuple[int, int, bytes]]:
        """The replies that arrived since the last look, by xid (pings: -2); events collected."""
        replies = {}
        for frame in self.cnxn.pop():
            xid, zxid, err = struct.unpack_from(">iqi", frame, 4)
            if xid == -1:
                ev, _ = R.WatcherEvent._read(frame, 20)
                self.events.append((ev.type, ev.path))
            else:
                replies[xid] = (err, zxid, frame[20:])
        return replies

    def call(self, op: int, record=None, raw: bytes | None = None) -> tuple[int, int, bytes]:
        """Send one request; return (err, zxid, body) of its reply; events are collected.

        Under a held sync stage, whatever is held is flushed if the reply waits on it."""
        self.send(op, record, raw)
        want = -2 if op == OpCode.ping else self.xid
        replies = self.receive()
        if want not in replies and flush(self.zks):
            replies.update(self.receive())
        assert want in replies, f"no reply to xid {self.xid} (op {op})"
        return replies[want]

    def create(self, path: str, data: bytes = b"", flags: int = 0, acl=None):
        err, _, body = self.call(OpCode.create2, R.CreateRequest(path, data, acl or OPEN_ACL, flags))
        return err, (R.Create2Response.from_bytes(body) if err == 0 else None)

    def get(self, path: str, watch: bool = False):
        err, _, body = self.call(OpCode.getData, R.GetDataRequest(path, watch))
        return err, (R.GetDataResponse.from_bytes(body) if err == 0 else None)

    def set(self, path: str, data: bytes, version: int = -1):
        err, _, body = self.call(OpCode.setData, R.SetDataRequest(path, data, version))
        return err, (R.SetDataResponse.from_bytes(body).stat if err == 0 else None)

    def delete(self, path: str, version: int = -1) -> int:
        return self.call(OpCode.delete, R.DeleteRequest(path, version))[0]

    def exists(self, path: str, watch: bool = False):
        err, _, body = self.call(OpCode.exists, R.ExistsRequest(path, watch))
        return err, (R.ExistsResponse.from_bytes(body).stat if err == 0 else None)

    def children(self, path: str, watch: bool = False):
        err, _, body = self.call(OpCode.getChildren2, R.GetChildren2Request(path, watch))
        return err, (R.GetChildren2Response.from_bytes(body) if err == 0 else None)

    def close(self) -> int:
        return self.call(OpCode.closeSession)[0]


#: cores made during the running test whose digest must never mismatch (conftest checks)
CHECKED_CORES: list[ZooKeeperServer] = []


def make_core(
    extended: bool = True, held: bool = True, check_digest: bool = True, **settings
) -> tuple[ZooKeeperServer, Clock]:
    """A core on a Clock; ``held``: txns wait in a :class:`HeldSync` until flushed (calls
    through :class:`CoreClient` flush when their reply needs it).  ``check_digest``: after
    the test, its ``digest_mismatches`` must be 0 (off only for a test that makes one)."""
    clock = Clock()
    clock.advance(1_700_000_000)
    db = ZKDatabase(DataTree(extended_types=extended))
    zks = ZooKeeperServer(ServerSettings(**settings), db, clock, HeldSync if held else None)
    if check_digest:
        CHECKED_CORES.append(zks)
    return zks, clock


def recomputed_digest(tree: DataTree) -> int:
    """The tree digest summed afresh from every node's fields (the cached node digests are
    kept): what the incrementally maintained ``tree.tree_digest`` must equal."""
    total = 0
    for path, node in tree.nodes.items():
        if path == "/":  # the root is in the table twice ("" and "/"); "" is the one counted
            continue
        cached, node.digest = node.digest, None
        total = (total + tree.node_digest(path, node)) & (2**64 - 1)
        node.digest = cached
    return total
