"""Unit tests of the ensemble's request chains (zk_twisted/quorum/zkservers.py).

The chains are driven in-process with the real ZooKeeperServer pieces (Prep, Final,
DataTree, sessions).  What joins them here is a few lines of test wiring standing in for
the ZAB cores and the quorum port: PROPOSALs handed straight to the learners, ACKs counted,
COMMIT once a majority ACKed.  The point is each chain's contract: the leader answers at
commit, never at its own fsync; a learner forwards writes, answers its clients in session
order at COMMIT, and applies what other members' clients wrote.
"""

from __future__ import annotations

import struct
from collections import deque

import pytest
from corefakes import OPEN_ACL, FakeCnxn
from twisted.internet.task import Clock

from zk_twisted.constants import Code, OpCode
from zk_twisted.jute import records as R
from zk_twisted.quorum.zkservers import (
    LeaderZooKeeperServer,
    LearnerZooKeeperServer,
)
from zk_twisted.server.datatree import DataTree
from zk_twisted.server.sessions import generate_passwd
from zk_twisted.server.zkdatabase import ZKDatabase
from zk_twisted.server.zkserver import ServerSettings


class HeldSync:
    """A Sync stage that keeps txns until the test says they are durable."""

    def __init__(self, zks) -> None:
        self.zks = zks
        self.queue: deque = deque()

    def process(self, req) -> None:
        self.queue.append(req)

    def flush(self) -> None:
        batch = list(self.queue)
        self.queue.clear()
        if batch:
            self.zks.commit(batch)

    def shutdown(self) -> None:
        return None


class Wiring:
    """Leader + learners joined by hand: the test decides when each member's disk is done."""

    def __init__(self, n_followers: int = 2, observer: bool = False) -> None:
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.leader = LeaderZooKeeperServer(
            ServerSettings(session_server_id=1), ZKDatabase(DataTree()), self.clock, HeldSync, self
        )
        self.leader.start_epoch(1)
        self.learners = []
        for i in range(n_followers):
            zks = LearnerZooKeeperServer(
                ServerSettings(session_server_id=2 + i), ZKDatabase(DataTree()), self.clock, HeldSync
            )
            zks.link = _Link(self, zks)
            self.learners.append(zks)
        self.observer = None
        if observer:
            self.observer = LearnerZooKeeperServer(
                ServerSettings(session_server_id=9), ZKDatabase(DataTree()), self.clock, HeldSync
            )
            self.observer.link = _Link(self, self.observer)
        self.acks: dict[int, set] = {}
        self.voters = 1 + n_followers
        self.committed: list[int] = []
        self.txns: dict[int, tuple] = {}

    # Broadcaster
    def propose(self, zxid: int, data: bytes, request=None) -> None:
        self.txns[zxid] = data
        self.acks[zxid] = set()
        self.leader.log_proposed(zxid)
        for zks in [*self.learners, *([self.observer] if self.observer else [])]:
            zks.log_proposal(data)

    def logged(self, zxid: int) -> None:
        for z in sorted(self.acks):
            if z <= zxid:
                self.ack("leader", z)

    def ack(self, who, zxid: int) -> None:
        acks = self.acks.get(zxid)
        if acks is None:
            return
        acks.add(who)
        # in zxid order: a proposal commits once it and all before it have a majority
        ready = []
        for z in sorted(self.acks):
            if len(self.acks[z]) * 2 > self.voters:
                ready.append(z)
            else:
                break
        for z in ready:
            del self.acks[z]
        if ready:
            self.committed += ready
            self.leader.committed(ready)
            for zks in [*self.learners, *([self.observer] if self.observer else [])]:
                for z in ready:
                    zks.committed(z)

    def flush_all(self) -> None:
        for zks in [self.leader, *self.learners]:
            zks.sync.flush()
        if self.observer is not None:
            self.observer.sync.flush()


class _Link:
    def __init__(self, wiring: Wiring, zks) -> None:
        self.wiring, self.zks = wiring, zks

    def forward(self, req) -> None:
        self.wiring.leader.submit_learner_request(req.session_id, req.cxid, req.type, req.payload, req.auth_ids)

    def logged(self, zxid: int) -> None:
        if self.zks is not self.wiring.observer:  # observers never ACK
            for z in sorted(self.wiring.acks):
                if z <= zxid:
                    self.wiring.ack(self.zks, z)

    def revalidate(self, session_id, timeout, done) -> None:
        done(session_id in self.wiring.leader.sessions)


@pytest.fixture
def wiring():
    return Wiring(observer=True)


def connect(zks, timeout: int = 30000) -> FakeCnxn:
    cnxn = FakeCnxn(zks)
    zks.process_connect(cnxn, R.ConnectRequest(0, 0, timeout, 0, bytes(16)).to_bytes() + b"\x00")
    return cnxn


def session_of(cnxn: FakeCnxn) -> int:
    frames = cnxn.pop()
    assert frames, "no ConnectResponse yet"
    return R.ConnectResponse._read(frames[0], 4)[0].sessionId


def send(zks, cnxn, xid: int, op: int, record) -> None:
    zks.process_packet(cnxn, struct.pack(">ii", xid, op) + record.to_bytes())


def replies(cnxn) -> list[tuple[int, int]]:
    """(xid, err) of each reply frame written, events left out."""
    out = []
    for f in cnxn.pop():
        xid, _, err = struct.unpack_from(">iqi", f, 4)
        if xid != -1:
            out.append((xid, err))
    return out


