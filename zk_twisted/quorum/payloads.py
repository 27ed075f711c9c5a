"""The ``data`` of each QuorumPacket type as ZooKeeper 3.8 writes it (sans-IO).

Each payload kind is a small value with ``to_bytes()`` and ``from_bytes(data)``; the
module-level builders make whole packets with 3.8's zxid and authinfo conventions
(QUORUM_NOTES.md sections 3-4). ``decode_data`` / ``encode_data`` map a packet type (and,
for PING and REVALIDATE, its direction) to its payload kind, which the golden tests use to
check that every packet Java 3.8 sends decodes and re-encodes to the same bytes.

Where 3.8 is lenient the decoders are too: LearnerHandler reads a LearnerInfo of 8, 12 or
20 bytes; a PROPOSAL's TxnDigest is optional. Anything else malformed raises
:class:`PayloadError` (a ``ValueError``), which closes that one connection.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..jute import JuteError
from ..jute import records as R
from ..server.txn import decode_txn, encode_txn
from .packets import PROTOCOL_VERSION, PacketType, int_payload, make_zxid, packet, read_int_payload

__all__ = [
    "Activate",
    "PayloadError",
    "QuorumRequest",
    "RevalidateReply",
    "RevalidateRequest",
    "SessionTouches",
    "TxnPayload",
    "decode_data",
    "decode_learner_info",
    "encode_data",
    "txn_zxid",
]

_Q = struct.Struct(">q")
_QI = struct.Struct(">qi")
_QII = struct.Struct(">qii")
_Q_BOOL = struct.Struct(">q?")


class PayloadError(ValueError):
    """A QuorumPacket's data does not parse as its type's payload."""


def _need(data: bytes | None, n: int, what: str) -> bytes:
    if data is None or len(data) < n:
        got = "null" if data is None else f"{len(data)} bytes"
        raise PayloadError(f"{what}: needs {n} bytes, got {got}")
    return data


# ---------------------------------------------------------------------------- discovery
def encode_learner_info(sid: int, config_version: int, protocol_version: int = PROTOCOL_VERSION) -> bytes:
    """FOLLOWERINFO / OBSERVERINFO data: the jute record LearnerInfo (Learner.registerWithLeader)."""
    return R.LearnerInfo(sid, protocol_version, config_version).to_bytes()


def decode_learner_info(data: bytes | None) -> R.LearnerInfo | None:
    """LearnerInfo as LearnerHandler.run reads it: by length, fields absent from the right.

    None for null data (3.8 then numbers the learner from its followerCounter). A missing
    protocol version reads as 0x1, LearnerHandler's default (an old learner: no LEADERINFO);
    a missing config version as -1 (3.8 compares it only when present).
    """
    if data is None:
        return None
    n = len(data)
    if n < 8:
        raise PayloadError(f"LearnerInfo: {n} bytes, needs at least the 8-byte sid")
    sid = _Q.unpack_from(data, 0)[0]
    version = struct.unpack_from(">i", data, 8)[0] if n >= 12 else 0x1
    config_version = _Q.unpack_from(data, 12)[0] if n >= 20 else -1
    return R.LearnerInfo(sid, version, config_version)


def follower_info(accepted_epoch: int, sid: int, config_version: int, observer: bool = False) -> R.QuorumPacket:
    """FOLLOWERINFO (OBSERVERINFO): zxid = acceptedEpoch << 32, the last zxid comes in ACKEPOCH."""
    ptype = PacketType.OBSERVERINFO if observer else PacketType.FOLLOWERINFO
    return packet(ptype, make_zxid(accepted_epoch, 0), encode_learner_info(sid, config_version))


def leader_info(new_epoch: int, protocol_version: int = PROTOCOL_VERSION) -> R.QuorumPacket:
    """LEADERINFO: zxid = newEpoch << 32, data = the leader's protocol version."""
    return packet(PacketType.LEADERINFO, make_zxid(new_epoch, 0), int_payload(protocol_version))


def ack_epoch(last_logged_zxid: int, current_epoch: int) -> R.QuorumPacket:
    """ACKEPOCH: zxid = the learner's last zxid, data = its currentEpoch (-1 if it was equal)."""
    return packet(PacketType.ACKEPOCH, last_logged_zxid, int_payload(current_epoch))


