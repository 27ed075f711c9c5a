"""Dumps of a snapshot and of a txn log: SnapshotFormatter / TxnLogToolkit text, or JSON.

The text forms read a file the way the Java tools do (no checksum check for snapshots,
CRC errors reported and printed twice for logs) and print line for line what they print.
The JSON forms are ours: every field, checksums checked, bytes as base64.
"""

from __future__ import annotations

import base64
import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..constants import OpCode
from ..jute import JuteError
from ..jute import records as R
from ..jute.codec import BUFFER, Vector, get_ustring
from ..persistence.files import SNAPSHOT_PREFIX, zxid_from_name
from ..persistence.snapshot import SNAP_MAGIC, AclMap, Seal, SessionMap, SnapNode, _read_zxid_digest
from ..persistence.txnlog import EOR, TXNLOG_MAGIC
from ..server.txn import decode_txn, decode_txn_body
from .javafmt import (
    date_to_string,
    hashmap_order,
    hex_long,
    java_utf8,
    jute_to_string,
    list_to_string,
    long_hash,
    short_long_datetime,
    string_hash,
)

_M64 = (1 << 64) - 1
#: BinaryInputArchive's sanity limit on a buffer: jute.maxbuffer + its default extra
MAX_BUFFER = 2 * 0xFFFFF


#: records between two progress callbacks
_EVERY = 2048


