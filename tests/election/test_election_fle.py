"""FastLeaderElection's core, handler by handler, against 3.8's lookForLeader / WorkerReceiver."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from zk_twisted.config import QuorumServer
from zk_twisted.election.fle import (
    MIN_LONG,
    CancelTimer,
    ConnectAll,
    Decided,
    FastLeaderElection,
    Send,
    SetTimer,
    Vote,
)
from zk_twisted.election.messages import Notification, ServerState
from zk_twisted.quorum.verifier import QuorumHierarchical, QuorumMaj

L, F, LD, OB = ServerState.LOOKING, ServerState.FOLLOWING, ServerState.LEADING, ServerState.OBSERVING


def qs(sid, kind="participant"):
    return QuorumServer(sid, ("127.0.0.1", 2000 + sid), ("127.0.0.1", 3000 + sid), kind)


def maj(n=3, observers=()):
    return QuorumMaj({i: qs(i) for i in range(1, n + 1)}, {i: qs(i, "observer") for i in observers})


def note(sid, leader, zxid, ee, pe, state=L, version=2):
    return Notification(int(state), leader, zxid, ee, pe, sid, version, b"")


def sends(actions):
    return [a for a in actions if isinstance(a, Send)]


def started(sid=1, zxid=0x100000005, epoch=1, n=3, **kw):
    fle = FastLeaderElection(sid, maj(n, kw.pop("observers", ())), **kw)
    acts = fle.look_for_leader(zxid, epoch)
    return fle, acts


def test_new_round_sends_initial_vote_to_every_voter_and_polls():
    fle, acts = started()
    assert fle.logicalclock == 1
    assert fle.proposal == Vote(1, 0x100000005, 1, 1)
    assert sends(acts) == [Send(s, L, 1, 0x100000005, 1, 1) for s in (1, 2, 3)]  # ourselves too: loopback
    assert acts[-1] == SetTimer("notification", 200)
    assert fle.current_vote == Vote(1, 0x100000005, -1, 1)  # QuorumPeer.startLeaderElection


def test_own_vote_recorded_from_loopback():
    fle, _ = started()
    acts = fle.handle_notification(note(1, 1, 0x100000005, 1, 1))
    assert fle.recvset == {1: Vote(1, 0x100000005, 1, 1)}
    assert acts == [SetTimer("notification", 200)]


def test_newer_round_is_joined_with_the_better_vote():
    fle, _ = started(sid=3, zxid=0x100000002, epoch=1)
    fle.handle_notification(note(3, 3, 0x100000002, 1, 1))
    # round 4 from 1, proposing 1 with a worse zxid: we join round 4 but keep our own vote
    acts = fle.handle_notification(note(1, 1, 0x100000001, 4, 1))
    assert fle.logicalclock == 4
    assert fle.proposal == Vote(3, 0x100000002, 4, 1)
    assert fle.recvset == {1: Vote(1, 0x100000001, 4, 1)}
    assert sends(acts) == [Send(s, L, 3, 0x100000002, 4, 1) for s in (1, 2, 3)]
    # round 5 with a better vote: adopted
    acts = fle.handle_notification(note(2, 2, 0x200000000, 5, 2))
    assert fle.proposal == Vote(2, 0x200000000, 5, 2)
    assert sends(acts) == [Send(s, L, 2, 0x200000000, 5, 2) for s in (1, 2, 3)]


def test_older_round_is_answered_and_not_counted():
    fle, _ = started()
    fle.handle_notification(note(2, 2, 0, 3, 0))  # now round 3
    acts = fle.handle_notification(note(3, 3, 0x900000000, 1, 9))
    assert sends(acts) == [Send(3, L, 1, 0x100000005, 3, 1)]  # WorkerReceiver: our proposal, our round
    assert 3 not in fle.recvset and fle.proposal.leader == 1


def test_same_round_better_vote_adopted_worse_only_recorded():
    fle, _ = started(sid=2, zxid=5, epoch=1)
    acts = fle.handle_notification(note(1, 1, 4, 1, 1))
    assert sends(acts) == [] and fle.recvset[1] == Vote(1, 4, 1, 1) and fle.proposal.leader == 2
    acts = fle.handle_notification(note(3, 3, 5, 1, 1))  # same epoch and zxid, larger sid
    assert fle.proposal == Vote(3, 5, 1, 1)
    assert sends(acts) == [Send(s, L, 3, 5, 1, 1) for s in (1, 2, 3)]


def test_quorum_starts_the_finalize_wait_which_only_a_better_vote_ends():
    fle, _ = started(sid=1, zxid=5, epoch=1)
    acts = fle.handle_notification(note(2, 2, 6, 1, 1))  # adopt 2
    assert not fle.finalizing and acts[-1] == SetTimer("notification", 200)
    acts = fle.handle_notification(note(1, 2, 6, 1, 1))  # our own, looped back: 2 of 3 agree
    assert fle.finalizing and acts[-1] == SetTimer("finalize", 200)
    # a notification that is not better is dropped, and the 200 ms wait starts again
    acts = fle.handle_notification(note(3, 1, 5, 1, 1))
    assert acts == [SetTimer("finalize", 200)] and 3 not in fle.recvset and fle.finalizing
    # a better one ends the wait and is handled
    acts = fle.handle_notification(note(3, 3, 6, 1, 1))
    assert not fle.finalizing and fle.proposal.leader == 3
    assert sends(acts) == [Send(s, L, 3, 6, 1, 1) for s in (1, 2, 3)]


def test_own_stale_notification_in_the_finalize_wait_is_dropped_as_3_8_does():
    """3.8's finalize wait drops every notification that is not better, our own looped-back
    one too (spec HandleNotification; found by the trace replay, conformance/replay_impl.py):
    recvset keeps what it had."""
    fle, _ = started(sid=1, zxid=5, epoch=1)
    fle.handle_notification(note(1, 1, 5, 1, 1))  # our own initial vote, looped back
    fle.handle_notification(note(2, 3, 6, 1, 1))  # 2 proposes 3: adopted
    fle.handle_notification(note(3, 3, 6, 1, 1))  # 2 and 3 agree on 3: the finalize wait
    assert fle.finalizing and fle.recvset[1] == Vote(1, 5, 1, 1)
    acts = fle.handle_notification(note(1, 3, 6, 1, 1))  # our own vote for 3 arrives late
    assert acts == [SetTimer("finalize", 200)] and fle.finalizing
    assert fle.recvset[1] == Vote(1, 5, 1, 1)


def test_a_server_out_of_election_does_not_answer_its_own_leftover_notification():
    """Our own LOOKING notification still on the loopback after we decided: 3.8 answers
    itself and drops the answer; we send nothing (spec HandleNotification(i, i); found by the
    trace replay, conformance/replay_impl.py)."""
    fle, _ = started(sid=1, zxid=5, epoch=1)
    fle.handle_notification(note(1, 1, 5, 1, 1))
    fle.handle_notification(note(2, 1, 5, 1, 1))
    fle.finalize_election()
    assert fle.state == ServerState.LEADING
    assert fle.handle_notification(note(1, 1, 5, 1, 1)) == []
    # a peer that is LOOKING is still answered
    assert sends(fle.handle_notification(note(2, 2, 4, 1, 1))) == [Send(2, ServerState.LEADING, 1, 5, 1, 1)]


def test_own_notification_of_an_older_round_is_not_answered():
    """Our own notification of an earlier round, still on the loopback: the spec does not
    answer it (3.8 would answer itself); found by the trace replay (conformance/replay_impl.py)."""
    fle, _ = started(sid=1, zxid=5, epoch=1)
    fle.handle_notification(note(2, 2, 4, 3, 1))  # round 3 now
    assert fle.logicalclock == 3
    assert sends(fle.handle_notification(note(1, 1, 5, 1, 1))) == []
    assert sends(fle.handle_notification(note(3, 3, 4, 1, 1))) == [Send(3, L, 1, 5, 3, 1)]  # a peer: answered


def test_finalize_decides():
    fle, _ = started(sid=1, zxid=5, epoch=1)
    fle.handle_notification(note(1, 1, 5, 1, 1))
    fle.handle_notification(note(2, 1, 5, 1, 1))
    assert fle.finalizing
    acts = fle.finalize_election()
    assert acts == [CancelTimer(), Decided(Vote(1, 5, 1, 1), LD)]
    assert fle.state == LD and fle.current_vote == Vote(1, 5, 1, 1)
    assert fle.recvset == {} and fle.outofelection == {} and not fle.looking
    assert fle.finalize_election() == []  # the timer is stale now


def test_follower_decision():
    fle, _ = started(sid=1, zxid=5, epoch=1)
    fle.handle_notification(note(3, 3, 5, 1, 1))
    fle.handle_notification(note(1, 3, 5, 1, 1))
    acts = fle.finalize_election()
    assert acts[-1] == Decided(Vote(3, 5, 1, 1), F)


def test_notification_timeout_doubles_to_60s():
    fle, _ = started()
    seen = []
    for _ in range(12):
        acts = fle.election_timeout(have_delivered=True)
        assert len(sends(acts)) == 3
        seen.append(acts[-1].delay_ms)
    assert seen == [400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000]
    assert fle.election_timeout(have_delivered=False)[:1] == [ConnectAll()]


def test_a_handled_notification_restarts_the_poll_with_the_current_interval():
    fle, _ = started()
    fle.election_timeout()
    fle.election_timeout()
    assert fle.handle_notification(note(2, 2, 0, 1, 0))[-1] == SetTimer("notification", 800)


def test_joining_a_running_ensemble_needs_the_leader_to_say_leading():
    fle, _ = started(sid=3, zxid=0x100000000, epoch=1)
    fle.handle_notification(note(3, 3, 0x100000000, 1, 1))
    acts = fle.handle_notification(note(1, 2, 0x100000000, 2, 2, F))
    assert not any(isinstance(a, Decided) for a in acts)
    assert fle.outofelection == {1: Vote(2, 0x100000000, 2, 2, F, 2)}
    acts = fle.handle_notification(note(2, 2, 0x100000000, 2, 2, LD))
    assert acts == [CancelTimer(), Decided(Vote(2, 0x100000000, 2, 2), F)]
    assert fle.logicalclock == 2  # the running ensemble's round


def test_a_quorum_following_a_silent_leader_is_not_joined():
    fle, _ = started(sid=3)
    fle.handle_notification(note(1, 2, 0, 2, 2, F))
    acts = fle.handle_notification(note(2, 2, 0, 2, 2, F))  # 2 says FOLLOWING, not LEADING
    assert not any(isinstance(a, Decided) for a in acts) and fle.looking


def test_same_round_out_of_election_votes_decide_through_recvset():
    fle, _ = started(sid=1, zxid=0, epoch=0)
    fle.handle_notification(note(1, 1, 0, 1, 0))
    acts = fle.handle_notification(note(3, 2, 0, 1, 0, F))
    assert fle.recvset[3] == Vote(2, 0, 1, 0, F) and not any(isinstance(a, Decided) for a in acts)
    acts = fle.handle_notification(note(2, 2, 0, 1, 0, LD))
    assert acts[-1] == Decided(Vote(2, 0, 1, 0), F) and fle.logicalclock == 1


def test_peer_out_of_election_answers_looking_peers_with_its_vote():
    fle, _ = started(sid=2, zxid=7, epoch=1)
    fle.handle_notification(note(2, 2, 7, 1, 1))
    fle.handle_notification(note(1, 2, 7, 1, 1))
    fle.finalize_election()
    fle.update_election_vote(2)  # the role established epoch 2 (QuorumPeer.updateElectionVote)
    assert fle.handle_notification(note(3, 3, 0, 1, 0)) == [Send(3, LD, 2, 7, 1, 2)]
    assert fle.handle_notification(note(3, 2, 7, 1, 1, F)) == []  # not LOOKING: nothing to say


def test_non_voters_are_answered_at_once_and_never_counted():
    fle, _ = started(sid=1, observers=(4,))
    acts = fle.handle_notification(note(4, MIN_LONG, MIN_LONG, 1, MIN_LONG))
    assert acts == [Send(4, L, 1, 0x100000005, 1, 1)]
    assert 4 not in fle.recvset


def test_observer_never_votes_and_learns_the_leader():
    fle = FastLeaderElection(4, maj(3, observers=(4,)), "observer")
    acts = fle.look_for_leader(0x100000009, 1)
    assert fle.proposal == Vote(MIN_LONG, MIN_LONG, 1, MIN_LONG)
    assert [a.to for a in sends(acts)] == [1, 2, 3]  # the voters, not itself
    fle.handle_notification(note(1, 3, 0, 2, 1, F))
    acts = fle.handle_notification(note(3, 3, 0, 2, 1, LD))
    assert acts[-1] == Decided(Vote(3, 0, 2, 1), OB)


def test_weight_zero_never_wins():
    servers = {i: qs(i) for i in (1, 2, 3)}
    h = QuorumHierarchical(servers, {}, {1: (1, 2, 3)}, {1: 1, 2: 1, 3: 0})
    fle = FastLeaderElection(1, h)
    fle.look_for_leader(5, 1)
    fle.handle_notification(note(3, 3, 9, 1, 9))
    assert fle.proposal.leader == 1


def test_minus_one_zxids_and_unknown_states_are_ignored():
    fle, _ = started()
    fle.handle_notification(note(2, 2, -1, 1, 5))
    assert 2 not in fle.recvset
    assert fle.handle_notification(Notification(7, 2, 0, 1, 0, 2)) == []
    fle2, _ = started(zxid=-1)
    fle2.handle_notification(note(2, 2, 5, 1, 5))
    assert fle2.recvset == {} and fle2.proposal.leader == 1


def test_observing_notifications_are_ignored():
    fle, _ = started()
    fle.handle_notification(note(2, 2, 0, 1, 9, OB))
    assert fle.recvset == {} and fle.outofelection == {}


# ------------------------------------------------------------------------ vote order
votes = st.builds(
    Vote,
    st.integers(1, 5),
    st.integers(-1, 2**40),
    st.just(1),
    st.integers(-1, 4),
)


@given(votes, votes, votes)
def test_vote_order_is_one_total_order(a, b, c):
    """ZOOKEEPER-1419: (peerEpoch, zxid, sid) lexicographic, with no cycles and no ties."""
    fle = FastLeaderElection(1, maj(5))
    gt = lambda x, y: fle._better(x.leader, x.zxid, x.peer_epoch, y.leader, y.zxid, y.peer_epoch)  # noqa: E731
    assert gt(a, b) == (a.order_key() > b.order_key())
    if a.order_key() != b.order_key():
        assert gt(a, b) != gt(b, a)
    else:
        assert not gt(a, b) and not gt(b, a)
    if gt(a, b) and gt(b, c):
        assert gt(a, c)
    # an epoch beats any zxid, a zxid beats any sid
    if a.peer_epoch > b.peer_epoch:
        assert gt(a, b)


def test_vote_equality_as_3_8():
    assert Vote(1, 5, 2, 3).matches(Vote(1, 5, 2, 3))
    assert not Vote(1, 5, 2, 3).matches(Vote(1, 6, 2, 3))
    # out of election: (id, peerEpoch) only, and the id only across message versions
    assert Vote(1, 5, 2, 3, F, 2).matches(Vote(1, 9, 7, 3, LD, 2))
    assert not Vote(1, 5, 2, 3, F, 2).matches(Vote(1, 5, 2, 4, LD, 2))
    assert Vote(1, 5, 2, 3, F, 0).matches(Vote(1, 5, 2, 4, LD, 2))


def test_abstract_state_in_the_spec_shape():
    fle, _ = started(sid=1, zxid=0x100000005, epoch=1)
    fle.handle_notification(note(1, 1, 0x100000005, 1, 1))
    fle.handle_notification(note(2, 2, 0x100000001, 1, 1, F))
    st = fle.abstract_state()
    assert st["state"] == "LOOKING" and st["logicalclock"] == 1
    assert st["vote"] == {"leader": 1, "zxid": (1, 5), "peerEpoch": 1}
    assert st["recvVotes"] == {(1, 1, (1, 5), 1, 1, "LOOKING"), (2, 2, (1, 1), 1, 1, "FOLLOWING")}
    assert st["outOfElection"] == {(2, 2, (1, 1), 1, 1, "FOLLOWING")}


def test_driver_over_a_clock_fires_the_deferred_and_can_be_cancelled():
    from twisted.internet.task import Clock

    from zk_twisted.election.driver import LeaderElection
    from zk_twisted.testing.network import MemoryNetwork, election_node

    net = MemoryNetwork(Clock())
    servers = {i: qs(i) for i in (1, 2, 3)}
    v = maj(3)
    nodes = [election_node(net, i, servers, v, last_zxid=i, current_epoch=1, start=False) for i in (1, 2, 3)]
    results = []
    for n in nodes[:2]:
        n.election.look_for_leader(n.last_zxid, n.current_epoch).addCallback(results.append)
    net.run(lambda: len(results) == 2)
    assert [(d.leader, d.state) for d in results] == [(2, F), (2, LD)]
    assert net.clock.seconds() >= 0.2  # the finalize wait ran on the clock
    d = nodes[2].election.look_for_leader(0, 0)
    d.addErrback(lambda f: results.append("cancelled"))
    d.cancel()
    assert results[-1] == "cancelled" and not nodes[2].fle.looking
    assert isinstance(nodes[2].election, LeaderElection)
