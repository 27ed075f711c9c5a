"""An in-memory ensemble for the ZAB cores: one Leader core, Learner cores, a packet pump.

Test harness only.  Storage is an in-memory model of what the cores need (a durable txn
log with an explicit fsync step, a snapshot, the two epoch files, the applied database):
the persistence layer has no TRUNC (ZKDatabase.truncateLog) and the SNAP stream codec is
the quorum-wire branch's, so real files would need both.  Every packet crosses the pump as
bytes (QuorumPacket.to_bytes / from_bytes), so the jute encoding is exercised too.

Every event is chosen by the caller: deliver the head of link a -> b, fsync node n, a half
tick at node n, a client write, a crash (volatile state lost, links cut).  ``run()`` drives
the events round-robin until nothing is left; ``step(rng)`` picks one enabled event at
random (hypothesis chooses the seed).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from zope.interface import implementer

from zk_twisted.constants import OpCode
from zk_twisted.interfaces import ILeaderEnvironment, ILearnerEnvironment
from zk_twisted.jute import records as R
from zk_twisted.quorum.leader import Leader
from zk_twisted.quorum.learner import Learner
from zk_twisted.quorum.packets import PacketType, epoch_of
from zk_twisted.quorum.sync_choice import Proposal
from zk_twisted.quorum.verifier import QuorumMaj
from zk_twisted.server.txn import decode_txn, encode_txn

SNAPSHOT = "SNAPSHOT"  # a pseudo-packet on a link: the SNAP stream


def txn_data(zxid: int, value: int) -> bytes:
    """A setData txn as Util.marshallTxnEntry writes it, carrying ``value``."""
    hdr = R.TxnHeader(0x1234, value, zxid, 1000 + value, OpCode.setData)
    return encode_txn(hdr, R.SetDataTxn("/v", b"%d" % value, value))


def txn_value(data: bytes) -> int:
    hdr, txn, _ = decode_txn(data)
    return int(txn.data)


@dataclass
class Disk:
    """What survives a crash: the log (durable part), the snapshot, the epoch files."""

    snapshot: list = field(default_factory=list)  # [Proposal] the snapshot holds
    snapshot_zxid: int = 0  # its name: the db's lastProcessedZxid when taken (a SNAP's zxid)
    log: list = field(default_factory=list)  # [Proposal] after the snapshot
    accepted_epoch: int = 0
    current_epoch: int = 0

    def history(self) -> list[Proposal]:
        """What a restore rebuilds: the snapshot, then the logged txns after its zxid."""
        base = self.snapshot_zxid
        return list(self.snapshot) + [p for p in self.log if p.zxid > base]

    def last_zxid(self) -> int:
        """QuorumPeer.getLastLoggedZxid after a restore: the db's lastProcessedZxid."""
        h = self.history()
        return max(self.snapshot_zxid, h[-1].zxid if h else 0)


class Node:
    """One server: its disk, its in-memory database, the role core it runs now."""

    def __init__(self, sim: Sim, sid: int, observer: bool = False) -> None:
        self.sim = sim
        self.sid = sid
        self.observer = observer
        self.disk = Disk()
        self.pending_log: list[Proposal] = []  # appended, not yet fsync'd
        self.db: list[Proposal] = []  # applied txns, in order
        self.db_zxid = 0  # the db's lastProcessedZxid
        self.role = None
        self.role_ends: list[str] = []
        self.serving_epoch: int | None = None
        self.commits: list[int] = []  # zxids this node applied through env.commit
        self.snapshot_loaded = None
        self.touched: list[tuple[int, int]] = []
        self.requests: list = []
        self.syncs_done = 0
        self.truncations: list[int] = []
        #: what this node did, in order: ("durable", zxid), ("currentEpoch", e), ("send", type, zxid), ...
        self.journal: list[tuple] = []
        self.sent_to: list[tuple] = []  # (peer, type, zxid)

    # the fast-forward 3.8's ZooKeeperServer.shutdown does: the db catches up with the log
    def reload(self) -> None:
        self.db = self.disk.history()
        self.db_zxid = max(self.disk.snapshot_zxid, self.db[-1].zxid if self.db else 0)

    @property
    def last_applied(self) -> int:
        return self.db[-1].zxid if self.db else 0