def new_leader(new_epoch: int, config: str | None) -> R.QuorumPacket:
    """NEWLEADER: zxid = newEpoch << 32, data = the QuorumVerifier's toString (null for old learners)."""
    return packet(PacketType.NEWLEADER, make_zxid(new_epoch, 0), encode_config(config))


def encode_config(config: str | None) -> bytes | None:
    """NEWLEADER data (QuorumVerifier.toString().getBytes(); 3.8.5+ says UTF-8, as we do)."""
    return None if config is None else config.encode("utf-8")


def decode_config(data: bytes | None) -> str | None:
    """NEWLEADER's config string; bytes that are not UTF-8 are a PayloadError (3.8 would
    build a config from the mangled text and fail on it later)."""
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PayloadError(f"NEWLEADER config: not UTF-8 ({e})") from None


# ---------------------------------------------------------------------------- broadcast
@dataclass(slots=True)
class TxnPayload:
    """PROPOSAL / INFORM data: TxnHeader + txn (+ TxnDigest), Util.marshallTxnEntry.

    ``txn`` is the record of ``hdr.type`` (server.txn.TXN_RECORDS), None for a closeSession
    logged without a body; ``digest`` is None when the leader sent none.
    """

    hdr: R.TxnHeader
    txn: object | None = None
    digest: R.TxnDigest | None = None

    def to_bytes(self) -> bytes:
        return encode_txn(self.hdr, self.txn, self.digest)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> TxnPayload:
        if not data:
            raise PayloadError("txn payload: empty")
        try:
            hdr, txn, digest = decode_txn(data)
        except JuteError as e:
            raise PayloadError(f"txn payload: {e}") from None
        return cls(hdr, txn, digest)


def txn_zxid(data: bytes | None) -> int:
    """The zxid in a PROPOSAL / INFORM's TxnHeader (long clientId, int cxid, long zxid, ...),
    read without decoding the txn: what a learner checks against the packet's zxid."""
    return _Q.unpack_from(_need(data, 32, "txn header"), 12)[0]


def proposal(hdr: R.TxnHeader, txn, digest: R.TxnDigest | None = None) -> R.QuorumPacket:
    """PROPOSAL: zxid = the txn's zxid (Leader.propose)."""
    return packet(PacketType.PROPOSAL, hdr.zxid, encode_txn(hdr, txn, digest))


def inform(hdr: R.TxnHeader, txn, digest: R.TxnDigest | None = None) -> R.QuorumPacket:
    """INFORM (to observers): the PROPOSAL's packet with another type (Leader.inform)."""
    return packet(PacketType.INFORM, hdr.zxid, encode_txn(hdr, txn, digest))


def ack(zxid: int) -> R.QuorumPacket:
    return packet(PacketType.ACK, zxid)


def commit(zxid: int) -> R.QuorumPacket:
    return packet(PacketType.COMMIT, zxid)


@dataclass(slots=True)
class Activate:
    """COMMITANDACTIVATE (``txn`` None: data = long designatedLeader) and INFORMANDACTIVATE
    (designatedLeader followed by the PROPOSAL data), Leader.commitAndActivate / informAndActivate."""

    designated_leader: int
    txn: TxnPayload | None = None

    def to_bytes(self) -> bytes:
        head = _Q.pack(self.designated_leader)
        return head if self.txn is None else head + self.txn.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | None, with_txn: bool = False) -> Activate:
        data = _need(data, 8, "activate payload")
        leader = _Q.unpack_from(data, 0)[0]
        if not with_txn:
            if len(data) != 8:
                raise PayloadError(f"COMMITANDACTIVATE: {len(data)} bytes, expected 8")
            return cls(leader)
        return cls(leader, TxnPayload.from_bytes(data[8:]))


def commit_and_activate(zxid: int, designated_leader: int) -> R.QuorumPacket:
    return packet(PacketType.COMMITANDACTIVATE, zxid, Activate(designated_leader).to_bytes())


