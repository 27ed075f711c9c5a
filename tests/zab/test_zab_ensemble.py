"""The ZAB cores together: one Leader, Learners, an in-memory pump (tests/zab/zabsim.py)."""

from __future__ import annotations

import sys
from collections import deque
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zabsim import Sim, txn_data  # noqa: E402

from zk_twisted.jute import records as R  # noqa: E402
from zk_twisted.quorum import learner as LR  # noqa: E402
from zk_twisted.quorum import learner_handler as LH  # noqa: E402
from zk_twisted.quorum.leader import BROADCAST, XidRolloverError  # noqa: E402
from zk_twisted.quorum.packets import PacketType as P  # noqa: E402
from zk_twisted.quorum.packets import make_zxid, packet  # noqa: E402


def z(e, c):
    return make_zxid(e, c)


def zxids(node):
    return [p.zxid for p in node.db]


def sent(node, ptype):
    return [j[2] for j in node.journal if j[0] == "send" and j[1] == ptype]


def sent_to(node, peer, ptype):
    return [zx for p, t, zx in node.sent_to if p == peer and t == ptype]


def start(sim, leader=1, followers=(2, 3)):
    sim.lead(leader)
    for f in followers:
        sim.follow(f)
    sim.run()
    return sim.leader


def test_fresh_ensemble_establishes_and_commits_pipelined_writes():
    sim = Sim(3)
    leader = start(sim)
    assert leader.zab_state == BROADCAST and leader.epoch == 1
    assert leader.learners == {2: LH.SYNCED, 3: LH.SYNCED}
    for s in (1, 2, 3):
        d = sim.nodes[s].disk
        assert (d.accepted_epoch, d.current_epoch) == (1, 1)
        assert sim.nodes[s].serving_epoch == 1
    for s in (2, 3):
        f = sim.nodes[s].role
        assert (f.zab_state, f.sync_stage, f.sync_mode) == (LR.BROADCAST, LR.NONE, P.DIFF)
    sim.auto_fsync = False
    written = [sim.write() for _ in range(5)]
    assert written == [z(1, c) for c in range(1, 6)]
    assert leader.proposal_acks == set()  # nothing is ACKed before an fsync
    sim.run()
    for s in (1, 2, 3):
        assert zxids(sim.nodes[s]) == written
    assert leader.last_committed == z(1, 5) and not leader.outstanding
    sim.check()


def test_followerinfo_and_ackepoch_bytes_are_3_8s():
    """The captured 3.8 bytes (QUORUM_NOTES section 3) for sid 2 with acceptedEpoch 1."""
    sim = Sim(3)
    sim.give(2, [z(1, 10)])
    sim.give(1, [z(1, 10)])
    sim.lead(1)
    sim.follow(2)
    wire = sim.links[(2, 1)][0]
    assert wire.hex() == "0000000b0000000100000000000000140000000000000002000100000000000000000000ffffffff"
    sim.deliver(2, 1)
    info = R.QuorumPacket.from_bytes(sim.links[(1, 2)][0])
    assert (info.type, info.zxid, info.data) == (P.LEADERINFO, z(2, 0), b"\x00\x01\x00\x00")
    sim.deliver(1, 2)
    ack = sim.links[(2, 1)][0]
    # ACKEPOCH: zxid = last logged, data = the currentEpoch it had (1)
    assert ack.hex() == "00000012000000010000000a0000000400000001ffffffff"


def test_epoch_is_one_more_than_the_highest_accepted_epoch():
    sim = Sim(3)
    sim.give(1, [z(1, 1)], accepted=1, current=1)
    sim.give(2, [z(1, 1)], accepted=4, current=1)
    leader = start(sim)
    assert leader.epoch == 5 and sim.nodes[3].disk.current_epoch == 5
    # a learner that accepted the epoch already ACKs it with -1 and is not counted twice
    assert sim.nodes[2].disk.accepted_epoch == 5


