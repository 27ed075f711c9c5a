"""QuorumPacket types and the small payloads of the quorum port (Leader.java's constants).

A packet on the quorum port is the jute record ``QuorumPacket`` (``records.QuorumPacket``:
int type, long zxid, buffer data, vector<Id> authinfo) written with no length prefix; the
election port frames its messages, the quorum port does not (QUORUM_NOTES.md section 3).
"""

from __future__ import annotations

import struct

from ..config import DEFAULT_JUTE_MAXBUFFER
from ..jute import records as R


class PacketType:
    """Leader.REQUEST ... Leader.INFORMANDACTIVATE, as plain ints (hot-path comparisons)."""

    REQUEST = 1
    PROPOSAL = 2
    ACK = 3
    COMMIT = 4
    PING = 5
    REVALIDATE = 6
    SYNC = 7
    INFORM = 8
    COMMITANDACTIVATE = 9
    NEWLEADER = 10
    FOLLOWERINFO = 11
    UPTODATE = 12
    DIFF = 13
    TRUNC = 14
    SNAP = 15
    OBSERVERINFO = 16
    LEADERINFO = 17
    ACKEPOCH = 18
    INFORMANDACTIVATE = 19


#: type -> name, for logs (LearnerHandler.packetToString)
PACKET_NAMES = {v: k for k, v in vars(PacketType).items() if not k.startswith("_")}

#: the protocol version a 3.8 learner and leader announce (LearnerInfo, LEADERINFO data)
PROTOCOL_VERSION = 0x10000

_I32 = struct.Struct(">i")


def packet(ptype: int, zxid: int, data: bytes | None = None, authinfo=None) -> R.QuorumPacket:
    """A QuorumPacket with 3.8's defaults: no data, null authinfo."""
    return R.QuorumPacket(ptype, zxid, data, authinfo)


def epoch_of(zxid: int) -> int:
    """ZxidUtils.getEpochFromZxid (zxid as an unsigned 64-bit value)."""
    return (zxid >> 32) & 0xFFFFFFFF


def counter_of(zxid: int) -> int:
    """ZxidUtils.getCounterFromZxid."""
    return zxid & 0xFFFFFFFF


def make_zxid(epoch: int, counter: int) -> int:
    """ZxidUtils.makeZxid."""
    return (epoch << 32) | (counter & 0xFFFFFFFF)


def int_payload(value: int) -> bytes:
    """The 4-byte payloads of LEADERINFO (protocol version) and ACKEPOCH (currentEpoch)."""
    return _I32.pack(value)


def read_int_payload(data: bytes | None) -> int:
    if data is None or len(data) < 4:
        raise ValueError("expected a 4-byte int payload")
    return _I32.unpack_from(data, 0)[0]


# ---------------------------------------------------------------------------- the stream
#: BinaryInputArchive's default jute.maxbuffer; the extra allowance is max(maxbuffer, 1024)
DEFAULT_MAX_BUFFER = DEFAULT_JUTE_MAXBUFFER
_I64 = struct.Struct(">q")
_HEAD = struct.Struct(">iqi")  # type, zxid, data length


class QuorumStreamError(ValueError):
    """Bytes on the quorum port that cannot be a QuorumPacket: the connection must close."""


def max_length(max_buffer: int = DEFAULT_MAX_BUFFER) -> int:
    """The largest length BinaryInputArchive.checkLength lets through (maxBuffer + extrasize)."""
    return max_buffer + max(max_buffer, 1024)


_NO_AUTH = _I32.pack(-1)  # a null authinfo vector
_NO_DATA_NO_AUTH = _I32.pack(-1) + _NO_AUTH
_TYPE_ZXID = struct.Struct(">iq")
_TYPE_ZXID_LEN = struct.Struct(">iqi")


def encode_packet(qp: R.QuorumPacket) -> bytes:
    """One packet as it goes on the wire: the record itself, no length prefix.

    The broadcast's packets (PROPOSAL, ACK, COMMIT: no authinfo) are packed directly, the
    generic record writer being twice as slow for what is most of the quorum port's traffic.
    """
    auth = qp.authinfo
    data = qp.data
    if auth is None:
        if data is None:
            return _TYPE_ZXID.pack(qp.type, qp.zxid) + _NO_DATA_NO_AUTH
        return _TYPE_ZXID_LEN.pack(qp.type, qp.zxid, len(data)) + data + _NO_AUTH
    if data is None:
        return qp.to_bytes()
    # a REQUEST: the client's Ids
    return _TYPE_ZXID_LEN.pack(qp.type, qp.zxid, len(data)) + data + _encode_auth(auth)


def _encode_auth(auth) -> bytes:
    parts = [_I32.pack(len(auth))]
    for i in auth:
        for v in (i.scheme, i.id):
            if v is None:
                parts.append(_NO_AUTH)
            else:
                b = v.encode("utf-8")
                parts.append(_I32.pack(len(b)))
                parts.append(b)
    return b"".join(parts)


#: raw authinfo vector -> its Ids: a learner forwards each session's few Ids with every
#: REQUEST, so the same bytes come again and again (bounded: cleared when full)
_AUTH_CACHE: dict[bytes, tuple] = {}
_AUTH_CACHE_MAX = 1024