def inform_and_activate(designated_leader: int, hdr: R.TxnHeader, txn, digest=None) -> R.QuorumPacket:
    data = Activate(designated_leader, TxnPayload(hdr, txn, digest)).to_bytes()
    return packet(PacketType.INFORMANDACTIVATE, hdr.zxid, data)


# ---------------------------------------------------------------------------- learner requests
@dataclass(slots=True)
class QuorumRequest:
    """REQUEST data (Learner.request): long sessionId, int cxid, int type, the raw request body.

    ``body`` is the client's request record after its RequestHeader, unparsed (createSession:
    int timeout; closeSession: empty; sync: the path). The client's auth Ids travel as the
    packet's authinfo, not here.
    """

    session_id: int
    cxid: int
    type: int
    body: bytes = b""

    def to_bytes(self) -> bytes:
        return _QII.pack(self.session_id, self.cxid, self.type) + self.body

    @classmethod
    def from_bytes(cls, data: bytes | None) -> QuorumRequest:
        data = _need(data, 16, "REQUEST")
        sid, cxid, t = _QII.unpack_from(data, 0)
        return cls(sid, cxid, t, bytes(data[16:]))


def request(req: QuorumRequest, authinfo: list | None) -> R.QuorumPacket:
    """REQUEST: zxid -1; authinfo = the client's Ids (null for a createSession)."""
    return packet(PacketType.REQUEST, -1, req.to_bytes(), authinfo)