def test_sync_by_diff_and_the_follower_order():
    """DIFF + pairs; on NEWLEADER the follower makes the synced txns durable, then writes
    currentEpoch, then ACKs NEWLEADER (3.8's order is the reverse)."""
    sim = Sim(3)
    full = [z(1, c) for c in range(1, 6)]
    sim.give(1, full)
    sim.give(3, full)
    sim.give(2, full[:3])
    sim.lead(1)
    sim.follow(3)
    sim.run()
    sim.auto_fsync = False
    f = sim.follow(2)
    sim.run()  # fsyncs too: run with explicit steps instead
    n2 = sim.nodes[2]
    assert f.sync_mode == P.DIFF
    assert zxids(n2) == full
    i_durable = n2.journal.index(("durable", z(1, 5)))
    i_epoch = n2.journal.index(("currentEpoch", 2))
    i_ack = n2.journal.index(("send", P.ACK, z(2, 0)))
    assert i_durable < i_epoch < i_ack
    assert sim.leader.handlers[2].sync_kind == P.DIFF


def test_newleader_ack_waits_for_the_fsync():
    sim = Sim(3)
    full = [z(1, c) for c in range(1, 6)]
    for s in (1, 3):
        sim.give(s, full)
    sim.give(2, full[:2])
    sim.lead(1)
    sim.follow(3)
    sim.run()
    sim.auto_fsync = False
    f = sim.follow(2)
    for _ in range(3):  # FOLLOWERINFO, LEADERINFO, ACKEPOCH
        sim.deliver(2, 1)
        sim.deliver(1, 2)
    while sim.deliver(1, 2):
        pass
    assert f.newleader_zxid == z(2, 0) and f.sync_stage == LR.SYNCING
    assert sent(sim.nodes[2], P.ACK) == [] and sim.nodes[2].disk.current_epoch == 1
    assert [p.zxid for p in sim.nodes[2].pending_log] == full[2:]
    sim.fsync(2)
    assert sent(sim.nodes[2], P.ACK)[0] == z(2, 0) and sim.nodes[2].disk.current_epoch == 2
    assert f.sync_stage == LR.NEWLEADER_ACKED
    sim.run()
    assert f.zab_state == LR.BROADCAST and zxids(sim.nodes[2]) == full


def test_sync_by_trunc():
    """A follower holding a txn the new leader never had is truncated (0x...4 -> TRUNC 0x...3)."""
    sim = Sim(3)
    common = [z(1, c) for c in range(1, 4)]
    sim.give(1, common)
    sim.give(3, common)
    sim.give(2, common + [z(1, 4)])
    sim.lead(1)
    sim.follow(3)
    sim.run()  # established with 3: 2 is more recent and would be refused before that
    f = sim.follow(2)
    sim.run()
    n2 = sim.nodes[2]
    assert f.sync_mode == P.TRUNC and n2.truncations == [z(1, 3)]
    assert [p.zxid for p in n2.disk.history()] == common
    zx = sim.write()
    sim.run()
    assert zxids(n2) == common + [zx] and zx == z(2, 1)
    sim.check()


def test_more_recent_learner_refused_before_the_epoch_ack_quorum():
    sim = Sim(3)
    sim.give(1, [z(1, 1)])
    sim.give(2, [z(1, 1), z(1, 2)])
    sim.lead(1)
    sim.follow(2)
    sim.run()
    assert 2 not in sim.leader.learners and sim.nodes[2].role.ended
    assert sim.leader.zab_state != BROADCAST


def test_sync_by_snap_for_a_wiped_follower():
    sim = Sim(3)
    full = [z(1, c) for c in range(1, 6)]
    sim.give(1, full)
    sim.give(3, full)
    leader = start(sim, followers=(3,))
    f = sim.follow(2)
    sim.run()
    n2 = sim.nodes[2]
    assert f.sync_mode == P.SNAP and leader.handlers[2].sync_kind == P.SNAP
    # 3.8 sends the db's lastProcessedZxid, <<epoch, 0>> right after establishment
    assert n2.snapshot_loaded == z(2, 0)
    assert [p.zxid for p in n2.disk.snapshot] == full
    assert n2.journal.index(("snapshot", z(1, 5))) < n2.journal.index(("currentEpoch", 2))
    sim.write()
    sim.run()
    assert zxids(n2) == full + [z(2, 1)]


