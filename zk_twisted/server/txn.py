"""Txns as ZooKeeper logs and ships them: TxnHeader + txn record (+ TxnDigest).

One table maps a txn type to its record (SerializeUtils.deserializeTxn); the txn log,
snapshot replay, multi sub-txns and (later) the quorum PROPOSAL payload all use it.
"""

from __future__ import annotations

from ..constants import OpCode
from ..jute import JuteError
from ..jute import records as R

TXN_RECORDS: dict[int, type] = {
    OpCode.createSession: R.CreateSessionTxn,
    OpCode.closeSession: R.CloseSessionTxn,
    OpCode.create: R.CreateTxn,
    OpCode.create2: R.CreateTxn,
    OpCode.createTTL: R.CreateTTLTxn,
    OpCode.createContainer: R.CreateContainerTxn,
    OpCode.delete: R.DeleteTxn,
    OpCode.deleteContainer: R.DeleteTxn,
    OpCode.reconfig: R.SetDataTxn,
    OpCode.setData: R.SetDataTxn,
    OpCode.setACL: R.SetACLTxn,
    OpCode.error: R.ErrorTxn,
    OpCode.multi: R.MultiTxn,
    OpCode.check: R.CheckVersionTxn,
}


def decode_txn_body(txn_type: int, buf: bytes, off: int = 0):
    """The txn record of ``txn_type`` at ``buf[off:]`` (a multi sub-txn or a log entry)."""
    rec, _, _ = _read_txn(txn_type, buf, off)
    return rec


def _read_txn(txn_type: int, buf: bytes, off: int):
    """(record, end, as written): False for a pre-3.x CreateTxn, which encodes longer."""
    cls = TXN_RECORDS.get(txn_type)
    if cls is None:
        raise JuteError(f"Unsupported Txn with type={txn_type}")
    if txn_type == OpCode.closeSession and off >= len(buf):
        return None, off, True  # logs written without closeSessionTxn have no body
    try:
        rec, end = cls._read(buf, off)
        return rec, end, True
    except JuteError:
        if txn_type != OpCode.create:
            raise
    # a 3.x-early CreateTxn without parentCVersion
    v0, end = R.CreateTxnV0._read(buf, off)
    return R.CreateTxn(v0.path, v0.data, v0.acl, v0.ephemeral, -1), end, False


def encode_txn(hdr, txn, digest=None) -> bytes:
    """Util.marshallTxnEntry: header, txn (if any), digest (if any)."""
    parts: list[bytes] = []
    hdr._write(parts)
    if txn is not None:
        txn._write(parts)
    if digest is not None:
        digest._write(parts)
    return b"".join(parts)


def decode_txn(buf: bytes):
    """Inverse of :func:`encode_txn` -> (TxnHeader, txn or None, TxnDigest or None)."""
    return decode_txn_entry(buf)[:3]


def decode_txn_entry(buf: bytes):
    """:func:`decode_txn`, plus whether :func:`encode_txn` of what it read gives back
    ``buf`` itself (nothing left over or skipped), so ``buf`` can be logged as it is."""
    hdr, off = R.TxnHeader._read(buf, 0)
    txn, off, exact = _read_txn(hdr.type, buf, off)
    digest = None
    if off < len(buf):
        try:
            digest, off = R.TxnDigest._read(buf, off)
        except JuteError:
            digest = None
    return hdr, txn, digest, exact and off == len(buf)