class _Env:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.sim = node.sim

    def send(self, peer, packet) -> None:
        self.node.journal.append(("send", packet.type, packet.zxid))
        self.node.sent_to.append((peer, packet.type, packet.zxid))
        self.sim.enqueue(self.node.sid, peer, R.QuorumPacket.to_bytes(packet))

    def close(self, peer) -> None:
        self.sim.disconnect(self.node.sid, peer)

    def role_ended(self, reason) -> None:
        self.node.role_ends.append(reason)
        self.node.serving_epoch = None

    def log(self, entries) -> None:
        for zxid, data in entries:
            self.node.pending_log.append(Proposal(zxid, data))
        if self.sim.auto_fsync:
            self.sim.fsync(self.node.sid)

    def commit(self, zxid, data, request) -> None:
        n = self.node
        if isinstance(n.role, Learner):
            # ZOOKEEPER-2355: a learner records a commit only once it is applied
            assert n.role.last_committed < zxid, f"node {n.sid} recorded 0x{zxid:x} before applying it"
        if n.db and zxid <= n.db[-1].zxid:
            raise AssertionError(f"node {n.sid} applies 0x{zxid:x} after 0x{n.db[-1].zxid:x}")
        n.db.append(Proposal(zxid, data))
        n.db_zxid = zxid
        n.commits.append(zxid)
        self.sim.record_commit(n.sid, zxid, data)

    def write_accepted_epoch(self, epoch) -> None:
        self.node.journal.append(("acceptedEpoch", epoch))
        self.node.disk.accepted_epoch = epoch

    def write_current_epoch(self, epoch) -> None:
        self.node.journal.append(("currentEpoch", epoch))
        self.node.disk.current_epoch = epoch

    def serving(self, epoch) -> None:
        self.node.serving_epoch = epoch


@implementer(ILeaderEnvironment)
class LeaderEnv(_Env):
    def send_snapshot(self, peer) -> None:
        self.sim.links[(self.node.sid, peer)].append((SNAPSHOT, list(self.node.db)))

    def submit_learner_request(self, peer, sid, session_id, cxid, op, body, authinfo) -> None:
        self.node.requests.append((peer, sid, session_id, cxid, op, body))

    def touch(self, session_id, timeout) -> None:
        self.node.touched.append((session_id, timeout))

    def revalidate_session(self, sid, session_id, timeout) -> bool:
        return session_id % 2 == 0


@implementer(ILearnerEnvironment)
class LearnerEnv(_Env):
    def last_logged_zxid(self) -> int:
        n = self.node
        return n.pending_log[-1].zxid if n.pending_log else n.disk.last_zxid()

    def truncate_log(self, zxid) -> bool:
        """Drop logged txns after ``zxid`` and snapshots named after it; possible only if
        what is left rebuilds the state at ``zxid`` (a snapshot holding no later txn)."""
        n = self.node
        n.truncations.append(zxid)
        n.sim.fsync(n.sid, notify=False)
        d = n.disk
        if d.snapshot_zxid > zxid:
            if any(p.zxid > zxid for p in d.snapshot):
                return False
            # the snapshot named after zxid goes; the older one it equals in content stays
            d.snapshot_zxid = d.snapshot[-1].zxid if d.snapshot else 0
        d.log = [p for p in d.log if p.zxid <= zxid]
        n.reload()
        return True

    def load_snapshot(self, snapshot, zxid) -> None:
        n = self.node
        n.db = list(snapshot)
        n.snapshot_loaded = n.db_zxid = zxid  # ZKDatabase.setlastProcessedZxid(SNAP zxid)

    def save_snapshot(self) -> None:
        n = self.node
        n.journal.append(("snapshot", n.db[-1].zxid if n.db else 0))
        n.disk.snapshot = list(n.db)
        n.disk.snapshot_zxid = max(n.db_zxid, n.db[-1].zxid if n.db else 0)

    def touches(self):
        return [(self.node.sid * 100 + 2, 4000)]

    def sync_done(self) -> None:
        self.node.syncs_done += 1

    def revalidated(self, session_id, valid) -> None:
        self.node.requests.append(("revalidated", session_id, valid))