def test_leader_answers_at_commit_not_at_its_own_fsync(wiring):
    leader = wiring.leader
    c = connect(leader)
    wiring.flush_all()  # createSession: proposed, logged everywhere, committed
    sid = session_of(c)
    assert sid >> 56 == 1
    send(leader, c, 1, OpCode.create, R.CreateRequest("/a", b"x", OPEN_ACL, 0))
    leader.sync.flush()  # the leader's own ACK only: 1 of 3
    assert replies(c) == []
    assert "/a" not in leader.db.tree.nodes
    wiring.learners[0].sync.flush()  # a majority: commit
    assert replies(c) == [(1, 0)]
    assert leader.db.tree.nodes["/a"].data == b"x"
    assert wiring.learners[0].db.tree.nodes["/a"].data == b"x"
    # a follower whose disk is slow still applies at COMMIT
    assert wiring.learners[1].db.tree.nodes["/a"].data == b"x"
    assert wiring.observer.db.tree.nodes["/a"].data == b"x"
    assert wiring.committed[-1] >> 32 == 1  # numbered in the leader's epoch


def test_follower_forwards_writes_and_answers_in_session_order(wiring):
    f = wiring.learners[0]
    c = connect(f)
    wiring.flush_all()
    sid = session_of(c)
    assert sid >> 56 == 2  # the follower's sid in the session id's top byte
    send(f, c, 1, OpCode.create, R.CreateRequest("/f", b"1", OPEN_ACL, 0))
    send(f, c, 2, OpCode.getData, R.GetDataRequest("/f", False))  # waits behind the write
    send(f, c, 3, OpCode.setData, R.SetDataRequest("/f", b"2", -1))
    send(f, c, 4, OpCode.getData, R.GetDataRequest("/f", False))
    assert replies(c) == []
    wiring.flush_all()
    got = replies(c)
    assert got == [(1, 0), (2, 0), (3, 0), (4, 0)]
    assert f.db.tree.nodes["/f"].data == b"2"
    assert wiring.learners[1].db.tree.nodes["/f"].data == b"2"


def test_reads_of_other_sessions_do_not_wait_for_the_leader(wiring):
    f = wiring.learners[0]
    a, b = connect(f), connect(f)
    wiring.flush_all()
    session_of(a), session_of(b)
    send(f, a, 1, OpCode.create, R.CreateRequest("/slow", b"", OPEN_ACL, 0))
    send(f, b, 1, OpCode.exists, R.ExistsRequest("/slow", False))
    assert replies(b) == [(1, Code.NONODE)]
    assert replies(a) == []


def test_errors_decided_by_the_leader_reach_the_follower_client(wiring):
    f = wiring.learners[1]
    c = connect(f)
    wiring.flush_all()
    session_of(c)
    send(f, c, 1, OpCode.create, R.CreateRequest("/e", b"", OPEN_ACL, 0))
    send(f, c, 2, OpCode.create, R.CreateRequest("/e", b"", OPEN_ACL, 0))
    send(f, c, 3, OpCode.delete, R.DeleteRequest("/nope", -1))
    wiring.flush_all()
    assert replies(c) == [(1, 0), (2, Code.NODEEXISTS), (3, Code.NONODE)]


def test_commit_out_of_order_is_a_protocol_error(wiring):
    f = wiring.learners[0]
    c = connect(f)
    assert f.pending_txns, "the createSession proposal is pending on the follower"
    with pytest.raises(ValueError, match="not the next pending proposal"):
        f.committed(f.pending_txns[0].hdr.zxid + 1)
    assert c.frames == []


def test_sync_on_a_follower_answers_after_the_leader_says_so(wiring):
    f = wiring.learners[0]
    c = connect(f)
    wiring.flush_all()
    session_of(c)
    send(f, c, 1, OpCode.sync, R.SyncRequest("/"))
    assert replies(c) == [] and len(f.pending_syncs) == 1
    f.synced()
    assert replies(c) == [(1, 0)]


def test_leader_sync_waits_for_what_was_proposed_before(wiring):
    leader = wiring.leader
    c = connect(leader)
    wiring.flush_all()
    session_of(c)
    other = connect(wiring.learners[0])
    wiring.flush_all()
    session_of(other)
    send(wiring.learners[0], other, 1, OpCode.create, R.CreateRequest("/p", b"", OPEN_ACL, 0))
    send(leader, c, 1, OpCode.sync, R.SyncRequest("/"))
    assert replies(c) == []
    wiring.flush_all()
    assert replies(c) == [(1, 0)]
    assert "/p" in leader.db.tree.nodes


def test_moved_session_is_revalidated_by_the_leader(wiring):
    f1, f2 = wiring.learners
    c = connect(f1)
    wiring.flush_all()
    sid = session_of(c)
    moved = FakeCnxn(f2)
    f2.process_connect(moved, R.ConnectRequest(0, 0, 30000, sid, generate_passwd(sid)).to_bytes() + b"\x00")
    rsp = R.ConnectResponse._read(moved.pop()[0], 4)[0]
    assert rsp.sessionId == sid and rsp.timeOut == 30000
    bogus = FakeCnxn(f2)
    f2.process_connect(bogus, R.ConnectRequest(0, 0, 30000, sid + 77, bytes(16)).to_bytes() + b"\x00")
    assert R.ConnectResponse._read(bogus.pop()[0], 4)[0].sessionId == 0


def test_learner_reports_touched_sessions_and_never_expires_them(wiring):
    f = wiring.learners[0]
    c = connect(f)
    wiring.flush_all()
    sid = session_of(c)
    f.sessions.take_touches()
    send(f, c, 1, OpCode.exists, R.ExistsRequest("/", False))
    assert f.sessions.take_touches() == {sid: 30000}
    assert f.sessions.take_touches() == {}
    wiring.clock.advance(3600)
    assert f.sessions.expire_due(f.now_ms()) == []
