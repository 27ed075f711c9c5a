"""The few quorum-port payloads the ZAB cores read or write (QUORUM_NOTES.md section 3).

Each decode sits behind one small function so the cores never parse bytes themselves;
``zk_twisted.quorum.payloads`` (the quorum-wire codecs) can take these over one by one.
PROPOSAL / INFORM data (Util.marshallTxnEntry) stays bytes in the cores: only the txn
header's zxid is read, to check it against the packet's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..jute import JuteError
from ..jute import records as R

_TOUCH = struct.Struct(">qi")
_REQ = struct.Struct(">qii")
_SESSION = struct.Struct(">q")
_HDR_ZXID = struct.Struct(">q")


class PayloadError(ValueError):
    """A packet's data cannot be what its type says: a protocol error."""


def learner_info(sid: int, protocol_version: int, config_version: int) -> bytes:
    return R.LearnerInfo(sid, protocol_version, config_version).to_bytes()


@dataclass(frozen=True)
class LearnerInfoData:
    sid: int | None
    protocol_version: int
    config_version: int | None


def read_learner_info(data: bytes | None) -> LearnerInfoData:
    """LearnerHandler.run's reading of FOLLOWERINFO / OBSERVERINFO data: as many of sid,
    protocol version and config version as are there (older learners send fewer)."""
    if data is None:
        return LearnerInfoData(None, 0, None)
    sid = _SESSION.unpack_from(data, 0)[0] if len(data) >= 8 else None
    version = struct.unpack_from(">i", data, 8)[0] if len(data) >= 12 else 0
    cfg = _SESSION.unpack_from(data, 12)[0] if len(data) >= 20 else None
    return LearnerInfoData(sid, version, cfg)


def encode_touches(touches) -> bytes:
    """A learner's PING reply: (long session, int timeout)* ; empty (not null) when none."""
    return b"".join(_TOUCH.pack(s, t) for s, t in touches)


def decode_touches(data: bytes | None) -> list[tuple[int, int]]:
    if not data:
        return []
    if len(data) % _TOUCH.size:
        raise PayloadError(f"PING data of {len(data)} bytes is not a list of (session, timeout)")
    return list(_TOUCH.iter_unpack(data))


def encode_request(session_id: int, cxid: int, op: int, body: bytes) -> bytes:
    """REQUEST data: long sessionId, int cxid, int type, then the raw request body."""
    return _REQ.pack(session_id, cxid, op) + (body or b"")


def decode_request(data: bytes | None) -> tuple[int, int, int, bytes]:
    if data is None or len(data) < _REQ.size:
        raise PayloadError("REQUEST data shorter than its header")
    s, c, t = _REQ.unpack_from(data, 0)
    return s, c, t, bytes(data[_REQ.size :])


def encode_revalidate(session_id: int, timeout: int) -> bytes:
    """Learner -> leader REVALIDATE: long session, int timeout."""
    return _TOUCH.pack(session_id, timeout)


def decode_revalidate(data: bytes | None) -> tuple[int, int]:
    if data is None or len(data) < _TOUCH.size:
        raise PayloadError("REVALIDATE data shorter than (session, timeout)")
    return _TOUCH.unpack_from(data, 0)


def encode_revalidate_answer(session_id: int, valid: bool) -> bytes:
    """Leader -> learner REVALIDATE: long session, bool valid."""
    return _SESSION.pack(session_id) + (b"\x01" if valid else b"\x00")


def decode_revalidate_answer(data: bytes | None) -> tuple[int, bool]:
    if data is None or len(data) < 9:
        raise PayloadError("REVALIDATE answer shorter than (session, valid)")
    return _SESSION.unpack_from(data, 0)[0], data[8] != 0


def txn_zxid(data: bytes | None) -> int:
    """The zxid in a PROPOSAL / INFORM's TxnHeader (long clientId, int cxid, long zxid, ...)."""
    if data is None or len(data) < 32:
        raise PayloadError("txn data shorter than a TxnHeader")
    try:
        return _HDR_ZXID.unpack_from(data, 12)[0]
    except (struct.error, JuteError) as e:  # pragma: no cover - length checked above
        raise PayloadError(str(e)) from None