def test_sync_across_an_epoch_by_snap():
    """A follower whose last txn is from an older epoch the leader never had: SNAP
    (3.8 may not TRUNC across an epoch; captured: 0x100000015 -> SNAP)."""
    sim = Sim(3)
    hist = [z(1, 1), z(1, 2), z(2, 1), z(2, 2)]
    sim.give(1, hist)
    sim.give(3, hist)
    sim.give(2, [z(1, 1), z(1, 2), z(1, 3)], current=1, accepted=1)
    start(sim)
    n2 = sim.nodes[2]
    assert n2.role.sync_mode == P.SNAP
    assert [p.zxid for p in n2.disk.history()] == hist
    sim.write()
    sim.run()
    assert zxids(n2) == hist + [z(3, 1)]
    sim.check()


def test_behind_the_committed_log_window_gets_snap():
    sim = Sim(3)
    full = [z(1, c) for c in range(1, 603)]
    sim.give(1, full)
    sim.give(3, full)
    sim.give(2, full[:100])
    start(sim)
    assert sim.nodes[2].role.sync_mode == P.SNAP
    sim2 = Sim(3)
    sim2.give(1, full)
    sim2.give(3, full)
    sim2.give(2, full[:102])  # the window holds the last 501: from 0x66 on
    start(sim2)
    assert sim2.nodes[2].role.sync_mode == P.DIFF


def test_late_joiner_gets_outstanding_proposals_and_acks_them_after_newleader():
    sim = Sim(3)
    start(sim, followers=(2,))
    sim.auto_fsync = False
    a = sim.write()
    b = sim.write()
    # nothing durable yet: both outstanding when 3 joins
    f3 = sim.follow(3)
    for _ in range(3):
        sim.deliver(3, 1)
        sim.deliver(1, 3)
    while sim.deliver(1, 3):
        pass
    assert [p.zxid for p in f3.sync_proposals] == [a, b]
    sim.fsync(3)
    acks = sent(sim.nodes[3], P.ACK)
    assert acks == [z(1, 0), a, b]
    sim.run()
    assert zxids(sim.nodes[3]) == [a, b] == zxids(sim.nodes[1])
    sim.check()


def test_a_late_acker_does_not_block_or_double_commit():
    sim = Sim(3)
    leader = start(sim)
    sim.auto_fsync = False
    written = [sim.write() for _ in range(3)]
    sim.fsync(1)
    while sim.deliver(1, 2):
        pass
    sim.fsync(2)
    while sim.deliver(2, 1):
        pass
    assert leader.last_committed == written[-1]
    assert sent_to(sim.nodes[1], 3, P.COMMIT) == written
    sim.run()  # 3's ACKs arrive after the commits
    assert sent_to(sim.nodes[1], 3, P.COMMIT) == written
    assert sent_to(sim.nodes[1], 2, P.COMMIT) == written
    assert zxids(sim.nodes[3]) == written
    sim.check()


def test_commit_needs_a_quorum():
    sim = Sim(3)
    leader = start(sim)
    sim.auto_fsync = False
    zx = sim.write()
    sim.fsync(1)
    assert leader.outstanding and leader.last_committed != zx  # the leader alone is no quorum
    while sim.deliver(1, 2):
        pass
    sim.fsync(2)
    sim.deliver(2, 1)
    assert leader.last_committed == zx


def test_quorum_lost_ends_the_leader_role():
    sim = Sim(3)
    leader = start(sim)
    sim.crash(2)
    sim.half_ticks(4, sids=[1])
    assert leader.ended is None  # 1 + 3 are a quorum
    sim.crash(3)
    sim.half_ticks(4, sids=[1])
    assert leader.ended.startswith("Not sufficient followers synced")
    assert sim.nodes[1].role_ends == [leader.ended]


def test_silent_learner_dropped_after_synclimit_and_quorum_lost():
    sim = Sim(3, sync_limit=2)
    leader = start(sim)
    sim.nodes[3].role.ended = "frozen"  # SIGSTOP: its connection stays open, it says nothing
    sim.nodes[3].role = None
    for _ in range(6):
        sim.half_ticks(1, sids=[1, 2])
    assert 3 not in leader.learners and leader.ended is None
    assert leader.dropped == [(3, "read timed out")]
    sim.nodes[2].role.ended = "frozen"
    sim.nodes[2].role = None
    sim.half_ticks(10, sids=[1])
    assert leader.ended is not None


