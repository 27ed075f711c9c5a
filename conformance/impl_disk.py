"""A spec state's durable part written as real data dirs, and a txn's payload as the spec's value.

The replay runner (``replay_impl.py``) starts its nodes from a trace's first state: each
server's ``history`` becomes a real txn log (one create per txn, its data ``v<value>``, so
the abstraction reads the spec's ``value`` back from any txn the nodes log or apply) and its
``currentEpoch`` / ``acceptedEpoch`` the two epoch files, exactly where a node reads them.
"""

from __future__ import annotations

from pathlib import Path

from zk_twisted.constants import OpCode
from zk_twisted.jute import records as R
from zk_twisted.persistence.files import VERSION_DIR
from zk_twisted.persistence.filetxnsnaplog import FileTxnSnapLog
from zk_twisted.persistence.txnlog import FileTxnLog
from zk_twisted.quorum.epochs import EpochFiles
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase

__all__ = [
    "write_data_dir",
    "txn_value",
    "zxid_of",
    "value_data",
    "CLIENT_SESSION",
    "CLIENT_SESSION_TIMEOUT_MS",
]

_ACL = [R.ACL(31, R.Id("world", "anyone"))]
#: the session the initial txns are written by and the runner's client writes with
CLIENT_SESSION = 0x5EC
CLIENT_SESSION_TIMEOUT_MS = 3_600_000


def zxid_of(pair) -> int:
    """The spec's ``<<epoch, counter>>`` as ZooKeeper's 64-bit zxid."""
    e, c = pair
    return (int(e) << 32) | int(c)


def value_data(value: int) -> bytes:
    """The znode data a txn of spec value ``value`` carries (the simulation's writes too)."""
    return b"v%d" % value


def txn_value(data: bytes) -> int | None:
    """The spec value of a create's data, None for a txn the spec does not model."""
    if data[:1] == b"v" and data[1:].isdigit():
        return int(data[1:])
    return None


def write_data_dir(data_dir: Path, history: list[dict], current_epoch: int, accepted_epoch: int) -> None:
    """A node's data dir holding ``history`` (spec txns) durably, and the two epoch files."""
    snap_dir = Path(data_dir) / VERSION_DIR
    snap_dir.mkdir(parents=True, exist_ok=True)
    # a snapshot at zxid 0 (3.8 refuses a txn log with no snapshot before it) holding the
    # client session every replayed write reconnects with: a write is then one txn, as in
    # the spec (a new session would be a createSession txn of its own)
    db = ZKDatabase(DataTree())
    db.sessions_with_timeouts[CLIENT_SESSION] = CLIENT_SESSION_TIMEOUT_MS
    FileTxnSnapLog(Path(data_dir)).save(db)
    if history:
        log = FileTxnLog(snap_dir, 16 * 1024)
        for t in history:
            z = zxid_of(t["zxid"])
            hdr = R.TxnHeader(CLIENT_SESSION, z & 0xFFFFFFFF, z, 1_700_000_000_000, OpCode.create)
            path = f"/t{z >> 32}_{z & 0xFFFFFFFF}"
            log.append(hdr, R.CreateTxn(path, value_data(int(t["value"])), _ACL, False, 0), None)
        log.commit()
        log.close()
    ep = EpochFiles(snap_dir, fsync=False)
    ep.write("currentEpoch", int(current_epoch))
    ep.write("acceptedEpoch", int(accepted_epoch))
