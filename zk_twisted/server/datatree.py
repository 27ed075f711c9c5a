"""DataTree: the znodes, their stats, ephemerals, containers, TTL nodes, watches and digest.

Semantics follow ZooKeeper 3.8's DataTree: the stored ``cversion`` counts child creations
(the client sees ``2 * cversion - numChildren``, i.e. creations plus deletions); the root
is reachable as both "" and "/" (children of the root have parent ""); every change is
applied through :meth:`DataTree.process_txn`, live and on restore alike.  The tree digest
(ZOOKEEPER-3114) is kept incrementally: the sum of a CRC32 per node, outside /zookeeper/.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..constants import (
    CONTAINER_EPHEMERAL_OWNER,
    EXTENDED_MASK,
    RESERVED_BITS_MASK,
    TTL_MAX,
    Code,
    Err,
    EventType,
    KeeperError,
    Op,
)
from ..jute import records as R
from .acl import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, ACLCache, AclList, acl_from_records
from .quotas import QUOTA_ROOT, Quotas
from .watches import PERSISTENT, PERSISTENT_RECURSIVE, STANDARD, WatchManager

ZOOKEEPER_PATH = "/zookeeper"
QUOTA_PATH = "/zookeeper/quota"
CONFIG_PATH = "/zookeeper/config"
#: DataTree.isSpecialPath: a delete of any of these is BADARGUMENTS (the root included)
SPECIAL_PATHS = frozenset(("/", "/zookeeper", QUOTA_PATH, CONFIG_PATH))
_ZK_SUBTREE = "/zookeeper/"

VOID, NORMAL, CONTAINER, TTL = "VOID", "NORMAL", "CONTAINER", "TTL"

_DIGEST_STAT = struct.Struct(">qqqqqiiiq")


def _calculate_digest(path: str, node: DataNode) -> int:
    """CRC32 of the path ("" for the root), the data and the persisted stat fields."""
    p = path.encode("utf-8") if path != "/" else b""
    data = node.data
    crc = zlib.crc32(p + data) if data else zlib.crc32(p)
    return zlib.crc32(
        _DIGEST_STAT.pack(
            node.czxid, node.mzxid, node.pzxid, node.ctime, node.mtime,
            node.version, node.cversion, node.aversion, node.ephemeral_owner,
        ),
        crc,
    )  # fmt: skip


_STAT = struct.Struct(">qqqqiiiqiiq")
_U64 = (1 << 64) - 1
DIGEST_VERSION = 2


def to_signed64(v: int) -> int:
    v &= _U64
    return v - (1 << 64) if v >> 63 else v


def ephemeral_type(owner: int, extended: bool) -> str:
    """EphemeralType.get: what kind of node an ephemeralOwner value denotes."""
    if extended and (owner & EXTENDED_MASK) == EXTENDED_MASK:
        if (owner & RESERVED_BITS_MASK) >> 40 != 0:
            raise ValueError(f"Invalid ephemeralOwner. [{owner & _U64:x}]")
        return TTL
    if owner == CONTAINER_EPHEMERAL_OWNER:
        return CONTAINER
    return VOID if owner == 0 else NORMAL


def ttl_to_owner(ttl: int) -> int:
    """EphemeralType.TTL.toEphemeralOwner; ValueError for a ttl out of (0, TTL_MAX]."""
    if ttl > TTL_MAX or ttl <= 0:
        raise ValueError(f"ttl must be positive and cannot be larger than: {TTL_MAX}")
    return to_signed64(EXTENDED_MASK | ttl)


def _stat_copy(node: DataNode) -> DataNode:
    """What a snapshot writes of a node (no children: its paths carry the structure)."""
    return DataNode(
        node.data, node.acl, node.czxid, node.mzxid, node.ctime, node.mtime, node.version,
        node.cversion, node.aversion, node.ephemeral_owner, node.pzxid,
    )  # fmt: skip


class DataNode:
    """One znode: data, interned ACL, the persisted stat fields and the child names."""

    __slots__ = (
        "data", "acl", "czxid", "mzxid", "ctime", "mtime", "version", "cversion",
        "aversion", "ephemeral_owner", "pzxid", "children", "digest",
    )  # fmt: skip

    def __init__(
        self,
        data: bytes | None,
        acl: AclList,
        czxid: int = 0,
        mzxid: int = 0,
        ctime: int = 0,
        mtime: int = 0,
        version: int = 0,
        cversion: int = 0,
        aversion: int = 0,
        ephemeral_owner: int = 0,
        pzxid: int = 0,
    ) -> None:
        self.data = data
        self.acl = acl
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = version
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeral_owner = ephemeral_owner
        self.pzxid = pzxid
        self.children: set[str] | None = None
        self.digest: int | None = None

    def num_children(self) -> int:
        return len(self.children) if self.children else 0

    def stat_tuple(self, client_owner: int) -> tuple:
        n = len(self.children) if self.children else 0
        data = self.data
        return (
            self.czxid, self.mzxid, self.ctime, self.mtime, self.version,
            self.cversion * 2 - n, self.aversion, client_owner,
            len(data) if data is not None else 0, n, self.pzxid,
        )  # fmt: skip


@dataclass(slots=True)
class ProcessTxnResult:
    client_id: int = 0
    cxid: int = 0
    zxid: int = 0
    type: int = 0
    err: int = 0
    path: str | None = None
    #: the node's Stat after the change, encoded as the reply carries it
    stat: bytes | None = None
    multi: list[ProcessTxnResult] | None = None


# event callback: (watchers, event_type, path, acl of the node the event is about)
EventSink = Callable[[set, int, str, AclList], None]


@dataclass
class DataTree:
    """The in-memory database; ``extended_types`` mirrors zookeeper.extendedTypesEnabled."""

    extended_types: bool = False
    digest_enabled: bool = True
    on_event: EventSink | None = None
    #: path -> node; insertion order has every parent before its children (snapshots rely on it)
    nodes: dict[str, DataNode] = field(default_factory=dict)
    acl_cache: ACLCache = field(default_factory=ACLCache)
    ephemerals: dict[int, set[str]] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)
    ttls: set[str] = field(default_factory=set)
    data_watches: WatchManager = field(default_factory=WatchManager)
    child_watches: WatchManager = field(default_factory=WatchManager)
    last_processed_zxid: int = 0
    #: the tree digest without the nodes in ``_pending`` (see :attr:`tree_digest`)
    _digest_base: int = 0
    #: node -> its path, for nodes changed since the digest was last read whose new digest
    #: is not added yet (keyed by node: the root has two paths, "" and "/")
    _pending: dict[DataNode, str] = field(default_factory=dict)
    data_size: int = 0
    #: copy-on-write views open on the tree (:meth:`open_view`); empty but for an exact SNAP
    views: list[dict[str, tuple[DataNode, int]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.quotas = Quotas(self)
        if not self.nodes:
            self._init_special_nodes()

    # ------------------------------------------------------------------ set-up
    def _init_special_nodes(self) -> None:
        root = DataNode(b"", self.acl_cache.intern(OPEN_ACL_UNSAFE))
        self.nodes[""] = root
        self.nodes["/"] = root
        self._digest_add("", root)
        zk = DataNode(b"", self.acl_cache.intern(OPEN_ACL_UNSAFE))
        self._attach("", "zookeeper", zk)
        self._digest_add(ZOOKEEPER_PATH, zk)
        quota = DataNode(b"", self.acl_cache.intern(OPEN_ACL_UNSAFE))
        self._attach(ZOOKEEPER_PATH, "quota", quota)
        self.add_config_node()
        self._recount_data_size()

    def add_config_node(self, data: bytes = b"") -> None:
        """/zookeeper/config, readable by anyone, as DataTree.addConfigNode.

        3.8 sets its ACL with ``setACL(path, READ_ACL_UNSAFE, -1)``, which stores the version
        argument as the aversion: clients see ``aversion == -1`` on this node.
        """
        if CONFIG_PATH in self.nodes:
            return
        config = DataNode(data, self.acl_cache.intern(READ_ACL_UNSAFE), aversion=-1)
        self._attach(ZOOKEEPER_PATH, "config", config)

    def _attach(self, parent_path: str, name: str, node: DataNode) -> None:
        parent = self.nodes[parent_path]
        if parent.children is None:
            parent.children = set()
        parent.children.add(name)
        self.nodes[f"{parent_path}/{name}"] = node

    # ------------------------------------------------------------------ snapshot restore
    def clear(self) -> None:
        """Empty the tree before a snapshot is loaded into it (watches are kept)."""
        self.nodes = {}
        self.acl_cache = ACLCache()
        self.ephemerals = {}
        self.containers = set()
        self.ttls = set()
        self._digest_base = 0
        self._pending = {}
        self.last_processed_zxid = 0

    def add_restored_node(self, path: str, node: DataNode) -> None:
        """DataTree.deserialize for one node: parents precede children in a snapshot.

        ``node.acl`` must already be interned through :attr:`acl_cache` (``by_id``).
        """
        nodes = self.nodes
        nodes[path] = node
        # at once, not through _pending: a million restored nodes would make it huge
        self._digest_base = (self._digest_base + self.node_digest(path, node)) & _U64
        i = path.rfind("/")
        if i == -1:
            nodes["/"] = node  # the root, written as ""
            return
        parent = nodes.get(path[:i])
        if parent is None:
            raise ValueError(f"Invalid Datatree, unable to find parent {path[:i]} of path {path}")
        if parent.children is None:
            parent.children = set()
        parent.children.add(path[i + 1 :])
        owner = node.ephemeral_owner
        if owner != 0:
            kind = ephemeral_type(owner, self.extended_types)
            if kind == CONTAINER:
                self.containers.add(path)
            elif kind == TTL:
                self.ttls.add(path)
            else:
                self.ephemerals.setdefault(owner, set()).add(path)

    def finish_restore(self) -> None:
        """After the last snapshot node: make sure /zookeeper/config and quota exist."""
        if ZOOKEEPER_PATH not in self.nodes:
            zk = DataNode(b"", self.acl_cache.intern(OPEN_ACL_UNSAFE))
            self._attach("", "zookeeper", zk)
            self._digest_add(ZOOKEEPER_PATH, zk)
        if QUOTA_PATH not in self.nodes:
            self._attach(ZOOKEEPER_PATH, "quota", DataNode(b"", self.acl_cache.intern(OPEN_ACL_UNSAFE)))
        self.add_config_node()
        self.quotas.setup()
        self._recount_data_size()

    # ------------------------------------------------------------------ digest
    def node_digest(self, path: str, node: DataNode) -> int:
        """DigestCalculator.calculateDigest (version 2), cached on the node until it changes."""
        d = node.digest
        if d is None:
            if not self.digest_enabled or path.startswith(_ZK_SUBTREE):
                return 0
            d = node.digest = _calculate_digest(path, node)
        return d

    @property
    def tree_digest(self) -> int:
        """The tree digest (unsigned): the sum of every node's digest outside /zookeeper/.

        A changed node's new digest is added when the digest is next read, not when the
        txn is applied: a node changed by several txns between two reads (a hot node under
        pipelined writes) is hashed once, not once per txn.
        """
        pending = self._pending
        if pending:
            d = self._digest_base
            for node, path in pending.items():
                d += self.node_digest(path, node)
            self._digest_base = d & _U64
            pending.clear()
        return self._digest_base

    def _digest_add(self, path: str, node: DataNode) -> None:
        """``node`` is now at ``path`` in its new state (nodes.postChange / add)."""
        if self.digest_enabled and not path.startswith(_ZK_SUBTREE):
            self._pending[node] = path

    def _digest_remove(self, path: str, node: DataNode) -> None:
        """``node``'s current state leaves the digest (it is deleted or about to change)."""
        if self.digest_enabled and not path.startswith(_ZK_SUBTREE):
            pending = self._pending
            if node in pending:
                del pending[node]  # its new digest was never added
                return
            self._digest_base = (self._digest_base - self.node_digest(path, node)) & _U64

    def _changing(self, path: str, node: DataNode) -> None:
        """nodes.preChange: take the node's old digest out before mutating it."""
        if self.views:
            self.keep_old(path, node)
        self._digest_remove(path, node)
        node.digest = None

    # ------------------------------------------------------------------ views
    def open_view(self) -> dict[str, tuple[DataNode, int]]:
        """A copy-on-write view of the tree as it is now: from here on, the first change
        (or the deletion) of each node leaves a copy of its old state in the returned dict
        (path -> (node, ACL id)), so a walk that reads ``view.get(path)`` before the live
        node sees the tree exactly as it was when the view opened.  :meth:`close_view` ends it."""
        view: dict[str, tuple[DataNode, int]] = {}
        self.views.append(view)
        return view

    def close_view(self, view: dict) -> None:
        if any(v is view for v in self.views):
            self.views = [v for v in self.views if v is not view]

    def keep_old(self, path: str, node: DataNode) -> None:
        """``node`` is about to change or go: every open view that lacks it keeps a copy."""
        old = None
        for view in self.views:
            if path not in view:
                if old is None:
                    old = (_stat_copy(node), self.acl_cache.id_of(node.acl))
                view[path] = old

    def digest(self) -> int:
        """The tree digest as a signed Java long."""
        return to_signed64(self.tree_digest)

    # ------------------------------------------------------------------ reads
    def get_node(self, path: str) -> DataNode | None:
        return self.nodes.get(path)

    def client_owner(self, node: DataNode) -> int:
        owner = node.ephemeral_owner
        if owner == 0:
            return 0
        return owner if ephemeral_type(owner, self.extended_types) == NORMAL else 0

    def stat(self, node: DataNode) -> R.Stat:
        return R.Stat(*node.stat_tuple(self.client_owner(node)))

    def stat_bytes(self, node: DataNode) -> bytes:
        return _STAT.pack(*node.stat_tuple(self.client_owner(node)))

    def node_count(self) -> int:
        return len(self.nodes) - 1

    def all_children_number(self, path: str) -> int:
        if path == "/":
            return len(self.nodes) - 2
        prefix = path + "/"
        return sum(1 for p in self.nodes if p.startswith(prefix))

    def approximate_data_size(self) -> int:
        """Sum of path and data lengths (3.8's nodeDataSize), kept as the tree changes."""
        return self.data_size

    def _recount_data_size(self) -> None:
        self.data_size = sum(len(p) + (len(n.data) if n.data else 0) for p, n in self.nodes.items())

    def ephemerals_of(self, session_id: int) -> set[str]:
        return set(self.ephemerals.get(session_id, ()))

    # ------------------------------------------------------------------ watches
    def add_watch(self, path: str, watcher, mode: int) -> None:
        """addWatch: persistent (0) and persistent-recursive (1) watches go in both managers."""
        bits = PERSISTENT_RECURSIVE if mode == 1 else PERSISTENT
        self.data_watches.add(path, watcher, bits)
        self.child_watches.add(path, watcher, bits)

    def add_data_watch(self, path: str, watcher) -> None:
        self.data_watches.add(path, watcher, STANDARD)

    def add_child_watch(self, path: str, watcher) -> None:
        self.child_watches.add(path, watcher, STANDARD)

    def remove_watcher(self, watcher) -> None:
        self.data_watches.remove_watcher(watcher)
        self.child_watches.remove_watcher(watcher)

    def _fire(self, manager: WatchManager, path: str, event_type: int, acl: AclList, suppress=None) -> set:
        watchers = manager.trigger(path, event_type, suppress)
        if watchers and self.on_event is not None:
            self.on_event(watchers, event_type, path, acl)
        return watchers

    def set_watches(
        self,
        relative_zxid: int,
        data: Iterable[str],
        exist: Iterable[str],
        child: Iterable[str],
        persistent: Iterable[str],
        recursive: Iterable[str],
        watcher,
    ) -> list[tuple[int, str, AclList]]:
        """DataTree.setWatches: re-register, or return the events the client missed."""
        missed: list[tuple[int, str, AclList]] = []
        for path in data or ():
            node = self.nodes.get(path)
            if node is None:
                missed.append((EventType.NodeDeleted, path, ()))
            elif node.mzxid > relative_zxid:
                missed.append((EventType.NodeDataChanged, path, node.acl))
            else:
                self.data_watches.add(path, watcher, STANDARD)
        for path in exist or ():
            node = self.nodes.get(path)
            if node is not None:
                missed.append((EventType.NodeCreated, path, node.acl))
            else:
                self.data_watches.add(path, watcher, STANDARD)
        for path in child or ():
            node = self.nodes.get(path)
            if node is None:
                missed.append((EventType.NodeDeleted, path, ()))
            elif node.pzxid > relative_zxid:
                missed.append((EventType.NodeChildrenChanged, path, node.acl))
            else:
                self.child_watches.add(path, watcher, STANDARD)
        for path in persistent or ():
            self.add_watch(path, watcher, 0)
        for path in recursive or ():
            self.add_watch(path, watcher, 1)
        return missed

    # ------------------------------------------------------------------ mutations
    def create_node(
        self,
        path: str,
        data: bytes | None,
        acl: AclList,
        owner: int,
        parent_cversion: int,
        zxid: int,
        time: int,
    ) -> DataNode:
        i = path.rfind("/")
        parent_path, name = path[:i], path[i + 1 :]
        nodes = self.nodes
        parent = nodes.get(parent_path)
        if parent is None:
            raise KeeperError(Code.NONODE, path)
        children = parent.children
        if children is not None and name in children:
            raise KeeperError(Code.NODEEXISTS, path)
        self._changing(parent_path, parent)
        if parent_cversion == -1:
            parent_cversion = parent.cversion + 1
        if parent_cversion > parent.cversion:
            parent.cversion = parent_cversion
            parent.pzxid = zxid
        node = DataNode(data, self.acl_cache.intern(acl), zxid, zxid, time, time, 0, 0, 0, owner, zxid)
        if children is None:
            children = parent.children = set()
        children.add(name)
        self._digest_add(parent_path, parent)
        nodes[path] = node
        self._digest_add(path, node)
        self.data_size += len(path) + (len(data) if data else 0)
        if owner != 0:
            kind = ephemeral_type(owner, self.extended_types)
            if kind == CONTAINER:
                self.containers.add(path)
            elif kind == TTL:
                self.ttls.add(path)
            else:
                eph = self.ephemerals.get(owner)
                if eph is None:
                    self.ephemerals[owner] = {path}
                else:
                    eph.add(path)
        if self.quotas.paths or parent_path.startswith(QUOTA_ROOT):
            self.quotas.created(parent_path, name, path, data)
        if self.data_watches.table or self.data_watches.recursive_count:
            self._fire(self.data_watches, path, EventType.NodeCreated, node.acl)
        if self.child_watches.table:
            self._fire(self.child_watches, parent_path or "/", EventType.NodeChildrenChanged, parent.acl)
        return node

    def delete_node(self, path: str, zxid: int) -> None:
        i = path.rfind("/")
        parent_path, name = path[:i], path[i + 1 :]
        nodes = self.nodes
        parent = nodes.get(parent_path)
        if parent is None:
            raise KeeperError(Code.NONODE, path)
        node = nodes.get(path)
        if node is None or not parent.children or name not in parent.children:
            raise KeeperError(Code.NONODE, path)
        self._changing(parent_path, parent)
        parent.children.discard(name)
        if not parent.children:
            parent.children = None
        if zxid > parent.pzxid:
            parent.pzxid = zxid
        self._digest_add(parent_path, parent)
        if self.views:
            self.keep_old(path, node)
        self._digest_remove(path, node)
        del nodes[path]
        self.data_size -= len(path) + (len(node.data) if node.data else 0)
        self.acl_cache.release(node.acl)
        owner = node.ephemeral_owner
        if owner != 0:
            kind = ephemeral_type(owner, self.extended_types)
            if kind == CONTAINER:
                self.containers.discard(path)
            elif kind == TTL:
                self.ttls.discard(path)
            else:
                eph = self.ephemerals.get(owner)
                if eph is not None:
                    eph.discard(path)
                    if not eph:
                        del self.ephemerals[owner]
        if self.quotas.paths:
            self.quotas.deleted(parent_path, name, path, node.data)
        processed = None
        if self.data_watches.table or self.data_watches.recursive_count:
            processed = self._fire(self.data_watches, path, EventType.NodeDeleted, node.acl)
        if self.child_watches.table:
            self._fire(self.child_watches, path, EventType.NodeDeleted, node.acl, processed)
            self._fire(self.child_watches, parent_path or "/", EventType.NodeChildrenChanged, parent.acl)

    def set_data(self, path: str, data: bytes | None, version: int, zxid: int, time: int) -> DataNode:
        node = self.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE, path)
        self._changing(path, node)
        if self.quotas.paths:
            self.quotas.data_changed(path, node.data, data)
        old = node.data
        self.data_size += (len(data) if data else 0) - (len(old) if old else 0)
        node.data = data
        node.mtime = time
        node.mzxid = zxid
        node.version = version
        self._digest_add(path, node)
        if self.data_watches.table or self.data_watches.recursive_count:
            self._fire(self.data_watches, path, EventType.NodeDataChanged, node.acl)
        return node

    def set_acl(self, path: str, acl: AclList, version: int) -> DataNode:
        node = self.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE, path)
        self._changing(path, node)
        self.acl_cache.release(node.acl)
        node.aversion = version
        node.acl = self.acl_cache.intern(acl)
        self._digest_add(path, node)
        return node

    def set_cversion_pzxid(self, path: str, new_cversion: int, zxid: int) -> None:
        if path.endswith("/"):
            path = path[:-1]
        node = self.nodes.get(path)
        if node is None:
            raise KeeperError(Code.NONODE, path)
        if new_cversion == -1:
            new_cversion = node.cversion + 1
        if new_cversion > node.cversion:
            self._changing(path, node)
            node.cversion = new_cversion
            node.pzxid = zxid
            self._digest_add(path, node)

    def kill_session(self, session_id: int, zxid: int, paths_in_txn: Iterable[str] | None) -> None:
        local = self.ephemerals.pop(session_id, set())
        if paths_in_txn is not None:
            for path in paths_in_txn:
                self._delete_quietly(path, zxid)
                local.discard(path)
        for path in sorted(local):
            self._delete_quietly(path, zxid)

    def _delete_quietly(self, path: str, zxid: int) -> None:
        try:
            self.delete_node(path, zxid)
        except KeeperError:
            pass

    # ------------------------------------------------------------------ txns
    def process_txn(self, hdr, txn, is_sub_txn: bool = False) -> ProcessTxnResult:
        """Apply one txn (DataTree.processTxn): live from Final, or replayed on restore."""
        t = hdr.type
        rc = ProcessTxnResult(hdr.clientId, hdr.cxid, hdr.zxid, t)
        try:
            if t in _CREATE_TYPES:
                rc.path = txn.path
                if t == Op.createTTL:
                    owner = ttl_to_owner(txn.ttl)
                elif t == Op.createContainer:
                    owner = CONTAINER_EPHEMERAL_OWNER
                else:
                    owner = hdr.clientId if txn.ephemeral else 0
                acl = acl_from_records(txn.acl)
                node = self.create_node(txn.path, txn.data, acl, owner, txn.parentCVersion, hdr.zxid, hdr.time)
                if t != Op.create:
                    rc.stat = self.stat_bytes(node)
            elif t == Op.setData or t == Op.reconfig:
                rc.path = txn.path
                rc.stat = self.stat_bytes(self.set_data(txn.path, txn.data, txn.version, hdr.zxid, hdr.time))
            elif t == Op.delete or t == Op.deleteContainer:
                rc.path = txn.path
                self.delete_node(txn.path, hdr.zxid)
            elif t == Op.setACL:
                rc.path = txn.path
                acl = acl_from_records(txn.acl)
                rc.stat = self.stat_bytes(self.set_acl(txn.path, acl, txn.version))
            elif t == Op.closeSession:
                self.kill_session(hdr.clientId, hdr.zxid, txn.paths2Delete if txn is not None else None)
            elif t == Op.error:
                rc.err = txn.err
            elif t == Op.check:
                rc.path = txn.path
            elif t == Op.multi:
                self._process_multi(hdr, txn, rc)
        except KeeperError as e:
            rc.err = e.code
        err = rc.err
        if err == Err.NODEEXISTS and t == Op.create:
            # a fuzzy snapshot already holds this node: bring the parent's cversion along
            try:
                self.set_cversion_pzxid(rc.path[: rc.path.rfind("/")], txn.parentCVersion, hdr.zxid)
            except KeeperError as e:
                rc.err = e.code
        elif err == Err.NONODE and (t == Op.delete or t == Op.deleteContainer):
            # replay only (live, such a delete is an error txn): a fuzzy snapshot wrote the parent
            # before the child was created and reached the child after this delete, so the child
            # is missing; the live delete still moved the parent's pzxid
            parent_path = rc.path[: rc.path.rfind("/")]
            parent = self.nodes.get(parent_path)
            if parent is not None and hdr.zxid > parent.pzxid:
                self._changing(parent_path, parent)
                parent.pzxid = hdr.zxid
                self._digest_add(parent_path, parent)
        if not is_sub_txn and rc.zxid > self.last_processed_zxid:
            self.last_processed_zxid = rc.zxid
        return rc

    def _process_multi(self, hdr, txn, rc: ProcessTxnResult) -> None:
        from .txn import decode_txn_body  # local: txn imports datatree constants

        rc.multi = []
        failed = any(sub.type == Op.error for sub in txn.txns)
        post_failed = False
        for sub in txn.txns:
            sub_type = sub.type
            record = decode_txn_body(sub_type, sub.data)
            if sub_type == Op.error:
                post_failed = True
            if failed and sub_type != Op.error:
                record = R.ErrorTxn(Code.RUNTIMEINCONSISTENCY if post_failed else Code.OK)
                sub_type = Op.error
            sub_hdr = R.TxnHeader(hdr.clientId, hdr.cxid, hdr.zxid, hdr.time, sub_type)
            sub_rc = self.process_txn(sub_hdr, record, True)
            rc.multi.append(sub_rc)
            if sub_rc.err != 0 and rc.err == 0:
                rc.err = sub_rc.err


_CREATE_TYPES = frozenset((Op.create, Op.create2, Op.createTTL, Op.createContainer))
