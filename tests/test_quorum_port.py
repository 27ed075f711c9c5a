"""The quorum port's shell: packets cut from a byte stream, the SNAP stream handed over raw,
bad input closing the one connection (Twisted's StringTransport; no reactor)."""

from __future__ import annotations

from corefakes import CoreClient, make_core
from twisted.internet.testing import StringTransport

from zk_twisted.network.quorum_port import QuorumConnection
from zk_twisted.quorum.packets import PacketType, encode_packet, packet
from zk_twisted.quorum.snapstream import SnapStreamLoader, serialize_snap_stream
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.zkdatabase import ZKDatabase


class Recorder:
    def __init__(self) -> None:
        self.packets = []
        self.lost = []
        self.loader = None

    def connected(self, conn) -> None:
        pass

    def packet_received(self, conn, p) -> None:
        self.packets.append(p)
        if p.type == PacketType.SNAP:
            self.loader = SnapStreamLoader(ZKDatabase(DataTree()), p.zxid)

            def consume(data: bytes):
                if self.loader.feed(data):
                    return self.loader.reader.leftover
                return None

            conn.raw_mode(consume)

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


def test_snap_stream_is_handed_over_raw_then_packets_resume():
    zks, _ = make_core()
    client = CoreClient(zks)
    client.create("/a", b"hello")
    stream = b"".join(serialize_snap_stream(zks.db, 0x200000007))
    wire = (
        encode_packet(packet(PacketType.SNAP, 0x200000007))
        + stream
        + encode_packet(packet(PacketType.NEWLEADER, 0x300000000))
    )
    conn, h, t = connection()
    for i in range(0, len(wire), 7):
        conn.dataReceived(wire[i : i + 7])
    assert [p.type for p in h.packets] == [PacketType.SNAP, PacketType.NEWLEADER]
    db = h.loader.db
    assert db.tree.nodes["/a"].data == b"hello"
    assert db.sessions_with_timeouts == {client.session_id: 30000}
    assert db.last_processed_zxid == 0x200000007
