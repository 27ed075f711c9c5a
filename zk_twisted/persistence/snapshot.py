"""Snapshots in ZooKeeper 3.8's format (FileSnap): ``dataDir/version-2/snapshot.<hex zxid>``.

Layout (SnapStream CHECKED mode: no compression, Adler-32 over everything before a seal)::

    FileHeader          magic "ZKSN", version 2, dbid -1
    int count, count x (long session id, int timeout)        SerializeUtils.serializeSnapshot
    int count, count x (long acl id, vector<ACL>)            ReferenceCountedACLCache.serialize
    (ustring path, DataNode(buffer data, long acl, StatPersisted))...   parents before children
    ustring "/"                                              end of the nodes
    long checksum, ustring "/"                               seal
    long zxid, int digestVersion, long digest                DataTree.ZxidDigest
    long checksum, ustring "/"                               seal again

The snapshot is named after the last applied zxid when it *starts*; it is fuzzy (nodes are
serialized while txns keep being applied), so restore replays the log from that zxid + 1
and the digest trailer carries the zxid the tree had when serialization *ended*.

Writing streams the node section to a temporary file first and assembles the final file
at the end (prefix + nodes + seals), so that the ACL map, which precedes the nodes, holds
every ACL a written node refers to, including ACLs created during the snapshot (3.8
serializes its cache first and can miss those).  The checksum of the node section is
computed while it streams and combined with the prefix's (``adler32_combine``).
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..jute import JuteError
from ..jute import records as R
from ..jute.codec import BUFFER, INT, LONG, USTRING, Vector, get_ustring, record
from ..server.acl import AclList
from ..server.datatree import DIGEST_VERSION, DataNode
from ..server.zkdatabase import ZKDatabase
from .diskio import OS_DISK, DiskIO
from .errors import CorruptFileError
from .files import SNAPSHOT_PREFIX, TMP_PREFIX, adler32_combine, make_snapshot_name, zxid_from_name
from .progress import NODES_PER_CHECK, ProgressLog

log = logging.getLogger(__name__)

SNAP_MAGIC = int.from_bytes(b"ZKSN", "big")
SNAP_VERSION = 2
SNAP_DBID = -1

# The snapshot's own records (DataTree / SerializeUtils write these field by field; the
# wire format is the same as these jute records).
SessionEntry = record("SessionEntry", id=LONG, timeout=INT)
SessionMap = record("SessionMap", sessions=Vector(SessionEntry))
AclMapEntry = record("AclMapEntry", id=LONG, acls=Vector(R.ACL))
AclMap = record("AclMap", entries=Vector(AclMapEntry))
#: DataNode.serialize with its StatPersisted inlined (same bytes, one object per node)
SnapNode = record(
    "SnapNode",
    data=BUFFER, acl=LONG,
    czxid=LONG, mzxid=LONG, ctime=LONG, mtime=LONG,
    version=INT, cversion=INT, aversion=INT, ephemeralOwner=LONG, pzxid=LONG,
)  # fmt: skip
ZxidDigest = record("ZxidDigest", zxid=LONG, digestVersion=INT, digest=LONG)
_DigestHead = record("ZxidDigestHead", zxid=LONG, digestVersion=INT)
_DigestValue = record("ZxidDigestValue", digest=LONG)
_DigestText = record("ZxidDigestText", digest=USTRING)
Seal = record("Seal", checksum=LONG, path=USTRING)

_END_OF_NODES = b"\x00\x00\x00\x01/"
#: SnapNode's fields after ``data`` (the acl id and StatPersisted), packed at once when writing
_SNAP_NODE_TAIL = struct.Struct(">qqqqqiiiqq")
_I32 = struct.Struct(">i")
_NULL_LEN = b"\xff\xff\xff\xff"


def acl_records(acl: AclList) -> list:
    return [R.ACL(perms, R.Id(scheme, ident)) for perms, scheme, ident in acl]


def acl_tuple(records) -> AclList:
    return tuple((a.perms, a.id.scheme, a.id.id) for a in records or ())


# ---------------------------------------------------------------------------- validity
def supported_snapshot_name(name: str) -> bool:
    """We write and read the CHECKED stream mode only (no ``.gz`` / ``.snappy`` suffix)."""
    return zxid_from_name(name, SNAPSHOT_PREFIX) >= 0 and name.rsplit(".", 1)[-1] not in ("gz", "snappy")


def is_valid_snapshot(path: Path) -> bool:
    """SnapStream.isValidCheckedStream: at least 10 bytes, ending with the seal's ``"/"``."""
    if not supported_snapshot_name(path.name):
        return False
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 10:
                return False
            f.seek(size - 5)
            return f.read(5) == _END_OF_NODES
    except OSError:
        return False


