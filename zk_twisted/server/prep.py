"""PrepRequestProcessor: validate a write, check ACLs, turn it into a txn with the next zxid.

Writes are checked against the tree *plus* the outstanding changes of txns that are
prepared but not yet applied (ZooKeeper's ChangeRecords), so two pipelined creates of the
same path get NODEEXISTS for the second, and the tree digest each txn will leave behind can
be written into the log before it is applied.  A write that fails still consumes a zxid and
is logged as an error txn, exactly as ZooKeeper 3.8 does.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from ..constants import CONTAINER_EPHEMERAL_OWNER, Code, CreateMode, KeeperError, Op, Perms
from ..jute import JuteError
from ..jute import records as R
from ..jute.multi import decode_multi_request
from .acl import acl_records
from .datatree import (
    DIGEST_VERSION,
    NORMAL,
    SPECIAL_PATHS,
    DataNode,
    ephemeral_type,
    to_signed64,
    ttl_to_owner,
)
from .pathutils import InvalidPath, validate_path
from .request import Request

if TYPE_CHECKING:
    from .zkserver import ZooKeeperServer

log = logging.getLogger(__name__)

_I32 = 1 << 32
_U64 = (1 << 64) - 1


def inc32(v: int) -> int:
    """v + 1 with Java int overflow."""
    v += 1
    return v - _I32 if v >= 1 << 31 else v


class ChangeRecord:
    """The state a path will have once the outstanding txn ``zxid`` is applied."""

    __slots__ = ("zxid", "path", "node", "child_count")

    def __init__(self, zxid: int, path: str, node: DataNode | None, child_count: int) -> None:
        self.zxid = zxid
        self.path = path
        self.node = node  # None: deleted
        self.child_count = child_count

    def duplicate(self, zxid: int) -> ChangeRecord:
        n = self.node
        copy = None
        if n is not None:
            copy = DataNode(
                n.data, n.acl, n.czxid, n.mzxid, n.ctime, n.mtime, n.version,
                n.cversion, n.aversion, n.ephemeral_owner, n.pzxid,
            )  # fmt: skip
        return ChangeRecord(zxid, self.path, copy, self.child_count)


class PrepRequestProcessor:
    def __init__(self, zks: ZooKeeperServer) -> None:
        self.zks = zks
        self.outstanding: deque[ChangeRecord] = deque()
        self.outstanding_for_path: dict[str, ChangeRecord] = {}
        self._digest: int | None = None  # tree digest after all outstanding changes

    # ------------------------------------------------------------------ change records
    def _record_for(self, path: str) -> ChangeRecord:
        if path == "/":
            # the root is "" as a parent and "/" as a target: one node, so one record (3.8
            # keeps two, and its digest goes wrong when both are in flight)
            path = ""
        cr = self.outstanding_for_path.get(path)
        if cr is None:
            node = self.zks.db.tree.nodes.get(path)
            if node is not None:
                cr = ChangeRecord(-1, path, node, node.num_children())
        if cr is None or cr.node is None:
            raise KeeperError(Code.NONODE, path)
        return cr

    def _add(self, cr: ChangeRecord, before: DataNode | None) -> None:
        """Make ``cr`` outstanding; ``before`` is the state of its path it replaces (None:
        no node), so the running digest moves without looking the path up again."""
        tree = self.zks.db.tree
        if tree.digest_enabled:
            path = cr.path
            node_digest = tree.node_digest
            d = self.current_digest()
            if before is not None:
                d -= node_digest(path, before)
            if cr.node is not None:
                d += node_digest(path, cr.node)
            self._digest = d & _U64
        self.outstanding.append(cr)
        self.outstanding_for_path[cr.path] = cr

    def current_digest(self) -> int:
        """The tree digest once every outstanding change is applied."""
        if not self.outstanding or self._digest is None:
            return self.zks.db.tree.tree_digest
        return self._digest

    def txn_digest(self) -> R.TxnDigest:
        return R.TxnDigest(DIGEST_VERSION, to_signed64(self.current_digest()))

    def applied(self, zxid: int) -> None:
        """Final applied ``zxid``: its change records are now facts of the tree."""
        outstanding = self.outstanding
        for_path = self.outstanding_for_path
        while outstanding and outstanding[0].zxid <= zxid:
            cr = outstanding.popleft()
            if for_path.get(cr.path) is cr:
                del for_path[cr.path]

    def _rollback(self, zxid: int, digest: int | None = None) -> None:
        """Undo every change record of txn ``zxid`` (the newest): each path it touched gets
        back the record it displaced, parents included (ZOOKEEPER-1624), or none if the
        tree itself is again the latest state of that path.

        ``outstanding_for_path[p]`` is always the newest outstanding record of ``p``, so the
        records displaced are found in the queue itself; no copy is taken per multi.
        ``digest``: the running digest before the txn, if the caller kept it; otherwise it
        is summed again from what remains (only on an unexpected exception).
        """
        outstanding = self.outstanding
        for_path = self.outstanding_for_path
        touched = set()
        while outstanding and outstanding[-1].zxid == zxid:
            cr = outstanding.pop()
            touched.add(cr.path)
            if for_path.get(cr.path) is cr:
                del for_path[cr.path]
        if not touched:
            return
        if not outstanding:
            self._digest = None
            return
        for cr in reversed(outstanding):
            if cr.path in touched:
                touched.discard(cr.path)
                for_path[cr.path] = cr
                if not touched:
                    break
        if digest is not None:
            self._digest = digest
        else:
            self._recompute_digest()

    def _recompute_digest(self) -> None:
        """The running digest summed again over what is outstanding (a rare path)."""
        tree = self.zks.db.tree
        if not tree.digest_enabled:
            return
        d = tree.tree_digest
        seen: dict[str, DataNode | None] = {}
        for cr in self.outstanding:
            if cr.path not in seen:
                seen[cr.path] = tree.nodes.get(cr.path)
            before = seen[cr.path]
            prev = tree.node_digest(cr.path, before) if before is not None else 0
            new = tree.node_digest(cr.path, cr.node) if cr.node is not None else 0
            d = (d - prev + new) & _U64
            seen[cr.path] = cr.node
        self._digest = d

    # ------------------------------------------------------------------ entry point
    def process(self, req: Request) -> None:
        zks = self.zks
        t = req.type
        try:
            decoder = _WRITE_DECODERS.get(t)
            if decoder is not None or t == Op.deleteContainer:
                zxid = zks.next_zxid()
                req.hdr = R.TxnHeader(req.session_id, req.cxid, zxid, zks.wall_time(), t)
                if decoder is None:
                    record = req.payload.decode("utf-8", "replace")
                else:
                    record = decoder._read(req.payload, 0)[0]
                self._to_txn(t, zxid, req, record)
            elif t == Op.multi:
                self._multi(req)
            elif t == Op.createSession:
                req.hdr = R.TxnHeader(req.session_id, req.cxid, zks.next_zxid(), zks.wall_time(), t)
                timeout = int.from_bytes(req.payload[:4], "big", signed=True)
                req.txn = R.CreateSessionTxn(timeout)
                zks.sessions.track_session(req.session_id, timeout, zks.now_ms())
                zks.sessions.set_owner(req.session_id, req.cnxn)
            elif t == Op.closeSession:
                req.hdr = R.TxnHeader(req.session_id, req.cxid, zks.next_zxid(), zks.wall_time(), t)
                self._close_session(req)
            else:
                zks.sessions.check(req.session_id)
        except KeeperError as e:
            if req.hdr is not None:
                req.hdr.type = Op.error
                req.txn = R.ErrorTxn(e.code)
                req.digest = None
            req.error = e
        except Exception as e:
            # Java catches every other exception here: the op fails with MARSHALLINGERROR,
            # logged with the request; what the txn had already changed is undone
            if isinstance(e, (JuteError, UnicodeError)):
                log.warning("Failed to process %r: %s; request 0x%s", req, e, bytes(req.payload).hex())
            else:
                log.error("Failed to process %r; request 0x%s", req, bytes(req.payload).hex(), exc_info=True)
            hdr = req.hdr
            if hdr is not None:
                self._rollback(hdr.zxid)
                hdr.type = Op.error
                req.txn = R.ErrorTxn(Code.MARSHALLINGERROR)
                req.digest = None
        hdr = req.hdr
        if hdr is not None and req.digest is None and hdr.type != Op.error and zks.db.tree.digest_enabled:
            req.digest = self.txn_digest()
        req.zxid = zks.zxid

    # ------------------------------------------------------------------ per op
    def _to_txn(self, t: int, zxid: int, req: Request, record) -> None:
        """pRequest2Txn for one op (also each op of a multi): sets req.txn, adds change records."""
        zks = self.zks
        tree = zks.db.tree
        if t in _CREATES:
            self._create(t, zxid, req, record)
        elif t == Op.deleteContainer:
            path = record
            parent_path = self._parent_for_delete(path)
            node_cr = self._record_for(path)
            if node_cr.child_count > 0:
                raise KeeperError(Code.NOTEMPTY, path)
            if ephemeral_type(node_cr.node.ephemeral_owner, tree.extended_types) == NORMAL:
                raise KeeperError(Code.BADVERSION, path)
            parent_cr = self._record_for(parent_path)
            req.txn = R.DeleteTxn(path)
            self._delete_changes(parent_cr, node_cr, zxid)
        elif t == Op.delete:
            zks.sessions.check(req.session_id)
            path = record.path
            parent_path = self._parent_for_delete(path)
            parent_cr = self._record_for(parent_path)
            zks.check_acl(parent_cr.node.acl, Perms.DELETE, req.auth_ids)
            node_cr = self._record_for(path)
            _check_version(node_cr.node.version, record.version, path)
            if node_cr.child_count > 0:
                raise KeeperError(Code.NOTEMPTY, path)
            req.txn = R.DeleteTxn(path)
            self._delete_changes(parent_cr, node_cr, zxid)
        elif t == Op.setData:
            zks.sessions.check(req.session_id)
            path = record.path
            _validate(path)
            node_cr = self._record_for(path)
            before = node_cr.node
            zks.auth.check(before.acl, Perms.WRITE, req.auth_ids)
            if zks.settings.enforce_quota:
                old = before.data
                self._check_quota(path, (len(record.data or b"")) - (len(old) if old else 0), 0)
            new_version = _check_version(before.version, record.version, path)
            req.txn = R.SetDataTxn(path, record.data, new_version)
            cr = node_cr.duplicate(zxid)
            n = cr.node
            n.version = new_version
            n.mtime = req.hdr.time
            n.mzxid = zxid
            n.data = record.data
            self._add(cr, before)
        elif t == Op.reconfig:
            if not zks.reconfig_enabled:
                raise KeeperError(Code.RECONFIGDISABLED)
            # reconfiguration needs a quorum leader; a standalone server refuses it as 3.8 does
            zks.sessions.check(req.session_id)
            raise KeeperError(Code.UNIMPLEMENTED)
        elif t == Op.setACL:
            zks.sessions.check(req.session_id)
            path = record.path
            _validate(path)
            acl = zks.auth.fixup(path, req.auth_ids, record.acl)
            node_cr = self._record_for(path)
            zks.check_acl(node_cr.node.acl, Perms.ADMIN, req.auth_ids)
            new_version = _check_version(node_cr.node.aversion, record.version, path)
            req.txn = R.SetACLTxn(path, acl_records(acl), new_version)
            cr = node_cr.duplicate(zxid)
            cr.node.aversion = new_version
            cr.node.acl = acl
            self._add(cr, node_cr.node)
        elif t == Op.check:
            zks.sessions.check(req.session_id)
            path = record.path
            _validate(path)
            node_cr = self._record_for(path)
            zks.check_acl(node_cr.node.acl, Perms.READ, req.auth_ids)
            req.txn = R.CheckVersionTxn(path, _check_version(node_cr.node.version, record.version, path))
        else:
            raise JuteError(f"op {t} cannot be part of a write")

    def _check_quota(self, path: str, bytes_diff: int, count_diff: int) -> None:
        if self.zks.settings.enforce_quota and self.zks.db.tree.quotas.exceeds(path, bytes_diff, count_diff):
            raise KeeperError(Code.QUOTAEXCEEDED, path)

    def _parent_for_delete(self, path: str) -> str:
        i = path.rfind("/")
        if i == -1 or "\0" in path or path in SPECIAL_PATHS:
            raise KeeperError(Code.BADARGUMENTS, path)
        return path[:i]

    def _delete_changes(self, parent_cr: ChangeRecord, node_cr: ChangeRecord, zxid: int) -> None:
        parent = parent_cr.duplicate(zxid)
        parent.child_count -= 1
        parent.node.pzxid = zxid
        self._add(parent, parent_cr.node)
        self._add(ChangeRecord(zxid, node_cr.path, None, -1), node_cr.node)

    def _create(self, t: int, zxid: int, req: Request, record) -> None:
        zks = self.zks
        tree = zks.db.tree
        path = record.path
        mode = _MODES.get(record.flags)
        if mode is None:
            raise KeeperError(Code.BADARGUMENTS, path)
        ephemeral, sequential, is_ttl = mode
        # validateCreateRequest
        ttl = -1
        if is_ttl or t == Op.createTTL:
            if t == Op.createTTL:
                ttl = record.ttl
            if is_ttl and not tree.extended_types:
                raise KeeperError(Code.UNIMPLEMENTED, path)
            if is_ttl:
                try:
                    ttl_to_owner(ttl)
                except ValueError:
                    raise KeeperError(Code.BADARGUMENTS, path) from None
            else:
                # createTTL without a TTL mode would leave the tree an impossible txn to apply
                raise KeeperError(Code.BADARGUMENTS, path)
        zks.sessions.check(req.session_id)
        # validatePathForCreate
        if path is None:
            raise JuteError("create with a null path")
        i = path.rfind("/")
        if i == -1 or "\0" in path:
            raise KeeperError(Code.BADARGUMENTS, path)
        parent_path = path[:i]
        acl = zks.auth.fixup(path, req.auth_ids, record.acl)
        parent_cr = self._record_for(parent_path)
        before = parent_cr.node
        zks.auth.check(before.acl, Perms.CREATE, req.auth_ids)
        parent_cversion = before.cversion
        if sequential:
            path = f"{path}{parent_cversion:010d}"
        _validate(path)
        existing = self.outstanding_for_path.get(path)
        if (existing is not None and existing.node is not None) or (existing is None and path in tree.nodes):
            raise KeeperError(Code.NODEEXISTS, path)
        parent_owner = before.ephemeral_owner
        if parent_owner != 0 and ephemeral_type(parent_owner, tree.extended_types) == NORMAL:
            raise KeeperError(Code.NOCHILDRENFOREPHEMERALS, path)
        data = record.data
        if zks.settings.enforce_quota:
            self._check_quota(path, len(data or b""), 1)
        new_cversion = inc32(parent_cversion)
        acl_recs = acl_records(acl)
        # the owner the tree will record follows the txn type, whatever the flags said
        if t == Op.createContainer:
            req.txn = R.CreateContainerTxn(path, data, acl_recs, new_cversion)
            owner = CONTAINER_EPHEMERAL_OWNER
        elif t == Op.createTTL:
            req.txn = R.CreateTTLTxn(path, data, acl_recs, new_cversion, ttl)
            owner = ttl_to_owner(ttl)
        else:
            req.txn = R.CreateTxn(path, data, acl_recs, ephemeral, new_cversion)
            owner = req.session_id if ephemeral else 0
        time = req.hdr.time
        parent = parent_cr.duplicate(zxid)
        parent.child_count += 1
        parent.node.cversion = new_cversion
        parent.node.pzxid = zxid
        self._add(parent, before)
        node = DataNode(data, acl, zxid, zxid, time, time, 0, 0, 0, owner, zxid)
        self._add(ChangeRecord(zxid, path, node, 0), None)

    def _close_session(self, req: Request) -> None:
        zks = self.zks
        tree = zks.db.tree
        sid = req.session_id
        paths = tree.ephemerals_of(sid)
        for cr in self.outstanding:
            if cr.node is None:
                paths.discard(cr.path)
            elif cr.node.ephemeral_owner == sid:
                paths.add(cr.path)
        zxid = req.hdr.zxid
        ordered = sorted(paths)
        for path in ordered:
            parent_path = path[: path.rfind("/")]
            try:
                parent_cr = self._record_for(parent_path)
            except KeeperError:
                continue
            parent = parent_cr.duplicate(zxid)
            parent.child_count -= 1
            parent.node.pzxid = zxid
            self._add(parent, parent_cr.node)
            cr = self.outstanding_for_path.get(path)
            self._add(ChangeRecord(zxid, path, None, 0), cr.node if cr is not None else tree.nodes.get(path))
        req.txn = R.CloseSessionTxn(ordered)
        zks.sessions.set_closing(sid)

    def _multi(self, req: Request) -> None:
        zks = self.zks
        zxid = zks.next_zxid()
        req.hdr = R.TxnHeader(req.session_id, req.cxid, zxid, zks.wall_time(), Op.multi)
        # a mix of read and write ops fails here, before any change record exists
        ops = decode_multi_request(req.payload)
        digest_before = self._digest if self.outstanding else None
        txns = []
        failed: KeeperError | None = None
        for op_type, rec in ops:
            if failed is not None:
                txns.append(R.Txn(Op.error, _RUNTIME_INCONSISTENCY))
                continue
            if op_type not in _MULTI_WRITE_OPS:
                raise JuteError(f"op {op_type} in a write multi")
            try:
                self._to_txn(op_type, zxid, req, rec)
            except KeeperError as e:
                failed = e
                txns.append(R.Txn(Op.error, R.ErrorTxn(e.code).to_bytes()))
                req.error = e
                self._rollback(zxid, digest_before)
                continue
            txns.append(R.Txn(op_type, req.txn.to_bytes()))
        req.txn = R.MultiTxn(txns)
        if zks.db.tree.digest_enabled:
            req.digest = self.txn_digest()


def _validate(path: str) -> None:
    try:
        validate_path(path)
    except InvalidPath:
        raise KeeperError(Code.BADARGUMENTS, path) from None


def _check_version(current: int, expected: int, path: str) -> int:
    if expected != -1 and expected != current:
        raise KeeperError(Code.BADVERSION, path)
    return inc32(current)


#: CreateMode flag -> (ephemeral, sequential, ttl)
_MODES = {int(m): (m.ephemeral, m.sequential, m.ttl) for m in CreateMode}
_CREATES = frozenset((Op.create, Op.create2, Op.createTTL, Op.createContainer))
_WRITE_DECODERS = {
    Op.create: R.CreateRequest,
    Op.create2: R.CreateRequest,
    Op.createContainer: R.CreateRequest,
    Op.createTTL: R.CreateTTLRequest,
    Op.delete: R.DeleteRequest,
    Op.deleteContainer: None,
    Op.setData: R.SetDataRequest,
    Op.reconfig: R.ReconfigRequest,
    Op.setACL: R.SetACLRequest,
    Op.check: R.CheckVersionRequest,
}
_RUNTIME_INCONSISTENCY = R.ErrorTxn(Code.RUNTIMEINCONSISTENCY).to_bytes()
_MULTI_WRITE_OPS = frozenset(
    (Op.create, Op.create2, Op.createTTL, Op.createContainer, Op.delete, Op.setData, Op.check)
)