@dataclass(slots=True)
class SessionTouches:
    """A learner's PING reply: (long session, int timeout) per session touched since the
    last ping, in the touch table's order; an empty buffer (not null) when there are none."""

    touches: list[tuple[int, int]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        pack = _QI.pack
        return b"".join(pack(s, t) for s, t in self.touches)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> SessionTouches:
        if data is None:
            return cls()
        if len(data) % 12:
            raise PayloadError(f"PING session touches: {len(data)} bytes is not a multiple of 12")
        return cls([_QI.unpack_from(data, i) for i in range(0, len(data), 12)])


def leader_ping(last_proposed: int) -> R.QuorumPacket:
    """The leader's PING (LearnerHandler.ping): zxid = lastProposed, no data."""
    return packet(PacketType.PING, last_proposed)


def learner_ping(leader_ping_packet: R.QuorumPacket, touches) -> R.QuorumPacket:
    """Learner.ping: the leader's type, zxid and authinfo back, data = the touches."""
    data = SessionTouches(list(touches)).to_bytes()
    return packet(leader_ping_packet.type, leader_ping_packet.zxid, data, leader_ping_packet.authinfo)


@dataclass(slots=True)
class RevalidateRequest:
    """REVALIDATE from a learner (Learner.validateSession): long session, int timeout."""

    session_id: int
    timeout: int

    def to_bytes(self) -> bytes:
        return _QI.pack(self.session_id, self.timeout)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> RevalidateRequest:
        data = _need(data, 12, "REVALIDATE request")
        return cls(*_QI.unpack_from(data, 0))


@dataclass(slots=True)
class RevalidateReply:
    """The leader's REVALIDATE answer (LearnerHandler): long session, boolean valid."""

    session_id: int
    valid: bool

    def to_bytes(self) -> bytes:
        return _Q_BOOL.pack(self.session_id, self.valid)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> RevalidateReply:
        data = _need(data, 9, "REVALIDATE reply")
        sid = _Q.unpack_from(data, 0)[0]
        return cls(sid, data[8] != 0)


def revalidate(session_id: int, timeout: int) -> R.QuorumPacket:
    """Learner -> leader: zxid -1, no authinfo."""
    return packet(PacketType.REVALIDATE, -1, RevalidateRequest(session_id, timeout).to_bytes())


def revalidate_reply(req: R.QuorumPacket, valid: bool) -> R.QuorumPacket:
    """Leader -> learner: the request packet with data = session + valid (zxid, authinfo kept)."""
    sid = RevalidateRequest.from_bytes(req.data).session_id
    return packet(PacketType.REVALIDATE, req.zxid, RevalidateReply(sid, valid).to_bytes(), req.authinfo)


# ---------------------------------------------------------------------------- sync
def diff(zxid: int) -> R.QuorumPacket:
    return packet(PacketType.DIFF, zxid)


def trunc(zxid: int) -> R.QuorumPacket:
    return packet(PacketType.TRUNC, zxid)


def snap(zxid: int) -> R.QuorumPacket:
    """SNAP: zxid = the leader's lastProcessedZxid; the snapshot stream follows unframed."""
    return packet(PacketType.SNAP, zxid)


def uptodate() -> R.QuorumPacket:
    return packet(PacketType.UPTODATE, -1)


def sync_done() -> R.QuorumPacket:
    """SYNC to the learner that forwarded a sync: zxid 0, no data (Leader.sendSync)."""
    return packet(PacketType.SYNC, 0)


def new_epoch_ack(new_epoch: int) -> R.QuorumPacket:
    """The learner's ACK of NEWLEADER (and again of UPTODATE): zxid = newEpoch << 32."""
    return packet(PacketType.ACK, make_zxid(new_epoch, 0))


# ---------------------------------------------------------------------------- by type
class _Int:
    """LEADERINFO / ACKEPOCH: a 4-byte int."""

    @staticmethod
    def from_bytes(data):
        if data is None or len(data) != 4:
            raise PayloadError(f"int payload: expected 4 bytes, got {'null' if data is None else len(data)}")
        return read_int_payload(data)


class _Config:
    @staticmethod
    def from_bytes(data):
        return decode_config(data)


class _LearnerInfo:
    @staticmethod
    def from_bytes(data):
        return decode_learner_info(data)


class _Informed:
    @staticmethod
    def from_bytes(data):
        return Activate.from_bytes(data, with_txn=True)


#: type -> payload kind; PING and REVALIDATE depend on the direction (see decode_data)
_KINDS = {
    PacketType.FOLLOWERINFO: _LearnerInfo,
    PacketType.OBSERVERINFO: _LearnerInfo,
    PacketType.LEADERINFO: _Int,
    PacketType.ACKEPOCH: _Int,
    PacketType.NEWLEADER: _Config,
    PacketType.PROPOSAL: TxnPayload,
    PacketType.INFORM: TxnPayload,
    PacketType.COMMITANDACTIVATE: Activate,
    PacketType.INFORMANDACTIVATE: _Informed,
    PacketType.REQUEST: QuorumRequest,
}
#: types whose data is null
NO_DATA = frozenset(
    {PacketType.ACK, PacketType.COMMIT, PacketType.UPTODATE, PacketType.DIFF, PacketType.TRUNC,
     PacketType.SNAP, PacketType.SYNC}
)  # fmt: skip


def decode_data(ptype: int, data: bytes | None, from_leader: bool):
    """The payload of a packet of ``ptype`` sent by the leader (``from_leader``) or a learner.

    Returns the payload value (an int for LEADERINFO / ACKEPOCH, a str for NEWLEADER, a
    LearnerInfo, TxnPayload, ...), None for types without data (whose data must be null),
    and the raw bytes for a type 3.8 does not know (the Java peer drops those).
    """
    if ptype == PacketType.PING:
        if from_leader:
            if data is not None:
                raise PayloadError(f"leader PING: expected no data, got {len(data)} bytes")
            return None
        return SessionTouches.from_bytes(data)
    if ptype == PacketType.REVALIDATE:
        return RevalidateReply.from_bytes(data) if from_leader else RevalidateRequest.from_bytes(data)
    if ptype in NO_DATA:
        if data is not None:
            raise PayloadError(f"packet type {ptype}: expected no data, got {len(data)} bytes")
        return None
    kind = _KINDS.get(ptype)
    if kind is None:
        return data
    return kind.from_bytes(data)


def encode_data(ptype: int, value) -> bytes | None:
    """Inverse of :func:`decode_data`."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if ptype in (PacketType.LEADERINFO, PacketType.ACKEPOCH):
        return int_payload(value)
    if ptype == PacketType.NEWLEADER:
        return encode_config(value)
    if isinstance(value, R.LearnerInfo):
        return value.to_bytes()
    return value.to_bytes()