class Sim:
    """N nodes; links are FIFO queues of encoded packets (and SNAP streams)."""

    def __init__(self, n: int = 3, observers: int = 0, init_limit: int = 10, sync_limit: int = 5) -> None:
        self.nodes = {sid: Node(self, sid) for sid in range(1, n + 1)}
        for k in range(observers):
            sid = n + 1 + k
            self.nodes[sid] = Node(self, sid, observer=True)
        voters = {s: None for s, nd in self.nodes.items() if not nd.observer}
        obs = {s: None for s, nd in self.nodes.items() if nd.observer}
        self.verifier = QuorumMaj(voters, obs)
        self.links: dict[tuple[int, int], deque] = {}
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.auto_fsync = True
        self.leader_sid: int | None = None
        self.writes = 0
        #: zxid -> data of every txn any node applied (must agree)
        self.committed: dict[int, bytes] = {}
        self.trace: list[str] = []

    # ------------------------------------------------------------------ set-up
    def give(self, sid: int, zxids, accepted=None, current=None) -> None:
        """Put txns in a node's durable log (and its epochs), as if it ran before."""
        d = self.nodes[sid].disk
        d.log = [Proposal(z, txn_data(z, z & 0xFFFF)) for z in zxids]
        top = epoch_of(zxids[-1]) if zxids else 0
        d.accepted_epoch = top if accepted is None else accepted
        d.current_epoch = top if current is None else current
        self.nodes[sid].reload()

    def lead(self, sid: int, **kw) -> Leader:
        n = self.nodes[sid]
        self.fsync(sid, notify=False)  # a role that ends flushes its log (SyncRequestProcessor.shutdown)
        n.reload()
        hist = n.disk.history()
        leader = Leader(
            sid,
            self.verifier,
            LeaderEnv(n),
            accepted_epoch=n.disk.accepted_epoch,
            current_epoch=n.disk.current_epoch,
            last_zxid=n.disk.last_zxid(),
            committed_log=hist[-501:],
            init_limit=self.init_limit,
            sync_limit=self.sync_limit,
            **kw,
        )
        n.role = leader
        self.leader_sid = sid
        leader.start()
        return leader

    def follow(self, sid: int, leader_sid: int | None = None) -> Learner:
        leader_sid = self.leader_sid if leader_sid is None else leader_sid
        n = self.nodes[sid]
        self.fsync(sid, notify=False)
        n.reload()
        learner = Learner(
            sid,
            leader_sid,
            LearnerEnv(n),
            observer=n.observer,
            accepted_epoch=n.disk.accepted_epoch,
            current_epoch=n.disk.current_epoch,
            init_limit=self.init_limit,
            sync_limit=self.sync_limit,
        )
        n.role = learner
        self.links[(sid, leader_sid)] = deque()
        self.links[(leader_sid, sid)] = deque()
        self.nodes[leader_sid].role.learner_connected(sid)
        learner.connected()
        return learner

    @property
    def leader(self) -> Leader:
        return self.nodes[self.leader_sid].role

    # ------------------------------------------------------------------ network
    def enqueue(self, src: int, dst: int, data) -> None:
        q = self.links.get((src, dst))
        if q is not None:
            q.append(data)

    def disconnect(self, a: int, b: int) -> None:
        """Both ends see the connection close (the one that closed it already knows)."""
        for key in ((a, b), (b, a)):
            self.links.pop(key, None)
        for x, y in ((a, b), (b, a)):
            self._lost(x, y)

    def _lost(self, x: int, y: int) -> None:
        """Node x hears that its connection to y closed."""
        role = self.nodes[x].role
        if role is None or role.ended is not None:
            return
        if isinstance(role, Leader):
            role.learner_lost(y)
        elif role.leader == y:
            role.connection_lost()

    def deliver(self, src: int, dst: int) -> bool:
        q = self.links.get((src, dst))
        if not q:
            return False
        item = q.popleft()
        role = self.nodes[dst].role
        if isinstance(item, tuple):
            raise AssertionError("a SNAP stream not right after its SNAP packet")
        pkt = R.QuorumPacket.from_bytes(item)
        self.trace.append(f"{src}->{dst} {pkt.type} 0x{pkt.zxid:x}")
        if role is None or role.ended is not None:
            return True
        if isinstance(role, Leader):
            role.receive(src, pkt)
        else:
            snapshot = None
            if pkt.type == PacketType.SNAP:
                kind, snapshot = q.popleft()
                assert kind == SNAPSHOT
            role.receive(pkt, snapshot)
        return True

    def fsync(self, sid: int, notify: bool = True) -> bool:
        n = self.nodes[sid]
        if not n.pending_log:
            return False
        last = n.pending_log[-1].zxid
        n.disk.log.extend(n.pending_log)
        n.journal.append(("durable", last))
        n.pending_log = []
        if notify and n.role is not None:
            n.role.logged(last)
        return True

    def half_tick(self, sid: int) -> None:
        if self.nodes[sid].role is not None:
            self.nodes[sid].role.half_tick()

    def crash(self, sid: int) -> None:
        """kill -9: what was not fsync'd is gone, the links close at the other ends."""
        n = self.nodes[sid]
        n.pending_log = []
        role, n.role = n.role, None
        if role is not None and role.ended is None:
            role.ended = "crashed"
        for a, b in list(self.links):
            if sid in (a, b):
                self.links.pop((a, b), None)
                self._lost(b if a == sid else a, sid)
        n.reload()

    # ------------------------------------------------------------------ clients
    def write(self) -> int:
        """A client write at the leader: the next zxid of its epoch."""
        leader = self.leader
        self.writes += 1
        zxid = leader.last_proposed + 1
        leader.propose(zxid, txn_data(zxid, self.writes), request=("client", self.writes))
        return zxid

    def record_commit(self, sid: int, zxid: int, data: bytes) -> None:
        old = self.committed.setdefault(zxid, data)
        if old != data:
            raise AssertionError(f"0x{zxid:x} committed with two different txns")

    # ------------------------------------------------------------------ driving
    def enabled(self) -> list[tuple]:
        ev = [("deliver", a, b) for (a, b), q in self.links.items() if q]
        ev += [("fsync", s) for s, n in self.nodes.items() if n.pending_log]
        return ev

    def run(self, limit: int = 100000) -> int:
        """Deliver and fsync round-robin until nothing is in flight."""
        steps = 0
        while steps < limit:
            progressed = False
            for key in list(self.links):
                while self.deliver(*key):
                    progressed = True
                    steps += 1
            for sid in self.nodes:
                if self.fsync(sid):
                    progressed = True
            if not progressed:
                return steps
        raise AssertionError("the pump did not settle")

    def step(self, rng) -> bool:
        ev = self.enabled()
        if not ev:
            return False
        e = rng.choice(ev)
        if e[0] == "deliver":
            self.deliver(e[1], e[2])
        else:
            self.fsync(e[1])
        return True

    def half_ticks(self, k: int, sids=None) -> None:
        for _ in range(k):
            for sid in sids or list(self.nodes):
                self.half_tick(sid)
            self.run()

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """The invariants that hold after every step."""
        committed_by_leader = [z for z in self.committed]
        for z in committed_by_leader:
            holders = {
                s
                for s, n in self.nodes.items()
                if not n.observer and any(p.zxid == z for p in n.disk.history())
            }
            assert self.verifier.contains_quorum(holders), f"0x{z:x} committed but durable only at {holders}"
        for s, n in self.nodes.items():
            zs = [p.zxid for p in n.db]
            assert zs == sorted(set(zs)), f"node {s} applied out of order: {[hex(z) for z in zs]}"
            for p in n.db:
                if p.zxid in self.committed and s != self.leader_sid:
                    assert self.committed[p.zxid] == p.data


