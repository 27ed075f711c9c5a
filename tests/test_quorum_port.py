"""The quorum port's shell on its own: packets cut from a byte stream, bad input closing the
one connection (Twisted's StringTransport; no reactor).  The shell with the ZAB cores behind
it (the SNAP stream handed over raw, send_stream, connectToLeader's retries) is
tests/zab/test_zab_quorum_port.py."""

from __future__ import annotations

from twisted.internet.testing import StringTransport

from zk_twisted.network.quorum_port import QuorumConnection
from zk_twisted.quorum.packets import PacketType, encode_packet, packet


class Recorder:
    def __init__(self) -> None:
        self.packets = []
        self.lost = []

    def connected(self, conn) -> None:
        pass

    def packet_received(self, conn, p) -> None:
        self.packets.append(p)

    def connection_lost(self, conn, reason) -> None:
        self.lost.append(reason)


def connection() -> tuple[QuorumConnection, Recorder, StringTransport]:
    h = Recorder()
    conn = QuorumConnection(h)
    t = StringTransport()
    conn.makeConnection(t)
    return conn, h, t


def test_packets_split_anywhere_arrive_whole_and_in_order():
    conn, h, t = connection()
    wire = b"".join(
        encode_packet(packet(PacketType.PROPOSAL, 0x100000000 + i, bytes([i]) * i)) for i in range(1, 6)
    ) + encode_packet(packet(PacketType.COMMIT, 0x100000005))
    for i in range(len(wire)):
        conn.dataReceived(wire[i : i + 1])
    assert [(p.type, p.zxid) for p in h.packets][-1] == (PacketType.COMMIT, 0x100000005)
    assert [p.data for p in h.packets[:5]] == [bytes([i]) * i for i in range(1, 6)]
    assert not t.disconnecting


def test_garbage_closes_the_connection_with_nothing_delivered():
    conn, h, t = connection()
    conn.dataReceived(b"\x00\x00\x00\x02" + b"\x00" * 8 + b"\x7f\xff\xff\xff")  # data length 2 GB
    assert h.packets == [] and conn.closed and t.disconnecting