def test_unacked_proposal_drops_the_learner():
    """SyncLimitCheck: a learner that keeps answering PINGs but never ACKs is dropped."""
    sim = Sim(3, sync_limit=2)
    leader = start(sim)
    sim.auto_fsync = False
    sim.write()
    sim.fsync(1)
    sim.fsync(2)
    for _ in range(8):
        for s in (1, 2, 3):
            sim.half_tick(s)
        for key in list(sim.links):
            while sim.deliver(*key):
                pass
        sim.fsync(1)
        sim.fsync(2)
    assert 3 not in leader.learners
    assert leader.dropped == [(3, "transaction timeout (a proposal un-ACKed for syncLimit)")]
    assert sim.nodes[3].role.ended is not None
    assert leader.ended is None  # 1 + 2 serve on


def test_leader_times_out_without_a_quorum_for_its_epoch():
    sim = Sim(3, init_limit=3)
    leader = sim.lead(1)
    sim.half_ticks(6, sids=[1])
    assert leader.ended is None
    sim.half_ticks(1, sids=[1])
    assert leader.ended == "Timeout while waiting for epoch from quorum"


def test_follower_times_out_on_a_silent_leader_and_on_a_closed_connection():
    sim = Sim(3, sync_limit=2)
    start(sim)
    f2, f3 = sim.nodes[2].role, sim.nodes[3].role
    for _ in range(5):
        sim.half_tick(2)
    assert f2.ended and "nothing from the leader" in f2.ended
    sim.crash(1)
    assert f3.ended == "the connection to the leader closed"


def test_observer_gets_informs_and_does_not_count():
    sim = Sim(3, observers=1)
    leader = start(sim, followers=(2, 3, 4))
    obs = sim.nodes[4].role
    assert obs.observer and leader.learners[4] == LH.SYNCED
    zx = sim.write()
    sim.run()
    assert zxids(sim.nodes[4]) == [zx]
    assert sent(sim.nodes[1], P.INFORM) == [zx]
    assert sent(sim.nodes[4], P.ACK) == [z(1, 0), z(1, 0)]  # NEWLEADER and UPTODATE only
    sim.crash(2)
    sim.crash(3)
    sim.half_ticks(3, sids=[1, 4])
    assert leader.ended is not None  # an observer is never part of a quorum


def test_observer_alone_cannot_establish():
    sim = Sim(3, observers=1)
    leader = sim.lead(1)
    sim.follow(4)
    sim.run()
    assert leader.waiting_for_new_epoch and leader.learners[4] == LH.WAIT_EPOCH


def test_xid_rollover_forces_a_new_epoch():
    sim = Sim(3)
    leader = start(sim)
    leader.last_proposed = z(1, 0xFFFFFFFD)  # as 3.8's zookeeper.testingonly.initialZxid
    for n in (2, 3):
        sim.nodes[n].role.last_queued = z(1, 0xFFFFFFFD)
    assert sim.write() == z(1, 0xFFFFFFFE)
    sim.run()
    assert leader.last_committed == z(1, 0xFFFFFFFE)
    with pytest.raises(XidRolloverError):
        sim.write()
    assert leader.ended.startswith("zxid lower 32 bits have rolled over")


def test_sync_request_answered_after_outstanding_commit():
    sim = Sim(3)
    leader = start(sim)
    leader.process_sync(2)
    sim.run()
    assert sim.nodes[2].syncs_done == 1
    sim.auto_fsync = False
    zx = sim.write()
    leader.process_sync(3)
    assert sent(sim.nodes[1], P.SYNC) == [0]
    sim.run()
    journal = [j for j in sim.nodes[1].journal if j[0] == "send" and j[1] in (P.COMMIT, P.SYNC)]
    assert journal.index(("send", P.COMMIT, zx)) < journal.index(("send", P.SYNC, 0), 1)
    assert sim.nodes[3].syncs_done == 1


