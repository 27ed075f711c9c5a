"""Reading QuorumPackets off the quorum port's byte stream (a minimal reader for the shells).

Quorum packets have no length prefix (QUORUM_NOTES.md section 3): a packet's extent is
found by walking its fields (int type, long zxid, buffer data, vector<Id> authinfo), each
length checked as BinaryInputArchive.checkLength does, before the record is decoded.  The
quorum-wire codecs (``zk_twisted.quorum.packets`` / ``payloads``) may replace this module.
"""

from __future__ import annotations

import struct

from ..jute import records as R

_I32 = struct.Struct(">i")
#: BinaryInputArchive.maxBuffer (jute.maxbuffer, 0xfffff) + extraMaxBuffer (the same by default)
DEFAULT_MAX_LENGTH = 2 * 0xFFFFF


class StreamError(ValueError):
    """The bytes cannot be a QuorumPacket: the connection must close."""


def packet_extent(buf, off: int, max_length: int = DEFAULT_MAX_LENGTH) -> int | None:
    """The end offset of the QuorumPacket at ``buf[off:]``, None if more bytes are needed."""
    pos = off + 12  # type, zxid
    size = len(buf)

    def length(pos: int) -> int | None:
        if pos + 4 > size:
            return None
        n = _I32.unpack_from(buf, pos)[0]
        if n < -1 or n > max_length:
            raise StreamError(f"Unreasonable length = {n}")
        return n

    n = length(pos)
    if n is None:
        return None
    pos += 4 + max(n, 0)
    count = length(pos)
    if count is None:
        return None
    pos += 4
    for _ in range(max(count, 0)):
        for _field in range(2):  # Id: ustring scheme, ustring id
            n = length(pos)
            if n is None:
                return None
            pos += 4 + max(n, 0)
    return pos if pos <= size else None


class QuorumPacketReader:
    """Accumulates bytes; :meth:`next` returns one complete packet at a time (or None).

    ``take(n)``-style access to the raw bytes that follow (the SNAP stream) goes through
    :meth:`take_raw`, so a shell can hand what follows a SNAP packet to a snapshot reader.
    """

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        self.max_length = max_length
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> R.QuorumPacket | None:
        end = packet_extent(self._buf, 0, self.max_length)
        if end is None:
            return None
        raw = bytes(self._buf[:end])
        del self._buf[:end]
        return R.QuorumPacket.from_bytes(raw)

    def take_raw(self) -> bytes:
        """Everything buffered and not yet parsed (the reader is empty after)."""
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def __len__(self) -> int:
        return len(self._buf)
