"""The ZAB cores behind the quorum port's Twisted shell (network.quorum_port) over iosim
pumps: DIFF, SNAP (3.8's snapshot stream after the SNAP packet, written cooperatively with
the packets after it held back), broadcast, bad input that closes one connection only, and
Learner.connectToLeader's retries.

zabsim's nodes hold their state as a list of txns; for the SNAP stream that list becomes a
real ZKDatabase (one znode per txn under /zab, named by its zxid), so the bytes on the wire
are snapstream's and the learner rebuilds the list from the tree it loaded."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectError, ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.test import iosim

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zabsim import LeaderEnv, LearnerEnv, Sim, txn_data  # noqa: E402

from zk_twisted.network.quorum_port import LearnerAcceptorFactory, QuorumConnection, connect_to_leader  # noqa: E402
from zk_twisted.quorum import learner_handler as LH  # noqa: E402
from zk_twisted.quorum.leader import BROADCAST, Leader  # noqa: E402
from zk_twisted.quorum.learner import Learner  # noqa: E402
from zk_twisted.quorum.packets import PacketType as P  # noqa: E402
from zk_twisted.quorum.packets import QuorumPacketReader, encode_packet, make_zxid, packet  # noqa: E402
from zk_twisted.quorum.snapstream import SnapStreamLoader, serialize_snap_stream  # noqa: E402
from zk_twisted.quorum.sync_choice import Proposal  # noqa: E402
from zk_twisted.server.zkdatabase import ZKDatabase  # noqa: E402

OPEN_ACL = ((31, "world", "anyone"),)


def z(e, c):
    return make_zxid(e, c)


# ---------------------------------------------------------------------------- model <-> tree
def model_db(proposals) -> ZKDatabase:
    """A node's txn list as a database: /zab/<zxid> holds each txn's bytes."""
    db = ZKDatabase()
    tree = db.tree
    tree.create_node("/zab", b"", OPEN_ACL, 0, -1, 0, 0)
    for p in proposals:
        tree.create_node(f"/zab/{p.zxid:016x}", p.data, OPEN_ACL, 0, -1, p.zxid, 0)
    tree.last_processed_zxid = proposals[-1].zxid if proposals else 0
    return db


def model_of(db: ZKDatabase) -> list[Proposal]:
    tree = db.tree
    names = sorted(tree.nodes["/zab"].children or (), key=lambda n: int(n, 16))
    return [Proposal(int(n, 16), tree.nodes[f"/zab/{n}"].data) for n in names]


# ---------------------------------------------------------------------------- glue
class _OverConnections:
    """The send / close half of an environment whose peers are QuorumConnections."""

    def send(self, peer, pkt) -> None:
        self.node.journal.append(("send", pkt.type, pkt.zxid))
        peer.send(pkt)

    def close(self, peer) -> None:
        peer.close()


class WireLeaderEnv(_OverConnections, LeaderEnv):
    """zabsim's leader environment over real connections; also the acceptor's handler."""

    def send_snapshot(self, peer) -> None:
        peer.send_stream(serialize_snap_stream(model_db(self.node.db)))

    # the quorum port's handler
    def connected(self, conn) -> None:
        self.node.role.learner_connected(conn)

    def packet_received(self, conn, p) -> None:
        self.node.role.receive(conn, p)

    def connection_lost(self, conn, reason) -> None:
        self.node.role.learner_lost(conn)


class WireLearnerEnv(_OverConnections, LearnerEnv):
    """zabsim's learner environment over a real connection; also its handler (the part
    of LearnerRole that loads the SNAP stream before the core hears of the SNAP)."""

    def load_snapshot(self, snapshot, zxid) -> None:
        self.loaded = snapshot.db
        super().load_snapshot(model_of(snapshot.db), zxid)

    # the quorum port's handler
    def connected(self, conn) -> None:
        lr = self.node.role
        lr.leader = conn
        lr.connected()

    def packet_received(self, conn, p) -> None:
        lr = self.node.role
        if p.type != P.SNAP:
            lr.receive(p)
            return
        loader = SnapStreamLoader(ZKDatabase(), p.zxid)

        def consume(data: bytes):
            if not loader.feed(data):
                return None
            lr.receive(p, snapshot=loader)
            return loader.reader.leftover

        conn.raw_mode(consume)

    def connection_lost(self, conn, reason) -> None:
        self.node.role.connection_lost()


def learner(sim, sid, accepted_epoch=0, current_epoch=0) -> Learner:
    n = sim.nodes[sid]
    lr = Learner(
        sid, None, WireLearnerEnv(n), accepted_epoch=accepted_epoch, current_epoch=current_epoch,
        observer=n.observer,
    )  # fmt: skip
    n.role = lr
    return lr


def pump_between(server, client, clock) -> iosim.IOPump:
    return iosim.connect(
        server, iosim.makeFakeServer(server), client, iosim.makeFakeClient(client), greet=False, clock=clock
    )


def wire_ensemble(sim, followers):
    """Leader 1 and learners over iosim connections; returns (leader, {sid: learner}, pumps, ...)."""
    n1 = sim.nodes[1]
    n1.reload()
    env = WireLeaderEnv(n1)
    leader = Leader(
        1, sim.verifier, env,
        accepted_epoch=n1.disk.accepted_epoch, current_epoch=n1.disk.current_epoch,
        last_zxid=n1.disk.last_zxid(), committed_log=n1.disk.history(),
    )  # fmt: skip
    n1.role = leader
    sim.leader_sid = 1
    leader.start()
    acceptor = LearnerAcceptorFactory(env)
    clock = task.Clock()
    # send_stream's cooperative writer, stepped by the pumps' clock
    coop = task.Cooperator(scheduler=lambda f: clock.callLater(0, f))
    learners, pumps = {}, []
    for sid in followers:
        n = sim.nodes[sid]
        n.reload()
        lr = learner(sim, sid, n.disk.accepted_epoch, n.disk.current_epoch)
        learners[sid] = lr
        server = acceptor.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2888))
        server.cooperate = coop.cooperate
        client = QuorumConnection(lr.env)
        pumps.append(pump_between(server, client, clock))
    return leader, learners, pumps, acceptor, clock


def flush(sim, pumps, clock):
    for _ in range(200):
        moved = bool(clock.getDelayedCalls())
        for p in pumps:
            moved = p.pump() or moved
        for s in sim.nodes:
            moved = sim.fsync(s) or moved
        if not moved:
            return
    raise AssertionError("the pumps did not settle")


# ---------------------------------------------------------------------------- tests
def test_diff_snap_and_broadcast_through_the_shells():
    sim = Sim(3)
    hist = [z(1, c) for c in range(1, 6)]
    sim.give(1, hist)
    sim.give(3, hist[:2])  # DIFF
    sim.auto_fsync = False
    leader, learners, pumps, _, clock = wire_ensemble(sim, (3, 2))  # 2 is empty: SNAP
    flush(sim, pumps, clock)
    assert leader.zab_state == BROADCAST
    assert leader.learners == {2: LH.SYNCED, 3: LH.SYNCED}
    assert learners[3].sync_mode == P.DIFF and learners[2].sync_mode == P.SNAP
    assert [p.zxid for p in sim.nodes[2].disk.snapshot] == hist
    for _ in range(4):
        sim.write()
    flush(sim, pumps, clock)
    want = hist + [z(2, c) for c in range(1, 5)]
    for s in (1, 2, 3):
        assert [p.zxid for p in sim.nodes[s].db] == want, s
    assert leader.last_committed == z(2, 4)
    sim.check()


def test_snapshot_split_across_reads():
    """The SNAP packet, 3.8's stream and the next packets arrive in 7-byte pieces: the
    stream is loaded whole (nodes, sessions, its zxid), then the core hears SNAP, then
    NEWLEADER; what the learner answered is FOLLOWERINFO, ACKEPOCH, ACK."""
    sim = Sim(3)
    hist = [Proposal(x, txn_data(x, x & 0xFF)) for x in (z(1, c) for c in range(1, 4))]
    lr = learner(sim, 2)
    conn = QuorumConnection(lr.env)
    t = StringTransport()
    conn.makeConnection(t)
    db = model_db(hist)
    db.sessions_with_timeouts[0x55] = 30000
    wire = encode_packet(packet(P.LEADERINFO, z(1, 0), b"\x00\x01\x00\x00"))
    wire += encode_packet(packet(P.SNAP, z(1, 3)))
    wire += b"".join(serialize_snap_stream(db))
    wire += encode_packet(packet(P.NEWLEADER, z(1, 0), b"version=0"))
    for i in range(0, len(wire), 7):
        conn.dataReceived(wire[i : i + 7])
    assert lr.ended is None and not t.disconnecting
    assert lr.packets_received == 3  # LEADERINFO, SNAP, NEWLEADER
    assert lr.sync_mode == P.SNAP and sim.nodes[2].snapshot_loaded == z(1, 3)
    assert lr.newleader_zxid == z(1, 0)
    loaded = lr.env.loaded
    assert model_of(loaded) == hist and sim.nodes[2].db == hist
    assert loaded.sessions_with_timeouts == {0x55: 30000}
    assert loaded.last_processed_zxid == z(1, 3)
    sent = QuorumPacketReader().feed(t.value())
    assert [(p.type, p.zxid) for p in sent] == [(P.FOLLOWERINFO, 0), (P.ACKEPOCH, 0), (P.ACK, z(1, 0))]


def test_garbage_closes_one_learner_connection_and_the_leader_serves_on():
    sim = Sim(3)
    sim.auto_fsync = True
    leader, learners, pumps, acceptor, clock = wire_ensemble(sim, (2, 3))
    flush(sim, pumps, clock)
    assert leader.zab_state == BROADCAST
    bad = acceptor.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2888))
    rogue = QuorumConnection(_Silent())
    bad_pump = pump_between(bad, rogue, clock)
    assert len(leader.handlers) == 3
    rogue.transport.write(struct.pack(">iq", 11, 0) + struct.pack(">i", -7))  # impossible buffer length
    flush(sim, [bad_pump], clock)
    assert bad.closed and bad_pump.serverIO.disconnected and len(leader.handlers) == 2
    sim.write()
    flush(sim, pumps, clock)
    assert [p.zxid for p in sim.nodes[3].db] == [z(1, 1)]
    assert all(lr.ended is None for lr in learners.values())


class _Silent:
    """A handler that only records: the far end of a rogue connection."""

    def __init__(self) -> None:
        self.lost = []

    def connected(self, conn) -> None:
        pass

    def packet_received(self, conn, p) -> None:
        pass

    def connection_lost(self, conn, reason) -> None:
        self.lost.append(reason)


def test_leader_sends_garbage_learner_role_ends():
    sim = Sim(3)
    lr = learner(sim, 2)
    conn = QuorumConnection(lr.env)
    rogue_end = _Silent()
    rogue = QuorumConnection(rogue_end)
    pump = pump_between(rogue, conn, task.Clock())
    pump.flush()
    rogue.transport.write(struct.pack(">iqi", 17, 0, 1 << 30))
    pump.flush()
    assert conn.closed and pump.clientIO.disconnected
    assert lr.ended == "the connection to the leader closed" and rogue_end.lost


# ---------------------------------------------------------------------------- connectToLeader
def _refuse(reactor, k):
    host, port, factory, timeout, _ = reactor.tcpClients[k]
    factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))


def test_connect_to_leader_retries_then_registers():
    reactor = MemoryReactorClock()
    sim = Sim(3)
    lr = learner(sim, 2, accepted_epoch=1, current_epoch=1)
    d = connect_to_leader(reactor, "127.0.0.1", 2888, lr.env, timeout=20)
    got = []
    d.addCallback(got.append)
    _refuse(reactor, 0)
    assert len(reactor.tcpClients) == 1  # the next try waits out the pause
    reactor.advance(0.05)
    assert len(reactor.tcpClients) == 1
    reactor.advance(0.05)  # 3.8's leaderConnectDelayDuringRetryMs: 100 ms
    assert len(reactor.tcpClients) == 2 and reactor.tcpClients[1][:2] == ("127.0.0.1", 2888)
    assert reactor.tcpClients[1][3] == 20
    factory = reactor.tcpClients[1][2]
    proto = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 2888))
    transport = StringTransport()
    proto.makeConnection(transport)
    assert len(got) == 1 and isinstance(got[0], QuorumConnection) and lr.leader is got[0]
    (pkt,) = QuorumPacketReader().feed(transport.value())
    assert (pkt.type, pkt.zxid) == (P.FOLLOWERINFO, z(1, 0))


def test_connect_to_leader_gives_up_after_five_tries():
    reactor = MemoryReactorClock()
    lr = learner(Sim(3), 2, accepted_epoch=1, current_epoch=1)
    d = connect_to_leader(reactor, "127.0.0.1", 2888, lr.env, timeout=100)
    failures = []
    d.addErrback(failures.append)
    for k in range(5):
        _refuse(reactor, k)
        reactor.advance(1)
    reactor.advance(10)
    assert len(reactor.tcpClients) == 5
    assert failures and failures[0].check(ConnectError)