class ToolError(Exception):
    """What the Java tool would print on stderr, with its exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------- records as JSON
def record_json(rec):
    """A jute record (or value) as JSON-ready data; buffers in base64."""
    if rec is None:
        return None
    fields = getattr(type(rec), "_jute_fields", None)
    if fields is None:
        return rec
    return {name: _value_json(t, getattr(rec, name)) for name, t in fields}


def _value_json(t, v):
    if v is None:
        return None
    if t is BUFFER:
        return base64.b64encode(v).decode("ascii")
    if isinstance(t, Vector):
        return [_value_json(t.elem, e) for e in v]
    return record_json(v)


def op_name(op: int) -> str:
    """Request.op2String."""
    try:
        name = OpCode(op).name
    except ValueError:
        return f"unknown {op}"
    return _OP_NAMES.get(name, name) if name not in _NOT_IN_OP2STRING else f"unknown {op}"


_OP_NAMES = {"createTTL": "createTtl"}
_NOT_IN_OP2STRING = frozenset(("addWatch",))


# ---------------------------------------------------------------------------- snapshots
@dataclass
class SnapshotDump:
    path: Path
    header: object
    sessions: list = field(default_factory=list)
    acls: list = field(default_factory=list)
    #: (path, SnapNode) in file order
    nodes: list = field(default_factory=list)
    digest: object | None = None
    checksum_ok: bool | None = None
    digest_checksum_ok: bool | None = None


def read_snapshot(path: Path, progress=None) -> SnapshotDump:
    """Parse a snapshot as FileSnap + DataTree.deserialize do, checksums noted, not enforced.

    ``progress(offset, nodes)`` is called every few thousand nodes (a terminal's bar)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise ToolError(f"{path}: empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _read_snapshot(Path(path), mm, progress)


def _read_snapshot(path: Path, mm, progress=None) -> SnapshotDump:
    off = 0
    try:
        header, off = R.FileHeader._read(mm, 0)
        if header.magic != SNAP_MAGIC:
            raise ToolError(f"mismatching magic headers {header.magic} !=  {SNAP_MAGIC}")
        dump = SnapshotDump(path, header)
        sessions, off = SessionMap._read(mm, off)
        dump.sessions = list(sessions.sessions or ())
        acl_map, off = AclMap._read(mm, off)
        dump.acls = list(acl_map.entries or ())
        while True:
            node_path, off = get_ustring(mm, off, "path")
            if node_path == "/":
                break
            rec, off = SnapNode._read(mm, off)
            dump.nodes.append((node_path, rec))
            if progress is not None and not len(dump.nodes) % _EVERY:
                progress(off, len(dump.nodes))
    except JuteError as e:
        raise ToolError(f"{path} at offset {off}: {e}") from None
    try:
        seal, end = Seal._read(mm, off)
        with memoryview(mm) as view:
            dump.checksum_ok = seal.checksum == zlib.adler32(view[:off])
            if end < len(mm):
                dump.digest, end2 = _read_zxid_digest(mm, end)
                seal2, _ = Seal._read(mm, end2)
                dump.digest_checksum_ok = seal2.checksum == zlib.adler32(view[:end2])
    except JuteError:
        dump.checksum_ok = bool(dump.checksum_ok)
    return dump


def snapshot_text(dump: SnapshotDump, dump_data: bool = False) -> Iterator[str]:
    """SnapshotFormatter's lines (``-d``: data in base64 instead of its length)."""
    nodes: dict[str, object] = {}
    children: dict[str, list[str]] = {}
    for node_path, rec in dump.nodes:
        nodes[node_path] = rec
        i = node_path.rfind("/")
        if i != -1:
            kids = children.setdefault(node_path[:i], [])
            name = node_path[i + 1 :]
            if name not in kids:
                kids.append(name)
    if "" in nodes:
        nodes["/"] = nodes[""]
        children["/"] = children.get("", [])
    yield f"ZNode Details (count={len(nodes)}):"
    highest = 0
    stack = ["/"]
    while stack:
        name = stack.pop()
        rec = nodes[name]
        yield "----"
        yield name
        yield from _stat_lines(rec)
        highest = max(highest, rec.mzxid, rec.pzxid)
        if dump_data:
            yield "  data = " + (base64.b64encode(rec.data).decode("ascii") if rec.data else "")
        else:
            yield f"  dataLength = {len(rec.data) if rec.data else 0}"
        kids = hashmap_order(children.get(name, []), string_hash, 8)
        prefix = "" if name == "/" else name
        stack.extend(f"{prefix}/{k}" for k in reversed(kids))
    yield "----"
    yield "Session Details (sid, timeout, ephemeralCount):"
    owners: dict[int, int] = {}
    for _, rec in dump.nodes:
        owners[rec.ephemeralOwner] = owners.get(rec.ephemeralOwner, 0) + 1
    timeouts: dict[int, int] = {}
    for s in dump.sessions:
        timeouts[s.id] = s.timeout
    for sid in hashmap_order(list(timeouts), long_hash):
        yield f"0x{sid & _M64:014x}, {timeouts[sid]}, {owners.get(sid, 0) if sid else 0}"
    file_zxid = zxid_from_name(dump.path.name, SNAPSHOT_PREFIX)
    yield "----"
    yield f"Last zxid: 0x{hex_long(max(file_zxid, highest))}"


def _stat_lines(rec) -> Iterator[str]:
    yield f"  cZxid = 0x{rec.czxid & _M64:014x}"
    yield f"  ctime = {date_to_string(rec.ctime)}"
    yield f"  mZxid = 0x{rec.mzxid & _M64:014x}"
    yield f"  mtime = {date_to_string(rec.mtime)}"
    yield f"  pZxid = 0x{rec.pzxid & _M64:014x}"
    yield f"  cversion = {rec.cversion}"
    yield f"  dataVersion = {rec.version}"
    yield f"  aclVersion = {rec.aversion}"
    yield f"  ephemeralOwner = 0x{rec.ephemeralOwner & _M64:014x}"


def snapshot_json(dump: SnapshotDump) -> dict:
    return {
        "file": str(dump.path),
        "zxid": zxid_from_name(dump.path.name, SNAPSHOT_PREFIX),
        "header": record_json(dump.header),
        "sessions": [{"id": s.id, "timeout": s.timeout} for s in dump.sessions],
        "acls": [{"id": e.id, "acl": _value_json(Vector(R.ACL), e.acls)} for e in dump.acls],
        "nodes": [{"path": p, **record_json(rec)} for p, rec in dump.nodes],
        "digest": record_json(dump.digest),
        "checksum_ok": dump.checksum_ok,
        "digest_checksum_ok": dump.digest_checksum_ok,
    }


# ---------------------------------------------------------------------------- txn logs
_FRAME = struct.Struct(">qi")


@dataclass
class LogRecord:
    offset: int
    checksum: int
    body: bytes

    @property
    def checksum_ok(self) -> bool:
        return zlib.adler32(self.body) == self.checksum


@dataclass
class LogDump:
    path: Path
    header: object
    records: list[LogRecord]
    #: why reading stopped: "eof" (what 3.8 calls EOF), or "partial" (missing 'B')
    end: str
    end_offset: int


def read_log(path: Path, progress=None) -> LogDump:
    """The entries of a txn log as TxnLogToolkit reads them (until EOF or a zero length);
    ``progress(offset, records)`` every few thousand records."""
    data = Path(path).read_bytes()
    try:
        header, off = R.FileHeader._read(data, 0)
    except JuteError:
        raise ToolError(f"{path}: truncated file header") from None
    if header.magic != TXNLOG_MAGIC:
        raise ToolError(f"Invalid magic number for {Path(path).name}", 2)
    records: list[LogRecord] = []
    size = len(data)
    while True:
        if off + 12 > size:
            return LogDump(Path(path), header, records, "eof", off)
        crc, n = _FRAME.unpack_from(data, off)
        if n < 0 or n > MAX_BUFFER:
            raise ToolError(f"Unreasonable length = {n} at offset {off}")
        if n == 0 or off + 12 + n > size:
            return LogDump(Path(path), header, records, "eof", off)
        rec = LogRecord(off, crc, data[off + 12 : off + 12 + n])
        records.append(rec)
        if progress is not None and not len(records) % _EVERY:
            progress(off, len(records))
        if off + 12 + n >= size or data[off + 12 + n] != EOR:
            return LogDump(Path(path), header, records, "partial", off)
        off += 13 + n


def log_text(dump: LogDump) -> Iterator[str]:
    """TxnLogToolkit's dump mode (a CRC error prints the entry twice, the first time flagged)."""
    yield f"ZooKeeper Transactional Log File with dbid {dump.header.dbid} txnlog format version {dump.header.version}"
    count = 0
    for i, rec in enumerate(dump.records):
        if not rec.checksum_ok:
            yield "CRC ERROR - " + _txn_line(rec.body)
        yield _txn_line(rec.body)
        if dump.end == "partial" and i == len(dump.records) - 1:
            raise ToolError("Last transaction was partial.")
        count += 1
    yield f"EOF reached after {count} txns."


def _txn_line(body: bytes) -> str:
    hdr, txn, _ = decode_txn(body)
    line = (
        f"{short_long_datetime(hdr.time)} session 0x{hex_long(hdr.clientId)} cxid 0x{hex_long(hdr.cxid)} "
        f"zxid 0x{hex_long(hdr.zxid)} {op_name(hdr.type)} {_txn_str(txn)}"
    )
    # println, unless jute's toString already ended the line
    return line[:-1] if line.endswith("\n") else line


def _acls(acl) -> str:
    return list_to_string(acl, jute_to_string)


def _txn_str(txn) -> str:
    """TxnLogToolkit.getFormattedTxnStr."""
    if txn is None:
        return ""
    if isinstance(txn, R.CreateTxn):
        return (
            f"{txn.path},{java_utf8(txn.data)},{_acls(txn.acl)},{'true' if txn.ephemeral else 'false'},"
            f"{txn.parentCVersion}"
        )
    if isinstance(txn, R.SetDataTxn):
        return f"{txn.path},{java_utf8(txn.data)},{txn.version}"
    if isinstance(txn, R.CreateContainerTxn):
        return f"{txn.path},{java_utf8(txn.data)},{_acls(txn.acl)},{txn.parentCVersion}"
    if isinstance(txn, R.CreateTTLTxn):
        return f"{txn.path},{java_utf8(txn.data)},{_acls(txn.acl)},{txn.parentCVersion},{txn.ttl}"
    if isinstance(txn, R.MultiTxn):
        return ";".join(f"{op_name(t.type)}:{java_utf8(t.data)}" for t in txn.txns or ())
    return jute_to_string(txn)


def log_json(dump: LogDump) -> dict:
    txns = []
    for rec in dump.records:
        item: dict = {"offset": rec.offset, "checksum": rec.checksum, "checksum_ok": rec.checksum_ok}
        try:
            hdr, txn, digest = decode_txn(rec.body)
        except JuteError as e:
            item["error"] = str(e)
        else:
            item.update(
                header=record_json(hdr),
                type=op_name(hdr.type),
                txn=_txn_json(txn),
                digest=record_json(digest),
            )
        txns.append(item)
    return {
        "file": str(dump.path),
        "header": record_json(dump.header),
        "txns": txns,
        "end": {"reason": dump.end, "offset": dump.end_offset},
    }


def _txn_json(txn):
    if isinstance(txn, R.MultiTxn):
        out = []
        for t in txn.txns or ():
            try:
                sub = record_json(decode_txn_body(t.type, t.data))
            except JuteError:
                sub = {"data": base64.b64encode(t.data or b"").decode("ascii")}
            out.append({"type": op_name(t.type), "txn": sub})
        return {"txns": out}
    return record_json(txn)
