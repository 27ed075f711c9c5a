"""ZooKeeper 3.8's protocol numbers: opcodes, error codes, events, permissions, create modes."""

from __future__ import annotations

from enum import IntEnum

VERSION = "3.8.0"
#: what ``envi`` / ``srvr`` report; kazoo parses the leading x.y.z to pick features
VERSION_STRING = "3.8.0-zk_twisted, built on 2026-11-22 00:00 UTC"


class OpCode(IntEnum):
    notification = 0
    create = 1
    delete = 2
    exists = 3
    getData = 4
    setData = 5
    getACL = 6
    setACL = 7
    getChildren = 8
    sync = 9
    ping = 11
    getChildren2 = 12
    check = 13
    multi = 14
    create2 = 15
    reconfig = 16
    checkWatches = 17
    removeWatches = 18
    createContainer = 19
    deleteContainer = 20
    createTTL = 21
    multiRead = 22
    auth = 100
    setWatches = 101
    sasl = 102
    getEphemerals = 103
    getAllChildrenNumber = 104
    setWatches2 = 105
    addWatch = 106
    whoAmI = 107
    createSession = -10
    closeSession = -11
    error = -1


class Code(IntEnum):
    """KeeperException.Code."""

    OK = 0
    SYSTEMERROR = -1
    RUNTIMEINCONSISTENCY = -2
    DATAINCONSISTENCY = -3
    CONNECTIONLOSS = -4
    MARSHALLINGERROR = -5
    UNIMPLEMENTED = -6
    OPERATIONTIMEOUT = -7
    BADARGUMENTS = -8
    UNKNOWNSESSION = -12
    NEWCONFIGNOQUORUM = -13
    RECONFIGINPROGRESS = -14
    APIERROR = -100
    NONODE = -101
    NOAUTH = -102
    BADVERSION = -103
    NOCHILDRENFOREPHEMERALS = -108
    NODEEXISTS = -110
    NOTEMPTY = -111
    SESSIONEXPIRED = -112
    INVALIDCALLBACK = -113
    INVALIDACL = -114
    AUTHFAILED = -115
    SESSIONMOVED = -118
    NOTREADONLY = -119
    EPHEMERALONLOCALSESSION = -120
    NOWATCHER = -121
    REQUESTTIMEOUT = -122
    RECONFIGDISABLED = -123
    SESSIONCLOSEDREQUIRESASLAUTH = -124
    QUOTAEXCEEDED = -125
    THROTTLEDOP = -127


class KeeperError(Exception):
    """A KeeperException: carries the code sent back to the client."""

    __slots__ = ("code", "path")

    def __init__(self, code: int, path: str | None = None) -> None:
        super().__init__(f"{Code(code).name}" + (f" for {path}" if path else ""))
        self.code = code
        self.path = path


def plain_ints(enum_cls: type[IntEnum]) -> type:
    """An IntEnum's members as plain int class attributes, for per-request comparisons:
    on 3.11 looking up an IntEnum member costs about 4x a plain class attribute."""
    return type(f"{enum_cls.__name__}Ints", (), {m.name: int(m) for m in enum_cls})


#: ``Op.create == 1``, ``Err.NONODE == -101``: the plain-int twins of OpCode and Code
Op = plain_ints(OpCode)
Err = plain_ints(Code)


class EventType(IntEnum):
    None_ = -1
    NodeCreated = 1
    NodeDeleted = 2
    NodeDataChanged = 3
    NodeChildrenChanged = 4
    DataWatchRemoved = 5
    ChildWatchRemoved = 6
    PersistentWatchRemoved = 7


class KeeperState(IntEnum):
    Unknown = -1
    Disconnected = 0
    NoSyncConnected = 1
    SyncConnected = 3
    AuthFailed = 4
    ConnectedReadOnly = 5
    SaslAuthenticated = 6
    Expired = -112
    Closed = 7


class Perms:
    """ZooDefs.Perms as plain ints: ACL checks run on every request."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


class WatcherType(IntEnum):
    """removeWatches / checkWatches ``type``."""

    Children = 1
    Data = 2
    Any = 3


class AddWatchMode(IntEnum):
    PERSISTENT = 0
    PERSISTENT_RECURSIVE = 1


class CreateMode(IntEnum):
    PERSISTENT = 0
    EPHEMERAL = 1
    PERSISTENT_SEQUENTIAL = 2
    EPHEMERAL_SEQUENTIAL = 3
    CONTAINER = 4
    PERSISTENT_WITH_TTL = 5
    PERSISTENT_SEQUENTIAL_WITH_TTL = 6

    @property
    def ephemeral(self) -> bool:
        return self in (CreateMode.EPHEMERAL, CreateMode.EPHEMERAL_SEQUENTIAL)

    @property
    def sequential(self) -> bool:
        return self in (
            CreateMode.PERSISTENT_SEQUENTIAL,
            CreateMode.EPHEMERAL_SEQUENTIAL,
            CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
        )

    @property
    def container(self) -> bool:
        return self is CreateMode.CONTAINER

    @property
    def ttl(self) -> bool:
        return self in (CreateMode.PERSISTENT_WITH_TTL, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)


# Special xids (ClientCnxn)
NOTIFICATION_XID = -1
PING_XID = -2
AUTHPACKET_XID = -4
SET_WATCHES_XID = -8

# EphemeralType encoding of ephemeralOwner
CONTAINER_EPHEMERAL_OWNER = -(1 << 63)
EXTENDED_MASK = 0xFF00000000000000
RESERVED_BITS_MASK = 0x00FFFF0000000000
TTL_MAX = 0x000000FFFFFFFFFF

# Session password seed (ZooKeeperServer.superSecret): Java and Python nodes must agree.
SUPER_SECRET = 0xB3415C00