# ---------------------------------------------------------------------------- reading
@dataclass
class LoadedSnapshot:
    path: Path
    zxid: int
    node_count: int
    #: the digest trailer, None for a pre-digest snapshot
    digest: object | None


def load_snapshot(path: Path, db: ZKDatabase, progress: ProgressLog | None = None) -> LoadedSnapshot:
    """FileSnap.deserialize of one file into ``db`` (tree and sessions replaced).

    Raises CorruptFileError naming the offset of the first thing that does not parse or
    does not checksum; ``db`` is then left half-filled and must be cleared by the caller.
    A big file logs its progress every few seconds (``progress``; default: to this log).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise CorruptFileError(path, 0, "empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _load(path, mm, size, db, progress or ProgressLog(f"Reading snapshot {path}"))


def _load(path: Path, mm, size: int, db: ZKDatabase, progress: ProgressLog) -> LoadedSnapshot:
    off = 0
    tree = db.tree
    try:
        header, off = R.FileHeader._read(mm, 0)
        if header.magic != SNAP_MAGIC:
            raise CorruptFileError(path, 0, f"mismatching magic headers {header.magic} != {SNAP_MAGIC}")
        sessions, off = SessionMap._read(mm, off)
        db.sessions_with_timeouts.clear()
        for s in sessions.sessions or ():
            db.sessions_with_timeouts[s.id] = s.timeout
        acl_map, off = AclMap._read(mm, off)
    except JuteError as e:
        raise CorruptFileError(path, off, str(e)) from None
    tree.clear()
    cache = tree.acl_cache
    for e in acl_map.entries or ():
        cache.load(e.id, acl_tuple(e.acls))
    node_count, off = _load_nodes(path, mm, off, tree, progress, size)
    with memoryview(mm) as view:
        digest = None
        try:
            seal, end = Seal._read(mm, off)
            if seal.checksum != zlib.adler32(view[:off]):
                raise CorruptFileError(path, off, "CRC corruption")
            if end < size:
                at = end
                digest, end = _read_zxid_digest(mm, at)
                seal, _ = Seal._read(mm, end)
                if seal.checksum != zlib.adler32(view[:end]):
                    raise CorruptFileError(path, end, "CRC corruption")
        except JuteError as e:
            raise CorruptFileError(path, off if digest is None else end, str(e)) from None
    tree.finish_restore()
    zxid = zxid_from_name(path.name, SNAPSHOT_PREFIX)
    tree.last_processed_zxid = zxid
    return LoadedSnapshot(path, zxid, node_count, digest)


def _load_nodes(path: Path, mm, off: int, tree, progress: ProgressLog, size: int) -> tuple[int, int]:
    """DataTree.deserialize's node loop; returns (nodes read, offset of the seal)."""
    read_node = SnapNode._read
    by_id = tree.acl_cache.by_id
    add = tree.add_restored_node
    n = 0
    while True:
        start = off
        try:
            node_path, off = get_ustring(mm, off, "path")
            if node_path == "/":
                return n, off
            rec, off = read_node(mm, off)
        except JuteError as e:
            raise CorruptFileError(path, start, str(e)) from None
        try:
            add(node_path, restored_node(rec, by_id))
        except ValueError as e:
            raise CorruptFileError(path, start, str(e)) from None
        n += 1
        if not n % NODES_PER_CHECK:
            progress.update(n, off / size)


def restored_node(rec, by_id) -> DataNode:
    """A DataNode from a SnapNode record (snapshot file or SNAP stream); ``by_id`` maps its ACL id."""
    czxid = rec.czxid
    mzxid = rec.mzxid
    if mzxid == czxid:
        mzxid = czxid  # share the int object: a million nodes, a few bytes each
    pzxid = rec.pzxid
    if pzxid == czxid:
        pzxid = czxid
    ctime = rec.ctime
    mtime = rec.mtime
    if mtime == ctime:
        mtime = ctime
    return DataNode(
        rec.data, by_id(rec.acl), czxid, mzxid, ctime, mtime,
        rec.version, rec.cversion, rec.aversion, rec.ephemeralOwner, pzxid,
    )  # fmt: skip