def test_request_ping_touches_and_revalidate():
    sim = Sim(3)
    leader = start(sim)
    f2 = sim.nodes[2].role
    f2.forward_request(0x55, 7, 5, b"body", [R.Id("digest", "u:x")])
    f2.revalidate(0x42, 4000)
    sim.run()
    assert sim.nodes[1].requests == [(2, 2, 0x55, 7, 5, b"body")]
    assert ("revalidated", 0x42, True) in sim.nodes[2].requests
    sim.half_ticks(2)
    assert (202, 4000) in sim.nodes[1].touched and (302, 4000) in sim.nodes[1].touched
    assert sent(sim.nodes[1], P.PING)[0] == leader.last_proposed


# ---------------------------------------------------------------------------- protocol errors
def inject(sim, src, dst, pkt):
    sim.enqueue(src, dst, R.QuorumPacket.to_bytes(pkt))


def test_leader_closes_a_learner_that_sends_an_illegal_packet_and_serves_on():
    sim = Sim(3)
    leader = start(sim)
    inject(sim, 2, 1, packet(P.PROPOSAL, z(1, 1), txn_data(z(1, 1), 1)))
    sim.run()
    assert 2 not in leader.learners and leader.ended is None
    assert leader.dropped == [(2, "unexpected PROPOSAL from a learner (in SYNCED)")]
    assert sim.nodes[2].role.ended  # its connection was closed
    sim.write()
    sim.run()
    assert zxids(sim.nodes[3]) == [z(1, 1)]


def test_leader_refuses_ackepoch_before_followerinfo():
    sim = Sim(3)
    leader = sim.lead(1)
    sim.links[(2, 1)] = deque()
    sim.links[(1, 2)] = deque()
    leader.learner_connected(2)
    inject(sim, 2, 1, packet(P.ACKEPOCH, 0, b"\x00\x00\x00\x00"))
    sim.run()
    assert leader.handlers == {}
    assert leader.dropped == [(None, "ACKEPOCH in phase NONE (in NONE)")]


@pytest.mark.parametrize(
    "bad",
    [
        "commit_not_head",
        "proposal_older_epoch",
        "uptodate_before_newleader",
        "txn_header_mismatch",
        "second_leaderinfo",
    ],
)
def test_learner_protocol_errors_end_the_role(bad):
    sim = Sim(3)
    leader = start(sim)
    f2 = sim.nodes[2].role
    if bad == "commit_not_head":
        sim.auto_fsync = False
        sim.write()
        sim.write()
        while sim.deliver(1, 2):
            pass
        inject(sim, 1, 2, packet(P.COMMIT, z(1, 2)))
    elif bad == "proposal_older_epoch":
        inject(sim, 1, 2, packet(P.PROPOSAL, z(0, 5), txn_data(z(0, 5), 5)))
    elif bad == "uptodate_before_newleader":
        f2.zab_state, f2.sync_stage = LR.SYNCHRONIZATION, LR.SYNCING
        inject(sim, 1, 2, packet(P.UPTODATE, -1))
    elif bad == "txn_header_mismatch":
        inject(sim, 1, 2, packet(P.PROPOSAL, z(1, 1), txn_data(z(1, 9), 1)))
    elif bad == "second_leaderinfo":
        inject(sim, 1, 2, packet(P.LEADERINFO, z(1, 0), b"\x00\x01\x00\x00"))
    sim.deliver(1, 2)
    assert f2.ended and f2.ended.startswith("protocol error"), f2.ended
    assert sim.nodes[2].role_ends == [f2.ended]
    assert 2 not in leader.learners  # the connection closed at the leader too


def test_learner_refuses_an_older_leaderinfo():
    sim = Sim(3)
    sim.give(1, [z(1, 1)], accepted=1)
    sim.give(2, [z(1, 1)], accepted=3, current=1)
    sim.lead(1)
    f = sim.follow(2)
    sim.leader.epoch = 2  # as a leader that decided its epoch before 2 reported
    sim.leader.waiting_for_new_epoch = False
    sim.run()
    assert f.ended and "less than accepted epoch" in f.ended
    assert sim.nodes[2].disk.accepted_epoch == 3


