"""MultiOperationRecord / MultiResponse: a MultiHeader before each op, a done header last."""

from __future__ import annotations

from ..constants import OpCode
from . import records as R
from .codec import JuteError

#: op type -> request record (MultiOperationRecord.deserialize)
MULTI_OP_RECORDS: dict[int, type] = {
    OpCode.create: R.CreateRequest,
    OpCode.create2: R.CreateRequest,
    OpCode.createContainer: R.CreateRequest,
    OpCode.createTTL: R.CreateTTLRequest,
    OpCode.delete: R.DeleteRequest,
    OpCode.setData: R.SetDataRequest,
    OpCode.check: R.CheckVersionRequest,
    OpCode.getChildren: R.GetChildrenRequest,
    OpCode.getData: R.GetDataRequest,
}

#: the read ops of a multiRead; a MultiOperationRecord holds only these or only writes
MULTI_READ_OPS = frozenset((OpCode.getChildren, OpCode.getData))

_END = R.MultiHeader(-1, True, -1).to_bytes()


def decode_multi_request(buf: bytes, off: int = 0) -> list[tuple[int, object]]:
    """MultiOperationRecord.deserialize: a mix of read and write ops is refused here, before
    any op is looked at (3.8: IOException "Mixing different kind of ops")."""
    ops: list[tuple[int, object]] = []
    reads = None
    h, off = R.MultiHeader._read(buf, off)
    while not h.done:
        cls = MULTI_OP_RECORDS.get(h.type)
        if cls is None:
            raise JuteError(f"Invalid type {h.type} in MultiOperationRecord")
        is_read = h.type in MULTI_READ_OPS
        if reads is None:
            reads = is_read
        elif reads is not is_read:
            raise JuteError("Mixing different kind of ops")
        rec, off = cls._read(buf, off)
        ops.append((h.type, rec))
        h, off = R.MultiHeader._read(buf, off)
    return ops


def encode_multi_request(ops: list[tuple[int, object]]) -> bytes:
    parts: list[bytes] = []
    for op_type, rec in ops:
        R.MultiHeader(op_type, False, -1)._write(parts)
        rec._write(parts)
    parts.append(_END)
    return b"".join(parts)


def encode_multi_response(results: list[tuple[int, int, object | None]]) -> bytes:
    """``results``: (type, err, response record or None) per op, as MultiResponse.serialize."""
    parts: list[bytes] = []
    for op_type, err, rec in results:
        R.MultiHeader(op_type, False, err)._write(parts)
        if rec is not None:
            rec._write(parts)
    parts.append(_END)
    return b"".join(parts)


_RESPONSE_RECORDS: dict[int, type | None] = {
    OpCode.create: R.CreateResponse,
    OpCode.create2: R.Create2Response,
    OpCode.delete: None,
    OpCode.check: None,
    OpCode.setData: R.SetDataResponse,
    OpCode.getChildren: R.GetChildrenResponse,
    OpCode.getData: R.GetDataResponse,
    OpCode.error: R.ErrorResponse,
}


def decode_multi_response(buf: bytes, off: int = 0) -> list[tuple[int, int, object | None]]:
    out: list[tuple[int, int, object | None]] = []
    h, off = R.MultiHeader._read(buf, off)
    while not h.done:
        if h.type not in _RESPONSE_RECORDS:
            raise JuteError(f"Invalid type {h.type} in MultiResponse")
        cls = _RESPONSE_RECORDS[h.type]
        rec = None
        if cls is not None:
            rec, off = cls._read(buf, off)
        out.append((h.type, h.err, rec))
        h, off = R.MultiHeader._read(buf, off)
    return out
