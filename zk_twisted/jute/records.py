"""Every record of ZooKeeper 3.8's zookeeper.jute, declared once, in wire order."""

from __future__ import annotations

from .codec import BOOL, BUFFER, INT, LONG, USTRING, Vector, record

# ---- org.apache.zookeeper.data
Id = record("Id", scheme=USTRING, id=USTRING)
ACL = record("ACL", perms=INT, id=Id)
Stat = record(
    "Stat",
    czxid=LONG, mzxid=LONG, ctime=LONG, mtime=LONG,
    version=INT, cversion=INT, aversion=INT,
    ephemeralOwner=LONG, dataLength=INT, numChildren=INT, pzxid=LONG,
)  # fmt: skip
StatPersisted = record(
    "StatPersisted",
    czxid=LONG, mzxid=LONG, ctime=LONG, mtime=LONG,
    version=INT, cversion=INT, aversion=INT,
    ephemeralOwner=LONG, pzxid=LONG,
)  # fmt: skip
ClientInfo = record("ClientInfo", authScheme=USTRING, user=USTRING)

#: vector<ACL> of requests and txns: a handful of distinct lists, decoded/encoded once each
ACLS = Vector(ACL, interned=True)

# ---- org.apache.zookeeper.proto
ConnectRequest = record(
    "ConnectRequest", protocolVersion=INT, lastZxidSeen=LONG, timeOut=INT, sessionId=LONG, passwd=BUFFER
)
ConnectResponse = record("ConnectResponse", protocolVersion=INT, timeOut=INT, sessionId=LONG, passwd=BUFFER)
SetWatches = record(
    "SetWatches",
    relativeZxid=LONG,
    dataWatches=Vector(USTRING),
    existWatches=Vector(USTRING),
    childWatches=Vector(USTRING),
)
SetWatches2 = record(
    "SetWatches2",
    relativeZxid=LONG,
    dataWatches=Vector(USTRING),
    existWatches=Vector(USTRING),
    childWatches=Vector(USTRING),
    persistentWatches=Vector(USTRING),
    persistentRecursiveWatches=Vector(USTRING),
)
RequestHeader = record("RequestHeader", xid=INT, type=INT)
MultiHeader = record("MultiHeader", type=INT, done=BOOL, err=INT)
AuthPacket = record("AuthPacket", type=INT, scheme=USTRING, auth=BUFFER)
ReplyHeader = record("ReplyHeader", xid=INT, zxid=LONG, err=INT)
GetDataRequest = record("GetDataRequest", path=USTRING, watch=BOOL)
SetDataRequest = record("SetDataRequest", path=USTRING, data=BUFFER, version=INT)
ReconfigRequest = record(
    "ReconfigRequest", joiningServers=USTRING, leavingServers=USTRING, newMembers=USTRING, curConfigId=LONG
)
SetDataResponse = record("SetDataResponse", stat=Stat)
GetSASLRequest = record("GetSASLRequest", token=BUFFER)
SetSASLRequest = record("SetSASLRequest", token=BUFFER)
SetSASLResponse = record("SetSASLResponse", token=BUFFER)
CreateRequest = record("CreateRequest", path=USTRING, data=BUFFER, acl=ACLS, flags=INT)
CreateTTLRequest = record("CreateTTLRequest", path=USTRING, data=BUFFER, acl=ACLS, flags=INT, ttl=LONG)
DeleteRequest = record("DeleteRequest", path=USTRING, version=INT)
GetChildrenRequest = record("GetChildrenRequest", path=USTRING, watch=BOOL)
GetAllChildrenNumberRequest = record("GetAllChildrenNumberRequest", path=USTRING)
GetChildren2Request = record("GetChildren2Request", path=USTRING, watch=BOOL)
CheckVersionRequest = record("CheckVersionRequest", path=USTRING, version=INT)
GetMaxChildrenRequest = record("GetMaxChildrenRequest", path=USTRING)
GetMaxChildrenResponse = record("GetMaxChildrenResponse", max=INT)
SetMaxChildrenRequest = record("SetMaxChildrenRequest", path=USTRING, max=INT)
SyncRequest = record("SyncRequest", path=USTRING)
SyncResponse = record("SyncResponse", path=USTRING)
GetACLRequest = record("GetACLRequest", path=USTRING)
SetACLRequest = record("SetACLRequest", path=USTRING, acl=ACLS, version=INT)
SetACLResponse = record("SetACLResponse", stat=Stat)
AddWatchRequest = record("AddWatchRequest", path=USTRING, mode=INT)
WatcherEvent = record("WatcherEvent", type=INT, state=INT, path=USTRING)
ErrorResponse = record("ErrorResponse", err=INT)
CreateResponse = record("CreateResponse", path=USTRING)
Create2Response = record("Create2Response", path=USTRING, stat=Stat)
ExistsRequest = record("ExistsRequest", path=USTRING, watch=BOOL)
ExistsResponse = record("ExistsResponse", stat=Stat)
GetDataResponse = record("GetDataResponse", data=BUFFER, stat=Stat)
GetChildrenResponse = record("GetChildrenResponse", children=Vector(USTRING))
GetAllChildrenNumberResponse = record("GetAllChildrenNumberResponse", totalNumber=INT)
GetChildren2Response = record("GetChildren2Response", children=Vector(USTRING), stat=Stat)
GetACLResponse = record("GetACLResponse", acl=ACLS, stat=Stat)
CheckWatchesRequest = record("CheckWatchesRequest", path=USTRING, type=INT)
RemoveWatchesRequest = record("RemoveWatchesRequest", path=USTRING, type=INT)
GetEphemeralsRequest = record("GetEphemeralsRequest", prefixPath=USTRING)
GetEphemeralsResponse = record("GetEphemeralsResponse", ephemerals=Vector(USTRING))
WhoAmIResponse = record("WhoAmIResponse", clientInfo=Vector(ClientInfo))