def test_learner_info_is_read_as_learner_handler_reads_it():
    """8, 12 or 20 bytes, fields absent from the right; null (or too short for a sid) is
    numbered from the follower counter and, with no protocol version, refused."""
    sim = Sim(7)
    leader = sim.lead(1, config_version=5)
    info = R.LearnerInfo
    cases = {
        2: (info(2, 0x10000, 0).to_bytes()[:12], None),  # no config version: not compared
        3: (info(3, 0x10000, 5).to_bytes(), None),
        4: (info(4, 0x10000, 6).to_bytes(), "Follower is ahead of the leader"),
        5: (info(5, 0x10000, 0).to_bytes()[:8], "predates Zab 1.0"),
        6: (None, "predates Zab 1.0"),
        7: (b"\x00\x00\x00\x07", "predates Zab 1.0"),
    }
    for peer, (data, _) in cases.items():
        leader.learner_connected(peer)
        leader.receive(peer, packet(P.FOLLOWERINFO, z(1, 0), data))
    for peer in (2, 3):
        assert leader.handlers[peer].sid == peer and leader.handlers[peer].phase != LH.NONE
    assert sorted(leader.handlers) == [2, 3]
    wanted = [want for _, want in cases.values() if want]
    reasons = [r for _, r in leader.dropped]
    assert len(reasons) == len(wanted) == 4
    for want, got in zip(wanted, reasons, strict=True):
        assert want in got
    assert leader._follower_counter == -3  # peers 6 and 7 were numbered -1 and -2


def test_a_closed_learners_acks_no_longer_count():
    """Found by the spec's 4-server model (ZabRecoveryFour, mutant zk38_stale_acks): 3.8
    keeps a learner's ACKs after its connection closes, so a follower that ACKs, restarts and
    is TRUNCated past the proposal still counts, and the proposal can commit while fewer than
    a quorum of logs hold it.  Here the ACKs of a closed connection are forgotten."""
    sim = Sim(4)
    leader = start(sim, followers=(2, 3, 4))
    sim.auto_fsync = False
    zx = sim.write()
    while sim.deliver(1, 2):
        pass
    sim.fsync(2)
    while sim.deliver(2, 1):
        pass
    assert (2, zx) in leader.proposal_acks
    sim.disconnect(1, 2)
    assert (2, zx) not in leader.proposal_acks
    sim.fsync(1)
    while sim.deliver(1, 3):
        pass
    sim.fsync(3)
    while sim.deliver(3, 1):
        pass
    assert leader.last_committed != zx  # 1 and 3 are not 3 of 4
    while sim.deliver(1, 4):
        pass
    sim.fsync(4)
    while sim.deliver(4, 1):
        pass
    assert leader.last_committed == zx


def test_a_proposal_ack_ahead_of_the_newleader_ack_is_not_taken_for_it():
    """A 3.8.0 learner logs the synced proposals at NEWLEADER and its SyncThread ACKs each
    once flushed, racing the NEWLEADER ACK it writes itself (seen from Java 3.8.0 in
    tests/test_mixed.py): the early ACK neither closes the connection nor counts as the
    NEWLEADER ACK; the NEWLEADER ACK that follows brings UPTODATE."""
    sim = Sim(3)
    full = [z(1, c) for c in range(1, 6)]
    for s in (1, 3):
        sim.give(s, full)
    sim.give(2, full[:2])
    leader = start(sim, followers=(3,))
    f = sim.follow(2)
    for _ in range(3):  # FOLLOWERINFO, LEADERINFO, ACKEPOCH
        sim.deliver(2, 1)
        sim.deliver(1, 2)
    assert leader.handlers[2].phase == LH.WAIT_NEWLEADER_ACK
    leader.receive(2, packet(P.ACK, full[2]))  # what 3.8.0's SyncThread may send first
    assert leader.handlers[2].phase == LH.WAIT_NEWLEADER_ACK and 2 in leader.handlers
    sim.run()
    assert f.zab_state == LR.BROADCAST and leader.learners == {2: LH.SYNCED, 3: LH.SYNCED}
    assert zxids(sim.nodes[2]) == full
    sim.check()