def _read_zxid_digest(buf, off: int):
    """ZxidDigest.deserialize: digest versions below 2 stored the digest as a hex string."""
    head, off = _DigestHead._read(buf, off)
    if head.digestVersion < 2:
        text, off = _DigestText._read(buf, off)
        value = int(text.digest, 16) if text.digest else 0
        if value >= 1 << 63:
            value -= 1 << 64
    else:
        rec, off = _DigestValue._read(buf, off)
        value = rec.digest
    return ZxidDigest(head.zxid, head.digestVersion, value), off


# ---------------------------------------------------------------------------- writing
@dataclass
class SnapshotSerializer:
    """Writes the tree's nodes a few at a time, parents first (fuzzy, as DataTree.serialize).

    Created on the reactor when a snapshot starts: it fixes the snapshot's zxid, copies
    the session table (as SerializeUtils copies sessionsWithTimeouts) and the list of
    paths then; each node is read when it is reached, so the result is fuzzy exactly as
    3.8's.  The paths come in the tree's insertion order, which puts every parent before
    its children, instead of a walk down the child sets: the same file a reader expects
    (any order with parents first), at a third of the cost per node.
    """

    db: ZKDatabase
    zxid: int = 0
    sessions: dict[int, int] = field(default_factory=dict)
    #: every ACL a written node refers to, by the id written
    acls: dict[int, AclList] = field(default_factory=dict)
    nodes_written: int = 0
    paths: list[str] = field(default_factory=list)
    #: logs nodes written, rate and ETA every few seconds (default: to this module's log)
    progress: ProgressLog | None = None

    def __post_init__(self) -> None:
        tree = self.db.tree
        self.zxid = tree.last_processed_zxid
        self.sessions = dict(self.db.sessions_with_timeouts)
        self.paths = list(tree.nodes)
        if self.progress is None:
            self.progress = ProgressLog(f"Writing snapshot 0x{self.zxid:x}")

    def node_chunks(
        self, nodes_per_chunk: int = 64, created_after: int | None = None, view: dict | None = None
    ) -> Iterator[bytes]:
        """The node section (ending with the "/" marker), one chunk of bytes per step.

        Between steps the caller may let the reactor apply txns: a node deleted before it
        is reached is skipped, and so is everything below it (a subtree deleted and made
        again meanwhile is left to the log replay, as one created after the start is).
        With ``created_after`` a node whose czxid is above it is skipped too, with its
        subtree: the receiver replays the txns after that zxid, which create it again.
        With ``view`` (DataTree.open_view, opened with this serializer) a node changed or
        deleted since is written as it was: the section is exact at :attr:`zxid`.
        """
        tree = self.db.tree
        paths = self.paths
        acls = self.acls
        pack_len = _I32.pack
        pack_tail = _SNAP_NODE_TAIL.pack
        last_acl: AclList | None = None
        acl_id = 0
        skipped: set[str] = set()
        total = len(paths) or 1
        progress = self.progress
        for start in range(0, len(paths), nodes_per_chunk):
            parts: list[bytes] = []
            append = parts.append
            nodes = tree.nodes
            id_of = tree.acl_cache.id_of
            written = 0
            for path in paths[start : start + nodes_per_chunk]:
                if path == "/":  # the root's second name
                    continue
                old = view.get(path) if view else None
                node = nodes.get(path) if old is None else old[0]
                if (
                    node is None
                    or (skipped and path[: path.rfind("/")] in skipped)
                    or (created_after is not None and node.czxid > created_after)
                ):
                    skipped.add(path)  # gone, or its parent was not written
                    continue
                acl = node.acl
                if old is not None:  # its ACL may have left the cache since: the id it had
                    acl_id = old[1]
                    acls[acl_id] = acl
                    last_acl = None
                elif acl is not last_acl:
                    acl_id = id_of(acl)
                    acls[acl_id] = last_acl = acl
                # SnapNode after its path: data, acl id, then the StatPersisted fields
                p = path.encode("utf-8")
                append(pack_len(len(p)))
                append(p)
                data = node.data
                if data is None:
                    append(_NULL_LEN)
                else:
                    append(pack_len(len(data)))
                    append(data)
                append(
                    pack_tail(
                        acl_id, node.czxid, node.mzxid, node.ctime, node.mtime, node.version,
                        node.cversion, node.aversion, node.ephemeral_owner, node.pzxid,
                    )
                )  # fmt: skip
                written += 1
            self.nodes_written += written
            if progress is not None:
                progress.update(self.nodes_written, min(1.0, (start + nodes_per_chunk) / total))
            yield b"".join(parts)
        self.paths = []
        yield _END_OF_NODES

    def prefix(self) -> bytes:
        """Header, sessions and the ACL map: written once the node section is complete."""
        parts: list[bytes] = []
        R.FileHeader(SNAP_MAGIC, SNAP_VERSION, SNAP_DBID)._write(parts)
        SessionMap([SessionEntry(sid, to) for sid, to in self.sessions.items()])._write(parts)
        entries = [AclMapEntry(acl_id, acl_records(acl)) for acl_id, acl in sorted(self.acls.items())]
        AclMap(entries)._write(parts)
        return b"".join(parts)

    def digest_trailer(self) -> bytes | None:
        """DataTree.serializeZxidDigest, taken when the nodes are done (None: digest off)."""
        tree = self.db.tree
        if not tree.digest_enabled:
            return None
        return ZxidDigest(tree.last_processed_zxid, DIGEST_VERSION, tree.digest()).to_bytes()


