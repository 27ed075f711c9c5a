"""The snapshot stream a 3.8 leader writes right after a SNAP packet (sans-IO).

ZKDatabase.serializeSnapshot straight onto the quorum socket (LearnerHandler.syncFollower /
Learner.syncWithLeader, QUORUM_NOTES.md section 4)::

    int n, n x (long session id, int timeout)         SerializeUtils.serializeSnapshot
    int n, n x (long acl id, vector<ACL>)             ReferenceCountedACLCache.serialize
    (ustring path, buffer data, long acl, StatPersisted)...   pre-order, the root's path ""
    ustring "/"                                       end of the nodes
    ustring "BenWasHere"                              Leader's signature, checked by the learner

No file header, checksum or digest trailer (those are the snapshot file's, see
persistence/snapshot.py, whose records and node packing this module reuses).  Ours is
exact at the SNAP packet's zxid (:class:`SnapStream`); 3.8's is fuzzy, so the reader takes
either. The stream
is not framed, so the reader parses it field by field as bytes arrive and hands back
whatever follows it (the next QuorumPackets) untouched.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..jute import records as R
from ..persistence.snapshot import (
    AclMap,
    AclMapEntry,
    SessionEntry,
    SessionMap,
    SnapNode,
    SnapshotSerializer,
    acl_records,
    acl_tuple,
    restored_node,
)
from ..server.acl import OPEN_UNSAFE_ACL_ID
from ..server.zkdatabase import ZKDatabase
from .packets import DEFAULT_MAX_BUFFER, max_length

log = logging.getLogger(__name__)

#: Learner.syncWithLeader: "Missing signature. Got " + signature
SIGNATURE = "BenWasHere"
END_OF_NODES = "/"
#: an ACL nobody matches: what a node gets whose ACL id is missing from the stream's map
#: until the setACL that made that ACL is replayed (3.8 keeps the dangling id and fails later)
DENY_ALL = ((0, "world", "anyone"),)

_I32 = struct.Struct(">i")
_QI = struct.Struct(">qi")
_Q = struct.Struct(">q")
#: SnapNode after its data: long acl + StatPersisted
_NODE_TAIL = 8 + 8 * 4 + 4 * 3 + 8 * 2


class SnapStreamError(ValueError):
    """The bytes after SNAP are not a snapshot stream (the learner must drop the leader)."""


# ---------------------------------------------------------------------------- events
@dataclass(slots=True)
class Sessions:
    sessions: list[tuple[int, int]]  # (id, timeout) in stream order


@dataclass(slots=True)
class AclEntries:
    entries: list[tuple[int, list]]  # (id, [R.ACL]) in stream order


@dataclass(slots=True)
class Node:
    path: str
    node: object  # persistence.snapshot.SnapNode


@dataclass(slots=True)
class End:
    """The "/" marker and the signature: the stream is complete."""


def encode_events(events) -> bytes:
    """Re-encode what :class:`SnapStreamReader` decoded (golden tests: same bytes back)."""
    parts: list[bytes] = []
    for ev in events:
        if isinstance(ev, Sessions):
            SessionMap([SessionEntry(s, t) for s, t in ev.sessions])._write(parts)
        elif isinstance(ev, AclEntries):
            AclMap([AclMapEntry(i, a) for i, a in ev.entries])._write(parts)
        elif isinstance(ev, Node):
            p = ev.path.encode("utf-8")
            parts.append(_I32.pack(len(p)) + p)
            ev.node._write(parts)
        else:
            parts.append(_ustr(END_OF_NODES) + _ustr(SIGNATURE))
    return b"".join(parts)


def _ustr(s: str) -> bytes:
    b = s.encode("utf-8")
    return _I32.pack(len(b)) + b


# ---------------------------------------------------------------------------- writing
class SnapStream:
    """The stream for ``db`` as chunks of bytes, exact at the tree's zxid when it is made.

    Made on the reactor in the turn the SNAP packet names that zxid (LearnerHandler's
    SNAP): the session table, the ACL map and the list of paths are taken then, and a
    copy-on-write view of the tree opens (DataTree.open_view), so the caller may write a
    chunk at a time and let the reactor commit meanwhile: a node changed or deleted
    before it is reached is written as it was, and one created since is left out (the
    forwarded txns create it).  3.8 writes a fuzzy stream, which makes a learner compare
    txn digests against a tree that is already past them; ours is not.  :meth:`close`
    (also at the end of the iteration) closes the view.
    """

    def __init__(self, db: ZKDatabase, zxid: int | None = None, nodes_per_chunk: int = 256) -> None:
        """``zxid``: the SNAP packet's (default: the tree's last processed zxid now)."""
        self.db = db
        self.nodes_per_chunk = nodes_per_chunk
        self.serializer = ser = SnapshotSerializer(db)
        self.zxid = ser.zxid if zxid is None else zxid
        self.view = db.tree.open_view()
        parts: list[bytes] = []
        SessionMap([SessionEntry(s, t) for s, t in ser.sessions.items()])._write(parts)
        # -1 is OPEN_UNSAFE_ACL_ID, which 3.8 resolves without the map and never writes in it
        entries = sorted(e for e in db.tree.acl_cache.items() if e[0] != OPEN_UNSAFE_ACL_ID)
        AclMap([AclMapEntry(i, acl_records(acl)) for i, acl in entries])._write(parts)
        self._head = b"".join(parts)
        self._chunks = self._generate()

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def _generate(self) -> Iterator[bytes]:
        try:
            yield self._head
            # ends with the "/" marker
            yield from self.serializer.node_chunks(self.nodes_per_chunk, created_after=self.zxid, view=self.view)
            yield _ustr(SIGNATURE)
        finally:
            self.db.tree.close_view(self.view)

    def close(self) -> None:
        self._chunks.close()
        self.db.tree.close_view(self.view)


def serialize_snap_stream(db: ZKDatabase, zxid: int | None = None, nodes_per_chunk: int = 256) -> SnapStream:
    """The SNAP stream of ``db`` now (see :class:`SnapStream`)."""
    return SnapStream(db, zxid, nodes_per_chunk)


# ---------------------------------------------------------------------------- reading
class _More(Exception):
    """Not enough bytes yet for the item being parsed."""


class _Cursor:
    __slots__ = ("buf", "pos", "limit", "base")

    def __init__(self, buf: bytearray, pos: int, limit: int, base: int) -> None:
        self.buf, self.pos, self.limit, self.base = buf, pos, limit, base

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise _More
        b = bytes(self.buf[self.pos : end])
        self.pos = end
        return b

    def int(self) -> int:
        return _I32.unpack(self.take(4))[0]

    def length(self, what: str) -> int:
        at = self.pos
        n = self.int()
        if n < -1 or n > self.limit:
            raise SnapStreamError(f"snapshot stream: unreasonable {what} length {n} at offset {self.base + at}")
        return n

    def count(self, what: str, least: int) -> int:
        """A count of items of at least ``least`` bytes each (0: not bounded by the buffer cap)."""
        at = self.pos
        n = self.int()
        if n < 0 or n * least > self.limit:
            raise SnapStreamError(f"snapshot stream: impossible {what} count {n} at offset {self.base + at}")
        return n

    def ustring(self, what: str) -> str | None:
        n = self.length(what)
        return None if n < 0 else self.take(n).decode("utf-8", "replace")


class SnapStreamReader:
    """Parses the stream incrementally: ``feed(bytes) -> [events]`` until :class:`End`.

    After End, :attr:`leftover` holds the bytes that followed the stream (the packets after
    SNAP), and feeding more is an error. Lengths are bounded as BinaryInputArchive bounds
    them (``jute.maxbuffer`` + extra); a bad length or a wrong signature raises
    :class:`SnapStreamError` naming the stream offset.
    """

    def __init__(self, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.limit = max_length(max_buffer)
        self._buf = bytearray()
        self._base = 0
        self._stage = 0  # 0 sessions, 1 acl map, 2 nodes, 3 signature, 4 done
        self._left: int | None = None  # sessions / ACL entries still to come (None: count unread)
        self._items: list = []
        self.done = False
        self.leftover = b""

    def feed(self, data: bytes) -> list:
        if self.done:
            raise SnapStreamError("snapshot stream already complete")
        buf = self._buf
        buf += data
        events: list = []
        pos = 0
        while not self.done:
            cur = _Cursor(buf, pos, self.limit, self._base)
            try:
                ev = self._item(cur)
            except _More:
                break
            pos = cur.pos
            if ev is not None:
                events.append(ev)
        del buf[:pos]
        self._base += pos
        if self.done:
            self.leftover = bytes(buf)
            buf.clear()
        return events

    def _item(self, cur: _Cursor):
        """Parse one item at the cursor: a count, a session, an ACL entry, a node, the end.

        Sessions and ACL entries are taken one at a time (their counts are not bounded by
        jute.maxbuffer in 3.8, so a count is never trusted to size a read) and handed out
        as one event when the last arrives.
        """
        stage = self._stage
        if stage == 0:
            if self._left is None:
                self._left = cur.count("session", 0)
                self._items = []
                return None
            if self._left:
                self._items.append(_QI.unpack(cur.take(12)))
                self._left -= 1
                return None
            self._stage, self._left = 1, None
            return Sessions(self._items)
        if stage == 1:
            if self._left is None:
                self._left = cur.count("ACL map", 0)
                self._items = []
                return None
            if self._left:
                acl_id = _Q.unpack(cur.take(8))[0]
                k = cur.count("ACL", 12)
                acls = []
                for _ in range(k):
                    perms = cur.int()
                    scheme = cur.ustring("ACL scheme")
                    ident = cur.ustring("ACL id")
                    acls.append(R.ACL(perms, R.Id(scheme, ident)))
                self._items.append((acl_id, acls))
                self._left -= 1
                return None
            self._stage, self._left = 2, None
            return AclEntries(self._items)
        if stage == 2:
            at = cur.pos
            path = cur.ustring("path")
            if path == END_OF_NODES:
                self._stage = 3
                return None
            if path is None:
                raise SnapStreamError(f"snapshot stream: null path at offset {self._base + at}")
            n = cur.length("node data")
            size = max(n, 0) + _NODE_TAIL
            start = cur.pos
            cur.take(size)
            rec, _ = SnapNode._read(bytes(cur.buf[start - 4 : start + size]), 0)
            return Node(path, rec)
        at = cur.pos
        sig = cur.ustring("signature")
        if sig != SIGNATURE:
            raise SnapStreamError(f"snapshot stream: missing signature at offset {self._base + at}, got {sig!r}")
        self._stage = 4
        self.done = True
        return End()


@dataclass
class SnapStreamLoader:
    """Applies a reader's events to a ZKDatabase, replacing its tree and sessions
    (Learner.syncWithLeader's ``deserializeSnapshot`` then ``setlastProcessedZxid``)."""

    db: ZKDatabase
    zxid: int
    reader: SnapStreamReader = field(default_factory=SnapStreamReader)
    nodes: int = 0
    dangling_acls: int = 0

    def __post_init__(self) -> None:
        self.db.tree.clear()
        self.db.sessions_with_timeouts.clear()

    @property
    def done(self) -> bool:
        return self.reader.done

    def feed(self, data: bytes) -> bool:
        """Feed bytes; True once the stream is complete (then see ``reader.leftover``)."""
        tree = self.db.tree
        for ev in self.reader.feed(data):
            if isinstance(ev, Node):
                try:
                    tree.add_restored_node(ev.path, restored_node(ev.node, self._acl))
                except ValueError as e:
                    raise SnapStreamError(f"snapshot stream: {e}") from None
                self.nodes += 1
            elif isinstance(ev, Sessions):
                self.db.sessions_with_timeouts.update(ev.sessions)
            elif isinstance(ev, AclEntries):
                for acl_id, acls in ev.entries:
                    tree.acl_cache.load(acl_id, acl_tuple(acls))
            else:
                tree.finish_restore()
                tree.last_processed_zxid = self.zxid
        return self.reader.done

    def _acl(self, acl_id: int):
        cache = self.db.tree.acl_cache
        try:
            return cache.by_id(acl_id)
        except ValueError:
            self.dangling_acls += 1
            log.warning("snapshot stream: ACL id %d not in the ACL map; denying all until a txn sets it", acl_id)
            return cache.intern(DENY_ALL)
