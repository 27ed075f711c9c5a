"""QuorumPacket types and the small payloads of the quorum port (Leader.java's constants).

A packet on the quorum port is the jute record ``QuorumPacket`` (``records.QuorumPacket``:
int type, long zxid, buffer data, vector<Id> authinfo) written with no length prefix; the
election port frames its messages, the quorum port does not (QUORUM_NOTES.md section 3).
"""

from __future__ import annotations

import struct

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