class SnapshotFileWriter:
    """The blocking half of taking a snapshot; every method runs in a worker thread.

    Node bytes stream to ``tmp.snapshot.<zxid>.nodes``; :meth:`finish` writes
    ``tmp.snapshot.<zxid>`` (prefix, nodes, seals), fsyncs it, renames it to
    ``snapshot.<zxid>`` and fsyncs the directory (AtomicFileOutputStream's discipline), so
    a power loss at any moment leaves either no snapshot or a complete one, and a snapshot
    reported taken is there after one.  Every write goes through ``io``.
    """

    #: node bytes are handed to the disk in pieces of about this size
    BUFFER = 1 << 20

    def __init__(self, snap_dir: Path, zxid: int, fsync: bool = True, io: DiskIO = OS_DISK) -> None:
        self.snap_dir = Path(snap_dir)
        self.zxid = zxid
        self.fsync = fsync
        self.io = io
        name = make_snapshot_name(zxid)
        self.path = self.snap_dir / name
        self.nodes_path = self.snap_dir / f"{TMP_PREFIX}{name}.nodes"
        self.tmp_path = self.snap_dir / f"{TMP_PREFIX}{name}"
        self._nodes: int | None = io.create(self.nodes_path)
        self._nodes_pos = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._adler = zlib.adler32(b"")
        self._length = 0

    def write_nodes(self, data: bytes) -> None:
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= self.BUFFER:
            self._flush_nodes()
        self._adler = zlib.adler32(data, self._adler)
        self._length += len(data)

    def _flush_nodes(self) -> None:
        if self._buffer:
            self._nodes_pos = self.io.pwrite_all(self._nodes, b"".join(self._buffer), self._nodes_pos)
            self._buffer = []
            self._buffered = 0

    def _close_nodes(self) -> None:
        if self._nodes is not None:
            fd, self._nodes = self._nodes, None
            self.io.close(fd)

    def finish(self, prefix: bytes, trailer: bytes | None) -> Path:
        io = self.io
        self._flush_nodes()
        self._close_nodes()
        out = io.create(self.tmp_path)
        try:
            pos = io.pwrite_all(out, prefix, 0)
            with open(self.nodes_path, "rb") as nodes:
                while True:
                    block = nodes.read(self.BUFFER)
                    if not block:
                        break
                    pos = io.pwrite_all(out, block, pos)
            crc = adler32_combine(zlib.adler32(prefix), self._adler, self._length)
            tail = Seal(crc, "/").to_bytes()
            if trailer is not None:
                crc = zlib.adler32(trailer, zlib.adler32(tail, crc))
                tail += trailer + Seal(crc, "/").to_bytes()
            io.pwrite_all(out, tail, pos)
            if self.fsync:
                io.fsync(out)  # the content is durable before the name can point at it
        finally:
            io.close(out)
        io.rename(self.tmp_path, self.path)
        io.unlink(self.nodes_path)
        if self.fsync:
            io.fsync_dir(self.snap_dir)  # and the name is durable before anyone relies on it
        return self.path

    def abort(self) -> None:
        self._buffer = []
        self._close_nodes()
        for p in (self.nodes_path, self.tmp_path):
            try:
                self.io.unlink(p)
            except FileNotFoundError:
                pass


def write_snapshot(db: ZKDatabase, snap_dir: Path, fsync: bool = True, io: DiskIO = OS_DISK) -> Path:
    """FileTxnSnapLog.save, all at once (start-up, tools, tests): nothing changes meanwhile."""
    ser = SnapshotSerializer(db)
    writer = SnapshotFileWriter(snap_dir, ser.zxid, fsync, io)
    try:
        for chunk in ser.node_chunks(4096):
            writer.write_nodes(chunk)
        return writer.finish(ser.prefix(), ser.digest_trailer())
    except BaseException:
        writer.abort()
        raise