# ---------------------------------------------------------------------------- schedules
def live_leader(sim: Sim) -> Leader | None:
    n = sim.nodes.get(sim.leader_sid) if sim.leader_sid else None
    role = n.role if n else None
    return role if isinstance(role, Leader) and role.ended is None else None


def elect(sim: Sim, leader_sid: int) -> None:
    """The oracle (spec OracleLead / OracleFollow): ``leader_sid`` leads, every other
    running node follows it; the roles running until now end."""
    for n in sim.nodes.values():
        if n.role is not None and n.role.ended is None:
            n.role.ended = "new election"
    sim.links.clear()
    sim.lead(leader_sid)
    for sid in sim.nodes:
        if sid != leader_sid and sim.nodes[sid].up:
            sim.follow(sid)


def most_recent(sim: Sim, sids) -> int:
    """The node FastLeaderElection would pick: highest (currentEpoch, last zxid, sid)."""
    return max(sids, key=lambda s: (sim.nodes[s].disk.current_epoch, sim.nodes[s].disk.last_zxid(), s))


def settle(sim: Sim) -> None:
    """Run until the most recent node leads every running node in BROADCAST."""
    for _ in range(5):
        sim.run()
        if live_leader(sim) and all(
            n.role is not None and n.role.ended is None and n.role.zab_state == "BROADCAST"
            for n in sim.nodes.values()
            if n.up
        ):
            return
        elect(sim, most_recent(sim, [s for s, n in sim.nodes.items() if n.up]))
    raise AssertionError("no stable leader")