# ---- org.apache.zookeeper.server.quorum
LearnerInfo = record("LearnerInfo", serverid=LONG, protocolVersion=INT, configVersion=LONG)
QuorumPacket = record("QuorumPacket", type=INT, zxid=LONG, data=BUFFER, authinfo=Vector(Id))
QuorumAuthPacket = record("QuorumAuthPacket", magic=LONG, status=INT, token=BUFFER)

# ---- org.apache.zookeeper.server.persistence
FileHeader = record("FileHeader", magic=INT, version=INT, dbid=LONG)

# ---- org.apache.zookeeper.txn
TxnDigest = record("TxnDigest", version=INT, treeDigest=LONG)
TxnHeader = record("TxnHeader", clientId=LONG, cxid=INT, zxid=LONG, time=LONG, type=INT)
CreateTxnV0 = record("CreateTxnV0", path=USTRING, data=BUFFER, acl=ACLS, ephemeral=BOOL)
CreateTxn = record(
    "CreateTxn", path=USTRING, data=BUFFER, acl=ACLS, ephemeral=BOOL, parentCVersion=INT
)
CreateTTLTxn = record(
    "CreateTTLTxn", path=USTRING, data=BUFFER, acl=ACLS, parentCVersion=INT, ttl=LONG
)
CreateContainerTxn = record(
    "CreateContainerTxn", path=USTRING, data=BUFFER, acl=ACLS, parentCVersion=INT
)
DeleteTxn = record("DeleteTxn", path=USTRING)
SetDataTxn = record("SetDataTxn", path=USTRING, data=BUFFER, version=INT)
CheckVersionTxn = record("CheckVersionTxn", path=USTRING, version=INT)
SetACLTxn = record("SetACLTxn", path=USTRING, acl=ACLS, version=INT)
SetMaxChildrenTxn = record("SetMaxChildrenTxn", path=USTRING, max=INT)
CreateSessionTxn = record("CreateSessionTxn", timeOut=INT)
CloseSessionTxn = record("CloseSessionTxn", paths2Delete=Vector(USTRING))
ErrorTxn = record("ErrorTxn", err=INT)
Txn = record("Txn", type=INT, data=BUFFER)
MultiTxn = record("MultiTxn", txns=Vector(Txn))

ALL_RECORDS = {
    name: obj for name, obj in list(globals().items()) if isinstance(obj, type) and hasattr(obj, "_jute_fields")
}
