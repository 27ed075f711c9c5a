"""The quorum port's Twisted shells over iosim pumps: the same cores as test_zab_ensemble,
fed bytes by LearnerHandlerProtocol / LeaderConnection; DIFF, SNAP (the stream after the
SNAP packet), broadcast, and bad input that closes one connection only."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.test import iosim

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zabsim import LeaderEnv, LearnerEnv, Sim, txn_data  # noqa: E402

from zk_twisted.jute import records as R  # noqa: E402
from zk_twisted.quorum import learner_handler as LH  # noqa: E402
from zk_twisted.quorum.leader import BROADCAST, Leader  # noqa: E402
from zk_twisted.quorum.learner import Learner  # noqa: E402
from zk_twisted.quorum.packets import PacketType as P  # noqa: E402
from zk_twisted.quorum.packets import make_zxid, packet  # noqa: E402
from zk_twisted.quorum.quorum_port import LeaderConnection, LearnerCnxAcceptor, ProtocolPeers  # noqa: E402
from zk_twisted.quorum.sync_choice import Proposal  # noqa: E402
from zk_twisted.quorum.zab_stream import QuorumPacketReader, StreamError, packet_extent  # noqa: E402

_HDR = b"SNAPTEST"


def encode_snapshot(proposals) -> bytes:
    """A stand-in for the SNAP stream (the quorum-wire branch writes 3.8's): test only."""
    body = b"".join(struct.pack(">qi", p.zxid, len(p.data)) + p.data for p in proposals)
    return _HDR + struct.pack(">ii", len(proposals), len(body)) + body


class SnapshotReader:
    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes):
        self.buf += data
        if len(self.buf) < 16:
            return None
        count, size = struct.unpack_from(">ii", self.buf, 8)
        if len(self.buf) < 16 + size:
            return None
        off, out = 16, []
        for _ in range(count):
            z, n = struct.unpack_from(">qi", self.buf, off)
            out.append(Proposal(z, self.buf[off + 12 : off + 12 + n]))
            off += 12 + n
        return out, self.buf[16 + size :]


class WireLeaderEnv(ProtocolPeers, LeaderEnv):
    def send(self, peer, pkt) -> None:
        self.node.journal.append(("send", pkt.type, pkt.zxid))
        ProtocolPeers.send(self, peer, pkt)

    def send_snapshot(self, peer) -> None:
        peer.write_raw(encode_snapshot(self.node.db))


class WireLearnerEnv(ProtocolPeers, LearnerEnv):
    def send(self, peer, pkt) -> None:
        self.node.journal.append(("send", pkt.type, pkt.zxid))
        ProtocolPeers.send(self, peer, pkt)


def z(e, c):
    return make_zxid(e, c)


def wire_ensemble(sim, followers):
    """Leader 1 and learners over iosim connections; returns (leader, {sid: learner}, pumps)."""
    n1 = sim.nodes[1]
    n1.reload()
    leader = Leader(
        1, sim.verifier, WireLeaderEnv(n1),
        accepted_epoch=n1.disk.accepted_epoch, current_epoch=n1.disk.current_epoch,
        last_zxid=n1.disk.last_zxid(), committed_log=n1.disk.history(),
    )  # fmt: skip
    n1.role = leader
    sim.leader_sid = 1
    leader.start()
    acceptor = LearnerCnxAcceptor(leader)
    learners, pumps = {}, []
    clock = Clock()
    for sid in followers:
        n = sim.nodes[sid]
        n.reload()
        lr = Learner(
            sid, None, WireLearnerEnv(n), accepted_epoch=n.disk.accepted_epoch,
            current_epoch=n.disk.current_epoch, observer=n.observer,
        )  # fmt: skip
        n.role = lr
        learners[sid] = lr
        server = acceptor.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2888))
        client = LeaderConnection(lr, SnapshotReader)
        pump = iosim.connect(
            server,
            iosim.makeFakeServer(server),
            client,
            iosim.makeFakeClient(client),
            greet=False,
            clock=clock,
        )
        pumps.append(pump)
    return leader, learners, pumps


def flush(sim, pumps):
    for _ in range(50):
        moved = False
        for p in pumps:
            moved = p.pump() or moved
        for s in sim.nodes:
            moved = sim.fsync(s) or moved
        if not moved:
            return


def test_diff_snap_and_broadcast_through_the_shells():
    sim = Sim(3)
    hist = [z(1, c) for c in range(1, 6)]
    sim.give(1, hist)
    sim.give(3, hist[:2])  # DIFF
    sim.auto_fsync = False
    leader, learners, pumps = wire_ensemble(sim, (3, 2))  # 2 is empty: SNAP
    flush(sim, pumps)
    assert leader.zab_state == BROADCAST
    assert leader.learners == {2: LH.SYNCED, 3: LH.SYNCED}
    assert learners[3].sync_mode == P.DIFF and learners[2].sync_mode == P.SNAP
    assert [p.zxid for p in sim.nodes[2].disk.snapshot] == hist
    for _ in range(4):
        sim.write()
    flush(sim, pumps)
    want = hist + [z(2, c) for c in range(1, 5)]
    for s in (1, 2, 3):
        assert [p.zxid for p in sim.nodes[s].db] == want, s
    assert leader.last_committed == z(2, 4)
    sim.check()