#: event kinds, repeated by weight; "elect" replaces a leader only when it is not serving
EVENTS = ("deliver",) * 8 + ("fsync",) * 3 + ("write",) * 3 + ("tick", "crash", "crash", "elect")


def run_schedule(n: int, choose, steps: int, max_crashes: int = 2) -> Sim:
    """One schedule: ``choose(options, label)`` picks every event (hypothesis or a Random).

    Invariants are checked after every step (Sim.check); then faults stop, every node
    restarts, the most recent leads, and the histories must be equal and hold every txn
    any node committed; one more write must reach everyone.
    """
    from zk_twisted.quorum.packets import make_zxid

    sim = Sim(n, init_limit=4, sync_limit=2)
    for nd in sim.nodes.values():
        nd.up = True
    sim.auto_fsync = False
    if choose([False, True], "recovery state"):
        # spec's ZabRecoverySpec: epoch 1 committed x everywhere, r also logged a (never committed)
        r = choose(sorted(sim.nodes), "r")
        for s in sim.nodes:
            sim.give(s, [make_zxid(1, 1), make_zxid(1, 2)] if s == r else [make_zxid(1, 1)])
    crashes = 0
    elect(sim, choose(sorted(sim.nodes), "first leader"))
    for _ in range(steps):
        kind = choose(EVENTS, "event")
        if kind == "deliver":
            links = sorted(k for k, q in sim.links.items() if q)
            if links:
                sim.deliver(*choose(links, "link"))
        elif kind == "fsync":
            pend = [s for s, nd in sim.nodes.items() if nd.pending_log]
            if pend:
                sim.fsync(choose(pend, "fsync node"))
        elif kind == "write":
            leader = live_leader(sim)
            if leader is not None and leader.zab_state == "BROADCAST":
                sim.write()
        elif kind == "tick":
            sim.half_tick(choose(sorted(sim.nodes), "tick node"))
        elif kind == "crash" and crashes < max_crashes:
            victim = choose(sorted(sim.nodes), "crash node")
            if sim.nodes[victim].up:
                crashes += 1
                sim.crash(victim)
                sim.nodes[victim].up = choose([True, False], "restarts")
        elif kind == "elect" and not (live_leader(sim) and live_leader(sim).zab_state == "BROADCAST"):
            up = [s for s, nd in sim.nodes.items() if nd.up]
            elect(sim, choose(up, "oracle leader"))
        sim.check()
    for nd in sim.nodes.values():
        nd.up = True
    settle(sim)
    sim.check()
    histories = {s: [p.zxid for p in nd.disk.history()] for s, nd in sim.nodes.items()}
    first = histories[sim.leader_sid]
    assert all(h == first for h in histories.values()), histories
    assert set(sim.committed) <= set(first), "a committed txn was lost"
    leader = live_leader(sim)
    zx = sim.write()
    sim.run()
    assert all(nd.db[-1].zxid == zx for nd in sim.nodes.values())
    assert leader.last_committed == zx
    return sim