class QuorumPacketReader:
    """Cuts QuorumPackets out of the quorum port's byte stream (sans-IO, incremental).

    The packets carry no frame length, so the reader parses the record's own fields as
    bytes arrive, remembering where the next packet starts. Every length (data, authinfo
    count, scheme, id) is checked as BinaryInputArchive.checkLength checks it: -1 is null,
    anything below or above ``max_length(max_buffer)`` is garbage and raises
    :class:`QuorumStreamError` at once, before waiting for bytes that would never make sense.

    A SNAP packet is followed by the snapshot stream, not by packets: the reader stops after
    it (:attr:`paused`), keeps what follows buffered, and the caller hands those bytes to a
    ``snapstream.SnapStreamReader`` (:meth:`take_buffered`), then gives back what came after
    the stream with :meth:`resume`.
    """

    def __init__(self, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.limit = max_length(max_buffer)
        self._buf = bytearray()
        self.offset = 0  # stream offset of the start of ``_buf`` (for error messages)
        self.paused = False

    @property
    def buffered(self) -> int:
        """Bytes received that are not yet a whole packet."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[R.QuorumPacket]:
        """Add bytes; return every packet they completed, in order."""
        buf = self._buf
        buf += data
        out: list[R.QuorumPacket] = []
        pos = 0
        size = len(buf)
        limit = self.limit
        head = _HEAD.unpack_from
        i32 = _I32.unpack_from
        make = R.QuorumPacket
        while not self.paused:
            # the broadcast's packets (null authinfo, a sane length) inline; the rest, and
            # any length to complain about, through _parse
            qp = None
            if pos + 20 <= size:
                ptype, zxid, n = head(buf, pos)
                if n == -1:
                    if i32(buf, pos + 16)[0] == -1:
                        qp = make(ptype, zxid, None, None)
                        pos += 20
                elif 0 <= n <= limit:
                    end = pos + 16 + n
                    if end + 4 <= size and i32(buf, end)[0] == -1:
                        qp = make(ptype, zxid, bytes(buf[pos + 16 : end]), None)
                        pos = end + 4
            if qp is None:
                r = self._parse(buf, pos)
                if r is None:
                    break
                qp, pos = r
            out.append(qp)
            if qp.type == PacketType.SNAP:
                self.paused = True
        if pos:
            del buf[:pos]
            self.offset += pos
        return out

    def take_buffered(self) -> bytes:
        """Everything buffered (the start of a SNAP stream, say), leaving the reader empty."""
        b = bytes(self._buf)
        self.offset += len(b)
        self._buf.clear()
        return b

    def resume(self, data: bytes = b"") -> list[R.QuorumPacket]:
        """After the snapshot stream: parse packets again, starting with ``data``."""
        self.paused = False
        return self.feed(data)

    def _check(self, n: int, what: str, at: int) -> None:
        if n < -1 or n > self.limit:
            raise QuorumStreamError(
                f"QuorumPacket.{what}: unreasonable length {n} at stream offset {self.offset + at}"
                f" (jute.maxbuffer allows {self.limit})"
            )

    def _parse(self, buf: bytearray, pos: int):
        """(packet, next pos), or None if ``buf[pos:]`` holds no whole packet yet."""
        size = len(buf)
        if pos + 16 > size:
            return None
        ptype, zxid, n = _HEAD.unpack_from(buf, pos)
        self._check(n, "data", pos + 12)
        off = pos + 16
        if n >= 0:
            if off + n > size:
                return None
            data = bytes(buf[off : off + n])
            off += n
        else:
            data = None
        if off + 4 > size:
            return None
        count = _I32.unpack_from(buf, off)[0]
        self._check(count if count < 0 else count * 8, "authinfo", off)  # an Id takes 8 bytes at least
        off += 4
        if count > 0:
            start = off
            for _ in range(count):
                for what in ("authinfo.scheme", "authinfo.id"):
                    if off + 4 > size:
                        return None
                    k = _I32.unpack_from(buf, off)[0]
                    self._check(k, what, off)
                    off += 4
                    if k > 0:
                        if off + k > size:
                            return None
                        off += k
            raw = bytes(buf[start:off])
            ids = _AUTH_CACHE.get(raw)
            if ids is None:
                ids = _decode_ids(raw, count)
                if len(_AUTH_CACHE) >= _AUTH_CACHE_MAX:
                    _AUTH_CACHE.clear()
                _AUTH_CACHE[raw] = ids
            auth = list(ids)
        elif count == 0:
            auth = []
        else:
            auth = None
        return R.QuorumPacket(ptype, zxid, data, auth), off


def _decode_ids(raw: bytes, count: int) -> tuple:
    """The Ids of an authinfo vector's bytes (after its count), lengths already checked."""
    ids = []
    off = 0
    for _ in range(count):
        fields = []
        for _ in range(2):
            k = _I32.unpack_from(raw, off)[0]
            off += 4
            if k < 0:
                fields.append(None)
            else:
                fields.append(raw[off : off + k].decode("utf-8", "replace"))
                off += k
        ids.append(R.Id(*fields))
    return tuple(ids)