def test_snapshot_split_across_reads():
    """The SNAP packet, its stream and the next packets arrive in arbitrary pieces."""
    sim = Sim(3)
    hist = [z(1, c) for c in range(1, 4)]
    lr = Learner(2, None, WireLearnerEnv(sim.nodes[2]), accepted_epoch=0, current_epoch=0)
    sim.nodes[2].role = lr
    conn = LeaderConnection(lr, SnapshotReader)
    conn.makeConnection(StringTransport())
    wire = R.QuorumPacket.to_bytes(packet(P.LEADERINFO, z(1, 0), b"\x00\x01\x00\x00"))
    wire += R.QuorumPacket.to_bytes(packet(P.SNAP, z(1, 3)))
    wire += encode_snapshot([Proposal(x, txn_data(x, x & 0xFF)) for x in hist])
    wire += R.QuorumPacket.to_bytes(packet(P.NEWLEADER, z(1, 0), b"version=0"))
    for i in range(0, len(wire), 7):
        conn.dataReceived(wire[i : i + 7])
    assert lr.ended is None
    assert lr.sync_mode == P.SNAP and sim.nodes[2].snapshot_loaded == z(1, 3)
    assert lr.newleader_zxid == z(1, 0)
    sent = QuorumPacketReader()
    sent.feed(conn.transport.value())
    types = []
    while (p := sent.next()) is not None:
        types.append((p.type, p.zxid))
    assert types == [(P.FOLLOWERINFO, 0), (P.ACKEPOCH, 0), (P.ACK, z(1, 0))]


def test_garbage_closes_one_learner_connection_and_the_leader_serves_on():
    sim = Sim(3)
    sim.auto_fsync = True
    leader, learners, pumps = wire_ensemble(sim, (2, 3))
    flush(sim, pumps)
    assert leader.zab_state == BROADCAST
    bad = LearnerCnxAcceptor(leader).buildProtocol(None)
    bad.makeConnection(StringTransport())
    assert len(leader.handlers) == 3
    bad.dataReceived(struct.pack(">iq", 11, 0) + struct.pack(">i", -7))  # impossible buffer length
    assert bad.transport.disconnecting and len(leader.handlers) == 2
    sim.write()
    flush(sim, pumps)
    assert [p.zxid for p in sim.nodes[3].db] == [z(1, 1)]


def test_leader_sends_garbage_learner_role_ends():
    sim = Sim(3)
    lr = Learner(2, None, WireLearnerEnv(sim.nodes[2]), accepted_epoch=0, current_epoch=0)
    conn = LeaderConnection(lr, SnapshotReader)
    conn.makeConnection(StringTransport())
    conn.dataReceived(struct.pack(">iqi", 17, 0, 1 << 30))
    assert conn.transport.disconnecting and lr.ended == "the connection to the leader closed"


def test_packet_extent():
    pkt = R.QuorumPacket.to_bytes(packet(P.REQUEST, -1, b"abc", [R.Id("digest", "u:p")]))
    assert packet_extent(pkt, 0) == len(pkt)
    for cut in range(len(pkt)):
        assert packet_extent(pkt[:cut], 0) is None
    try:
        packet_extent(struct.pack(">iqi", 1, 0, -2), 0)
    except StreamError as e:
        assert "Unreasonable length" in str(e)
    else:
        raise AssertionError("a length of -2 was accepted")


def _refuse(reactor, k):
    from twisted.internet.error import ConnectionRefusedError
    from twisted.python.failure import Failure

    host, port, factory, timeout, _ = reactor.tcpClients[k]
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))


def test_connect_to_leader_retries_then_registers():
    from twisted.internet.testing import MemoryReactorClock

    from zk_twisted.quorum.quorum_port import connect_to_leader

    reactor = MemoryReactorClock()
    sim = Sim(3)
    lr = Learner(2, None, WireLearnerEnv(sim.nodes[2]), accepted_epoch=1, current_epoch=1)
    d = connect_to_leader(
        reactor,
        "127.0.0.1",
        2888,
        lambda: LeaderConnection(lr, SnapshotReader),
        timeout_s=20,
        retry_delay_s=1,
    )
    got = []
    d.addCallback(got.append)
    _refuse(reactor, 0)
    reactor.advance(1)
    assert len(reactor.tcpClients) == 2 and reactor.tcpClients[1][:2] == ("127.0.0.1", 2888)
    factory = reactor.tcpClients[1][2]
    proto = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2888))
    transport = StringTransport()
    proto.makeConnection(transport)
    assert len(got) == 1 and isinstance(got[0], LeaderConnection) and lr.leader is got[0]
    first = QuorumPacketReader()
    first.feed(transport.value())
    pkt = first.next()
    assert (pkt.type, pkt.zxid) == (P.FOLLOWERINFO, z(1, 0))


def test_connect_to_leader_gives_up_after_five_tries():
    from twisted.internet.error import ConnectError
    from twisted.internet.testing import MemoryReactorClock

    from zk_twisted.quorum.quorum_port import connect_to_leader

    reactor = MemoryReactorClock()
    lr = Learner(2, None, WireLearnerEnv(Sim(3).nodes[2]), accepted_epoch=1, current_epoch=1)
    d = connect_to_leader(
        reactor, "127.0.0.1", 2888, lambda: LeaderConnection(lr), timeout_s=100, retry_delay_s=1
    )
    failures = []
    d.addErrback(failures.append)
    for k in range(5):
        _refuse(reactor, k)
        reactor.advance(1)
    assert len(reactor.tcpClients) == 5
    assert failures and failures[0].check(ConnectError)
