"""FinalRequestProcessor: apply the txn, then answer the client (reads are answered here too).

Watch events fired while a txn is applied are written to the watchers' connections before
the writer's reply and before any later read reply, which is ZooKeeper's ordering
guarantee: a client sees the event before it can see the new data.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..constants import PING_XID, Code, KeeperError, Op, Perms, WatcherType
from ..jute import JuteError
from ..jute import records as R
from ..jute.multi import decode_multi_request, encode_multi_response
from .request import Request

if TYPE_CHECKING:
    from .zkserver import ZooKeeperServer

_REPLY = struct.Struct(">iiqi")  # frame length, xid, zxid, err
_I32 = struct.Struct(">i")
_ZERO_STAT = R.Stat(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).to_bytes()


#: a list reply (getChildren, getEphemerals) at least this long is encoded while it is sent
#: rather than built whole first: a 20 MB child list then costs a chunk, not two copies
LARGE_REPLY = 1 << 16
#: bytes per chunk of a streamed reply
STREAM_CHUNK = 1 << 18


def reply_frame(xid: int, zxid: int, err: int, body: bytes = b"") -> bytes:
    return _REPLY.pack(16 + len(body), xid, zxid, err) + body


class StreamedReply:
    """A large reply: its frame header now, its body encoded chunk by chunk as the
    connection can take it (``ServerCnxn.write_stream``)."""

    __slots__ = ("header", "size", "chunks")

    def __init__(self, header: bytes, size: int, chunks: Iterator[bytes]) -> None:
        self.header = header
        #: the whole frame's length, 4-byte prefix included
        self.size = size
        self.chunks = chunks


class _LazyBody:
    __slots__ = ("length", "chunks")

    def __init__(self, length: int, chunks: Iterator[bytes]) -> None:
        self.length = length
        self.chunks = chunks


def _strings_chunks(items: list[str], tail: bytes) -> Iterator[bytes]:
    """A jute vector of ustrings, then ``tail``, in chunks of about STREAM_CHUNK bytes."""
    pack = _I32.pack
    parts = [pack(len(items))]
    size = 4
    for s in items:
        b = s.encode("utf-8")
        parts.append(pack(len(b)))
        parts.append(b)
        size += 4 + len(b)
        if size >= STREAM_CHUNK:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(tail)
    yield b"".join(parts)


def _strings_body(items: list[str], tail: bytes = b"") -> bytes | _LazyBody:
    """The vector of ``items`` (+ ``tail``): bytes when small, else encoded as it is sent.

    ``items`` is this reply's own list of the tree's (immutable) names, so a later change to
    the tree does not reach a reply still being sent.
    """
    fixed = 4 + 4 * len(items) + len(tail)
    chars = sum(map(len, items))
    if fixed + 4 * chars < LARGE_REPLY:  # surely small (UTF-8 takes at most 4 bytes a char)
        return R.GetChildrenResponse(items).to_bytes() + tail
    length = fixed + sum(len(s) if s.isascii() else len(s.encode("utf-8")) for s in items)
    if length < LARGE_REPLY:
        return R.GetChildrenResponse(items).to_bytes() + tail
    return _LazyBody(length, _strings_chunks(items, tail))


def _create2_body(path: str, stat: bytes) -> bytes:
    """Create2Response (path, Stat) with the Stat already encoded by the tree."""
    return R.CreateResponse(path).to_bytes() + stat


def _buffer(b: bytes | None) -> bytes:
    return b"\xff\xff\xff\xff" if b is None else _I32.pack(len(b)) + b


class FinalRequestProcessor:
    def __init__(self, zks: ZooKeeperServer) -> None:
        self.zks = zks

    def process(self, req: Request) -> None:
        zks = self.zks
        rc = None
        hdr = req.hdr
        if hdr is not None:
            rc = zks.apply(req)
        cnxn = req.cnxn
        if cnxn is None:
            return
        zxid = zks.db.tree.last_processed_zxid
        t = req.type
        err = 0
        body = b""
        try:
            if hdr is not None and hdr.type == Op.error:
                if req.error is not None:
                    raise req.error
                raise KeeperError(req.txn.err)
            if req.error is not None and t != Op.multi:
                raise req.error
            handler = _HANDLERS.get(t)
            if handler is None:  # ping
                if t == Op.ping:
                    zks.send(cnxn, reply_frame(PING_XID, zxid, 0), req)
                    return
                if t == Op.createSession:
                    zks.finish_session_init(cnxn, True)
                    return
                raise KeeperError(Code.UNIMPLEMENTED)
            body = handler(self, req, rc)
            if type(body) is _LazyBody:
                header = _REPLY.pack(16 + body.length, req.cxid, zxid, 0)
                zks.send(cnxn, StreamedReply(header, 20 + body.length, body.chunks), req)
                return
        except KeeperError as e:
            if e.code == Code.SESSIONMOVED:
                # a connection-level error in 3.8 (ZOOKEEPER-710): the client's connection to
                # this server is closed, unanswered; it goes on where its session is now
                cnxn.close_after_flush()
                return
            err = e.code
            body = b""
        except (JuteError, ValueError, UnicodeError, TypeError, AttributeError):
            err = Code.MARSHALLINGERROR
            body = b""
        zks.send(cnxn, reply_frame(req.cxid, zxid, err, body), req)
        if t == Op.closeSession:
            cnxn.close_after_flush()

    # ------------------------------------------------------------------ writes
    def _create(self, req: Request, rc) -> bytes:
        if rc.err:
            raise KeeperError(rc.err)
        if req.type == Op.create:
            return R.CreateResponse(rc.path).to_bytes()
        return _create2_body(rc.path, rc.stat)

    def _delete(self, req: Request, rc) -> bytes:
        if rc.err:
            raise KeeperError(rc.err)
        return b""

    def _set_stat(self, req: Request, rc) -> bytes:
        if rc.err:
            raise KeeperError(rc.err)
        return rc.stat or _ZERO_STAT

    def _close_session(self, req: Request, rc) -> bytes:
        if rc.err:
            raise KeeperError(rc.err)
        return b""

    def _multi(self, req: Request, rc) -> bytes:
        results = []
        for sub in rc.multi:
            st = sub.type
            if st == Op.check:
                results.append((Op.check, 0, None))
            elif st == Op.create:
                results.append((Op.create, 0, R.CreateResponse(sub.path)))
            elif st in (Op.create2, Op.createTTL, Op.createContainer):
                results.append((Op.create2, 0, _Raw(_create2_body(sub.path, sub.stat))))
            elif st in (Op.delete, Op.deleteContainer):
                results.append((Op.delete, 0, None))
            elif st == Op.setData:
                results.append((Op.setData, 0, _Raw(sub.stat)))
            elif st == Op.error:
                results.append((Op.error, sub.err, R.ErrorResponse(sub.err)))
            else:
                raise JuteError(f"Invalid type of op {st}")
        return encode_multi_response(results)

    # ------------------------------------------------------------------ reads
    def _sync(self, req: Request, rc) -> bytes:
        path = R.SyncRequest.from_bytes(req.payload).path
        return R.SyncResponse(path).to_bytes()

    def _exists(self, req: Request, rc) -> bytes:
        r = R.ExistsRequest.from_bytes(req.payload)
        path = r.path
        if "\0" in path:
            raise KeeperError(Code.BADARGUMENTS)
        tree = self.zks.db.tree
        if r.watch:
            tree.add_data_watch(path, req.cnxn)
        node = tree.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE)
        return tree.stat_bytes(node)

    def _get_data(self, req: Request, rc) -> bytes:
        r = R.GetDataRequest.from_bytes(req.payload)
        return self._read_data(req, r.path, r.watch)

    def _read_data(self, req: Request, path: str, watch: bool) -> bytes:
        zks = self.zks
        tree = zks.db.tree
        node = tree.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE)
        zks.check_acl(node.acl, Perms.READ, req.auth_ids)
        if watch:
            tree.add_data_watch(path, req.cnxn)
        return _buffer(node.data) + tree.stat_bytes(node)

    def _children(self, req: Request, path: str, watch: bool) -> list[str]:
        zks = self.zks
        tree = zks.db.tree
        node = tree.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE)
        zks.check_acl(node.acl, Perms.READ, req.auth_ids)
        if watch:
            tree.add_child_watch(path, req.cnxn)
        return sorted(node.children) if node.children else []

    def _get_children(self, req: Request, rc) -> bytes | _LazyBody:
        r = R.GetChildrenRequest.from_bytes(req.payload)
        return _strings_body(self._children(req, r.path, r.watch))

    def _get_children2(self, req: Request, rc) -> bytes | _LazyBody:
        r = R.GetChildren2Request.from_bytes(req.payload)
        children = self._children(req, r.path, r.watch)
        tree = self.zks.db.tree
        return _strings_body(children, tree.stat_bytes(tree.nodes[r.path]))

    def _get_all_children_number(self, req: Request, rc) -> bytes:
        path = R.GetAllChildrenNumberRequest.from_bytes(req.payload).path
        zks = self.zks
        node = zks.db.tree.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE)
        zks.check_acl(node.acl, Perms.READ, req.auth_ids)
        return _I32.pack(zks.db.tree.all_children_number(path))

    def _get_acl(self, req: Request, rc) -> bytes:
        path = R.GetACLRequest.from_bytes(req.payload).path
        zks = self.zks
        tree = zks.db.tree
        node = tree.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE)
        zks.check_acl(node.acl, Perms.READ | Perms.ADMIN, req.auth_ids)
        acl = node.acl
        if not zks.auth.allowed(acl, Perms.ADMIN, req.auth_ids):
            # CVE-2019-0201: without ADMIN, digests are masked
            acl = tuple((p, s, i.split(":", 1)[0] + ":x" if s == "digest" and ":" in i else i) for p, s, i in acl)
        recs = [R.ACL(p, R.Id(s, i)) for p, s, i in acl]
        return R.GetACLResponse(recs, tree.stat(node)).to_bytes()

    def _set_watches(self, req: Request, rc) -> bytes:
        if req.type == Op.setWatches:
            r = R.SetWatches.from_bytes(req.payload)
            persistent, recursive = (), ()
        else:
            r = R.SetWatches2.from_bytes(req.payload)
            persistent, recursive = r.persistentWatches, r.persistentRecursiveWatches
        zks = self.zks
        missed = zks.db.tree.set_watches(
            r.relativeZxid, r.dataWatches, r.existWatches, r.childWatches, persistent, recursive, req.cnxn
        )
        for event_type, path, acl in missed:
            zks.deliver_event({req.cnxn}, event_type, path, acl)
        return b""

    def _add_watch(self, req: Request, rc) -> bytes:
        r = R.AddWatchRequest.from_bytes(req.payload)
        self.zks.db.tree.add_watch(r.path, req.cnxn, r.mode)
        return _I32.pack(0)

    def _check_or_remove_watches(self, req: Request, rc) -> bytes:
        remove = req.type == Op.removeWatches
        r = (R.RemoveWatchesRequest if remove else R.CheckWatchesRequest).from_bytes(req.payload)
        tree = self.zks.db.tree
        wtype = WatcherType(r.type)
        found = False
        managers = []
        if wtype in (WatcherType.Children, WatcherType.Any):
            managers.append(tree.child_watches)
        if wtype in (WatcherType.Data, WatcherType.Any):
            managers.append(tree.data_watches)
        for m in managers:
            if remove:
                found |= m.remove(r.path, req.cnxn)
            else:
                found |= m.contains(r.path, req.cnxn)
        if not found:
            raise KeeperError(Code.NOWATCHER)
        return b""

    def _who_am_i(self, req: Request, rc) -> bytes:
        auth = self.zks.auth
        infos = [R.ClientInfo(s, auth.user_name(s, i)) for s, i in req.auth_ids]
        return R.WhoAmIResponse(infos).to_bytes()

    def _get_ephemerals(self, req: Request, rc) -> bytes:
        prefix = R.GetEphemeralsRequest.from_bytes(req.payload).prefixPath
        paths = self.zks.db.tree.ephemerals_of(req.session_id)
        if not (prefix is None or not prefix.strip() or prefix.strip() == "/"):
            paths = {p for p in paths if p.startswith(prefix)}
        return _strings_body(sorted(paths))

    def _multi_read(self, req: Request, rc) -> bytes:
        results = []
        for op_type, rec in decode_multi_request(req.payload):
            try:
                if op_type == Op.getChildren:
                    children = self._children(req, rec.path, rec.watch)
                    results.append((Op.getChildren, 0, R.GetChildrenResponse(children)))
                elif op_type == Op.getData:
                    body = self._read_data(req, rec.path, rec.watch)
                    results.append((Op.getData, 0, _Raw(body)))
                else:
                    raise JuteError("Invalid type of readOp")
            except KeeperError as e:
                results.append((Op.error, e.code, R.ErrorResponse(e.code)))
        return encode_multi_response(results)


class _Raw:
    """An already encoded record (a getData body, a Stat) inside a MultiResponse."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _write(self, parts: list) -> None:
        parts.append(self.data)


F = FinalRequestProcessor
_HANDLERS = {
    Op.create: F._create,
    Op.create2: F._create,
    Op.createTTL: F._create,
    Op.createContainer: F._create,
    Op.delete: F._delete,
    Op.deleteContainer: F._delete,
    Op.setData: F._set_stat,
    Op.setACL: F._set_stat,
    Op.check: F._set_stat,
    Op.closeSession: F._close_session,
    Op.multi: F._multi,
    Op.sync: F._sync,
    Op.exists: F._exists,
    Op.getData: F._get_data,
    Op.getChildren: F._get_children,
    Op.getChildren2: F._get_children2,
    Op.getAllChildrenNumber: F._get_all_children_number,
    Op.getACL: F._get_acl,
    Op.setWatches: F._set_watches,
    Op.setWatches2: F._set_watches,
    Op.addWatch: F._add_watch,
    Op.checkWatches: F._check_or_remove_watches,
    Op.removeWatches: F._check_or_remove_watches,
    Op.whoAmI: F._who_am_i,
    Op.getEphemerals: F._get_ephemerals,
    Op.multiRead: F._multi_read,
}
del F
